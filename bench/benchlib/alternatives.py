"""Startup alternatives: what each boot choice is worth, measured in the same run.

Each alternative is a pipeline of the harness (``bench/harness.js``): the product itself, or
a worker in ``bench/alternatives/`` composed from the product's named boot stages
(``web/lib/boot.js``, ``web/lib/runtime/pyodide-loader.js``). Each load is a first visit in a
new on-disk profile followed by a revisit (a reload), as in the cold-start section; loads are
interleaved across alternatives, so machine load hits them alike. The section reports the
median and p95 of time to ready and the Python chain's stages, for first visits and revisits.

Two rows are floors, not products: the Python chain alone and the plain-JS pipeline (the
onnxruntime-web chain alone). The product waits for both chains, so neither target for time
to ready can be met where a floor misses it.

Alternatives measured in earlier runs and dropped are listed, with why, in bench/README.md.
"""

from __future__ import annotations

from benchlib.browser import Harness
from benchlib.idle import wait_for_code_cache
from benchlib.loads import persistent_profile
from benchlib.stats import summarize

# name -> (harness pipeline, what it is). "shipped" is the product's boot.
ALTERNATIVES = {
    "shipped": (
        "product",
        "onnxruntime-web in its own worker, Pyodide booting at once beside it from a memory "
        "snapshot taken after our package's import (numpy's files and ours written from one "
        "bundle, numpy's extensions relinked)",
    ),
    "ORT in this worker": (
        "ort-in-worker",
        "onnxruntime-web in the inference worker beside Pyodide, Python's chain after ORT's "
        "session exists (the boot shipped before ORT got its own worker)",
    ),
    "ORT in this worker, parallel": (
        "ort-in-worker-parallel",
        "loadPyodide and onnxruntime-web's session creation at once, in the same worker",
    ),
    "service worker": (
        "product",
        "shipped, with the app's service worker registered after ready (as the app page "
        "does); the revisit waits until it is active, so it is served from its cache",
    ),
    "no snapshot": (
        "no-snapshot",
        "shipped, but without the memory snapshot: CPython initialises from the precompiled "
        "stdlib, then numpy's files and ours are written and imported (the product's fallback); "
        "ORT's worker is started by the inference worker",
    ),
    "floor: Python chain alone": (
        "python-only",
        "not a product: the shipped Pyodide boot up to importing our package, with no "
        "onnxruntime-web, model or warm-up (bench/python-only/); no Python page is faster",
    ),
    "floor: plain JS": (
        "plain-js",
        "not a product: the plain-JS baseline (onnxruntime-web's session and a warm-up run, "
        "no Pyodide); the onnxruntime-web chain alone",
    ),
}
# Alternatives that register the app's service worker.
WITH_SERVICE_WORKER = {"service worker"}
STAGES = (
    "pyodide_wait",
    "pyodide_boot",
    "snapshot_files",
    "snapshot_restore",
    "numpy_load",
    "package_install",
    "python_import",
    "python_done_at",
)


VISITS = ("first_visit", "revisit")


def measure_alternatives(browser, base_url: str, loads: int, log=print) -> dict:
    """``loads`` first visits and revisits per alternative, interleaved; medians of each."""
    samples = {name: {visit: [] for visit in VISITS} for name in ALTERNATIVES}
    for i in range(loads):
        for name, (pipeline, _) in ALTERNATIVES.items():
            with persistent_profile(browser) as (context, _):
                query = f"pipeline={pipeline}"
                if name in WITH_SERVICE_WORKER:
                    query += "&sw=1"
                harness = Harness(context.new_page(), f"{base_url}bench/harness.html?{query}")
                harness.page.goto(harness.url)
                first = harness.ready()
                if name in WITH_SERVICE_WORKER:
                    wait_for_service_worker(harness.page)
                wait_for_code_cache()
                harness.reload()
                revisit = harness.ready()
                if name in WITH_SERVICE_WORKER and not harness.page.evaluate(CONTROLLED):
                    raise RuntimeError("the revisit was not served by the service worker")
            for visit, info in zip(VISITS, (first, revisit), strict=True):
                samples[name][visit].append(
                    {"page_ready_ms": info["page_ready_ms"], "startup_ms": info["startup_ms"]}
                )
            log(
                f"  alternatives {i + 1}/{loads}: {name} ready in "
                f"{first['page_ready_ms']:.0f} ms, revisit {revisit['page_ready_ms']:.0f} ms"
            )
    out = {}
    for name, (pipeline, what) in ALTERNATIVES.items():
        out[name] = {"pipeline": pipeline, "what": what}
        for visit in VISITS:
            runs = samples[name][visit]
            out[name][visit] = {
                "page_ready_ms": summarize(r["page_ready_ms"] for r in runs),
                "startup_ms": {k: summarize(r["startup_ms"].get(k) for r in runs) for k in STAGES},
            }
    return {"loads": loads, "alternatives": out}


CONTROLLED = "() => navigator.serviceWorker.controller !== null"


SW_READY_TIMEOUT_MS = 60_000
SW_READY = """(ms) => Promise.race([
  navigator.serviceWorker.ready.then(() => 'active'),
  new Promise((resolve) => setTimeout(() => resolve('timeout'), ms)),
])"""


def wait_for_service_worker(page) -> None:
    """Wait until the page's service worker has installed (precached) and is active.

    Its install fails, and ``ready`` never settles, when a listed file no longer matches
    ``web/vendor/precache.json``: that is an error here, not a hang.
    """
    if page.evaluate(SW_READY, SW_READY_TIMEOUT_MS) != "active":
        raise RuntimeError(
            f"the app's service worker was not active after {SW_READY_TIMEOUT_MS // 1000} s; "
            "its install fails when web/vendor/precache.json is stale (run npm run setup)"
        )


def alternatives_markdown(section: dict) -> list[str]:
    """The Markdown tables of the section (time to ready and Python stages, medians)."""
    alternatives = section["alternatives"]
    title = {"first_visit": "first visits", "revisit": "revisits"}
    lines = []
    for visit in VISITS:
        shipped = alternatives["shipped"][visit]["page_ready_ms"]["median"]
        lines += [
            f"## Startup alternatives: {title[visit]} ({section['loads']} each, interleaved)",
            "",
            "| alternative | ready p50 (ms) | ready p95 | vs shipped | Pyodide wait "
            "| Pyodide boot | of which snapshot files | of which snapshot restore | numpy load "
            "| package | Python import | Python chain done (at) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, alt in alternatives.items():
            ready = alt[visit]["page_ready_ms"]
            stages = [alt[visit]["startup_ms"][k]["median"] for k in STAGES]
            rel = ready["median"] / shipped if ready["median"] and shipped else None
            cells = [_ms(ready["median"]), _ms(ready["p95"]), f"{rel:.2f}×" if rel else "–"]
            cells += [_ms(v) for v in stages]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [*[f"- **{n}**: {a['what']}" for n, a in alternatives.items()], ""]
    return lines


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"
