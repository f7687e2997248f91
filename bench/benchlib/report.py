"""Markdown tables, the stdout summary and the PNG chart of a benchmark report."""

from __future__ import annotations

from pathlib import Path

from benchlib.analysis import STAGES
from benchlib.network import network_md
from benchlib.stats import ratio

STARTUP_LABELS = {
    "pyodide_wait": "Pyodide: import pyodide.mjs",
    "pyodide_boot": "Pyodide boot (loadPyodide)",
    "snapshot_files": "of which: snapshot boot, numpy's files and ours",
    "snapshot_restore": "of which: snapshot restore and relink",
    "snapshot_attempt": "snapshot that could not be used",
    "numpy_load": "numpy load",
    "package_install": "package install",
    "python_import": "Python import",
    "python_done_at": "Python chain done (at)",
    "ort_import": "ORT import",
    "model_fetch_done_at": "model fetch done (at)",
    "session_create": "session create",
    "ort_warmup": "ORT first run",
    "warmup": "warm-up",
    "ready": "ready (worker clock)",
}
PIPELINE_LABELS = {
    "product": "edge-infer",
    "product-exact": "edge-infer exact",
    "plain-js": "plain JS",
    "native": "native ORT",
}
STAGE_COLOURS = {
    "decode": "#8fb3d9",
    "preprocess": "#f2b36f",
    "inference": "#6fbf73",
    "postprocess": "#c9a0dc",
    "other": "#bbbbbb",
}


def fmt(value, digits: int | None = None) -> str:
    """A number for a table: fewer decimals for bigger numbers; an en dash when missing."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if digits is None:
        digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def config_name(row: dict) -> str:
    """``edge-infer, 2 threads`` and the like."""
    threads = row["threads"]
    actual = row.get("actual_threads")
    note = f" (got {actual})" if actual not in (None, threads) else ""
    return f"{PIPELINE_LABELS.get(row['pipeline'], row['pipeline'])}, {threads}t{note}"


def machine_md(report: dict) -> str:
    """One paragraph of machine facts."""
    m = report["machine"]
    return (
        f"{m['date']} · {m['cores']} cores ({m.get('cpu_model') or 'unknown CPU'}) · "
        f"{m.get('chromium') or 'chromium ?'} · git {(m.get('git_commit') or '?')[:10]}"
        f"{' (dirty)' if m.get('git_dirty') else ''} · load average {m['loadavg_start']} → "
        f"{m['loadavg_end']} · other Chromium processes at start: "
        f"{m['other_chromium_processes']}"
    )


def noise_md(machine: dict) -> str | None:
    """A warning when the machine was busy (numbers are then noisy), else None."""
    cores = machine.get("cores") or 1
    load = max((machine.get(k) or [0.0])[0] for k in ("loadavg_start", "loadavg_end"))
    others = machine.get("other_chromium_processes") or 0
    if load <= 0.5 * cores and not others:
        return None
    return (
        f"**Noisy run:** 1-minute load average up to {load} on {cores} cores, "
        f"{others} other Chromium processes at start. Compare numbers within this run only."
    )


def retries_md(report: dict) -> str | None:
    """A note when some page loads failed and were retried, else None."""
    errors = report["cold_start"].get("retried_errors", []) + [
        e for c in report["raw"]["browser_configs"] for e in c.get("retried_errors", [])
    ]
    if not errors:
        return None
    first = errors[0].splitlines()[0][:200]
    return f"**{len(errors)} page load(s) failed and were retried** (first: `{first}`)."


def cold_start_md(cold: dict) -> str:
    """Cold start: stage medians for first visits and revisits."""
    first, revisit = cold["first_visit"], cold["revisit"]
    keys = list(dict.fromkeys([*first["startup_ms"], *revisit["startup_ms"]]))
    rows = [
        [
            STARTUP_LABELS.get(k, k),
            fmt(first["startup_ms"].get(k, {}).get("median")),
            fmt(revisit["startup_ms"].get(k, {}).get("median")),
        ]
        for k in keys
    ]
    rows.append(
        [
            "**page: navigation start → ready**",
            f"**{fmt(first['page_ready_ms']['median'])}**",
            f"**{fmt(revisit['page_ready_ms']['median'])}**",
        ]
    )
    rows.append(
        [
            "longest main-thread task (max)",
            fmt(first["longest_task_ms"]["max"]),
            fmt(revisit["longest_task_ms"]["max"]),
        ]
    )
    header = ["stage (ms, median)", f"first visit (n={first['n']})", f"revisit (n={revisit['n']})"]
    return table(header, rows)


def time_to_ready_md(ttr: dict) -> str:
    """Time to ready over many loads: median and p95, ours beside the baseline, and bytes."""
    base = ttr.get("baseline")
    rows = []
    for kind in ("first_visit", "revisit"):
        ours = ttr[kind]
        row = [kind.replace("_", " "), fmt(ours["median"]), fmt(ours["p95"]), _mb(ours)]
        if base:
            theirs = base[kind]
            rel = ratio(ours["median"], theirs["median"])
            row += [fmt(theirs["median"]), fmt(theirs["p95"]), _mb(theirs), fmt(rel, 2)]
        rows.append(row)
    header = [f"time to ready, {ttr['loads']} loads (ms)", "median", "p95", "MB transferred"]
    if base:
        header += [f"{base['pipeline']} median", "p95", "MB transferred", "ours / theirs"]
    return table(header, rows)


def _mb(ready: dict) -> str:
    wire = ready.get("wire_bytes", {}).get("median")
    return "–" if wire is None else f"{wire / 1e6:.2f}"


def steady_md(summaries: list[dict], image: str) -> str:
    """Per-stage p50 / p95 for every configuration on one image."""
    header = ["configuration", *STAGES, "ORT run", "overhead", "first run", "top-1"]
    rows = []
    for s in summaries:
        if s["image"] != image:
            continue
        cells = [
            f"{fmt(s['stages_ms'][k]['median'])} / {fmt(s['stages_ms'][k]['p95'])}" for k in STAGES
        ]
        rows.append(
            [
                config_name(s),
                *cells,
                fmt(s["ort_run_ms"]["median"]) + ("*" if "estimate" in s["ort_run_source"] else ""),
                fmt(s["overhead_ms"]["median"]),
                fmt(s["first_total_ms"]),
                ", ".join(s["labels"]),
            ]
        )
    return table(header, rows)


def page_ready_md(summaries: list[dict]) -> str:
    """Time to ready of each steady-state page (one first visit per browser configuration)."""
    rows = [
        [config_name(s), s["image"], fmt(s["page_ready_ms"])]
        for s in summaries
        if s.get("page_ready_ms") is not None
    ]
    return table(["configuration", "image", "time to ready (ms)"], rows)


def throughput_md(rows: list[dict]) -> str:
    """The drop: images per second against 1 / steady median total."""
    header = [
        "configuration",
        "image",
        "images",
        "wall (ms)",
        "images/s",
        "1/steady (img/s)",
        "ratio",
    ]
    body = [
        [
            config_name(r),
            r["image"],
            str(r["images"]),
            fmt(r["wall_ms"]),
            fmt(r["images_per_s"]),
            fmt(r["steady_images_per_s"]),
            fmt(r["ratio"]),
        ]
        for r in rows
    ]
    return table(header, body)


MEMORY_ROWS = {
    "wasm_heap": "Pyodide WASM heap (MB)",
    "ort_wasm_heap": "ORT WASM heap (MB)",
    "worker_js_heap": "worker JS heap (MB)",
    "worker_js_objects": "worker JS heap without compiled code (MB)",
    "worker_array_buffers": "worker ArrayBuffers (MB)",
    "ort_worker_js_heap": "ORT worker JS heap (MB)",
    "ort_worker_js_objects": "ORT worker JS heap without compiled code (MB)",
    "ort_worker_array_buffers": "ORT worker ArrayBuffers (MB)",
}


def memory_md(section: dict) -> str:
    """The memory section: heading, what was run, growth after the warm-up, and how measured."""
    s, options = section["summary"], section["options"]
    mb = 2**20
    rows = []
    for key, label in MEMORY_ROWS.items():
        h = s[key]
        scaled = [None if h[k] is None else h[k] / mb for k in ("start", "end", "max")]
        growth = None if h["growth_bytes"] is None else h["growth_bytes"] / mb
        per_run = h["growth_bytes_per_run"]
        rows.append(
            [label, *map(fmt, scaled), fmt(growth, 3), fmt(h["growth_pct"], 3), fmt(per_run, 0)]
        )
    p = s["pyproxies"]
    counts = [str(v) if v is not None else "–" for v in (p["start"], p["end"], p["max"])]
    leaked = None if None in (p["start"], p["end"]) else p["end"] - p["start"]
    rows.append(["live PyProxies", *counts, fmt(leaked, 0), "–", fmt(p["leaked_per_run"], 3)])
    header = [
        f"after the warm-up, runs {s['from_run']}-{s['to_run']}",
        "start",
        "end",
        "max",
        "growth",
        "growth %",
        "growth per run (bytes, PyProxies)",
    ]
    intro = (
        f"{options['runs']} classifications in one page ({', '.join(options['photos'])} in "
        f"turn, {section.get('threads')} ORT threads, runtime booted with `debug: true`), "
        f"sampled every {options['every']}; growth is judged from the first sample at or after "
        f"run {options['warmup']} to the last."
    )
    notes = (
        "Pyodide's and ORT's heaps are the sizes of their WASM linear memories "
        "(`stats().wasm_heap_bytes`, `stats().ort_wasm_heap_bytes`), which never shrink: a leak "
        "shows as growth. Workers have no `performance.memory` in Chrome, so the JS heap of "
        "each worker (the inference worker, and ORT's own) and its ArrayBuffer memory outside "
        "that heap (WASM memories excluded) come from the DevTools protocol after a full GC "
        "(`Runtime.getHeapUsage`). V8 keeps adding optimised code for hot functions for a "
        "thousand runs or more; that code is bounded, so the JS-heap targets judge the heap "
        "without it: a heap snapshot's `code` nodes, taken at both ends only (max = the larger "
        "end)."
    )
    return "\n\n".join(
        [f"## Memory ({options['runs']} classifications)", intro, table(header, rows), notes]
    )


def peer_md(section: dict) -> str:
    """The peer section (benchlib/peer.py): first result, ready, steady and agreement tables."""
    o, rows = section["options"], section["pipelines"]
    ours = rows["product"]["revisit"]["first_result_ms"]["median"]
    first = []
    for row in rows.values():
        visits = [row[v]["first_result_ms"] for v in ("first_visit", "revisit")]
        revisit = row["revisit"]["first_result_ms"]["median"] if row["offline"] else None
        first.append(
            [
                row["label"],
                *[f"{fmt(v['median'])} / {fmt(v['p95'])}" for v in visits],
                *[fmt(row[v]["ready_ms"]["median"]) for v in ("first_visit", "revisit")],
                fmt(ours / revisit if ours and revisit else None),
                "yes" if row["offline"] else f"**FAILED**: {len(row['offsite_requests'])} offsite",
            ]
        )
    header = [
        "pipeline",
        "first result, first visit (ms, p50 / p95)",
        "first result, revisit",
        "ready, first visit (p50)",
        "ready, revisit (p50)",
        "ours / this, revisit",
        "all requests on this origin",
    ]
    steady = []
    for image in o["images"]:
        for row in rows.values():
            s = row["steady"].get(image)
            if s:
                stages = [f"{fmt(s['stages_ms'][k]['median'])}" for k in STAGES[:-1]]
                total = s["stages_ms"]["total"]
                steady.append(
                    [
                        row["label"],
                        image,
                        *stages,
                        f"{fmt(total['median'])} / {fmt(total['p95'])}",
                        fmt(s["first_total_ms"]),
                        ", ".join(s["labels"]),
                    ]
                )
    agree = [
        [
            rows[name]["label"],
            f"{a['top1_same']} / {a['inputs']}",
            fmt(a["top5_overlap"]),
            "; ".join(f"{k}: {ours_} vs {theirs}" for k, (ours_, theirs) in a["differs"].items())
            or "–",
        ]
        for name, a in section["agreement"].items()
    ]
    n = rows["product"]["steady"].get(o["images"][0], {}).get("n", 0)
    return "\n\n".join(
        [
            f"## Peer library: Transformers.js ({o['threads']} threads, {o['loads']} loads each)",
            f"An image ({o['drop_image']} JPEG) dropped at navigation start: navigation start → "
            "its result. Ready means different things: edge-infer and plain JS warm up with one "
            "inference before ready, Transformers.js's `pipeline()` resolves before any.",
            table(header, first),
            f"### Steady state per image (ms, p50; total p50 / p95; {n} runs, one page each)",
            table(["pipeline", "image", *STAGES[:-1], "total", "first run", "top-1"], steady),
            "### Agreement with edge-infer (top-5 labels, steady images and photos)",
            table(["pipeline", "top-1 same", "top-5 overlap", "top-1 differs"], agree),
        ]
    )


def targets_md(targets: list[dict]) -> str:
    """The targets table."""
    rows = [
        [t["name"], fmt(t["value"], 3), f"{t['op']} {fmt(t['limit'], 3)}", fmt(t["met"])]
        for t in targets
    ]
    notes = [f"- {t['name']}: {t['note']}" for t in targets if t.get("note")]
    return "\n\n".join([table(["target", "value", "limit", "met"], rows), "\n".join(notes)])


def markdown(report: dict) -> str:
    """The whole report as Markdown."""
    pages = report["options"].get("pages", 1)
    summaries = (
        report["steady_state"] + report["baselines"]["plain_js"] + report["baselines"]["native"]
    )
    order = lambda s: (s["image"], s["threads"], s["pipeline"])  # noqa: E731
    summaries.sort(key=order)
    with_exact = sorted(summaries + report.get("steady_state_exact", []), key=order)
    parts = [
        "# edge-infer benchmark",
        machine_md(report),
        *filter(None, [noise_md(report["machine"])]),
        "## Cold start",
        cold_start_md(report["cold_start"]),
        *filter(None, [retries_md(report)]),
        "Stages marked (at) are times since the worker started booting; the Python chain and "
        "the ORT chain (import, model fetch, session) run in parallel.",
        "## Time to ready",
        time_to_ready_md(report["time_to_ready"]),
        "Navigation start → `ready` resolved, from the same page loads as the cold start. "
        f"Each steady-state page below is one more first visit, for every pipeline "
        f"(the median of its {pages} pages):",
        page_ready_md(summaries),
        "## Steady state per image (ms, p50 / p95)",
    ]
    for image in report["inputs"]:
        n = max((s["n"] for s in summaries if s["image"] == image), default=0)
        parts += [
            f"### {image} JPEG ({n} runs per configuration, on {pages} pages)",
            steady_md(with_exact, image),
        ]
    parts += [
        "overhead = total − ORT run − decode. ORT run is `timings_detail_ms.ort_run` when "
        "results carry it (native: bare `session.run`). Marked * is an estimate: plain-JS "
        "`session.run` median at the same threads, capped at each sample's inference. "
        "*edge-infer exact* is `preprocess: 'exact'` on the same pages after the drop: the "
        "browser decodes at full resolution and numpy does the antialiased resize (Pillow's); "
        "its first run is the first in exact mode.",
        "## Throughput (images dropped at once)",
        f"One drop per page; wall time of the median of the {pages} pages.",
        throughput_md(report["throughput"]),
        *([memory_md(report["memory"])] if "memory" in report else []),
        *([peer_md(report["peer"])] if "peer" in report else []),
        *([network_md(report["network"])] if "network" in report else []),
        "## Targets",
        targets_md(report["targets"]),
    ]
    return "\n\n".join(parts) + "\n"


def targets_text(targets: list[dict]) -> str:
    """Plain-text lines for stdout."""
    lines = []
    for t in targets:
        mark = "MET " if t["met"] else "MISS"
        lines.append(
            f"  [{mark}] {t['name']}: {fmt(t['value'], 3)} (limit {t['op']} {fmt(t['limit'], 3)})"
        )
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    """Stacked median stage bars per configuration (one panel per image) and cold start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summaries = (
        report["steady_state"]
        + report.get("steady_state_exact", [])
        + report["baselines"]["plain_js"]
        + report["baselines"]["native"]
    )
    images = list(report["inputs"])
    fig, axes = plt.subplots(len(images) + 1, 1, figsize=(10, 4.6 * (len(images) + 1)))
    for ax, image in zip(axes, images, strict=False):
        rows = sorted(
            (s for s in summaries if s["image"] == image),
            key=lambda s: (s["threads"], s["pipeline"]),
        )
        _stacked_bars(ax, rows)
        ax.set_title(f"Steady state, {image} JPEG: median per stage")
    _cold_start_bars(axes[-1], report["cold_start"])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _stacked_bars(ax, rows: list[dict]) -> None:
    names = [config_name(r) for r in rows]
    left = [0.0] * len(rows)
    for stage in (*STAGES[:-1], "other"):
        if stage == "other":
            widths = [
                max(0.0, r["stages_ms"]["total"]["median"] - lft)
                for r, lft in zip(rows, left, strict=True)
            ]
        else:
            widths = [r["stages_ms"][stage]["median"] or 0.0 for r in rows]
        ax.barh(names, widths, left=left, color=STAGE_COLOURS[stage], label=stage)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, total in enumerate(left):
        ax.text(total, y, f" {total:.1f} ms", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms")
    ax.set_xlim(0, max(left, default=1.0) * 1.18)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=5, fontsize=8, frameon=False)


def _cold_start_bars(ax, cold: dict) -> None:
    first, revisit = cold["first_visit"], cold["revisit"]
    keys = list(dict.fromkeys([*first["startup_ms"], *revisit["startup_ms"]]))
    labels = [STARTUP_LABELS.get(k, k) for k in keys] + ["page: navigation → ready"]
    values = {}
    for kind, data in (("first visit", first), ("revisit", revisit)):
        stage = [data["startup_ms"].get(k, {}).get("median") or 0.0 for k in keys]
        values[kind] = [*stage, data["page_ready_ms"]["median"] or 0.0]
    ys = range(len(labels))
    ax.barh(
        [y - 0.2 for y in ys],
        values["first visit"],
        height=0.4,
        label="first visit",
        color="#d98f8f",
    )
    ax.barh([y + 0.2 for y in ys], values["revisit"], height=0.4, label="revisit", color="#8fb3d9")
    ax.set_yticks(list(ys), labels)
    ax.invert_yaxis()
    ax.set_xlabel("ms (median)")
    ax.set_title(f"Cold start ({first['n']} loads each)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
