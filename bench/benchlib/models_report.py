"""The ``models`` section of a benchmark report: statistics, agreement with fp32, Markdown.

Input: the raw records of ``benchlib.models`` (browser and native, one per model and thread
count). Output: one row per manifest model with its size, load times, steady inference at
each thread count in both hosts, and how often its top-5 matches its family's fp32 model.
"""

from __future__ import annotations

from collections.abc import Iterable

from benchlib.report import fmt, table
from benchlib.stats import ratio, summarize

MB = 1_000_000


def agreement(candidate: dict[str, list[int]], reference: dict[str, list[int]]) -> dict:
    """How far a model's top-5 lists match the reference's, over the photos both have.

    Returns:
        ``photos`` (how many), ``top1`` (fraction with the same best class),
        ``top5_ordered`` (fraction whose five indices are equal in order) and
        ``top5_overlap`` (mean of |top-5 ∩ reference top-5| / 5).

    """
    photos = [p for p in candidate if p in reference]
    if not photos:
        return {"photos": 0, "top1": None, "top5_ordered": None, "top5_overlap": None}
    n = len(photos)
    top1 = sum(candidate[p][0] == reference[p][0] for p in photos)
    ordered = sum(candidate[p][:5] == reference[p][:5] for p in photos)
    overlap = sum(len(set(candidate[p][:5]) & set(reference[p][:5])) / 5 for p in photos)
    return {"photos": n, "top1": top1 / n, "top5_ordered": ordered / n, "top5_overlap": overlap / n}


def same_fraction(a: dict[str, list[int]], b: dict[str, list[int]]) -> float | None:
    """Fraction of the photos in both whose top-5 lists are identical (None if none shared)."""
    return agreement(a, b)["top5_ordered"]


def browser_top_k(record: dict) -> dict[str, list[int]]:
    """Photo -> top-5 class indices of one browser record."""
    return {photo: result["top_k"] for photo, result in record["photos"].items()}


def _ort_run(sample: dict) -> float | None:
    return (sample.get("timings_detail_ms") or {}).get("ort_run")


def browser_speed(record: dict) -> dict:
    """Steady statistics of one browser record: pure ORT run, inference stage, total."""
    samples = record["samples"]
    return {
        "actual_threads": record["actual_threads"],
        "n": len(samples),
        "ort_run_ms": summarize(_ort_run(s) for s in samples),
        "inference_ms": summarize(s["timings_ms"]["inference"] for s in samples),
        "total_ms": summarize(s["timings_ms"]["total"] for s in samples),
    }


def load_stats(records: Iterable[dict]) -> dict:
    """Load statistics over a model's browser records (one per thread count).

    ``cold_ms``/``cold_wall_ms``: ``loadModel`` on a fresh page (download, sha256, session)
    as the worker and the page time it; ``warm_ms``: ``loadModel`` again after eviction
    (HTTP cache warm); ``first_*``: the first classification after the cold load.
    """
    records = list(records)
    cold = [r["cold_load"] for r in records]
    warm = [w for r in records for w in r["warm_loads"]]
    return {
        "cold_ms": summarize(c["ms"] for c in cold),
        "cold_wall_ms": summarize(c["wall_ms"] for c in cold),
        "warm_ms": summarize(w["ms"] for w in warm),
        "first_total_ms": summarize(r["first"]["timings_ms"]["total"] for r in records),
        "first_ort_run_ms": summarize(_ort_run(r["first"]) for r in records),
        "any_cached": any(x["cached"] for x in cold + warm),
    }


def _by_threads(records: list[dict], model_id: str) -> dict[str, dict]:
    return {str(r["threads"]): r for r in records if r["model"] == model_id}


def _reference_id(model: dict, models: list[dict]) -> str | None:
    """The fp32 model of the same family."""
    for m in models:
        if m["family"] == model["family"] and m["precision"] == "fp32":
            return m["id"]
    return None


def model_row(model: dict, models: list[dict], browser: list[dict], native: list[dict]) -> dict:
    """One model's row: size, loads, speed per thread count (both hosts), agreement."""
    ref_id = _reference_id(model, models)
    ours_b, ref_b = _by_threads(browser, model["id"]), _by_threads(browser, ref_id)
    ours_n, ref_n = _by_threads(native, model["id"]), _by_threads(native, ref_id)
    speed, native_speed, agree = {}, {}, {}
    for t, record in ours_b.items():
        speed[t] = browser_speed(record)
        ref_ms = browser_speed(ref_b[t])["ort_run_ms"]["median"] if t in ref_b else None
        speed[t]["speedup_vs_fp32"] = ratio(ref_ms, speed[t]["ort_run_ms"]["median"])
        agree[t] = agreement(browser_top_k(record), browser_top_k(ref_b[t]) if t in ref_b else {})
    for t, record in ours_n.items():
        ref_ms = summarize(ref_n[t]["ort_run_ms"])["median"] if t in ref_n else None
        stats = summarize(record["ort_run_ms"])
        native_speed[t] = {
            "session_create_ms": record["session_create_ms"],
            "ort_run_ms": stats,
            "speedup_vs_fp32": ratio(ref_ms, stats["median"]),
        }
    first_t = min(ours_b, key=int) if ours_b else None
    top_k = browser_top_k(ours_b[first_t]) if first_t else {}
    return {
        "id": model["id"],
        "family": model["family"],
        "precision": model["precision"],
        "file": model["file"],
        "bytes": model["bytes"],
        "mb": model["bytes"] / MB,
        "reference": ref_id,
        "load": load_stats(ours_b.values()),
        "browser": speed,
        "native": native_speed,
        "agreement": agree,
        "same_top5_across_threads": _across_threads(ours_b),
        "native_same_top5": same_fraction(top_k, ours_n[first_t]["top_k"])
        if first_t in ours_n
        else None,
        "top_k": top_k,
        "labels": {p: r["label"] for p, r in ours_b[first_t]["photos"].items()} if first_t else {},
    }


def _across_threads(records: dict[str, dict]) -> float | None:
    """Fraction of photos with the same browser top-5 at every thread count."""
    lists = [browser_top_k(r) for r in records.values()]
    if len(lists) < 2:
        return None
    fractions = (same_fraction(lists[0], other) for other in lists[1:])
    return min((f for f in fractions if f is not None), default=None)


def models_section(
    models: list[dict], plan_facts: dict, threads: Iterable[int], browser: list, native: list
) -> dict:
    """The ``models`` section: options, one row per model, and the raw records."""
    return {
        "options": {**plan_facts, "threads": list(threads)},
        "rows": [model_row(m, models, browser, native) for m in models],
        "raw": {"browser": browser, "native": native},
    }


# --- Markdown ------------------------------------------------------------------------------


def _p50_p95(stats: dict | None) -> str:
    if not stats:
        return "–"
    return f"{fmt(stats['median'])} / {fmt(stats['p95'])}"


def _per_threads(row: dict, host: str, key: str, threads: list[str]) -> list[str]:
    return [_p50_p95(row[host].get(t, {}).get(key)) for t in threads]


def _speedups(row: dict, host: str, threads: list[str]) -> str:
    return " / ".join(fmt(row[host].get(t, {}).get("speedup_vs_fp32")) for t in threads)


def _name(row: dict) -> str:
    return f"`{row['id']}`" + (" (ref)" if row["id"] == row["reference"] else "")


def size_load_agreement_md(section: dict) -> str:
    """Table: size, load times and agreement with the family's fp32 (first thread count)."""
    t = str(section["options"]["threads"][0])
    header = [
        "model",
        "bytes",
        "MB",
        "load, fresh page (ms)",
        "load again (ms)",
        "first classification (ms)",
        "top-1 = fp32",
        "top-5 order = fp32",
        "top-5 overlap",
        "= native top-5",
    ]
    rows = []
    for row in section["rows"]:
        load, agree = row["load"], row["agreement"].get(t, {})
        rows.append(
            [
                _name(row),
                f"{row['bytes']:,}",
                fmt(row["mb"]),
                fmt(load["cold_ms"]["median"]) + (" (cached!)" if load["any_cached"] else ""),
                fmt(load["warm_ms"]["median"]),
                fmt(load["first_total_ms"]["median"]),
                fmt(agree.get("top1")),
                fmt(agree.get("top5_ordered")),
                fmt(agree.get("top5_overlap")),
                fmt(row["native_same_top5"]),
            ]
        )
    return table(header, rows)


def speed_md(section: dict) -> str:
    """Table: steady ORT run and inference stage per thread count, browser and native."""
    threads = [str(t) for t in section["options"]["threads"]]
    tt = "/".join(threads)
    header = [
        "model",
        *[f"WASM ORT run {t}t" for t in threads],
        *[f"inference stage {t}t" for t in threads],
        f"× fp32 WASM ({tt}t)",
        *[f"native ORT run {t}t" for t in threads],
        f"× fp32 native ({tt}t)",
    ]
    rows = [
        [
            _name(row),
            *_per_threads(row, "browser", "ort_run_ms", threads),
            *_per_threads(row, "browser", "inference_ms", threads),
            _speedups(row, "browser", threads),
            *_per_threads(row, "native", "ort_run_ms", threads),
            _speedups(row, "native", threads),
        ]
        for row in section["rows"]
    ]
    return table(header, rows)


def models_md(section: dict) -> str:
    """The models section as Markdown: two tables and what the columns mean."""
    o = section["options"]
    n = max((r["browser"][t]["n"] for r in section["rows"] for t in r["browser"]), default=0)
    photos = ", ".join(o["photos"])
    threads = " and ".join(str(t) for t in o["threads"])
    return "\n\n".join(
        [
            "## Models",
            f"Every manifest model at {threads} threads, each on a fresh page (new context, "
            f"runtime booted with another family's model, one-model session cache); photos "
            f"classified with `preprocess: '{o['preprocess']}'`. MB = 10⁶ bytes.",
            f"### Size, load and agreement with the family's fp32 ({len(o['photos'])} photos, "
            f"{o['threads'][0]} thread)",
            size_load_agreement_md(section),
            "Load = `classifier.loadModel(id)` `ms` (download from loopback, sha256, session "
            "create), median over the fresh pages; *again* = after eviction, HTTP cache warm. "
            "First classification = total of the first `classify` after the load (includes "
            "ORT's slow first run). Agreement over: " + photos + ". *top-5 order* = share of "
            "photos whose five class indices equal fp32's in order; *overlap* = mean shared "
            "classes / 5; *= native top-5* = share of photos where native onnxruntime gives "
            "the same ordered top-5 as the browser.",
            f"### Steady inference (ms, p50 / p95, {n} runs of {o['timing_photo']})",
            speed_md(section),
            "WASM ORT run = `timings_detail_ms.ort_run` (onnxruntime-web `session.run`); "
            "inference stage = `timings_ms.inference` (adds the Python↔JS bridge); native = "
            "bare `session.run` in CPython onnxruntime. × fp32 = family fp32 p50 / this p50 "
            "(above 1 is faster).",
        ]
    )
