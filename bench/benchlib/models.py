"""Models section: every manifest model measured in the browser and in native onnxruntime.

Browser: one fresh context (empty HTTP cache) and one freshly booted runtime per model and
thread count. The runtime boots with another family's model and a session cache of one
model, so ``classifier.loadModel(target)`` really downloads, verifies and creates the
session (the boot model is evicted). Then the scikit-image photos are classified with the
target (``preprocess: 'exact'``, for determinism) and one photo is classified repeatedly for
steady timings. Native: the same file in CPython onnxruntime, same preprocessing.
``benchlib.models_report`` turns the records into the ``models`` section and its tables.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from benchlib import MANIFEST, MODELS, ROOT
from benchlib.browser import Harness, fresh_context
from benchlib.loads import measure_load, retry_once

# scikit-image's test photos (none of them is in the int8 calibration set).
PHOTOS = ("chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png")
TIMING_PHOTO = PHOTOS[0]  # the photo classified repeatedly for steady timings
PREPROCESS = "exact"  # numpy's antialiased resize: the same pixels in every run and host
NATIVE_WARMUP = 3

if str(ROOT / "py") not in sys.path:
    sys.path.insert(0, str(ROOT / "py"))  # the edge_infer package, for the native part


@dataclass(frozen=True)
class ModelPlan:
    """How much to measure per model and thread count.

    Attributes:
        runs: steady classifications of :data:`TIMING_PHOTO` (and native ``session.run``).
        warmup: discarded classifications before them.
        photos: photos whose top-5 is compared with the family's fp32.
        reloads: extra ``loadModel`` of the target after evicting it (warm HTTP cache).

    """

    runs: int
    warmup: int
    photos: tuple[str, ...]
    reloads: int

    def facts(self) -> dict:
        """JSON-ready description, with the fixed choices."""
        return {
            "runs": self.runs,
            "warmup": self.warmup,
            "photos": list(self.photos),
            "reloads": self.reloads,
            "timing_photo": TIMING_PHOTO,
            "preprocess": PREPROCESS,
        }


def model_plan(quick: bool, runs: int | None = None) -> ModelPlan:
    """The full plan (30 runs, 5 photos) or the quick one (2 runs, 2 photos)."""
    if quick:
        return ModelPlan(runs=runs or 2, warmup=1, photos=PHOTOS[:2], reloads=1)
    return ModelPlan(runs=runs or 30, warmup=3, photos=PHOTOS, reloads=2)


def manifest_models() -> list[dict]:
    """The manifest's model entries, in manifest order."""
    return json.loads(MANIFEST.read_text())["models"]


def boot_model_for(target: dict, models: list[dict]) -> str:
    """The model to boot with before loading ``target``: the smallest of another family.

    Booting with any other model keeps the target out of the session cache and the HTTP
    cache; the smallest one boots fastest.
    """
    others = [m for m in models if m["family"] != target["family"]]
    others = others or [m for m in models if m["id"] != target["id"]]
    if not others:
        raise ValueError("the models section needs at least two models in the manifest")
    return min(others, key=lambda m: m["bytes"])["id"]


def copy_photos(directory: Path, names: tuple[str, ...]) -> dict[str, Path]:
    """Copy scikit-image's photos into ``directory`` (served to the page); name -> path."""
    import skimage

    data = Path(skimage.__file__).parent / "data"
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names:
        source = data / name
        if not source.is_file():
            raise FileNotFoundError(f"scikit-image does not ship {name}")
        out[name] = Path(shutil.copyfile(source, directory / name))
    return out


# --- browser -------------------------------------------------------------------------------


def open_model_page(context, base_url: str, threads: int, boot_model: str) -> Harness:
    """The harness page booting ``boot_model`` with a one-model session cache."""
    query = {"pipeline": "product", "threads": threads, "model": boot_model, "max_models": 1}
    harness = Harness(context.new_page(), f"{base_url}bench/harness.html?{urlencode(query)}")
    harness.page.goto(harness.url)
    return harness


def load_model(harness: Harness, model_id: str) -> dict:
    """``classifier.loadModel(model_id)``: ``{id, cached, ms, cache, wall_ms, ...}``."""
    return harness.page.evaluate("(id) => window.bench.loadModel(id)", model_id)


def classify(harness: Harness, photo: str, count: int, model_id: str) -> list[dict]:
    """Classify ``photo`` ``count`` times with ``model_id`` in exact mode; one summary each."""
    if count <= 0:
        return []
    return harness.run(photo, count, {"model": model_id, "preprocess": PREPROCESS})


def browser_model(
    browser, base_url: str, model: dict, boot: str, threads: int, plan: ModelPlan, log=print
) -> dict:
    """Measure one model at one thread count on a fresh page (retried once if never ready)."""
    log(f"models: {model['id']}, {threads} threads (boot {boot})")
    errors: list[str] = []
    record = retry_once(
        lambda: _measure_browser(browser, base_url, model["id"], boot, threads, plan), errors, log
    )
    return {**record, "retried_errors": errors}


def _measure_browser(
    browser, base_url: str, target: str, boot: str, threads: int, plan: ModelPlan
) -> dict:
    context = fresh_context(browser)
    try:
        harness = open_model_page(context, base_url, threads, boot)
        page_load = measure_load(harness)
        harness.load_inputs({p: f"{base_url}bench-inputs/{p}" for p in plan.photos})
        classify(harness, TIMING_PHOTO, 1, boot)  # warms the exact path on the boot model
        cold = load_model(harness, target)
        [first] = classify(harness, TIMING_PHOTO, 1, target)
        photos = {p: classify(harness, p, 1, target)[0] for p in plan.photos}
        warmup = classify(harness, TIMING_PHOTO, plan.warmup, target)
        samples = classify(harness, TIMING_PHOTO, plan.runs, target)
        reloads = []
        for _ in range(plan.reloads):
            load_model(harness, boot)  # evicts the target (one-model cache)
            reloads.append(load_model(harness, target))
        if harness.errors:
            raise RuntimeError(f"page errors in {harness.url}: {harness.errors}")
    finally:
        context.close()
    return {
        "model": target,
        "boot_model": boot,
        "threads": threads,
        "actual_threads": page_load["threads"],
        "page_ready_ms": page_load["page_ready_ms"],
        "cold_load": cold,
        "warm_loads": reloads,
        "first": first,
        "photos": photos,
        "warmup": warmup,
        "samples": samples,
    }


# --- native --------------------------------------------------------------------------------


def native_model(model_id: str, threads: int, photos: dict[str, Path], plan: ModelPlan) -> dict:
    """Native onnxruntime on one model file: session creation, top-5 per photo, bare runs.

    The session has the same options as ``edge_infer.hosts.native.create_pipeline``; photos
    are decoded with Pillow and preprocessed by ``edge_infer.preprocess`` (exact mode).
    """
    import onnxruntime as ort
    from edge_infer.decode import decode_file
    from edge_infer.manifest import load_manifest
    from edge_infer.postprocess import postprocess
    from edge_infer.preprocess import preprocess

    spec = load_manifest(MANIFEST).get(model_id)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    data = (MODELS / spec.file).read_bytes()
    t0 = time.perf_counter()
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    create_ms = (time.perf_counter() - t0) * 1e3
    feeds = {
        name: {spec.input_name: preprocess(decode_file(path)[0], spec.preprocess)}
        for name, path in photos.items()
    }
    logits = {name: session.run([spec.output_name], feed)[0] for name, feed in feeds.items()}
    top_k = {name: [t["index"] for t in postprocess(x, spec.labels)] for name, x in logits.items()}
    runs = _timed_runs(session, spec.output_name, feeds[TIMING_PHOTO], plan.runs)
    return {
        "model": model_id,
        "threads": threads,
        "session_create_ms": create_ms,
        "top_k": top_k,
        "ort_run_ms": runs,
    }


def _timed_runs(session, output_name: str, feed: dict, count: int) -> list[float]:
    """Milliseconds of ``count`` bare ``session.run`` calls after :data:`NATIVE_WARMUP`."""
    out = []
    for i in range(NATIVE_WARMUP + count):
        t0 = time.perf_counter()
        session.run([output_name], feed)
        if i >= NATIVE_WARMUP:
            out.append((time.perf_counter() - t0) * 1e3)
    return out
