import numpy as np
import pytest
from edge_infer.postprocess import (
    PostprocessError,
    given_probabilities,
    postprocess,
    present,
    sigmoid,
    softmax,
    top_k,
)

LABELS = [f"class{i}" for i in range(10)]


def naive_softmax(x):
    e = np.exp(np.asarray(x, dtype=np.float64))
    return e / e.sum()


def test_softmax_sums_to_one_and_matches_the_definition():
    logits = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    p = softmax(logits)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(p, naive_softmax(logits), rtol=1e-12)


def test_softmax_is_shift_invariant():
    logits = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(softmax(logits), softmax(logits + 1000.0), rtol=1e-12)


@pytest.mark.parametrize("big", [1e4, 3.4e38])
def test_softmax_stays_finite_for_huge_logits(big):
    p = softmax(np.array([big, big / 2, -big], dtype=np.float64))
    assert np.isfinite(p).all()
    assert p[0] == pytest.approx(1.0)
    assert p.sum() == pytest.approx(1.0)


def test_softmax_accepts_a_batch_of_one():
    assert softmax(np.zeros((1, 4))).tolist() == [0.25] * 4


@pytest.mark.parametrize("bad", [[np.nan, 1.0], [np.inf, 1.0], [-np.inf, 0.0]])
def test_softmax_rejects_non_finite(bad):
    with pytest.raises(PostprocessError, match="NaN or infinity"):
        softmax(np.array(bad))


@pytest.mark.parametrize("shape", [(0,), (2, 3), (1, 2, 3)])
def test_softmax_rejects_wrong_shapes(shape):
    with pytest.raises(PostprocessError, match="one row"):
        softmax(np.zeros(shape))


def test_top_k_is_sorted_and_labelled():
    probs = softmax(np.arange(10, dtype=np.float64))
    ranked = top_k(probs, LABELS, 5)
    assert [r["index"] for r in ranked] == [9, 8, 7, 6, 5]
    assert [r["label"] for r in ranked] == ["class9", "class8", "class7", "class6", "class5"]
    assert all(isinstance(r["index"], int) and isinstance(r["probability"], float) for r in ranked)
    values = [r["probability"] for r in ranked]
    assert values == sorted(values, reverse=True)


def test_top_k_ties_keep_index_order():
    ranked = top_k(np.full(10, 0.1), LABELS, 3)
    assert [r["index"] for r in ranked] == [0, 1, 2]


def test_top_k_larger_than_classes_returns_all():
    assert len(top_k(np.full(10, 0.1), LABELS, 50)) == 10


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "5"])
def test_top_k_rejects_bad_k(k):
    with pytest.raises(PostprocessError, match="positive integer"):
        top_k(np.full(10, 0.1), LABELS, k)


def test_top_k_rejects_label_count_mismatch():
    with pytest.raises(PostprocessError, match="11 probabilities for 10 labels"):
        top_k(np.full(11, 0.1), LABELS, 3)


def test_postprocess_is_softmax_then_top_k():
    logits = np.array([0.0, 5.0, 1.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float32)
    ranked = postprocess(logits, LABELS, 2)
    assert [r["index"] for r in ranked] == [1, 3]
    assert ranked[0]["probability"] == pytest.approx(naive_softmax(logits)[1])


def test_sigmoid_is_the_logistic_function_and_never_overflows():
    x = np.array([-800.0, -3.0, 0.0, 2.5, 800.0])
    p = sigmoid(x)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p[1:4], 1 / (1 + np.exp(-x[1:4])), rtol=1e-15)
    assert p[0] == 0.0 and p[-1] == 1.0


def test_given_probabilities_pass_through_and_logits_are_refused():
    np.testing.assert_array_equal(given_probabilities([[0.1, 0.7, 0.2]]), [0.1, 0.7, 0.2])
    with pytest.raises(PostprocessError, match=r"values from -2 to 3, not probabilities in 0\.\.1"):
        given_probabilities([-2.0, 3.0])


def test_present_lists_the_classes_over_the_threshold_most_probable_first():
    p = np.array([0.2, 0.95, 0.5, 0.7])
    assert [c["label"] for c in present(p, ["a", "b", "c", "d"], 0.5)] == ["b", "d", "c"]
    assert present(p, ["a", "b", "c", "d"], 0.99) == []


def test_postprocess_applies_the_models_activation():
    logits = np.array([1.0, 2.0, 3.0])
    assert postprocess(logits, ["a", "b", "c"], 3, "sigmoid")[0]["probability"] == pytest.approx(
        1 / (1 + np.exp(-3.0))
    )
    assert postprocess(logits, ["a", "b", "c"], 3)[0]["probability"] == pytest.approx(
        float(softmax(logits)[2])
    )
