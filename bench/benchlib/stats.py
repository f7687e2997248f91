"""Order statistics for benchmark samples."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation, or None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def summarize(values: Iterable[float | None]) -> dict:
    """``{n, median, p95, min, max, mean}`` of the non-None values (all None when empty)."""
    data = [float(v) for v in values if v is not None]
    if not data:
        return {"n": 0, "median": None, "p95": None, "min": None, "max": None, "mean": None}
    return {
        "n": len(data),
        "median": percentile(data, 50),
        "p95": percentile(data, 95),
        "min": min(data),
        "max": max(data),
        "mean": sum(data) / len(data),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
