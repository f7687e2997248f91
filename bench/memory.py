#!/usr/bin/env python3
"""Memory over many classifications: does anything grow per image.

    .venv/bin/python bench/memory.py [--runs 500] [--every 10] [--warmup 20] [--json FILE]

The memory section of ``bench/run.py`` on its own, with the whole series printed: serves
the app (``bench/`` mounted), opens ``bench/memory.html`` in headless Debian Chromium (a
classifier booted with ``debug: true``), classifies two real photos alternately and samples
``classifier.stats()`` every ``--every`` runs (Pyodide's WASM heap, onnxruntime-web's WASM
heap, live PyProxies) plus the worker's JS heap and ArrayBuffer memory after a full GC (over
the DevTools protocol). Prints the series, the growth after the warm-up and the targets. The
measurement itself lives in ``benchlib/memory.py``; ``tests/e2e/test_memory.py`` runs a short
version of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BENCH
from benchlib.memory import MemoryPlan, memory_section, memory_targets
from benchlib.report import targets_text
from benchlib.server import serve

MB = 2**20


def megabytes(value: int | None) -> str:
    """Bytes as MB with two decimals, or n/a."""
    return "n/a" if value is None else f"{value / MB:.2f}"


def print_series(series: list[dict]) -> None:
    """One line per sample."""
    names = ("Pyodide MB", "ORT MB", "PyProxies", "JS heap MB", "buffers MB", "ORT JS MB")
    print(f"{'run':>5} " + " ".join(f"{n:>10}" for n in names) + "  label")
    for s in series:
        print(
            f"{s['run']:>5} {megabytes(s['wasm_heap_bytes']):>10}"
            f" {megabytes(s['ort_wasm_heap_bytes']):>10} {s['pyproxies']!s:>10}"
            f" {megabytes(s.get('worker_js_heap_bytes')):>10}"
            f" {megabytes(s.get('worker_array_buffer_bytes')):>10}"
            f" {megabytes(s.get('ort_worker_js_heap_bytes')):>10}  {s['label'] or ''}"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print the series, the growth and the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500, help="classifications (500)")
    ap.add_argument("--every", type=int, default=10, help="sample stats every N runs (10)")
    ap.add_argument("--warmup", type=int, default=20, help="runs before growth is judged (20)")
    ap.add_argument("--json", type=Path, help="also write the section (series included) here")
    args = ap.parse_args(argv)
    if args.runs < 1 or args.every < 1 or not 0 <= args.warmup <= args.runs:
        ap.error("need runs >= 1, every >= 1 and 0 <= warmup <= runs")

    from playwright.sync_api import sync_playwright

    plan = MemoryPlan(runs=args.runs, every=args.every, warmup=args.warmup)
    with serve({"bench": BENCH}) as base_url, sync_playwright() as pw:
        section = memory_section(pw, base_url, plan, log=lambda m: print(m, file=sys.stderr))

    print_series(section["series"])
    print(json.dumps(section["summary"], indent=1))
    print("Targets:")
    print(targets_text(memory_targets(section)))
    if args.json:
        args.json.write_text(json.dumps(section, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
