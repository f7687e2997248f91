#!/usr/bin/env python3
"""Per-stage timings for one image, in the browser at 1 and 2 threads and in CPython.

    .venv/bin/python bench/stages.py [IMAGE] [--runs 30]

IMAGE defaults to scikit-image's chelsea.png. Prints medians and p95 of each stage
(decode, preprocess, inference, postprocess, total) for the product in headless Chromium
(through the public client API, via bench/harness.html) and for the CPython host (native
onnxruntime), both after warm-up. The closing notes' per-image numbers come from here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "py"))

from benchlib.browser import Harness, fresh_context, launch
from benchlib.inputs import source_photo
from benchlib.native import native_config
from benchlib.server import serve
from benchlib.stats import summarize
from benchlib.steady import Plan
from playwright.sync_api import sync_playwright

STAGES = ("decode", "preprocess", "inference", "postprocess", "total")
BENCH = Path(__file__).resolve().parent


def row(name: str, samples: list[dict]) -> str:
    """One Markdown row: p50 / p95 per stage, the ORT run median and the top-1."""
    cells = []
    for stage in STAGES:
        s = summarize(x["timings_ms"][stage] for x in samples)
        cells.append(f"{s['median']:.2f} / {s['p95']:.2f}")
    ort = [x.get("timings_detail_ms") or {} for x in samples]
    ort_run = summarize(o.get("ort_run") for o in ort if o.get("ort_run") is not None)
    extra = f"{ort_run['median']:.2f}" if ort_run.get("median") is not None else "–"
    return f"| {name} | " + " | ".join(cells) + f" | {extra} | {samples[0]['label']} |"


def main() -> int:
    """Measure the browser at 1 and 2 threads, then CPython, and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("image", nargs="?", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    image = (args.image or source_photo()).resolve()
    print(f"image: {image.name}; {args.runs} runs after 3 warm-ups; p50 / p95 in ms\n")
    print("| host | " + " | ".join(STAGES) + " | ORT run p50 | top-1 |")
    print("|---" * (len(STAGES) + 3) + "|")
    with serve({"bench": BENCH, "inputs": image.parent}) as base, sync_playwright() as pw:
        browser = launch(pw)
        for threads in (1, 2):
            context = fresh_context(browser)
            harness = Harness.open(context, base, "product", threads)
            harness.ready()
            harness.load_inputs({"img": f"{base}inputs/{image.name}"})
            harness.run("img", 3)
            print(row(f"browser, {threads} thread(s)", harness.run("img", args.runs)), flush=True)
            context.close()
        browser.close()
    for threads in (1, 2):
        plan = Plan(runs=args.runs, warmup=3, drop=0)
        record = native_config("img", image, threads, plan)
        print(row(f"CPython, {threads} thread(s)", record["samples"]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
