"""``bench/RESULTS.md``: the committed measurement log, one dated entry per full bench run.

``bench/run.py`` calls :func:`record` after every run that is not ``--quick`` (and not
``--no-results-log``): it renders the run as one Markdown entry and inserts it right below
:data:`MARKER`, so the newest entry comes first and the file's introduction and older entries
stay as they are. An entry is:

- a heading with the UTC date and time, what ran (a full run, ``--only <section>``, or the
  sections switched off) and the short git commit, with a note when tracked files had
  uncommitted changes;
- the command that reproduces it and the path of its full JSON under ``bench/results/``;
- machine facts as the report records them (cores, CPU, load average at start and end, other
  Chromium processes, Chromium and Playwright versions, the page's Pyodide, numpy and
  onnxruntime-web versions, native onnxruntime and Python versions, duration);
- the targets table, then the report's other Markdown sections (the same tables the bench
  prints), their headings one level deeper to nest under the entry.

Quick runs never come here, so tests never change the committed file.
"""

from __future__ import annotations

import datetime
import re
import shutil
from pathlib import Path

from benchlib import BENCH, ROOT
from benchlib.inputs import SIZES
from benchlib.report import noise_md

RESULTS = BENCH / "RESULTS.md"
MARKER = "<!-- results-log: bench/run.py inserts new entries below this line, newest first -->"
# The sections a run can switch off (``--no-<name>``), as the report's options record them.
SWITCHES = ("models", "memory", "alternatives", "peer")


def should_record(options: dict) -> bool:
    """Whether a run with these report ``options`` belongs in the log: any run but ``--quick``."""
    return not options.get("quick")


def json_name(machine: dict) -> str:
    """The dated file name of a run's full JSON, e.g. ``run-20261206T2350Z-0ba73ea.json``."""
    when = datetime.datetime.fromisoformat(machine["date"]).strftime("%Y%m%dT%H%MZ")
    commit = (machine.get("git_commit") or "nogit")[:7]
    return f"run-{when}-{commit}{'-dirty' if machine.get('git_dirty') else ''}.json"


def display_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (it is in the default case)."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def command(report: dict) -> str:
    """The command line that reruns this report's sections with its counts (best effort)."""
    options = report["options"]
    args = [".venv/bin/python bench/run.py"]
    if options.get("only"):
        args.append(f"--only {options['only']}")
    args += [f"--no-{key}" for key in SWITCHES if options.get(key) is False]
    counts = ("runs", "exact_runs", "loads", "ready_runs", "warmup", "drop", "pages")
    args += [f"--{key.replace('_', '-')} {options[key]}" for key in counts if key in options]
    for key in ("model_runs", "memory_runs"):
        if options.get(key):
            args.append(f"--{key.replace('_', '-')} {options[key]}")
    # Reports from before these options existed measured every image at 1 and 2 threads.
    if options.get("images") and set(options["images"]) != set(SIZES):
        args.append("--images " + " ".join(options["images"]))
    if options.get("threads") and options["threads"] != [1, 2]:
        args.append("--threads " + " ".join(map(str, options["threads"])))
    return " ".join(args)


def heading(report: dict) -> str:
    """The entry's heading: ``## 2026-12-06 23:50 UTC · full run · git `0ba73ea```.

    ``--only <section>`` or the sections switched off replace "full run"; a note follows
    when the tree was dirty.
    """
    machine = report["machine"]
    when = datetime.datetime.fromisoformat(machine["date"]).strftime("%Y-%m-%d %H:%M UTC")
    only = report["options"].get("only")
    off = [key for key in SWITCHES if report["options"].get(key) is False]
    kind = f"`--only {only}`" if only else f"run without {', '.join(off)}" if off else "full run"
    commit = (machine.get("git_commit") or "?")[:7]
    dirty = " (dirty: uncommitted changes to tracked files)" if machine.get("git_dirty") else ""
    return f"## {when} · {kind} · git `{commit}`{dirty}"


def page_runtime(report: dict) -> dict:
    """What the product's page reported about its runtime on the first cold-start load.

    Pyodide, Python, numpy and onnxruntime-web versions, backend, threads; empty for an
    ``--only`` report, which has no cold start.
    """
    samples = (report.get("cold_start") or {}).get("first_visit", {}).get("samples") or [{}]
    return samples[0].get("runtime") or {}


def machine_lines(report: dict) -> list[str]:
    """The machine and runtime facts the report recorded, one bullet each."""
    machine = report["machine"]
    runtime = page_runtime(report)
    page = (
        f"- in the page: Pyodide {runtime.get('pyodide')} (Python {runtime.get('python')}, "
        f"numpy {runtime.get('numpy')}), onnxruntime-web {runtime.get('onnxruntime_web')} "
        f"({runtime.get('execution_provider')}, {runtime.get('threads')} threads on that page)"
    )
    native = machine.get("native") or {}
    versions = ", ".join(f"{k} {v}" for k, v in native.items()) or "–"
    load = f"{machine.get('loadavg_start')} → {machine.get('loadavg_end')}"
    return [
        f"- commit: `{machine.get('git_commit') or '?'}`"
        f"{' with uncommitted changes' if machine.get('git_dirty') else ''}",
        f"- machine: {machine.get('cores')} cores ({machine.get('cpu_model') or 'unknown CPU'}), "
        f"{machine.get('platform') or '?'}",
        f"- load average (1, 5, 15 min) at start → end: {load}; other Chromium processes at "
        f"start: {machine.get('other_chromium_processes')}",
        f"- browser: {machine.get('chromium') or '?'}, Playwright {machine.get('playwright')}; "
        f"cross-origin isolated: {machine.get('cross_origin_isolated', '–')}",
        *([page] if runtime else []),
        f"- native host: Python {machine.get('python')}, {versions}",
        f"- duration: {machine.get('duration_s')} s",
    ]


def demote(markdown: str, levels: int = 1) -> str:
    """Move every ATX heading down ``levels`` levels (``## x`` → ``### x``)."""
    deeper = "#" * levels
    return re.sub(r"^(#{1,6}) ", lambda m: f"{m.group(1)}{deeper} ", markdown, flags=re.M)


def sections(markdown: str) -> list[str]:
    """The report's Markdown cut before each ``## `` heading; the first piece is its preamble."""
    return re.split(r"\n(?=## )", markdown.strip())


def entry(report: dict, markdown: str, json_path: Path) -> str:
    """One log entry for ``report``, whose rendered Markdown is ``markdown``.

    The Markdown's preamble (title, machine paragraph, noise note) gives way to the entry's
    heading and facts; the targets come first, then every other section in the report's
    order, each heading one level deeper than in the report.
    """
    _, *chunks = sections(markdown)
    targets = [c for c in chunks if c.startswith("## Targets")]
    others = [c for c in chunks if not c.startswith("## Targets")]
    parts = [
        heading(report),
        f"`{command(report)}` · full JSON: `{display_path(json_path)}`",
        "\n".join(machine_lines(report)),
        noise_md(report["machine"]),
        *(demote(chunk) for chunk in targets + others),
    ]
    return "\n\n".join(filter(None, parts)) + "\n"


def insert(log: str, new_entry: str) -> str:
    """``log`` with ``new_entry`` right below :data:`MARKER` (newest first).

    A log without the marker (a new file) gets a title and the marker first.
    """
    if MARKER not in log:
        log = f"# Benchmark results\n\n{MARKER}\n" + (f"\n{log}" if log.strip() else "")
    head, tail = log.split(MARKER, 1)
    return f"{head}{MARKER}\n\n{new_entry.rstrip()}\n\n{tail.lstrip()}".rstrip() + "\n"


def record(report: dict, markdown: str, out: Path, log_path: Path = RESULTS) -> Path:
    """Keep a dated copy of ``out/latest.json`` and insert this run's entry into ``log_path``.

    Returns the dated JSON's path. ``out/latest.json`` must already be written.
    """
    dated = out / json_name(report["machine"])
    shutil.copyfile(out / "latest.json", dated)
    old = log_path.read_text() if log_path.exists() else ""
    log_path.write_text(insert(old, entry(report, markdown, dated)))
    return dated
