"""The peer section: edge-infer against Transformers.js and plain JS, measured in one run.

Transformers.js (``@huggingface/transformers``, pinned in package.json) is the library a user
would pick instead. It runs our ``mobilenet_v2-fp32`` file fully offline in a worker of the
harness (``bench/transformers-js/worker.js``), from files this origin serves: its browser
bundle, the onnxruntime-web build it bundles, and a model folder made by
``benchlib/peer_model.py``. Every request of every page is checked: a pipeline whose page
asked for anything outside the origin fails its row.

Measured for each of edge-infer, plain JS and Transformers.js, at the same thread count:

- **first result**: an image dropped at navigation start (``&first=`` on the harness),
  navigation start to its result, on a first visit (a new on-disk profile) and a revisit (a
  reload), ``loads`` times each, interleaved across pipelines as the startup alternatives
  are. Also time to ready, which means different things: edge-infer and plain JS warm up
  with one inference before ready, Transformers.js's ``pipeline()`` resolves before any;
- **steady**: on a fresh page per pipeline and image, the first classification after ready,
  ``warmup`` discarded ones, then ``runs`` timed ones (median, p95 per stage);
- **agreement**: the top-5 labels of each pipeline for the steady images and scikit-image's
  photos, compared with edge-infer's (Transformers.js returns labels, not class indices).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from benchlib import ROOT
from benchlib.browser import READY_TIMEOUT_MS, Harness, fresh_context
from benchlib.idle import wait_for_chromium_idle
from benchlib.loads import measure_load, persistent_profile, retry_once
from benchlib.stats import ratio, summarize

PIPELINES = {"product": "edge-infer", "plain-js": "plain JS", "transformers-js": "Transformers.js"}
PEER = "transformers-js"
OURS = "product"
VISITS = ("first_visit", "revisit")
STAGES = ("decode", "preprocess", "inference", "postprocess", "total")
PACKAGE = ROOT / "node_modules" / "@huggingface" / "transformers"
# The onnxruntime-web build Transformers.js's bundle imports when wasmPaths is a prefix.
ORT_FILES = ("ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")


@dataclass(frozen=True)
class PeerPlan:
    """How much the peer section measures.

    ``loads`` first visits (each with a revisit) per pipeline; per pipeline and image, one
    page with ``warmup`` discarded and ``runs`` timed classifications; ``threads`` for all.
    """

    loads: int
    runs: int
    warmup: int
    threads: int = 2

    def facts(self) -> dict:
        """JSON-ready options."""
        return {
            "loads": self.loads,
            "runs": self.runs,
            "warmup": self.warmup,
            "threads": self.threads,
        }


def peer_plan(quick: bool, loads: int | None = None, runs: int | None = None) -> PeerPlan:
    """The full plan (5 loads, 10 + 30 runs) or the quick one (2 loads, 5 + 5 runs).

    More warm-up than the other sections: Transformers.js's first 5-8 classifications on a
    page took 2-6 times its later ones in the first quick run (its onnxruntime-web build and
    its JS pixel loops are still being optimised), where ours and plain JS settle after 1-2.
    """
    if quick:
        return PeerPlan(loads=loads or 2, runs=runs or 5, warmup=5)
    return PeerPlan(loads=loads or 5, runs=runs or 30, warmup=10)


def peer_mounts(models: Path) -> dict[str, Path]:
    """The folders the server mounts for Transformers.js, checked to be what package.json pins.

    ``models`` holds the model folder (``benchlib.peer_model.write_model_folder``).
    """
    package = json.loads((PACKAGE / "package.json").read_text()) if PACKAGE.is_dir() else {}
    wanted = json.loads((ROOT / "package.json").read_text())["devDependencies"][
        "@huggingface/transformers"
    ]
    if package.get("version") != wanted:
        raise SystemExit(
            f"node_modules has @huggingface/transformers {package.get('version')}, package.json "
            f"pins {wanted}: run npm run setup"
        )
    ort = ort_dist(package["dependencies"]["onnxruntime-web"])
    return {
        "transformers-js": PACKAGE / "dist",
        "transformers-js-ort": ort,
        "transformers-js-models": models,
    }


def ort_dist(version: str) -> Path:
    """The ``dist/`` of the onnxruntime-web ``version`` that npm installed for Transformers.js.

    npm nests it under the package when the top level holds the product's own version.
    """
    for folder in (PACKAGE / "node_modules", ROOT / "node_modules"):
        package = folder / "onnxruntime-web" / "package.json"
        if package.is_file() and json.loads(package.read_text())["version"] == version:
            dist = package.parent / "dist"
            missing = [name for name in ORT_FILES if not (dist / name).is_file()]
            if missing:
                raise SystemExit(f"onnxruntime-web {version} has no {', '.join(missing)}")
            return dist
    raise SystemExit(f"onnxruntime-web {version} (for Transformers.js) is not installed: npm ci")


# --- requests ------------------------------------------------------------------------------


class RequestLog:
    """Every request a browser context makes, and those that leave ``base_url``'s origin.

    Listens with ``context.on`` (routing would turn Chromium's HTTP cache off). Requests of
    the page's workers, ORT's thread workers included, are the context's too. ``data:`` and
    ``blob:`` URLs never leave the page.
    """

    def __init__(self, context, base_url: str):
        self.origin = _origin(base_url)
        self.urls: list[str] = []
        self.offsite: list[str] = []
        self.failed: list[str] = []
        context.on("request", self._seen)
        context.on("requestfailed", self._failed)

    @property
    def count(self) -> int:
        """How many requests were seen."""
        return len(self.urls)

    def _seen(self, request) -> None:
        url = request.url
        self.urls.append(url)
        if urlsplit(url).scheme not in ("data", "blob") and _origin(url) != self.origin:
            self.offsite.append(url)

    def _failed(self, request) -> None:
        self.failed.append(f"{request.url} ({request.failure})")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- first result --------------------------------------------------------------------------

WAIT_FIRST = """(timeoutMs) => new Promise((resolve, reject) => {
  const until = performance.now() + timeoutMs;
  const poll = () => {
    if (window.bench) resolve(window.bench.firstResult);
    else if (performance.now() > until) reject(new Error('window.bench was never defined'));
    else setTimeout(poll, 20);
  };
  poll();
})"""


def first_result(harness: Harness) -> dict:
    """Wait for the dropped image's result, then for ready (resolved before it, or with it)."""
    try:
        first = harness.page.evaluate(WAIT_FIRST, READY_TIMEOUT_MS)
    except Exception as exc:
        raise RuntimeError(
            f"{harness.url} gave no first result: {exc}; page errors: {harness.errors}"
        ) from exc
    info = harness.ready()
    return {
        "first_result_ms": first["first_result_ms"],
        "image_fetched_ms": first["image_fetched_ms"],
        "page_ready_ms": info["page_ready_ms"],
        "startup_ms": info["startup_ms"],
        "runtime": info["runtime"],
        "result": {k: first[k] for k in ("label", "confidence", "timings_ms", "top_labels")},
    }


def visit_pair(browser, base_url: str, pipeline: str, image_url: str, threads: int) -> dict:
    """One first visit (new on-disk profile) and one revisit (reload), each with a dropped image."""
    with persistent_profile(browser) as (context, idle):
        requests = RequestLog(context, base_url)
        query = urlencode({"pipeline": pipeline, "threads": threads, "first": image_url})
        harness = Harness(context.new_page(), f"{base_url}bench/harness.html?{query}")
        harness.page.goto(harness.url)
        first = {**first_result(harness), "browser_idle": idle}
        harness.reload()
        revisit = first_result(harness)
        if harness.errors:
            raise RuntimeError(f"page errors in {harness.url}: {harness.errors}")
    return {
        "first_visit": first,
        "revisit": revisit,
        "requests": requests.count,
        "offsite_requests": requests.offsite,
        "failed_requests": requests.failed,
    }


# --- steady --------------------------------------------------------------------------------


def steady_page(
    browser, base_url: str, pipeline: str, image: str, inputs: dict[str, str], plan: PeerPlan
) -> dict:
    """A fresh page of ``pipeline``: ready, first run, warm-up and timed runs of ``image``.

    Then each other input of ``inputs`` (name -> URL) once, for its top-5.
    """
    idle = wait_for_chromium_idle()
    context = fresh_context(browser)
    try:
        requests = RequestLog(context, base_url)
        harness = Harness.open(context, base_url, pipeline, plan.threads)
        load = {**measure_load(harness), "browser_idle": idle}
        harness.load_inputs(inputs)
        [first] = harness.run(image, 1)
        warmup = harness.run(image, plan.warmup)
        samples = harness.run(image, plan.runs)
        others = {name: harness.run(name, 1)[0] for name in inputs if name != image}
        if harness.errors:
            raise RuntimeError(f"page errors in {harness.url}: {harness.errors}")
    finally:
        context.close()
    return {
        "pipeline": pipeline,
        "image": image,
        "load": load,
        "first": first,
        "warmup": warmup,
        "samples": samples,
        "others": others,
        "requests": requests.count,
        "offsite_requests": requests.offsite,
        "failed_requests": requests.failed,
    }


def measure_peer(
    browser,
    base_url: str,
    plan: PeerPlan,
    images: dict[str, str],
    photos: dict[str, str],
    log=print,
) -> dict:
    """Every measurement of the section; returns its raw records and their summary.

    ``images``: the steady images (name -> URL; the first is also the dropped one);
    ``photos``: extra photos classified once on the first image's pages, for agreement.
    """
    drop_name, drop_url = next(iter(images.items()))
    pairs = {name: [] for name in PIPELINES}
    errors: list[str] = []
    for i in range(plan.loads):
        for name in PIPELINES:
            pair = retry_once(
                lambda name=name: visit_pair(browser, base_url, name, drop_url, plan.threads),
                errors,
                log,
            )
            pairs[name].append(pair)
            log(
                f"  peer {i + 1}/{plan.loads}: {name} first result "
                f"{pair['first_visit']['first_result_ms']:.0f} ms, revisit "
                f"{pair['revisit']['first_result_ms']:.0f} ms"
            )
    pages = []
    for index, (image, url) in enumerate(images.items()):
        inputs = {image: url, **(photos if index == 0 else {})}
        for name in PIPELINES:
            log(f"  peer steady: {name}, {plan.threads} threads, {image}")
            pages.append(
                retry_once(
                    lambda name=name, image=image, inputs=inputs: steady_page(
                        browser, base_url, name, image, inputs, plan
                    ),
                    errors,
                    log,
                )
            )
    raw = {"pairs": pairs, "steady": pages, "retried_errors": errors}
    return summarize_peer(raw, plan, drop_name, list(images), list(photos))


# --- summary -------------------------------------------------------------------------------


def _stage(samples: list[dict], key: str) -> dict:
    return summarize(s["timings_ms"].get(key) for s in samples)


def summarize_peer(
    raw: dict, plan: PeerPlan, drop: str, images: list[str], photos: list[str]
) -> dict:
    """The section from its raw records: per pipeline, first result, ready, steady, answers."""
    pipelines = {}
    for name, label in PIPELINES.items():
        pairs = raw["pairs"][name]
        pages = [p for p in raw["steady"] if p["pipeline"] == name]
        offsite = [u for r in pairs + pages for u in r["offsite_requests"]]
        row = {"label": label, "requests": sum(r["requests"] for r in pairs + pages)}
        row["offsite_requests"] = offsite
        row["offline"] = not offsite
        for visit in VISITS:
            loads = [p[visit] for p in pairs]
            row[visit] = {
                "first_result_ms": summarize(x["first_result_ms"] for x in loads),
                "ready_ms": summarize(x["page_ready_ms"] for x in loads),
                "image_fetched_ms": summarize(x["image_fetched_ms"] for x in loads),
                "labels": sorted({x["result"]["label"] for x in loads}),
            }
        row["steady"] = {}
        answers = {}
        for page in pages:
            samples = page["samples"]
            row["steady"][page["image"]] = {
                "n": len(samples),
                "stages_ms": {k: _stage(samples, k) for k in STAGES},
                "ort_run_ms": summarize(
                    (s.get("timings_detail_ms") or {}).get("ort_run") for s in samples
                ),
                "first_total_ms": page["first"]["timings_ms"]["total"],
                "page_ready_ms": page["load"]["page_ready_ms"],
                "labels": sorted({s["label"] for s in [page["first"], *samples]}),
            }
            answers[page["image"]] = page["first"]["top_labels"]
            answers.update({k: v["top_labels"] for k, v in page["others"].items()})
        row["top5"] = answers
        row["runtime"] = pairs[0]["first_visit"]["runtime"] if pairs else None
        pipelines[name] = row
    ours = pipelines[OURS]["top5"]
    agreement = {
        name: agreement_with(ours, pipelines[name]["top5"]) for name in PIPELINES if name != OURS
    }
    return {
        "options": {**plan.facts(), "drop_image": drop, "images": images, "photos": photos},
        "pipelines": pipelines,
        "agreement": agreement,
        "retried_errors": raw["retried_errors"],
        "raw": raw,
    }


def agreement_with(reference: dict[str, list[str]], other: dict[str, list[str]]) -> dict:
    """Top-1 and top-5 agreement of ``other``'s labels with ``reference``'s, input by input."""
    names = [n for n in reference if n in other and reference[n] and other[n]]
    same_top1 = [n for n in names if reference[n][0] == other[n][0]]
    overlap = [len(set(reference[n]) & set(other[n])) / len(reference[n]) for n in names]
    return {
        "inputs": len(names),
        "top1_same": len(same_top1),
        "top1": ratio(len(same_top1), len(names)),
        "top5_overlap": ratio(sum(overlap), len(overlap)),
        "differs": {n: [reference[n][0], other[n][0]] for n in names if n not in same_top1},
    }


def _revisit(section: dict, name: str) -> float | None:
    row = section["pipelines"][name]
    return row["revisit"]["first_result_ms"]["median"] if row["offline"] else None


def peer_targets(section: dict) -> list[dict]:
    """Issue #15's first-result targets: ours / Transformers.js and ours / plain JS, revisit.

    A pipeline that requested anything outside the origin gives no value (the target fails).
    """
    ours = _revisit(section, OURS)
    note = (
        "median time from navigation start to the result of an image dropped then, "
        f"{section['options']['threads']} threads"
    )
    rows = []
    for name, limit in ((PEER, 1.0), ("plain-js", 1.3)):
        value = ratio(ours, _revisit(section, name))
        rows.append(
            {
                "name": f"first result, revisit: ours / {PIPELINES[name]}",
                "value": value,
                "limit": limit,
                "op": "<=",
                "met": value is not None and value <= limit,
                "note": note,
            }
        )
    return rows
