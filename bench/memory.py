#!/usr/bin/env python3
"""Memory over many classifications: does anything grow per image.

    .venv/bin/python bench/memory.py [--runs 500] [--every 10] [--warmup 20] [--json FILE]

Serves the app (``bench/`` mounted), opens ``bench/memory.html`` in headless Debian Chromium
(a classifier booted with ``debug: true``), classifies two real photos alternately and samples
``classifier.stats()`` every ``--every`` runs: Pyodide's WASM heap, the live PyProxy count
and the worker's JS heap. Prints the series and the growth after the warm-up, plus the
page's total memory from ``performance.measureUserAgentSpecificMemory()`` before and after
(onnxruntime-web's own WASM memory has no API; it is only part of that total). Not run by the
tests: ``tests/test_memory.py`` runs a short version of the same measurement.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BENCH
from benchlib.browser import CHROMIUM, CHROMIUM_FLAGS, READY_TIMEOUT_MS
from benchlib.server import serve

PHOTOS = (("chelsea.png", "image/png"), ("coffee.png", "image/png"))
# Chrome otherwise answers measureUserAgentSpecificMemory() only at its next GC (can be minutes).
EAGER_MEMORY_FLAG = "--enable-blink-features=ForceEagerMeasureMemory"


def photo_payloads() -> list[dict]:
    """The two scikit-image photos as {b64, name, type} for the page."""
    import skimage

    data = Path(skimage.__file__).parent / "data"
    return [
        {"b64": base64.b64encode((data / name).read_bytes()).decode(), "name": name, "type": mime}
        for name, mime in PHOTOS
    ]


def open_harness(page, base_url: str) -> None:
    """Load ``bench/memory.html`` on ``page`` and wait until its classifier is ready."""
    page.goto(base_url + "bench/memory.html")
    page.wait_for_function("() => window.memoryBench", timeout=READY_TIMEOUT_MS)
    page.evaluate("memoryBench.ready().then(() => true)")


def measure(page, runs: int, every: int) -> list[dict]:
    """Classify on an open harness; returns the stats series (one row per sample)."""
    return page.evaluate(
        "(plan) => memoryBench.run(plan)",
        {"images": photo_payloads(), "runs": runs, "every": every},
    )


def page_memory(page) -> dict:
    """``measureUserAgentSpecificMemory()`` of the page: ``{bytes, breakdown}`` or ``{error}``."""
    return page.evaluate("memoryBench.pageMemory()")


def growth(series: list[dict], warmup: int) -> dict:
    """Growth between the first sample at or after ``warmup`` runs and the last sample."""
    base = next(s for s in series if s["run"] >= warmup)
    last = series[-1]
    runs = last["run"] - base["run"]
    heap = last["wasm_heap_bytes"] - base["wasm_heap_bytes"]
    out = {
        "from_run": base["run"],
        "to_run": last["run"],
        "wasm_heap_start": base["wasm_heap_bytes"],
        "wasm_heap_end": last["wasm_heap_bytes"],
        "wasm_heap_growth_bytes": heap,
        "wasm_heap_growth_pct": 100 * heap / base["wasm_heap_bytes"],
        "wasm_heap_max": max(s["wasm_heap_bytes"] for s in series),
        "pyproxies_start": base["pyproxies"],
        "pyproxies_end": last["pyproxies"],
        "pyproxies_values_after_warmup": sorted(
            {s["pyproxies"] for s in series if s["run"] >= warmup}
        ),
    }
    if runs and base["pyproxies"] is not None:
        out["pyproxies_leaked_per_run"] = (last["pyproxies"] - base["pyproxies"]) / runs
    if base["js_heap_bytes"] is not None:
        out["js_heap_growth_bytes"] = last["js_heap_bytes"] - base["js_heap_bytes"]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the series, the growth and the page totals."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500, help="classifications (500)")
    ap.add_argument("--every", type=int, default=10, help="sample stats every N runs (10)")
    ap.add_argument("--warmup", type=int, default=20, help="runs before growth is judged (20)")
    ap.add_argument("--json", type=Path, help="also write the series and summary here")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with serve({"bench": BENCH}) as base_url, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=[*CHROMIUM_FLAGS, EAGER_MEMORY_FLAG], headless=True
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(READY_TIMEOUT_MS)
            open_harness(page, base_url)
            totals = {"before": page_memory(page)}
            series = measure(page, args.runs, args.every)
            totals["after"] = page_memory(page)
        finally:
            browser.close()

    summary = growth(series, args.warmup)
    print(f"{'run':>5} {'wasm heap MB':>13} {'pyproxies':>9} {'worker JS heap MB':>17}  label")
    for s in series:
        js = "n/a" if s["js_heap_bytes"] is None else f"{s['js_heap_bytes'] / 2**20:.2f}"
        print(
            f"{s['run']:>5} {s['wasm_heap_bytes'] / 2**20:>13.2f} {s['pyproxies']!s:>9}"
            f" {js:>17}  {s['label'] or ''}"
        )
    print(json.dumps(summary, indent=1))
    for when, total in totals.items():
        if "error" in total:
            print(f"page total {when}: {total['error']}")
            continue
        mb = total["bytes"] / 2**20
        print(f"page total {when} (measureUserAgentSpecificMemory): {mb:.1f} MB")
        for part in total["breakdown"]:
            where = "; ".join(part["scopes"])
            print(f"  {part['bytes'] / 2**20:8.1f} MB  {','.join(part['types'])}  {where}")
    if args.json:
        report = {"series": series, "summary": summary, "page_memory": totals}
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
