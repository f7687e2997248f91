#!/usr/bin/env python3
"""``npm run bench``: measure edge-infer in headless Chromium against its baselines.

Drives Debian's Chromium (Python Playwright) against the served app through the public
client API (``bench/harness.html``), plus a plain-JS pipeline in the same browser
(``bench/plain-js/``) and native onnxruntime in CPython. Writes ``latest.json``,
``latest.md`` and ``latest.png`` to ``--out`` (default ``bench/results/``) and prints the
Markdown and the targets.

    .venv/bin/python bench/run.py [--quick] [--runs N] [--loads N] [--ready-runs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BENCH
from benchlib.analysis import build_targets, find, summarize_config, throughput_row
from benchlib.browser import launch
from benchlib.facts import loadavg, machine_facts
from benchlib.inputs import BenchImage, make_inputs
from benchlib.loads import cold_start_section, time_to_ready_section, visit_pairs
from benchlib.native import native_config, native_versions
from benchlib.report import markdown, plot, targets_text
from benchlib.server import serve
from benchlib.steady import Config, Plan, browser_config

FULL = {"runs": 50, "loads": 5, "ready_runs": 20, "warmup": 3, "drop": 32}
QUICK = {"runs": 5, "loads": 2, "ready_runs": 2, "warmup": 1, "drop": 8}
THREADS = (1, 2)
BROWSER_PIPELINES = ("product", "plain-js")


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries the report."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; unset counts come from the full or the quick preset."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few runs (used by the tests)")
    ap.add_argument("--runs", type=int, help="steady-state runs per configuration (50)")
    ap.add_argument("--loads", type=int, help="page loads per visit kind for cold start (5)")
    ap.add_argument(
        "--ready-runs", type=int, help="first visits and revisits for time to ready (20)"
    )
    ap.add_argument("--warmup", type=int, help="discarded runs after the first one (3)")
    ap.add_argument("--drop", type=int, help="images dropped at once for throughput (32)")
    ap.add_argument("--out", type=Path, default=BENCH / "results", help="output folder")
    args = ap.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key, default in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
        if getattr(args, key) < (0 if key in ("warmup", "ready_runs") else 1):
            ap.error(f"--{key.replace('_', '-')} is too small: {getattr(args, key)}")
    return args


def run_browser(args, images: dict[str, BenchImage], plan: Plan) -> dict:
    """Every browser measurement, with one server and one Chromium."""
    from playwright.sync_api import sync_playwright

    mounts = {"bench": BENCH, "bench-inputs": args.out / "inputs"}
    with serve(mounts) as base_url, sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            pairs_n = max(args.loads, args.ready_runs)
            log(f"cold start: {pairs_n} first visits + {pairs_n} revisits")
            pairs = visit_pairs(browser, base_url, pairs_n, log=log)
            configs = [
                browser_config(browser, base_url, config, plan, log)
                for config in browser_configs(base_url, images)
            ]
            return {"pairs": pairs, "configs": configs, "chromium": browser.version}
        finally:
            browser.close()


def browser_configs(base_url: str, images: dict[str, BenchImage]) -> list[Config]:
    """Every browser configuration; the pipelines alternate so that noise hits both alike."""
    return [
        Config(pipeline, threads, name, f"{base_url}bench-inputs/{image.path.name}")
        for threads in THREADS
        for name, image in images.items()
        for pipeline in BROWSER_PIPELINES
    ]


def run_native(images: dict[str, BenchImage], plan: Plan) -> list[dict]:
    """Native onnxruntime at every thread count on every image."""
    configs = []
    for threads in THREADS:
        for name, image in images.items():
            log(f"native: {threads} threads, {name}")
            configs.append(native_config(name, image.path, threads, plan))
    return configs


def assemble(args, machine, images, browser: dict, native: list[dict]) -> dict:
    """The full report: statistics, throughput, targets, and every raw sample."""
    configs = browser["configs"]
    plain = [summarize_config(c) for c in configs if c["pipeline"] == "plain-js"]
    product = []
    for c in (c for c in configs if c["pipeline"] == "product"):
        reference = find(plain, "plain-js", c["threads"], c["image"])
        product.append(
            summarize_config(c, reference["ort_run_ms"]["median"] if reference else None)
        )
    summaries = product + plain
    throughput = [
        throughput_row(c, find(summaries, c["pipeline"], c["threads"], c["image"])) for c in configs
    ]
    loads = browser["pairs"]["first_visit"] + browser["pairs"]["revisit"]
    loads += [c["load"] for c in configs if c["pipeline"] == "product"]
    cold = cold_start_section(browser["pairs"])
    longest_load = max(load["longest_task_ms"] for load in loads)
    report = {
        "schema_version": 1,
        "options": {k: getattr(args, k) for k in ("quick", *FULL)},
        "machine": {
            **machine,
            "chromium": browser["chromium"],
            "playwright": version("playwright"),
            "native": native_versions(),
            "cross_origin_isolated": all(load["cross_origin_isolated"] for load in loads),
            "loadavg_end": loadavg(),
        },
        "inputs": {name: image.facts() for name, image in images.items()},
        "cold_start": cold,
        "time_to_ready": time_to_ready_section(browser["pairs"]),
        "steady_state": product,
        "baselines": {"plain_js": plain, "native": [summarize_config(c) for c in native]},
        "throughput": throughput,
        "targets": build_targets(summaries, throughput, cold, longest_load),
        "raw": {"browser_configs": configs, "native_configs": native},
    }
    return report


def write_outputs(report: dict, out: Path) -> str:
    """Write latest.json, latest.md and latest.png; return the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (out / "latest.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "latest.md").write_text(text)
    plot(report, out / "latest.png")
    return text


def main(argv: list[str] | None = None) -> int:
    """Run every section and print the Markdown report and the targets."""
    args = parse_args(argv)
    args.out = args.out.resolve()
    started = time.monotonic()
    machine = machine_facts()
    if machine["other_chromium_processes"]:
        log(f"note: {machine['other_chromium_processes']} Chromium processes already running")
    images = make_inputs(args.out / "inputs")
    plan = Plan(runs=args.runs, warmup=args.warmup, drop=args.drop)
    browser = run_browser(args, images, plan)
    native = run_native(images, plan)
    report = assemble(args, machine, images, browser, native)
    report["machine"]["duration_s"] = round(time.monotonic() - started, 1)
    print(write_outputs(report, args.out))
    print("Targets:")
    print(targets_text(report["targets"]))
    print(f"\nWrote {args.out / 'latest.json'}, latest.md, latest.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
