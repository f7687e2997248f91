"""``python -m edge_infer eval``: a model's accuracy on a labelled set of images.

It runs in CPython (native onnxruntime) and in the browser (headless Chromium through the
page's own API), and reports how far the two hosts agree.

A data set is a folder of class-named subfolders, or a CSV of ``path,label`` rows (the label
a name or a class index). Rows that cannot be evaluated (a missing file, an unknown label,
an image that does not decode) are reported and counted, never fatal.
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_infer.manifest import ModelSpec


class EvalError(Exception):
    """The evaluation cannot run at all (no data set, no browser); the message says why."""


@dataclass(frozen=True)
class Sample:
    """One labelled image."""

    path: Path
    label: int


@dataclass(frozen=True)
class BadRow:
    """An image or row that was not evaluated, and why."""

    where: str
    reason: str


@dataclass
class HostRun:
    """One host's answers: per image path, its result, or the reason it failed."""

    host: str
    results: dict[Path, dict] = field(default_factory=dict)
    failures: dict[Path, str] = field(default_factory=dict)


def label_key(name: str) -> str:
    """How folder names and CSV labels are matched to a model's labels.

    Case, spaces, underscores and hyphens do not matter.
    """
    return " ".join(name.replace("_", " ").replace("-", " ").casefold().split())


def label_index(labels: tuple[str, ...]) -> dict[str, int]:
    """Label key -> class index; a name shared by two classes matches the first."""
    index: dict[str, int] = {}
    for i, name in enumerate(labels):
        index.setdefault(label_key(name), i)
    return index


def read_dataset(data: Path, labels: tuple[str, ...]) -> tuple[list[Sample], list[BadRow]]:
    """The labelled images of a folder of class folders, or of a ``path,label`` CSV file.

    Raises:
        EvalError: ``data`` is neither a folder nor a readable CSV file.

    """
    data = Path(data)
    if data.is_dir():
        return _read_folder(data, labels)
    if data.is_file():
        return _read_csv(data, labels)
    raise EvalError(f"{data}: no such folder or CSV file")


def _read_folder(root: Path, labels: tuple[str, ...]) -> tuple[list[Sample], list[BadRow]]:
    index = label_index(labels)
    samples, bad = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        label = index.get(label_key(folder.name))
        if label is None:
            why = f"folder {folder.name!r} is not a label of the model"
            bad += [BadRow(str(f), why) for f in files]
            continue
        samples += [Sample(f, label) for f in files]
    return samples, bad


def _read_csv(path: Path, labels: tuple[str, ...]) -> tuple[list[Sample], list[BadRow]]:
    index = label_index(labels)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: cannot read it as a UTF-8 CSV file ({exc})") from exc
    samples, bad = [], []
    for line, row in enumerate(csv.reader(text.splitlines()), start=1):
        where = f"{path}:{line}"
        if not row or not "".join(row).strip():
            continue
        if line == 1 and [c.strip().casefold() for c in row] == ["path", "label"]:
            continue  # a header
        if len(row) != 2:
            bad.append(BadRow(where, f"expected 2 columns (path,label), got {len(row)}"))
            continue
        file, label = (c.strip() for c in row)
        image = (path.parent / file) if not Path(file).is_absolute() else Path(file)
        if label.lstrip("-").isdigit():
            cls = int(label)
            if not 0 <= cls < len(labels):
                bad.append(BadRow(where, f"class index {cls} is outside 0..{len(labels) - 1}"))
                continue
        elif label_key(label) in index:
            cls = index[label_key(label)]
        else:
            bad.append(BadRow(where, f"label {label!r} is not a label of the model"))
            continue
        samples.append(Sample(image, cls))
    return samples, bad


def run_native(
    samples: list[Sample], pipeline: Any, top_k: int, progress: Callable[[int], None]
) -> HostRun:
    """Classify every sample with the CPython host's pipeline (exact preprocessing)."""
    from edge_infer.decode import DecodeError, decode_file

    run = HostRun("native")
    for i, sample in enumerate(samples, start=1):
        try:
            pixels, decode_ms = decode_file(sample.path)
            run.results[sample.path] = pipeline.classify(pixels, top_k=top_k, decode_ms=decode_ms)
        except (DecodeError, ValueError) as exc:
            run.failures[sample.path] = str(exc)
        progress(i)
    return run


def summarize(
    model: ModelSpec, samples: list[Sample], bad: list[BadRow], runs: list[HostRun]
) -> dict:
    """The report: per host accuracy and per-image time, the hosts' agreement, bad rows."""
    failed: dict[Path, str] = {}
    for run in runs:
        for path, why in run.failures.items():
            earlier = f"{failed[path]}; " if path in failed else ""
            failed[path] = f"{earlier}{run.host}: {why}"
    rows = bad + [BadRow(str(path), why) for path, why in failed.items()]
    scored = [s for s in samples if s.path not in failed]
    hosts = {}
    for run in runs:
        results = [run.results[s.path] for s in scored]
        top1 = sum(r["top_k"][0]["index"] == s.label for r, s in zip(results, scored, strict=True))
        top5 = sum(
            s.label in [t["index"] for t in r["top_k"][:5]]
            for r, s in zip(results, scored, strict=True)
        )
        totals = [r["timings_ms"]["total"] for r in results]
        hosts[run.host] = {
            "images": len(results),
            "top1_accuracy": top1 / len(results) if results else None,
            "top5_accuracy": top5 / len(results) if results else None,
            "ms_per_image_median": statistics.median(totals) if totals else None,
        }
    report = {
        "model": {"id": model.id, "version": model.version},
        "images": len(samples) + len(bad),
        "evaluated": len(scored),
        "bad_rows": [{"where": b.where, "reason": b.reason} for b in rows],
        "hosts": hosts,
        "per_image": [
            {
                "path": str(s.path),
                "label": model.labels[s.label],
                **{
                    run.host: {
                        "top1": run.results[s.path]["label"],
                        "probability": run.results[s.path]["confidence"],
                    }
                    for run in runs
                },
            }
            for s in scored
        ],
    }
    if len(runs) == 2:
        report["agreement"] = agreement(scored, *runs)
    return report


def agreement(samples: list[Sample], a: HostRun, b: HostRun) -> dict:
    """How far two hosts agree.

    The share of images with the same top-1, the largest probability difference over the
    classes both report, and the images whose top-1 differs.
    """
    same, largest, differ = 0, 0.0, []
    for s in samples:
        ra, rb = a.results[s.path], b.results[s.path]
        pa = {t["index"]: t["probability"] for t in ra["top_k"]}
        pb = {t["index"]: t["probability"] for t in rb["top_k"]}
        delta = max((abs(pa[i] - pb[i]) for i in pa.keys() & pb.keys()), default=0.0)
        largest = max(largest, delta)
        if ra["top_k"][0]["index"] == rb["top_k"][0]["index"]:
            same += 1
        else:
            differ.append(
                {"path": str(s.path), a.host: ra["label"], b.host: rb["label"], "max_dp": delta}
            )
    return {
        "top1_equal": same / len(samples) if samples else None,
        "max_abs_dp": largest,
        "disagreements": differ,
    }


def format_report(report: dict) -> str:
    """The report as the text ``eval`` prints."""
    lines = [
        f"model {report['model']['id']} {report['model']['version']}: "
        f"{report['evaluated']} of {report['images']} images evaluated"
    ]
    for host, h in report["hosts"].items():
        if h["images"]:
            lines.append(
                f"  {host:8} top-1 {h['top1_accuracy']:.2%}  top-5 {h['top5_accuracy']:.2%}  "
                f"{h['ms_per_image_median']:.1f} ms/image (median)"
            )
    if "agreement" in report:
        ag = report["agreement"]
        if ag["top1_equal"] is not None:
            lines.append(
                f"  agreement: top-1 equal on {ag['top1_equal']:.2%}, "
                f"largest |dp| {ag['max_abs_dp']:.2e}"
            )
        for d in ag["disagreements"]:
            hosts = ", ".join(f"{k} {v}" for k, v in d.items() if k not in ("path", "max_dp"))
            lines.append(f"  differs: {d['path']}: {hosts}")
    if report["bad_rows"]:
        lines.append(f"  not evaluated: {len(report['bad_rows'])}")
        lines += [f"    {b['where']}: {b['reason']}" for b in report["bad_rows"]]
    return "\n".join(lines)


def progress_bar(host: str, total: int, stream=sys.stderr) -> Callable[[int], None]:
    """A one-line progress bar on ``stream``, redrawn in place; ends its line when done."""

    def update(done: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        stream.write(f"\r{host:8} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return update
