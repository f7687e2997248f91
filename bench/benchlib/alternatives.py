"""Startup alternatives: what each boot choice is worth, measured in the same run.

Each alternative boots the product harness with an ``_experiment`` (see ``bootPyodide`` in
``web/lib/runtime/pyodide-loader.js``). First visits (fresh context each) are interleaved
across alternatives, so machine load hits them alike; the section reports the median and p95
of time to ready and of the Python chain per alternative.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from benchlib.browser import Harness, fresh_context
from benchlib.stats import summarize

# name -> (experiment, what it is). "shipped" is the default boot.
ALTERNATIVES = {
    "shipped": (
        {},
        "precompiled bytecode, numpy and our package "
        "written from one bundle (extensions load on import), loadPyodide after "
        "onnxruntime-web's session exists",
    ),
    "snapshot": (
        {"snapshot": True},
        "shipped, plus Pyodide's booted heap restored from a memory snapshot "
        "(tools/make_snapshot.mjs), so CPython does not initialise",
    ),
    "wheels unpacked": (
        {"numpy": "unpack"},
        "numpy's wheel, ours and the bytecode zip unpacked by Pyodide (Python's zipfile)",
    ),
    "parallel boot": (
        {"parallelBoot": True},
        "loadPyodide and onnxruntime-web's session creation at once in the same worker",
    ),
    "no bytecode": (
        {"bytecode": False},
        "Pyodide's source-only stdlib and numpy (and so no snapshot: it needs the bytecode zip)",
    ),
    "numpy via loadPackage": (
        {"numpy": "loadPackage"},
        "pyodide.loadPackage compiles all 19 numpy extension modules up front",
    ),
    "previous boot": (
        {"bytecode": False, "numpy": "loadPackage", "parallelBoot": True},
        "the boot before these changes: sources only, loadPackage",
    ),
    "micropip": (
        {"bytecode": False, "numpy": "loadPackage", "parallelBoot": True, "installer": "micropip"},
        "previous boot, our wheel installed with micropip",
    ),
}
STAGES = (
    "pyodide_wait",
    "pyodide_boot",
    "numpy_load",
    "package_install",
    "python_import",
    "python_done_at",
)


def measure_alternatives(browser, base_url: str, loads: int, log=print) -> dict:
    """``loads`` first visits per alternative, interleaved; medians per alternative."""
    samples: dict[str, list[dict]] = {name: [] for name in ALTERNATIVES}
    for i in range(loads):
        for name, (experiment, _) in ALTERNATIVES.items():
            context = fresh_context(browser)
            try:
                query = f"pipeline=product&experiment={quote(json.dumps(experiment))}"
                harness = Harness(context.new_page(), f"{base_url}bench/harness.html?{query}")
                harness.page.goto(harness.url)
                info = harness.ready()
            finally:
                context.close()
            samples[name].append(
                {"page_ready_ms": info["page_ready_ms"], "startup_ms": info["startup_ms"]}
            )
            log(f"  alternatives {i + 1}/{loads}: {name} ready in {info['page_ready_ms']:.0f} ms")
    out = {}
    for name, (experiment, what) in ALTERNATIVES.items():
        runs = samples[name]
        out[name] = {
            "experiment": experiment,
            "what": what,
            "page_ready_ms": summarize(r["page_ready_ms"] for r in runs),
            "startup_ms": {k: summarize(r["startup_ms"].get(k) for r in runs) for k in STAGES},
        }
    return {"loads": loads, "alternatives": out}


def alternatives_markdown(section: dict) -> list[str]:
    """The Markdown table of the section (time to ready and Python stages, medians)."""
    shipped = section["alternatives"]["shipped"]["page_ready_ms"]["median"]
    lines = [
        f"## Startup alternatives (first visits, {section['loads']} each, interleaved)",
        "",
        "| alternative | ready p50 (ms) | ready p95 | vs shipped | Pyodide wait | Pyodide boot "
        "| numpy load | package | Python import | Python chain done (at) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, alt in section["alternatives"].items():
        ready = alt["page_ready_ms"]
        stages = [alt["startup_ms"][k]["median"] for k in STAGES]
        rel = ready["median"] / shipped if ready["median"] and shipped else None
        cells = [_ms(ready["median"]), _ms(ready["p95"]), f"{rel:.2f}×" if rel else "–"]
        cells += [_ms(v) for v in stages]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *[f"- **{n}**: {a['what']}" for n, a in section["alternatives"].items()], ""]
    return lines


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"
