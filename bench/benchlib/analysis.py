"""Turn raw benchmark records into statistics, the throughput table and the targets."""

from __future__ import annotations

from benchlib.stats import ratio, summarize

STAGES = ("decode", "preprocess", "inference", "postprocess", "total")
MAIN_IMAGE = "1024x768"
MAIN_THREADS = 2


def _values(samples: list[dict], key: str) -> list[float | None]:
    return [s["timings_ms"].get(key) for s in samples]


def _detail(sample: dict, key: str) -> float | None:
    """A positive ``timings_detail_ms`` entry of a result, else None."""
    value = (sample.get("timings_detail_ms") or {}).get(key)
    return value if value else None


def ort_run_per_sample(config: dict, reference_ms: float | None) -> tuple[list[float], str]:
    """The ORT-only time of each steady sample and where it comes from.

    In order of preference: the result's own ``timings_detail_ms.ort_run``; the median of raw
    ``session.run`` timings recorded next to the config (native); ``reference_ms`` (plain-JS's
    median ``session.run`` at the same threads and image, an estimate), capped per sample at
    the ``inference`` stage that contains it; otherwise ``inference`` itself.
    """
    samples = config["samples"]
    own = [_detail(s, "ort_run") for s in samples]
    if samples and all(v is not None for v in own):
        return own, "timings_detail_ms.ort_run"
    raw = summarize(config.get("ort_run_ms") or []).get("median")
    if raw is not None:
        return [raw] * len(samples), "median of raw session.run timings (same threads, image)"
    inference = _values(samples, "inference")
    if reference_ms is not None:
        return (
            [min(reference_ms, i) for i in inference],
            "estimate: plain-JS session.run median at the same threads and image, capped at "
            "each sample's inference (the results carry no ORT-only time)",
        )
    return inference, "inference stage (includes the bridge)"


def summarize_config(config: dict, reference_ms: float | None = None) -> dict:
    """Statistics of one configuration's steady samples, first run and drop."""
    samples = config["samples"]
    stages = {stage: summarize(_values(samples, stage)) for stage in STAGES}
    ort_run, source = ort_run_per_sample(config, reference_ms)
    totals, decodes = _values(samples, "total"), _values(samples, "decode")
    inference = _values(samples, "inference")
    overhead = [t - d - o for t, d, o in zip(totals, decodes, ort_run, strict=True)]
    beside = [t - d - i for t, d, i in zip(totals, decodes, inference, strict=True)]
    median_total = stages["total"]["median"]
    first_total = config["first"]["timings_ms"]["total"]
    labels = sorted({s["label"] for s in [config["first"], *samples]})
    return {
        "pipeline": config["pipeline"],
        "threads": config["threads"],
        "actual_threads": config.get("actual_threads"),
        "image": config["image"],
        "n": len(samples),
        "stages_ms": stages,
        "client_wall_ms": summarize(s.get("wall_ms") for s in samples),
        "ort_run_ms": summarize(ort_run),
        "ort_run_source": source,
        "overhead_ms": summarize(overhead),
        "outside_inference_ms": summarize(beside),
        "inference_minus_ort_run_ms": summarize(
            i - o for i, o in zip(inference, ort_run, strict=True)
        ),
        "first_total_ms": first_total,
        "first_over_median": ratio(first_total, median_total),
        "longest_task_ms": config.get("longest_task_ms"),
        "page_ready_ms": (config.get("load") or {}).get("page_ready_ms"),
        "labels": labels,
    }


def summarize_exact(config: dict) -> dict:
    """Statistics of a product configuration's exact-mode runs, as pipeline ``product-exact``.

    Its first run is the first exact one (exact mode's own cold start), on the first page.
    """
    samples = config["exact_samples"]
    return summarize_config(
        {**config, "pipeline": "product-exact", "samples": samples, "first": samples[0]}
    )


def throughput_row(config: dict, summary: dict) -> dict:
    """Images per second of the drop against the rate one steady classification implies."""
    drop = config["drop"]
    rate = ratio(drop["images"] * 1000.0, drop["wall_ms"])
    steady_rate = ratio(1000.0, summary["stages_ms"]["total"]["median"])
    return {
        "pipeline": config["pipeline"],
        "threads": config["threads"],
        "image": config["image"],
        "images": drop["images"],
        "wall_ms": drop["wall_ms"],
        "images_per_s": rate,
        "steady_images_per_s": steady_rate,
        "ratio": ratio(rate, steady_rate),
        "per_image_total_ms": summarize(r["timings_ms"]["total"] for r in drop["results"]),
        "labels": sorted({r["label"] for r in drop["results"]}),
    }


def find(rows: list[dict], pipeline: str, threads: int, image: str) -> dict | None:
    """The row for one configuration, or None."""
    for row in rows:
        if (row["pipeline"], row["threads"], row["image"]) == (pipeline, threads, image):
            return row
    return None


def _median(row: dict | None, *keys: str) -> float | None:
    for key in keys:
        if row is None:
            return None
        row = row.get(key)
    return row.get("median") if row else None


def _target(name: str, value, limit: float, op: str, note: str = "") -> dict:
    met = value is not None and (value <= limit if op == "<=" else value >= limit)
    return {"name": name, "value": value, "limit": limit, "op": op, "met": met, "note": note}


def build_targets(
    summaries: list[dict], throughput: list[dict], ttr: dict, longest_load_task_ms: float
) -> list[dict]:
    """The issue's targets, judged on this run's numbers only.

    ``ttr`` is the time-to-ready section; its ``baseline`` (the plain-JS pipeline's loads,
    alternating with ours) is what the startup ratios divide by.
    """
    ours = find(summaries, "product", MAIN_THREADS, MAIN_IMAGE)
    plain = find(summaries, "plain-js", MAIN_THREADS, MAIN_IMAGE)
    ours_1t = find(summaries, "product", 1, MAIN_IMAGE)
    drop = find(throughput, "product", MAIN_THREADS, MAIN_IMAGE)
    where = f"{MAIN_THREADS} threads, {MAIN_IMAGE}"
    product_tasks = [s["longest_task_ms"] for s in summaries if s["pipeline"] == "product"]
    base = ttr.get("baseline", {})
    ready_note = "median time to ready; the plain-JS pipeline's loads alternate with ours"
    return [
        _target(
            f"pipeline overhead (total - ORT run - decode), median, {where} [ms]",
            _median(ours, "overhead_ms"),
            1.5,
            "<=",
            ours["ort_run_source"] if ours else "",
        ),
        _target(
            f"our total / plain-JS total, {where}",
            ratio(_median(ours, "stages_ms", "total"), _median(plain, "stages_ms", "total")),
            1.10,
            "<=",
        ),
        _target(
            "time to ready, revisit: ours / plain JS",
            ratio(_median(ttr, "revisit"), _median(base, "revisit")),
            1.3,
            "<=",
            ready_note,
        ),
        _target(
            "time to ready, first visit: ours / plain JS",
            ratio(_median(ttr, "first_visit"), _median(base, "first_visit")),
            1.6,
            "<=",
            ready_note,
        ),
        _target(
            f"first classification after ready / steady median, {where}",
            ours["first_over_median"] if ours else None,
            1.5,
            "<=",
        ),
        _target(
            "longest main-thread task during load [ms]",
            longest_load_task_ms,
            50.0,
            "<=",
            "Long Tasks API (reports tasks >= 50 ms; 0 = none); max over every product load",
        ),
        _target(
            "longest main-thread task during classification [ms]",
            max(product_tasks, default=None),
            50.0,
            "<=",
            "Long Tasks API; max over every product configuration, steady runs and drops",
        ),
        _target(
            f"throughput of the {drop['images'] if drop else 32}-image drop, {where} [images/s]",
            drop["images_per_s"] if drop else None,
            drop["steady_images_per_s"] if drop and drop["steady_images_per_s"] else 0.0,
            ">=",
            "limit = 1 / steady median total",
        ),
        _target(
            f"inference at 2 threads / at 1 thread, {MAIN_IMAGE}",
            ratio(
                _median(ours, "stages_ms", "inference"), _median(ours_1t, "stages_ms", "inference")
            ),
            0.65,
            "<=",
        ),
    ]
