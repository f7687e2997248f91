#!/usr/bin/env python3
"""``npm run bench``: measure edge-infer in headless Chromium against its baselines.

Drives Debian's Chromium (Python Playwright) against the served app through the public
client API (``bench/harness.html``), plus a plain-JS pipeline in the same browser
(``bench/plain-js/``) and native onnxruntime in CPython. Writes ``latest.json``,
``latest.md`` and ``latest.png`` to ``--out`` (default ``bench/results/``) and prints the
Markdown and the targets. A run that is not ``--quick`` also inserts its dated entry into
``bench/RESULTS.md`` (``benchlib/results_log.py``) and keeps its JSON as
``run-<date>-<commit>.json`` next to ``latest.json``. The models section measures every
manifest model (size, load, steady inference at 1 and 2 threads, agreement with its family's
fp32) in both hosts. The memory section classifies ``--memory-runs`` times in one page and
judges heap growth. The peer section measures Transformers.js on our model beside edge-infer
and plain JS (first result of an image dropped at navigation start, steady per image,
agreement). The network section times first visits of edge-infer and plain JS over an
emulated 50 Mbit/s network and reports the bytes they transferred. The product's pages also
time ``--exact-runs`` classifications in exact preprocessing mode.

    .venv/bin/python bench/run.py [--quick | --smoke] [--runs N] [--exact-runs N] [--loads N]
                                  [--ready-runs N] [--out DIR] [--images NAME ...]
                                  [--threads N ...] [--no-results-log]
                                  [--no-models] [--model-runs N] [--no-memory] [--memory-runs N]
                                  [--no-peer] [--peer-loads N] [--peer-runs N]
                                  [--no-network] [--network-loads N]
                                  [--only {models,memory,alternatives,peer,network}]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import BENCH, results_log
from benchlib.alternatives import alternatives_markdown, measure_alternatives
from benchlib.analysis import (
    build_targets,
    find,
    summarize_config,
    summarize_exact,
    throughput_row,
)
from benchlib.browser import launch
from benchlib.facts import loadavg, machine_facts
from benchlib.inputs import SIZES, BenchImage, make_inputs
from benchlib.loads import cold_start_section, time_to_ready_section, visit_pairs
from benchlib.memory import MemoryPlan, memory_plan, memory_section, memory_targets
from benchlib.models import PHOTOS as MODEL_PHOTOS
from benchlib.models import (
    ModelPlan,
    boot_model_for,
    browser_model,
    copy_photos,
    manifest_models,
    model_plan,
    native_model,
)
from benchlib.models_report import models_md, models_section
from benchlib.native import native_config, native_versions
from benchlib.network import measure_network, network_md, network_targets
from benchlib.peer import PeerPlan, measure_peer, peer_mounts, peer_plan, peer_targets
from benchlib.peer_model import write_model_folder
from benchlib.report import (
    machine_md,
    markdown,
    memory_md,
    noise_md,
    peer_md,
    plot,
    targets_md,
    targets_text,
)
from benchlib.server import serve
from benchlib.steady import Config, Plan, browser_config, merge_pages

FULL = {
    "runs": 50,
    "exact_runs": 50,
    "loads": 5,
    "ready_runs": 20,
    "warmup": 3,
    "drop": 32,
    "pages": 3,
}
QUICK = {
    "runs": 5,
    "exact_runs": 2,
    "loads": 2,
    "ready_runs": 2,
    "warmup": 1,
    "drop": 8,
    "pages": 1,
}
# The smallest run that still takes every step of the main path (a cold start pair, both
# pipelines' pages with a first run, a steady run, a drop and an exact run, native
# onnxruntime, the targets and the Markdown), for tests/e2e/test_bench_smoke.py.
SMOKE = {
    "runs": 1,
    "exact_runs": 1,
    "loads": 1,
    "ready_runs": 0,
    "warmup": 0,
    "drop": 2,
    "pages": 1,
}
THREADS = (1, 2)
BROWSER_PIPELINES = ("product", "plain-js")
# The sections --only can pick, each with a --no-<name>.
SECTIONS = ("models", "memory", "alternatives", "peer", "network")


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries the report."""
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options; unset counts come from the full or the quick preset."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="few runs; writes no bench/RESULTS.md entry"
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="the smallest run: 1 of everything, 1024x768 at 2 threads, no models, memory or "
        "alternatives (the smoke test); implies --quick",
    )
    ap.add_argument(
        "--images", nargs="+", choices=SIZES, help="steady-state images (all; smoke: 1024x768)"
    )
    ap.add_argument(
        "--threads",
        nargs="+",
        type=int,
        choices=THREADS,
        help="thread counts of the steady-state and native configurations (1 2; smoke: 2)",
    )
    ap.add_argument(
        "--results-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="insert this run's dated entry into bench/RESULTS.md (on; never with --quick)",
    )
    ap.add_argument("--runs", type=int, help="steady-state runs per configuration (50)")
    ap.add_argument(
        "--exact-runs",
        type=int,
        help="runs in exact preprocessing mode per product configuration, after the drop (50)",
    )
    ap.add_argument("--loads", type=int, help="page loads per visit kind for cold start (5)")
    ap.add_argument(
        "--ready-runs", type=int, help="first visits and revisits for time to ready (20)"
    )
    ap.add_argument("--warmup", type=int, help="discarded runs after the first one (3)")
    ap.add_argument("--drop", type=int, help="images dropped at once for throughput (32)")
    ap.add_argument(
        "--pages",
        type=int,
        help="pages per browser configuration, interleaved; the runs are split among them (3)",
    )
    ap.add_argument("--out", type=Path, default=BENCH / "results", help="output folder")
    ap.add_argument(
        "--models",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure every manifest model (the models section; on by default)",
    )
    ap.add_argument(
        "--memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="classify many times in one page and judge heap growth (on by default)",
    )
    ap.add_argument(
        "--alternatives",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time to ready of each startup alternative, interleaved (on by default)",
    )
    ap.add_argument(
        "--peer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Transformers.js beside edge-infer and plain JS: first result, steady, agreement "
        "(on by default)",
    )
    ap.add_argument(
        "--network",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="first visits of edge-infer and plain JS over an emulated 50 Mbit/s network, "
        "with bytes transferred (on by default)",
    )
    ap.add_argument(
        "--only", choices=SECTIONS, help="run only this section (writes only its report)"
    )
    ap.add_argument("--model-runs", type=int, help="steady runs per model and thread count (30)")
    ap.add_argument("--memory-runs", type=int, help="classifications in the memory page (500)")
    ap.add_argument(
        "--alt-loads",
        type=int,
        help="first visits (each with a revisit) per startup alternative (5; quick: 1)",
    )
    ap.add_argument(
        "--peer-loads", type=int, help="first visits (each with a revisit) per peer pipeline (5)"
    )
    ap.add_argument("--peer-runs", type=int, help="steady runs per peer pipeline and image (30)")
    ap.add_argument(
        "--network-loads",
        type=int,
        help="throttled first visits per pipeline in the network section (5; quick: 1)",
    )
    args = ap.parse_args(argv)
    if args.smoke:
        args.quick = True
        args.models = args.memory = args.alternatives = args.peer = args.network = False
        args.images = args.images or ["1024x768"]
        args.threads = args.threads or [2]
    args.images = args.images or list(SIZES)
    args.threads = sorted(set(args.threads or THREADS))
    if args.only and not getattr(args, args.only):
        ap.error(f"--only {args.only} contradicts --no-{args.only}")
    counts = ("model_runs", "memory_runs", "alt_loads", "peer_loads", "peer_runs", "network_loads")
    for key in counts:
        if getattr(args, key) is not None and getattr(args, key) < 1:
            ap.error(f"--{key.replace('_', '-')} is too small: {getattr(args, key)}")
    preset = SMOKE if args.smoke else QUICK if args.quick else FULL
    for key, default in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, default)
        if getattr(args, key) < (0 if key in ("warmup", "ready_runs", "exact_runs") else 1):
            ap.error(f"--{key.replace('_', '-')} is too small: {getattr(args, key)}")
    return args


def wants(args, section: str) -> bool:
    """Whether ``section`` runs: not switched off, and not excluded by ``--only``."""
    return getattr(args, section) and args.only in (None, section)


def run_browser(
    args,
    images: dict[str, BenchImage],
    plan: Plan,
    mplan: ModelPlan | None,
    memplan: MemoryPlan | None,
    pplan: PeerPlan | None = None,
) -> dict:
    """Every browser measurement, with one server and one Chromium (the memory section: its own).

    Without ``images`` the cold-start, steady and throughput pages are skipped; without
    ``mplan`` the models section, without ``memplan`` the memory section, without ``pplan``
    the peer section.
    """
    from playwright.sync_api import sync_playwright

    mounts = {"bench": BENCH, "bench-inputs": args.out / "inputs"}
    mounts["bench-inputs"].mkdir(parents=True, exist_ok=True)  # empty with --only memory
    if pplan:
        mounts.update(peer_mounts(write_model_folder(args.out / "peer-models").parent))
    with serve(mounts) as base_url, sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            out: dict = {"chromium": browser.version}
            if images and not args.only:
                pairs_n = max(args.loads, args.ready_runs)
                log(f"cold start: {pairs_n} first visits + {pairs_n} revisits")
                out["pairs"] = visit_pairs(browser, base_url, pairs_n, log=log)
                pages = [
                    (config, browser_config(browser, base_url, config, plan, log))
                    for config in browser_configs(base_url, images, args.threads, plan.pages)
                ]
                out["configs"] = [
                    merge_pages([record for c, record in pages if c == config])
                    for config in browser_configs(base_url, images, args.threads, 1)
                ]
            if mplan:
                started = time.monotonic()
                out["models"] = run_models_browser(browser, base_url, mplan)
                out["models_s"] = round(time.monotonic() - started, 1)
            if wants(args, "alternatives"):
                loads = args.alt_loads or (1 if args.quick else 5)
                log(f"startup alternatives: {loads} first visits and revisits each")
                out["alternatives"] = measure_alternatives(browser, base_url, loads, log)
            if wants(args, "network"):
                loads = args.network_loads or (1 if args.quick else 5)
                log(f"network: {loads} throttled first visits per pipeline")
                out["network"] = measure_network(browser, base_url, loads, log)
            if pplan:
                out["peer"] = run_peer(browser, base_url, pplan, args.out / "inputs", images)
            if memplan:
                out["memory"] = memory_section(playwright, base_url, memplan, log)
            return out
        finally:
            browser.close()


def run_peer(browser, base_url: str, pplan: PeerPlan, inputs: Path, images: dict) -> dict:
    """The peer section: the steady images (the first is also dropped) and the model photos."""
    log(f"peer: Transformers.js, edge-infer, plain JS: {pplan.loads} loads each, {pplan.runs} runs")
    photos = copy_photos(inputs, MODEL_PHOTOS)
    url = f"{base_url}bench-inputs/"
    return measure_peer(
        browser,
        base_url,
        pplan,
        {name: url + image.path.name for name, image in images.items()},
        {name: url + path.name for name, path in photos.items()},
        log,
    )


def run_models_browser(browser, base_url: str, mplan: ModelPlan) -> list[dict]:
    """Every manifest model at every thread count, each on a fresh page."""
    models = manifest_models()
    return [
        browser_model(browser, base_url, model, boot_model_for(model, models), threads, mplan, log)
        for model in models
        for threads in THREADS
    ]


def run_models_native(mplan: ModelPlan, photos: dict[str, Path]) -> list[dict]:
    """Every manifest model at every thread count in native onnxruntime."""
    log("models: native onnxruntime")
    return [
        native_model(model["id"], threads, photos, mplan)
        for model in manifest_models()
        for threads in THREADS
    ]


def run_models(browser: dict, mplan: ModelPlan, photos: dict[str, Path]) -> dict:
    """The models section from the browser records and a native pass."""
    started = time.monotonic()
    native = run_models_native(mplan, photos)
    section = models_section(manifest_models(), mplan.facts(), THREADS, browser["models"], native)
    section["duration_s"] = {
        "browser": browser["models_s"],
        "native": round(time.monotonic() - started, 1),
    }
    return section


def browser_configs(
    base_url: str, images: dict[str, BenchImage], threads: list[int], pages: int
) -> list[Config]:
    """Every browser configuration ``pages`` times, in the order the pages are measured.

    The pipelines alternate page by page, so that noise (load, and how fast onnxruntime-web
    happens to run in one page) hits both alike.
    """
    return [
        Config(pipeline, count, name, f"{base_url}bench-inputs/{image.path.name}")
        for count in threads
        for name, image in images.items()
        for _ in range(pages)
        for pipeline in BROWSER_PIPELINES
    ]


def run_native(images: dict[str, BenchImage], plan: Plan, threads: list[int]) -> list[dict]:
    """Native onnxruntime at each of ``threads`` on every image."""
    configs = []
    for count in threads:
        for name, image in images.items():
            log(f"native: {count} threads, {name}")
            configs.append(native_config(name, image.path, count, plan))
    return configs


def options(args) -> dict:
    """The options a report records: the presets' counts and what was measured."""
    keys = ("quick", "smoke", *FULL, "images", "threads")
    return {key: getattr(args, key) for key in keys}


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
    loads += [load for c in configs if c["pipeline"] == "product" for load in c["loads"]]
    cold = cold_start_section(browser["pairs"])
    ttr = time_to_ready_section(browser["pairs"])
    longest_load = max(load["longest_task_ms"] for load in loads)
    report = {
        "schema_version": 1,
        "options": options(args),
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
        "time_to_ready": ttr,
        "steady_state": product,
        "steady_state_exact": [
            summarize_exact(c)
            for c in configs
            if c["pipeline"] == "product" and c.get("exact_samples")
        ],
        "baselines": {"plain_js": plain, "native": [summarize_config(c) for c in native]},
        "throughput": throughput,
        "targets": build_targets(summaries, throughput, ttr, longest_load),
        "raw": {"browser_configs": configs, "native_configs": native},
    }
    return report


def report_markdown(report: dict) -> str:
    """The report's Markdown: every section present (``--only``: just that one)."""
    if "steady_state" in report:
        text = markdown(report)  # memory included, its targets with the others
    else:
        only = report["options"]["only"]
        noise = noise_md(report["machine"])
        parts = [f"# edge-infer benchmark ({only} only)", machine_md(report), noise]
        if "memory" in report:
            parts += [memory_md(report["memory"]), "## Targets", targets_md(report["targets"])]
        if "peer" in report:
            parts += [peer_md(report["peer"]), "## Targets", targets_md(report["targets"])]
        if "network" in report:
            parts += [network_md(report["network"]), "## Targets", targets_md(report["targets"])]
        text = "\n\n".join(filter(None, parts)) + "\n"
    if "alternatives" in report:
        text += "\n" + "\n".join(alternatives_markdown(report["alternatives"]))
    if "models" in report:
        text += "\n" + models_md(report["models"]) + "\n"
    return text


def write_outputs(report: dict, out: Path) -> str:
    """Write latest.json, latest.md and (full report) latest.png; return the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    text = report_markdown(report)
    (out / "latest.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "latest.md").write_text(text)
    if "steady_state" in report:
        plot(report, out / "latest.png")
    return text


def stdout_text(report: dict, markdown: str, out: Path) -> str:
    """What the bench prints: the report's Markdown, the targets, and the files it wrote."""
    lines = [markdown]
    if "targets" in report:
        lines += ["Targets:", targets_text(report["targets"])]
    written = "latest.md, latest.png" if "steady_state" in report else "latest.md"
    lines.append(f"\nWrote {out / 'latest.json'}, {written}")
    return "\n".join(lines)


def section_only_report(args, machine: dict, browser: dict, section: dict) -> dict:
    """The report of ``--only <section>``: options, machine facts, the section, its targets."""
    report = {
        "schema_version": 1,
        "options": {**options(args), "only": args.only},
        "machine": {
            **machine,
            "chromium": browser["chromium"],
            "playwright": version("playwright"),
            "native": native_versions(),
            "loadavg_end": loadavg(),
        },
        args.only: section,
    }
    if args.only == "memory":
        report["targets"] = memory_targets(section)
    if args.only == "peer":
        report["targets"] = peer_targets(section)
    if args.only == "network":
        report["targets"] = network_targets(section)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run every section and print the Markdown report and the targets."""
    args = parse_args(argv)
    args.out = args.out.resolve()
    started = time.monotonic()
    machine = machine_facts()
    if machine["other_chromium_processes"]:
        log(f"note: {machine['other_chromium_processes']} Chromium processes already running")
    images = {} if args.only not in (None, "peer") else make_inputs(args.out / "inputs")
    images = {name: image for name, image in images.items() if name in args.images}
    mplan = model_plan(args.quick, args.model_runs) if wants(args, "models") else None
    memplan = memory_plan(args.quick, args.memory_runs) if wants(args, "memory") else None
    pplan = peer_plan(args.quick, args.peer_loads, args.peer_runs) if wants(args, "peer") else None
    photos = copy_photos(args.out / "inputs", mplan.photos) if mplan else {}
    plan = Plan(
        runs=args.runs,
        warmup=args.warmup,
        drop=args.drop,
        pages=args.pages,
        exact=args.exact_runs,
    )
    browser = run_browser(args, images, plan, mplan, memplan, pplan)
    sections = {"models": run_models(browser, mplan, photos) if mplan else None}
    sections["memory"] = browser.get("memory")
    sections["alternatives"] = browser.get("alternatives")
    sections["peer"] = browser.get("peer")
    sections["network"] = browser.get("network")
    if args.only:
        report = section_only_report(args, machine, browser, sections[args.only])
    else:
        native = run_native(images, plan, args.threads)
        report = assemble(args, machine, images, browser, native)
        report.update({name: section for name, section in sections.items() if section})
        if sections["memory"]:
            report["targets"] += memory_targets(sections["memory"])
        if sections["peer"]:
            report["targets"] += peer_targets(sections["peer"])
        if sections["network"]:
            report["targets"] += network_targets(sections["network"])
    report["options"].update(
        models=args.models,
        model_runs=mplan.runs if mplan else None,
        memory=args.memory,
        memory_runs=memplan.runs if memplan else None,
        alternatives=args.alternatives,
        peer=args.peer,
        network=args.network,
    )
    report["machine"]["duration_s"] = round(time.monotonic() - started, 1)
    text = write_outputs(report, args.out)
    print(stdout_text(report, text, args.out))
    if args.results_log and results_log.should_record(report["options"]):
        dated = results_log.record(report, text, args.out)
        print(f"Wrote {dated} and its entry in {results_log.RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
