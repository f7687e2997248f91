"""Model output to answer: a numerically stable softmax and a labelled top-k. Pure numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class PostprocessError(ValueError):
    """The model output cannot be turned into probabilities (wrong shape or non-finite)."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return softmax probabilities (float64) of a 1-D or ``(1, N)`` array of logits.

    Subtracting the maximum first keeps ``exp`` finite for any finite logits, however large.

    Raises:
        PostprocessError: the logits are empty, not a single row, or contain NaN or infinity.

    """
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1 or x.size == 0:
        raise PostprocessError(f"expected one row of logits, got shape {np.shape(logits)}")
    # NaN propagates into the max and the sum, +inf makes the max infinite, and -inf the
    # min: two reductions check every value (cheaper than an isfinite pass and its array).
    hi = x.max()
    if not (math.isfinite(hi) and math.isfinite(x.min())):
        raise PostprocessError("model output contains NaN or infinity")
    e = np.exp(x - hi)
    e /= e.sum()
    return e


def top_k(probabilities: np.ndarray, labels: Sequence[str], k: int = 5) -> list[dict]:
    """Return the ``k`` most probable classes, most probable first.

    Ties keep class-index order, so the answer is deterministic. ``k`` larger than the
    number of classes returns every class.

    Returns:
        A list of ``{"index": int, "label": str, "probability": float}``.

    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise PostprocessError(f"top_k must be a positive integer, got {k!r}")
    p = np.asarray(probabilities)
    if p.ndim != 1 or p.size != len(labels):
        raise PostprocessError(f"{p.size} probabilities for {len(labels)} labels")
    order = np.argsort(-p, kind="stable")[: int(k)]
    # One conversion each to Python ints and floats, not one numpy scalar per class.
    ranked = zip(order.tolist(), p[order].tolist(), strict=True)
    return [{"index": i, "label": labels[i], "probability": q} for i, q in ranked]


def postprocess(logits: np.ndarray, labels: Sequence[str], k: int = 5) -> list[dict]:
    """Softmax then top-k: the labelled answer for one image's logits."""
    return top_k(softmax(logits), labels, k)
