"""The bench's steady pages merge into one record per configuration (no browser needed)."""

from __future__ import annotations

import sys

from helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from benchlib.steady import Plan, merge_pages


def page(ready_ms: float, first_total: float, wall_ms: float, tag: str) -> dict:
    sample = {"label": tag, "timings_ms": {"total": 10.0}}
    return {
        "pipeline": "product",
        "threads": 2,
        "actual_threads": 2,
        "image": "1024x768",
        "load": {"page_ready_ms": ready_ms, "longest_task_ms": 0.0},
        "first": {"label": tag, "timings_ms": {"total": first_total}},
        "warmup": [sample],
        "samples": [sample, sample],
        "drop": {"images": 32, "wall_ms": wall_ms, "results": [sample] * 32},
        "exact_samples": [{"label": tag, "timings_ms": {"total": 20.0}}],
        "longest_task_ms": ready_ms / 100,
        "long_tasks": [{"start": 1.0, "duration": ready_ms / 100}],
        "retried_errors": [],
    }


def test_three_pages_pool_samples_and_take_the_median_page():
    pages = [page(3000, 80, 2100, "a"), page(2000, 60, 1900, "b"), page(4000, 70, 2000, "c")]
    merged = merge_pages(pages)
    assert merged["pages"] == 3
    assert len(merged["samples"]) == 6 and len(merged["warmup"]) == 3
    assert merged["load"]["page_ready_ms"] == 3000  # the median page's load
    assert [load["page_ready_ms"] for load in merged["loads"]] == [3000, 2000, 4000]
    assert merged["first"]["timings_ms"]["total"] == 70
    assert len(merged["firsts"]) == 3
    assert merged["drop"]["images"] == 32  # per drop, as the throughput rows expect
    assert merged["drop"]["wall_ms"] == 2000
    assert merged["drop"]["walls_ms"] == [2100, 1900, 2000]
    assert len(merged["drop"]["results"]) == 96
    assert [s["label"] for s in merged["exact_samples"]] == ["a", "b", "c"]
    assert merged["longest_task_ms"] == 40 and len(merged["long_tasks"]) == 3


def test_one_page_is_kept_as_it_is():
    one = page(3000, 80, 2100, "a")
    merged = merge_pages([one])
    assert merged["samples"] == one["samples"] and merged["warmup"] == one["warmup"]
    assert merged["load"] == one["load"] and merged["first"] == one["first"]
    assert merged["drop"] == {**one["drop"], "walls_ms": [2100]}
    assert merged["pages"] == 1 and merged["loads"] == [one["load"]]
    assert merged["exact_samples"] == one["exact_samples"]


def test_runs_are_split_among_pages_rounding_up():
    assert Plan(runs=50, warmup=3, drop=32, pages=3).runs_per_page == 17
    assert Plan(runs=5, warmup=1, drop=8).runs_per_page == 5
    assert Plan(runs=50, warmup=3, drop=32, pages=3, exact=50).exact_per_page == 17
    assert Plan(runs=5, warmup=1, drop=8).exact_per_page == 0
