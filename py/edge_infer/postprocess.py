"""Model output to answer: softmax, sigmoid or given probabilities, and a labelled top-k.

Pure numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class PostprocessError(ValueError):
    """The model output cannot be turned into probabilities (wrong shape or non-finite)."""


def _one_finite_row(values: np.ndarray) -> np.ndarray:
    """The output as one float64 row; rejects other shapes and NaN or infinity."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1 or x.size == 0:
        raise PostprocessError(f"expected one row of logits, got shape {np.shape(values)}")
    # NaN propagates into the max and the sum, +inf makes the max infinite, and -inf the
    # min: two reductions check every value (cheaper than an isfinite pass and its array).
    if not (math.isfinite(x.max()) and math.isfinite(x.min())):
        raise PostprocessError("model output contains NaN or infinity")
    return x


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return softmax probabilities (float64) of a 1-D or ``(1, N)`` array of logits.

    Subtracting the maximum first keeps ``exp`` finite for any finite logits, however large.

    Raises:
        PostprocessError: the logits are empty, not a single row, or contain NaN or infinity.

    """
    x = _one_finite_row(logits)
    e = np.exp(x - x.max())
    e /= e.sum()
    return e


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Return independent per-class probabilities (float64), ``1 / (1 + exp(-x))``.

    Computed from ``exp(-|x|)``, which never overflows, for logits of either sign.

    Raises:
        PostprocessError: as :func:`softmax`.

    """
    x = _one_finite_row(logits)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def given_probabilities(output: np.ndarray) -> np.ndarray:
    """Return a model's own probabilities (float64), checked to lie in 0..1.

    Raises:
        PostprocessError: as :func:`softmax`, or a value outside 0..1 (logits, not
            probabilities: the manifest's activation is wrong).

    """
    p = _one_finite_row(output)
    if p.min() < 0.0 or p.max() > 1.0:
        raise PostprocessError(
            f"the model output has values from {p.min():.4g} to {p.max():.4g}, not "
            "probabilities in 0..1; set the output activation to softmax or sigmoid"
        )
    return p


#: Output activation (the manifest's ``output.activation``) -> probabilities.
ACTIVATIONS = {"softmax": softmax, "sigmoid": sigmoid, "none": given_probabilities}


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


def postprocess(
    logits: np.ndarray, labels: Sequence[str], k: int = 5, activation: str = "softmax"
) -> list[dict]:
    """Probabilities (by ``activation``, see :data:`ACTIVATIONS`), then top-k.

    The labelled answer for one image's model output.
    """
    return top_k(ACTIVATIONS[activation](logits), labels, k)


def present(probabilities: np.ndarray, labels: Sequence[str], threshold: float) -> list[dict]:
    """Every class whose probability reaches ``threshold``, most probable first.

    The answer of a multi-label (sigmoid) model; items as in :func:`top_k`.
    """
    p = np.asarray(probabilities)
    return top_k(p, labels, len(labels))[: int(np.count_nonzero(p >= threshold))]
