"""Memory section: does anything grow per classification over many runs in one page.

``bench/memory.html`` boots a classifier with ``debug: true`` (so the worker counts live
PyProxies and sees onnxruntime-web's WASM memory) and classifies two real photos in turn.
Every few runs the driver samples ``classifier.stats()`` (Pyodide's WASM heap, ORT's WASM
heap, the PyProxy count) and, since Chrome gives a worker no ``performance.memory``, the JS
heaps of both workers (the inference worker and onnxruntime-web's) over the DevTools protocol
(:class:`WorkerHeap`: a full GC, then V8's heap usage).

Used by ``bench/run.py`` (the ``memory`` section), ``bench/memory.py`` (the series on its
own) and ``tests/e2e/test_memory.py`` (a short run).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path

from benchlib.browser import READY_TIMEOUT_MS, launch

PHOTOS = (("chelsea.png", "image/png"), ("coffee.png", "image/png"))
# Worker script URL suffix -> prefix of its sample fields.
WORKERS = {"/lib/worker.js": "worker", "/lib/ort-worker.js": "ort_worker"}
# Sample field → name in the summary; each is judged on its growth after the warm-up.
HEAPS = {
    "wasm_heap_bytes": "wasm_heap",
    "ort_wasm_heap_bytes": "ort_wasm_heap",
    "worker_js_heap_bytes": "worker_js_heap",
    "worker_array_buffer_bytes": "worker_array_buffers",
    "ort_worker_js_heap_bytes": "ort_worker_js_heap",
    "ort_worker_array_buffer_bytes": "ort_worker_array_buffers",
}
GROWTH_LIMIT_PCT = 5.0
CDP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MemoryPlan:
    """How long to classify and how often to sample.

    Attributes:
        runs: classifications in one page.
        every: sample the memory after every ``every`` runs (and after the last).
        warmup: runs before growth is judged (the first sample at or after it is the base).

    """

    runs: int
    every: int
    warmup: int

    def facts(self) -> dict:
        """JSON-ready description, with the photos."""
        return {
            "runs": self.runs,
            "every": self.every,
            "warmup": self.warmup,
            "photos": [name for name, _ in PHOTOS],
        }


def memory_plan(quick: bool, runs: int | None = None) -> MemoryPlan:
    """500 runs sampled every 10 after a 20-run warm-up; quick: 30 every 5 after 10.

    The warm-up is capped at half the runs so that a short ``runs`` still judges something.
    """
    runs, every, warmup = (runs or 30, 5, 10) if quick else (runs or 500, 10, 20)
    return MemoryPlan(runs=runs, every=min(every, runs), warmup=min(warmup, runs // 2))


class WorkerHeap:
    """The JS heap of one of the page's edge-infer workers, from the browser's DevTools protocol.

    Chrome exposes ``performance.memory`` to pages only, and the page's
    ``measureUserAgentSpecificMemory()`` waits 60 s per call here (onnxruntime-web's thread
    workers sit in ``Atomics.wait`` and never answer). So this attaches to the worker target
    through a browser-level CDP session and, per measurement, runs
    ``HeapProfiler.collectGarbage`` then ``Runtime.getHeapUsage``: live bytes after a full GC.
    Playwright's CDP sessions cannot address a flattened child session, hence the
    (deprecated but working) ``Target.sendMessageToTarget`` with replies as events.
    """

    def __init__(self, browser, page, url_suffix: str = "/lib/worker.js"):
        self.page = page
        self.prefix = WORKERS[url_suffix]
        self.cdp = browser.new_browser_cdp_session()
        self.replies: dict[int, dict] = {}
        self.chunks: list[str] | None = None  # a heap snapshot's text while one is taken
        self.next_id = 0
        self.cdp.on("Target.receivedMessageFromTarget", self._on_message)
        targets = self.cdp.send("Target.getTargets")["targetInfos"]
        workers = [t for t in targets if t["type"] == "worker" and t["url"].endswith(url_suffix)]
        if len(workers) != 1:
            raise RuntimeError(f"expected one {url_suffix} worker target, found {workers}")
        attached = self.cdp.send(
            "Target.attachToTarget", {"targetId": workers[0]["targetId"], "flatten": False}
        )
        self.session = attached["sessionId"]

    def _on_message(self, event: dict) -> None:
        message = json.loads(event["message"])
        if message.get("method") == "HeapProfiler.addHeapSnapshotChunk":
            if self.chunks is not None:
                self.chunks.append(message["params"]["chunk"])
        elif "id" in message:
            self.replies[message["id"]] = message

    def _call(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        key = self.next_id
        message = json.dumps({"id": key, "method": method, "params": params or {}})
        self.cdp.send("Target.sendMessageToTarget", {"sessionId": self.session, "message": message})
        deadline = time.monotonic() + CDP_TIMEOUT_S
        while key not in self.replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no reply from the worker to {method}")
            self.page.wait_for_timeout(10)  # lets Playwright deliver the reply event
        reply = self.replies.pop(key)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def measure(self) -> dict:
        """The worker's memory after a full GC, in bytes.

        ``<prefix>_js_heap_bytes`` is V8's heap; ``<prefix>_array_buffer_bytes`` the
        ArrayBuffer memory outside it (image, tensor and model buffers; the WASM memories are
        not counted). The prefix is ``worker`` or ``ort_worker`` (:data:`WORKERS`).
        """
        self._call("HeapProfiler.collectGarbage")
        usage = self._call("Runtime.getHeapUsage")
        return {
            f"{self.prefix}_js_heap_bytes": usage["usedSize"],
            f"{self.prefix}_array_buffer_bytes": usage.get("backingStorageSize"),
        }

    def code_bytes(self) -> dict:
        """V8's compiled code in the worker's heap, in bytes, from a heap snapshot.

        The sum of the snapshot's ``code`` nodes (bytecode, optimised machine code and their
        metadata). V8 keeps compiling hotter functions for a thousand runs or more, and that
        is growth of a bounded kind: ``<prefix>_js_heap_bytes`` minus this is what a leak
        would grow. A snapshot costs about a second, so it is taken only where growth is
        judged (:func:`measure`'s ``code_at``).
        """
        chunks: list[str] = []
        self.chunks = chunks
        try:
            self._call("HeapProfiler.takeHeapSnapshot", {"reportProgress": False})
        finally:
            self.chunks = None
        snapshot = json.loads("".join(chunks))
        meta = snapshot["snapshot"]["meta"]
        fields = meta["node_fields"]
        width, kind, size = len(fields), fields.index("type"), fields.index("self_size")
        code = meta["node_types"][0].index("code")
        nodes = snapshot["nodes"]
        total = sum(nodes[i + size] for i in range(0, len(nodes), width) if nodes[i + kind] == code)
        return {f"{self.prefix}_js_code_bytes": total}

    def close(self) -> None:
        """Detach from the worker."""
        self.cdp.send("Target.detachFromTarget", {"sessionId": self.session})
        self.cdp.detach()


def photo_payloads() -> list[dict]:
    """The two scikit-image photos as ``{b64, name, type}`` for the page."""
    import skimage

    data = Path(skimage.__file__).parent / "data"
    return [
        {"b64": base64.b64encode((data / name).read_bytes()).decode(), "name": name, "type": mime}
        for name, mime in PHOTOS
    ]


def open_harness(page, base_url: str) -> dict:
    """Load ``bench/memory.html`` on ``page``, wait for ready; returns the runtime facts."""
    page.goto(base_url + "bench/memory.html")
    page.wait_for_function("() => window.memoryBench", timeout=READY_TIMEOUT_MS)
    return page.evaluate("memoryBench.ready().then((info) => info.runtime)")


def measure(
    page, runs: int, every: int, worker_heaps: tuple[WorkerHeap, ...] = (), code_at: int = -1
) -> list[dict]:
    """Classify ``runs`` times on an open harness, sampling every ``every`` runs.

    One sample before the first run, after every ``every`` runs and after the last: ``run``,
    ``label`` (the last top-1), the fields of ``classifier.stats()`` and the measurement of
    each of ``worker_heaps``. The first sample at or after run ``code_at`` (the warm-up) and
    the last also hold each worker's compiled code (:meth:`WorkerHeap.code_bytes`).
    """
    page.evaluate("(images) => memoryBench.load(images)", photo_payloads())
    coded = False

    def sample(run: int, label: str | None) -> dict:
        nonlocal coded
        row = {"run": run, "label": label, **page.evaluate("memoryBench.stats()")}
        with_code = 0 <= code_at <= run and (not coded or run == runs)
        coded = coded or with_code
        for heap in worker_heaps:
            row.update(heap.measure())
            if with_code:
                row.update(heap.code_bytes())
        return row

    series = [sample(0, None)]
    done = 0
    while done < runs:
        n = min(every - done % every, runs - done)
        label = page.evaluate("(n) => memoryBench.classify(n)", n)
        done += n
        series.append(sample(done, label))
    return series


def growth(series: list[dict], warmup: int) -> dict:
    """Start, end, max and growth of each heap and the PyProxy count after ``warmup`` runs.

    The base is the first sample at or after ``warmup`` runs; the end is the last sample. A
    heap that was not observed (null in the samples) is reported with null values.
    """
    base = next(s for s in series if s["run"] >= warmup)
    last = series[-1]
    runs = last["run"] - base["run"]
    after = [s for s in series if s["run"] >= warmup]
    out: dict = {"from_run": base["run"], "to_run": last["run"]}
    for field, name in HEAPS.items():
        out[name] = _heap_growth([s.get(field) for s in after], runs)
    for prefix in WORKERS.values():
        out[f"{prefix}_js_objects"] = _objects_growth(base, last, prefix, runs)
    counts = [s["pyproxies"] for s in after]
    leaked = None if None in counts or not runs else (counts[-1] - counts[0]) / runs
    out["pyproxies"] = {
        "start": counts[0],
        "end": counts[-1],
        "max": None if None in counts else max(counts),
        "values_after_warmup": sorted(set(counts), key=lambda v: (v is None, v)),
        "leaked_per_run": leaked,
    }
    return out


def _objects_growth(base: dict, last: dict, prefix: str, runs: int) -> dict:
    """Growth of a worker's JS heap without V8's compiled code, where both ends have it."""
    heap, code = f"{prefix}_js_heap_bytes", f"{prefix}_js_code_bytes"
    ends = [
        s[heap] - s[code] if s.get(heap) is not None and code in s else None for s in (base, last)
    ]
    return _heap_growth(ends, runs)


def _heap_growth(values: list[int | None], runs: int) -> dict:
    if not values or None in values:
        keys = ("start", "end", "max", "growth_bytes", "growth_pct", "growth_bytes_per_run")
        return dict.fromkeys(keys)
    start, end = values[0], values[-1]
    return {
        "start": start,
        "end": end,
        "max": max(values),
        "growth_bytes": end - start,
        "growth_pct": 100.0 * (end - start) / start,
        "growth_bytes_per_run": (end - start) / runs if runs else None,
    }


def memory_section(playwright, base_url: str, plan: MemoryPlan, log=print) -> dict:
    """The ``memory`` section: one page, ``plan.runs`` classifications, sampled and judged.

    Runs in its own Chromium, so earlier pages and their workers share nothing with the
    measured one, and the only worker targets are this page's.
    """
    log(f"memory: {plan.runs} classifications, sampled every {plan.every}")
    started = time.monotonic()
    browser = launch(playwright)
    try:
        page = browser.new_page()
        page.set_default_timeout(READY_TIMEOUT_MS)
        runtime = open_harness(page, base_url)
        heaps = tuple(WorkerHeap(browser, page, suffix) for suffix in WORKERS)
        series = measure(page, plan.runs, plan.every, heaps, code_at=plan.warmup)
        for heap in heaps:
            heap.close()
    finally:
        browser.close()
    return {
        "options": plan.facts(),
        "threads": runtime.get("threads"),
        "summary": growth(series, plan.warmup),
        "series": series,
        "duration_s": round(time.monotonic() - started, 1),
    }


# Sample-field prefix -> (name in target names, whose worker, for the notes).
WORKER_NAMES = {
    "worker": ("worker", "the worker"),
    "ort_worker": ("ORT worker", "onnxruntime-web's worker"),
}


def memory_targets(section: dict) -> list[dict]:
    """The issue's memory targets: heaps grow under 5 % after the warm-up, no PyProxy leaks."""
    s = section["summary"]
    where = f"runs {s['from_run']}-{s['to_run']}"
    targets = [
        _target(f"Pyodide WASM heap growth, {where} [%]", s["wasm_heap"]["growth_pct"]),
        _target(
            f"ORT WASM heap growth, {where} [%]",
            s["ort_wasm_heap"]["growth_pct"],
            note="stats().ort_wasm_heap_bytes (debug only; null = not observable)",
        ),
    ]
    for prefix, (name, whose) in WORKER_NAMES.items():
        targets += [
            _target(
                f"{name} JS heap growth without compiled code, {where} [%]",
                s[f"{prefix}_js_objects"]["growth_pct"],
                note=f"V8 heap of {whose} after a full GC (DevTools protocol) minus V8's "
                "compiled code (heap snapshot); the whole heap's growth is in the memory table",
            ),
            _target(
                f"{name} ArrayBuffer memory growth, {where} [%]",
                s[f"{prefix}_array_buffers"]["growth_pct"],
                note=f"ArrayBuffers of {whose} outside its V8 heap, WASM memories excluded",
            ),
        ]
    targets.append(
        _target(
            f"PyProxies leaked per classification, {where}",
            s["pyproxies"]["leaked_per_run"],
            limit=0.0,
        )
    )
    return targets


def _target(name: str, value, limit: float = GROWTH_LIMIT_PCT, note: str = "") -> dict:
    met = value is not None and value <= limit
    return {"name": name, "value": value, "limit": limit, "op": "<=", "met": met, "note": note}
