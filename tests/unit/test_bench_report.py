"""`npm run bench` in quick mode: every section and field is there. Timings are not judged."""

from __future__ import annotations

import json
import numbers
import subprocess
import sys

import pytest
from helpers import ROOT

pytestmark = pytest.mark.browser

STAGES = ("decode", "preprocess", "inference", "postprocess", "total")
IMAGES = {"1024x768", "4000x3000"}
CONFIGS = {(threads, image) for threads in (1, 2) for image in IMAGES}
SECTIONS = {
    "options",
    "machine",
    "inputs",
    "cold_start",
    "time_to_ready",
    "steady_state",
    "steady_state_exact",
    "baselines",
    "throughput",
    "targets",
    "raw",
    "models",
    "memory",
    "alternatives",
}
MODEL_LOAD_STATS = ("cold_ms", "cold_wall_ms", "warm_ms", "first_total_ms", "first_ort_run_ms")
AGREEMENT = ("top1", "top5_ordered", "top5_overlap")


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, f"bench failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    report = json.loads((out / "latest.json").read_text())
    return {"out": out, "report": report, "stdout": proc.stdout}


def test_every_section_is_written(bench):
    report = bench["report"]
    assert set(report) >= SECTIONS
    assert report["options"]["quick"] is True
    assert set(report["inputs"]) == IMAGES
    assert set(report["baselines"]) == {"plain_js", "native"}


def test_machine_facts(bench):
    machine = bench["report"]["machine"]
    for key in ("date", "cores", "chromium", "git_commit", "loadavg_start", "loadavg_end"):
        assert key in machine
    assert machine["cores"] >= 1
    assert machine["chromium"]
    assert machine["cross_origin_isolated"] is True


def check_stats(stats):
    assert stats["n"] >= 1
    assert is_number(stats["median"]) and is_number(stats["p95"])


def test_cold_start_and_time_to_ready(bench):
    report = bench["report"]
    cold = report["cold_start"]
    for kind in ("first_visit", "revisit"):
        visits = cold[kind]
        assert visits["n"] >= 2 and len(visits["samples"]) == visits["n"]
        assert "ready" in visits["startup_ms"]  # plus one entry per boot stage the worker reports
        for stats in visits["startup_ms"].values():
            check_stats(stats)
        check_stats(visits["page_ready_ms"])
        check_stats(visits["longest_task_ms"])
        ready = report["time_to_ready"][kind]
        assert is_number(ready["median"]) and is_number(ready["p95"])
        assert len(ready["samples_ms"]) == report["time_to_ready"]["loads"]
    # Each first visit and each steady-state page waited for Chromium to go quiet
    # (benchlib.idle).
    steady_loads = [load for c in report["raw"]["browser_configs"] for load in c["loads"]]
    for sample in cold["first_visit"]["samples"] + steady_loads:
        assert sample["browser_idle"]["waited_ms"] >= 250
        assert isinstance(sample["browser_idle"]["idle"], bool)


@pytest.mark.parametrize("section", ["steady_state", "plain_js", "native"])
def test_steady_state_per_configuration(bench, section):
    report = bench["report"]
    rows = report[section] if section == "steady_state" else report["baselines"][section]
    assert {(r["threads"], r["image"]) for r in rows} == CONFIGS
    for row in rows:
        assert row["n"] == report["options"]["runs"]
        assert set(row["stages_ms"]) == set(STAGES)
        for stats in row["stages_ms"].values():
            check_stats(stats)
        for key in ("ort_run_ms", "overhead_ms", "outside_inference_ms"):
            check_stats(row[key])
        assert row["ort_run_source"]
        assert is_number(row["first_total_ms"]) and is_number(row["first_over_median"])
        assert row["labels"], "every configuration reports its top-1 labels"
        if section != "native":
            assert is_number(row["longest_task_ms"])


def test_exact_mode_cost_per_configuration(bench):
    report = bench["report"]
    rows = report["steady_state_exact"]
    assert {(r["threads"], r["image"]) for r in rows} == CONFIGS
    for row in rows:
        assert row["pipeline"] == "product-exact"
        assert row["n"] == report["options"]["exact_runs"]
        for stats in row["stages_ms"].values():
            check_stats(stats)
        # numpy's resize of the full-resolution pixels is real work next to fast mode's crop.
        [fast] = [
            r
            for r in report["steady_state"]
            if (r["threads"], r["image"]) == (row["threads"], row["image"])
        ]
        assert row["stages_ms"]["preprocess"]["median"] > fast["stages_ms"]["preprocess"]["median"]
    for config in report["raw"]["browser_configs"]:
        exact = {s["preprocess_mode"] for s in config["exact_samples"]}
        assert exact == ({"exact"} if config["pipeline"] == "product" else set())
        if config["pipeline"] == "product":
            assert {s["preprocess_mode"] for s in config["samples"]} == {"fast"}
    markdown = (bench["out"] / "latest.md").read_text()
    assert "| edge-infer exact, 2t |" in markdown


def test_throughput(bench):
    report = bench["report"]
    rows = report["throughput"]
    assert {(r["pipeline"], r["threads"], r["image"]) for r in rows} == {
        (p, t, i) for p in ("product", "plain-js") for t, i in CONFIGS
    }
    for row in rows:
        assert row["images"] == report["options"]["drop"]
        for key in ("wall_ms", "images_per_s", "steady_images_per_s", "ratio"):
            assert is_number(row[key])


def test_raw_samples_are_kept(bench):
    report = bench["report"]
    raw = report["raw"]
    assert len(raw["browser_configs"]) == 2 * len(CONFIGS)
    assert len(raw["native_configs"]) == len(CONFIGS)
    for config in raw["browser_configs"] + raw["native_configs"]:
        assert len(config["samples"]) == report["options"]["runs"]
        assert set(STAGES) <= set(config["samples"][0]["timings_ms"])


def test_targets_have_name_value_limit_met(bench):
    targets = bench["report"]["targets"]
    assert len(targets) == 9 + 7  # the memory section adds seven
    for target in targets:
        assert isinstance(target["name"], str) and target["name"]
        assert is_number(target["value"]), target
        assert is_number(target["limit"]), target
        assert isinstance(target["met"], bool)
        assert target["op"] in ("<=", ">=")
    assert "Targets:" in bench["stdout"]
    for target in targets:
        assert target["name"] in bench["stdout"]


def test_markdown_and_chart(bench):
    out = bench["out"]
    text = (out / "latest.md").read_text()
    headings = ("## Cold start", "## Time to ready", "## Steady state", "## Throughput")
    for heading in (*headings, "## Memory"):
        assert heading in text
    assert "| target | value | limit | met |" in text
    assert text.strip() in bench["stdout"]
    png = (out / "latest.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def manifest_models() -> list[dict]:
    return json.loads((ROOT / "models" / "manifest.json").read_text())["models"]


def test_models_section_has_every_manifest_model(bench):
    section = bench["report"]["models"]
    options = section["options"]
    assert options["threads"] == [1, 2]
    assert len(options["photos"]) >= 2 and options["timing_photo"] in options["photos"]
    models = manifest_models()
    assert [row["id"] for row in section["rows"]] == [m["id"] for m in models]
    raw = section["raw"]
    assert len(raw["browser"]) == len(raw["native"]) == 2 * len(models)
    for record in raw["browser"]:
        assert record["cold_load"]["cached"] is False, "the measured load must not be cached"
        assert record["cold_load"]["id"] == record["model"] != record["boot_model"]
        assert {s["model"] for s in record["samples"]} == {record["model"]}


@pytest.mark.parametrize("model", [m["id"] for m in manifest_models()])
def test_models_row_has_every_field(bench, model):
    section = bench["report"]["models"]
    [row] = [r for r in section["rows"] if r["id"] == model]
    [entry] = [m for m in manifest_models() if m["id"] == model]
    assert row["bytes"] == entry["bytes"] and is_number(row["mb"])
    assert row["reference"] == f"{entry['family']}-fp32"
    for key in MODEL_LOAD_STATS:
        check_stats(row["load"][key])
    assert row["load"]["any_cached"] is False
    for threads in ("1", "2"):
        browser = row["browser"][threads]
        assert browser["n"] == section["options"]["runs"]
        for key in ("ort_run_ms", "inference_ms", "total_ms"):
            check_stats(browser[key])
        assert is_number(browser["speedup_vs_fp32"])
        native = row["native"][threads]
        check_stats(native["ort_run_ms"])
        assert is_number(native["session_create_ms"]) and is_number(native["speedup_vs_fp32"])
        agreement = row["agreement"][threads]
        assert agreement["photos"] == len(section["options"]["photos"])
        for key in AGREEMENT:
            assert 0.0 <= agreement[key] <= 1.0
    for key in ("same_top5_across_threads", "native_same_top5"):
        assert 0.0 <= row[key] <= 1.0
    assert set(row["top_k"]) == set(section["options"]["photos"])
    assert all(len(indices) == 5 for indices in row["top_k"].values())
    if row["precision"] == "fp32":
        assert all(row["agreement"][t]["top5_ordered"] == 1.0 for t in ("1", "2"))
    assert f"`{model}`" in bench["stdout"]


def test_models_markdown(bench):
    text = (bench["out"] / "latest.md").read_text()
    assert "## Models" in text
    assert "top-5 order = fp32" in text and "WASM ORT run 1t" in text


HEAPS = (
    "wasm_heap",
    "ort_wasm_heap",
    "worker_js_heap",
    "worker_js_objects",
    "worker_array_buffers",
    "ort_worker_js_heap",
    "ort_worker_js_objects",
    "ort_worker_array_buffers",
)
SAMPLED = (
    "wasm_heap_bytes",
    "ort_wasm_heap_bytes",
    "worker_js_heap_bytes",
    "worker_array_buffer_bytes",
    "ort_worker_js_heap_bytes",
    "ort_worker_array_buffer_bytes",
    "pyproxies",
)


def test_memory_section(bench):
    report = bench["report"]
    section = report["memory"]
    options = section["options"]
    assert report["options"]["memory"] is True
    assert report["options"]["memory_runs"] == options["runs"] == 30  # the quick preset
    runs = [s["run"] for s in section["series"]]
    assert runs[0] == 0 and runs[-1] == options["runs"]
    for sample in section["series"]:
        for key in SAMPLED:
            assert isinstance(sample[key], int), (key, sample)
    summary = section["summary"]
    assert summary["from_run"] >= options["warmup"] and summary["to_run"] == options["runs"]
    for heap in HEAPS:
        for key in ("start", "end", "max", "growth_bytes", "growth_pct", "growth_bytes_per_run"):
            assert is_number(summary[heap][key]), (heap, key)
    # Compiled code is measured (a heap snapshot) where growth is judged: both ends only.
    coded = [s["run"] for s in section["series"] if "worker_js_code_bytes" in s]
    assert coded == [summary["from_run"], summary["to_run"]]
    for s in section["series"]:
        if s["run"] in coded:
            for prefix in ("worker", "ort_worker"):
                assert 0 < s[f"{prefix}_js_code_bytes"] < s[f"{prefix}_js_heap_bytes"], s
    assert is_number(summary["pyproxies"]["leaked_per_run"])
    names = [t["name"] for t in report["targets"][-7:]]
    assert [n.split(" growth")[0] for n in names[:6]] == [
        "Pyodide WASM heap",
        "ORT WASM heap",
        "worker JS heap",
        "worker ArrayBuffer memory",
        "ORT worker JS heap",
        "ORT worker ArrayBuffer memory",
    ]
    assert "without compiled code" in names[2] and "without compiled code" in names[4]
    assert names[6].startswith("PyProxies leaked per classification")
    assert "## Memory (30 classifications)" in (bench["out"] / "latest.md").read_text()


def test_startup_alternatives_each_booted_and_are_reported(bench):
    section = bench["report"]["alternatives"]
    assert section["loads"] == 1  # the quick preset
    alternatives = section["alternatives"]
    expected = {"shipped", "ORT in this worker", "no bytecode", "numpy via loadPackage"}
    assert expected | {"previous boot"} <= set(alternatives)
    assert alternatives["shipped"]["experiment"] == {}
    assert alternatives["ORT in this worker"]["experiment"] == {"ortWorker": False}
    # The floors: Python's chain without onnxruntime-web, and plain JS (no Python stages).
    assert {"floor: Python chain alone", "floor: plain JS"} <= set(alternatives)
    for name, alt in alternatives.items():
        for visit in ("first_visit", "revisit"):
            assert alt[visit]["page_ready_ms"]["n"] == 1, (name, visit)
            assert is_number(alt[visit]["page_ready_ms"]["median"]), (name, visit)
            if name == "floor: plain JS":
                assert alt[visit]["startup_ms"]["pyodide_boot"]["n"] == 0
                continue
            for stage in ("pyodide_boot", "numpy_load", "python_import", "python_done_at"):
                assert is_number(alt[visit]["startup_ms"][stage]["median"]), (name, visit, stage)
    text = (bench["out"] / "latest.md").read_text()
    assert "## Startup alternatives: first visits" in text and "| previous boot |" in text
    assert "## Startup alternatives: revisits" in text
