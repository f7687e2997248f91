"""The real bench starts: ``bench/run.py --smoke`` against the real server and Chromium.

The smallest run the bench supports (one cold-start pair, one page per pipeline at 2 threads
on the 1024x768 JPEG, one steady, drop and exact run, native onnxruntime). It checks that the
report is well formed and holds real classifications, never how fast they were. The report's
every section and table are checked on a stored full quick result in
``tests/unit/test_bench_report.py``; the quick bench itself runs in ``npm run bench``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import ROOT

pytestmark = pytest.mark.browser

CONFIG = (2, "1024x768")


def test_the_smallest_bench_run_writes_a_well_formed_report(tmp_path):
    results = ROOT / "bench" / "RESULTS.md"
    log_before = results.read_bytes()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads((tmp_path / "latest.json").read_text())
    options = report["options"]
    assert options["smoke"] is True and options["quick"] is True
    assert (options["images"], options["threads"]) == (["1024x768"], [2])
    assert report["machine"]["cross_origin_isolated"] is True
    assert "models" not in report and "memory" not in report and "alternatives" not in report

    # Real page loads: the first visit waited for Chromium to go quiet, then got ready.
    for kind in ("first_visit", "revisit"):
        [load] = report["cold_start"][kind]["samples"]
        assert load["page_ready_ms"] > 0 and load["startup_ms"]["ready"] > 0
    assert report["cold_start"]["first_visit"]["samples"][0]["browser_idle"]["waited_ms"] >= 250

    # Real classifications of the cat photo in every pipeline, in both preprocessing modes.
    rows = [*report["steady_state"], *report["steady_state_exact"]]
    rows += report["baselines"]["plain_js"] + report["baselines"]["native"]
    assert sorted(row["pipeline"] for row in rows) == [
        "native",
        "plain-js",
        "product",
        "product-exact",
    ]
    for row in rows:
        assert (row["threads"], row["image"]) == CONFIG and row["n"] == 1
        assert row["labels"] == ["Egyptian cat"], row["pipeline"]
    raw = report["raw"]["browser_configs"]
    assert {c["pipeline"] for c in raw} == {"product", "plain-js"}
    for config in raw:
        assert len(config["samples"]) == 1 and len(config["drop"]["results"]) == 2
        assert config["samples"][0]["timings_ms"]["total"] > 0
        modes = {s["preprocess_mode"] for s in config["exact_samples"]}
        assert modes == ({"exact"} if config["pipeline"] == "product" else set())
    assert len(report["targets"]) == 9
    assert "## Cold start" in (tmp_path / "latest.md").read_text()
    assert "Targets:" in proc.stdout

    # A quick run keeps the committed log as it was and keeps no dated copy.
    assert results.read_bytes() == log_before
    assert not list(tmp_path.glob("run-*.json"))
