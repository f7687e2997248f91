#!/usr/bin/env python3
"""V8's WebAssembly code cache over revisits, per visit and per module, from Chromium traces.

    .venv/bin/python bench/trace_cache.py [--visits 3] [--pipeline product] [--threads 2]
                                          [--sw] [--classify N] [--wait 5] [--events]
                                          [--chromium-arg FLAG] [--json PATH]

One Chromium with a new on-disk profile (a real user's HTTP cache and code cache) opens the
bench harness ``--visits`` times in one tab. Each visit is traced from navigation until the
page has been ready, and Chromium quiet, for ``--wait`` seconds: V8 writes a module's code
cache only after its optimised code has stopped growing for 2 s (``--wasm-caching-timeout-ms``),
so a visit that ended sooner would never let the next one hit. ``--classify N`` classifies a
1024x768 JPEG N times after ready (a user's first images tier up onnxruntime-web's kernels).
``--sw`` registers the app's service worker after ready (``&sw=1``), so that later visits are
served from its Cache Storage.

Per visit it prints the time to ready, the requests and bytes over the network, and for each
big module (``pyodide.asm.wasm``, ``ort-wasm-simd-threaded.wasm``):

- ``stream``: compiled by streaming (``wasm.StartStreamingCompilation`` on its thread);
- ``hit``: V8 was given its code cache (``v8.wasm.moduleCacheHit``, KB consumed);
- ``cached``: V8 produced a code cache for it (``v8.wasm.cachedModule``, KB);
- ``lazy``: functions compiled on first call (``wasm.CompileLazy``) on its thread; other
  threads (onnxruntime-web's thread pool) are counted apart;
- ``sync``: synchronous compiles on its thread (``wasm.SyncCompile``: numpy's side modules).

Numbers here are counts from the trace; times are indicative only on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BENCH
from benchlib.browser import READY_TIMEOUT_MS, Harness, chromium
from benchlib.idle import wait_for_chromium_idle, wait_for_code_cache
from benchlib.server import serve
from benchlib.wire import stored_sizes
from playwright.sync_api import sync_playwright

CATEGORIES = [
    "v8.wasm",
    "disabled-by-default-v8.wasm.detailed",
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
]
MODULES = {"pyodide": "pyodide.asm.wasm", "ort": "ort-wasm-simd-threaded.wasm"}
IMAGE = "1024x768"
WASM_EVENTS = ("wasm.", "v8.wasm.")  # event names counted in the JSON report


def module_of(url: str | None) -> str | None:
    """The short name of the big module a URL is, or None."""
    for name, file in MODULES.items():
        if url and url.split("?", 1)[0].endswith("/" + file):
            return name
    return None


def record_trace(page, action) -> list[dict]:
    """Run ``action()`` while Chromium traces :data:`CATEGORIES`; return the trace events."""
    cdp = page.context.new_cdp_session(page)
    events: list[dict] = []
    done: list[bool] = []
    cdp.on("Tracing.dataCollected", lambda params: events.extend(params["value"]))
    cdp.on("Tracing.tracingComplete", lambda _params: done.append(True))
    cdp.send(
        "Tracing.start",
        {
            "traceConfig": {
                "includedCategories": CATEGORIES,
                "recordMode": "recordAsMuchAsPossible",
            },
            "transferMode": "ReportEvents",
        },
    )
    try:
        action()
    finally:
        cdp.send("Tracing.end")
        deadline = time.monotonic() + 60
        while not done and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        cdp.detach()
    if not done:
        raise RuntimeError("Chromium never finished its trace")
    return events


def analyse(events: list[dict]) -> dict:
    """Per-module code-cache facts and per-visit network facts from one visit's trace."""
    events = sorted(events, key=lambda e: e.get("ts", 0))
    requests: dict[str, dict] = {}
    thread_module: dict[tuple, str] = {}
    for e in events:
        data = (e.get("args") or {}).get("data") or {}
        name = e.get("name")
        if name == "ResourceSendRequest":
            rid = data.get("requestId")
            requests[rid] = {"url": data.get("url"), "bytes": 0, "source": "network"}
            if str(data.get("url", "")).startswith("data:"):
                requests[rid]["source"] = "data"
            module = module_of(data.get("url"))
            if module:
                thread_module.setdefault((e["pid"], e["tid"]), module)
        elif name == "ResourceReceiveResponse" and data.get("requestId") in requests:
            req = requests[data["requestId"]]
            req["status"] = data.get("statusCode")
            if data.get("fromServiceWorker"):
                req["source"] = "service worker"
            elif data.get("fromCache"):
                req["source"] = "http cache"
        elif name == "ResourceFinish" and data.get("requestId") in requests:
            req = requests[data["requestId"]]
            req["bytes"] = data.get("encodedDataLength") or 0
            if req["source"] == "network" and not req["bytes"]:
                req["source"] = "cache"  # nothing crossed the network: answered from a cache
        elif name == "v8.wasm.moduleCacheHit":
            module = module_of(e["args"].get("url"))
            if module:
                thread_module.setdefault((e["pid"], e["tid"]), module)

    modules = {
        name: {"stream": 0, "hit_kb": None, "cached_kb": [], "lazy": 0, "sync": 0}
        for name in MODULES
    }
    other_lazy = 0
    compiled_url: dict[tuple, str] = {}  # background thread -> module it is serialising
    for e in events:
        name, key = e.get("name"), (e.get("pid"), e.get("tid"))
        args = e.get("args") or {}
        own = modules.get(thread_module.get(key, ""))
        if name == "wasm.StartStreamingCompilation" and own is not None:
            own["stream"] += 1
        elif name == "wasm.CompileLazy":
            if own is not None:
                own["lazy"] += 1
            else:
                other_lazy += 1
        elif name == "wasm.SyncCompile" and own is not None:
            own["sync"] += 1
        elif name == "v8.wasm.moduleCacheHit":
            module = module_of(args.get("url"))
            if module:
                modules[module]["hit_kb"] = round(args.get("consumedCacheSize", 0) / 1024)
        elif name == "v8.wasm.compiledModule":
            compiled_url[key] = args.get("url")
        elif name == "v8.wasm.cachedModule":
            module = module_of(compiled_url.get(key))
            if module:
                modules[module]["cached_kb"].append(round(args.get("producedCacheSize", 0) / 1024))
    sources = Counter(r["source"] for r in requests.values())
    wire = {module_of(r["url"]): r["bytes"] for r in requests.values() if module_of(r["url"])}
    return {
        "modules": modules,
        "other_threads_lazy": other_lazy,
        "requests": len(requests),
        "sources": dict(sources),
        "network_bytes": sum(r["bytes"] for r in requests.values()),
        "module_network_bytes": wire,
        "events": Counter(
            e.get("name") for e in events if str(e.get("name", "")).startswith(WASM_EVENTS)
        ),
    }


def visit(page, url: str, classify: int, wait_s: float, image_url: str) -> dict:
    """One traced visit: navigate, wait for ready (and classify), then for the code cache."""
    out: dict = {}

    def action() -> None:
        harness = Harness(page, url)
        page.goto(url)
        info = harness.ready()
        out["ready_ms"] = round(info["page_ready_ms"])
        out["startup_ms"] = info["startup_ms"]
        if classify:
            harness.load_inputs({IMAGE: image_url})
            runs = harness.run(IMAGE, classify)
            out["ort_run_ms"] = [
                round(r["timings_detail_ms"]["ort_run"], 1) for r in runs if r["timings_detail_ms"]
            ]
        wait_for_code_cache(wait_s)

    events = record_trace(page, action)
    page.goto("about:blank")
    return {**out, **analyse(events)}


def print_report(visits: list[dict], events: bool = False) -> None:
    """Print one block per visit: ready, network, one line per module.

    With ``events``, also the count of every wasm trace event.
    """
    for i, v in enumerate(visits, 1):
        sources = ", ".join(f"{n} {k}" for k, n in sorted(v["sources"].items()))
        print(
            f"visit {i}: ready {v['ready_ms']} ms; {v['requests']} requests ({sources}); "
            f"{v['network_bytes'] / 1e6:.2f} MB over the network"
        )
        for name, m in v["modules"].items():
            cached = "+".join(str(kb) for kb in m["cached_kb"]) or "-"
            hit = f"{m['hit_kb']} KB" if m["hit_kb"] is not None else "no"
            wire = v["module_network_bytes"].get(name)
            wire = f"{wire / 1e6:.2f} MB" if wire else "0"
            print(
                f"  {MODULES[name]:30s} stream {m['stream']}  hit {hit:>8s}  cached {cached:>9s} KB"
                f"  lazy {m['lazy']:5d}  sync {m['sync']:3d}  network {wire}"
            )
        print(f"  {'other threads':30s} lazy {v['other_threads_lazy']}")
        if v.get("ort_run_ms"):
            print(f"  onnxruntime-web run (ms): {v['ort_run_ms']}")
        if events:
            print("  " + ", ".join(f"{k} {n}" for k, n in sorted(v["events"].items())))


def main() -> int:
    """Trace the visits and print (and optionally save) the report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--visits", type=int, default=3)
    ap.add_argument("--pipeline", default="product", help="harness pipeline (product, plain-js)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sw", action="store_true", help="register the service worker after ready")
    ap.add_argument("--classify", type=int, default=0, help="classifications after ready")
    ap.add_argument("--wait", type=float, default=5.0, help="seconds of quiet after each visit")
    ap.add_argument("--events", action="store_true", help="also count every wasm trace event")
    ap.add_argument(
        "--chromium-arg",
        action="append",
        default=[],
        help="extra Chromium flag, e.g. --js-flags=--wasm-caching-threshold=10000 (repeatable)",
    )
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args()
    if not chromium.available():
        raise SystemExit(chromium.MISSING)
    query = f"pipeline={args.pipeline}&threads={args.threads}" + ("&sw=1" if args.sw else "")
    with tempfile.TemporaryDirectory(prefix="edge-infer-trace-") as tmp:
        tmp = Path(tmp)
        image_url = None
        mounts = {"bench": BENCH}
        if args.classify:
            from benchlib.inputs import make_inputs

            images = make_inputs(tmp / "inputs")
            mounts["inputs"] = tmp / "inputs"
            image_url = f"/inputs/{images[IMAGE].path.name}"
        with serve(mounts) as base, sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                tmp / "profile", **chromium.launch_kwargs(*args.chromium_arg)
            )
            context.set_default_timeout(READY_TIMEOUT_MS)
            page = context.new_page()
            wait_for_chromium_idle()
            visits = []
            url = f"{base}bench/harness.html?{query}"
            for _ in range(args.visits):
                visits.append(visit(page, url, args.classify, args.wait, image_url))
            context.close()
    print(
        f"{args.visits} visits of {url.replace(base, '/')} in one on-disk profile, "
        f"{args.wait} s quiet after each"
    )
    print_report(visits, args.events)
    sizes = stored_sizes()
    if sizes:
        print("\nprecompressed files (web/vendor/encoded.json): raw, brotli, gzip (MB)")
        fmt = lambda n: f"{n / 1e6:7.2f}" if n else "      -"  # noqa: E731
        for rel, size in sorted(sizes.items()):
            print(f"  {rel:60s} {fmt(size['raw'])} {fmt(size['br'])} {fmt(size['gzip'])}")
    if args.json:
        report = {"url": url.replace(base, "/"), "args": {k: str(v) for k, v in vars(args).items()}}
        report["visits"] = [{**v, "events": dict(v["events"])} for v in visits]
        report["encoded"] = sizes
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
