"""The bench's report, checked on a stored real result: every section, field, table and row.

``tests/data/bench-sample.json`` is the ``latest.json`` of one real ``bench/run.py --quick``
run (see ``tests/data/README.md``). The Markdown, the chart, what the bench prints and the
``bench/RESULTS.md`` entry are rendered from it here by the bench's own code, so these tests
need no browser and judge no timings. ``tests/e2e/test_bench_smoke.py`` checks that the real
bench starts and writes such a report.
"""

from __future__ import annotations

import importlib.util
import json
import numbers
import shutil

import pytest
from helpers import ROOT

SAMPLE = ROOT / "tests" / "data" / "bench-sample.json"


def load_run():
    """``bench/run.py`` as a module (it puts ``bench/`` on sys.path for ``benchlib``)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = load_run()
from benchlib import results_log  # noqa: E402 (importable once run.py has set sys.path)
from benchlib.alternatives import ALTERNATIVES  # noqa: E402
from benchlib.models import PHOTOS  # noqa: E402
from benchlib.network import network_targets  # noqa: E402
from benchlib.peer import PIPELINES, agreement_with, peer_targets  # noqa: E402

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
    "peer",
    "network",
}
MODEL_LOAD_STATS = ("cold_ms", "cold_wall_ms", "warm_ms", "first_total_ms", "first_ort_run_ms")
AGREEMENT = ("top1", "top5_ordered", "top5_overlap")


def is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The sample report, and what the bench writes and prints for it."""
    out = tmp_path_factory.mktemp("bench")
    report = json.loads(SAMPLE.read_text())
    text = run.write_outputs(report, out)
    stdout = run.stdout_text(report, text, out)
    return {"out": out, "report": report, "stdout": stdout, "markdown": text}


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
        # The plain-JS pipeline's loads alternate with ours, and every load counted its bytes.
        baseline = report["time_to_ready"]["baseline"][kind]
        assert len(baseline["samples_ms"]) == report["time_to_ready"]["loads"]
        assert is_number(baseline["median"])
        for loads in (ready, baseline):
            check_stats(loads["wire_bytes"])
        for sample in visits["samples"]:
            assert sample["wire"]["bytes"] == sum(
                f["bytes"] for f in sample["wire"]["files"].values()
            )
    first, revisit = (
        report["time_to_ready"][k]["wire_bytes"]["median"] for k in ("first_visit", "revisit")
    )
    assert first > 10e6 > revisit  # a revisit takes the runtime and the model from the cache
    text = (bench["out"] / "latest.md").read_text()
    assert (
        "| time to ready, " in text and "| plain-js median |" in text and "ours / theirs |" in text
    )
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
    # the memory section adds seven, the peer section two, the network section one
    assert len(targets) == 9 + 7 + 2 + 1
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
    names = [t["name"] for t in report["targets"][9:16]]
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
    assert set(alternatives) == set(ALTERNATIVES)
    assert alternatives["shipped"]["pipeline"] == "product"
    assert alternatives["ORT in this worker"]["pipeline"] == "ort-in-worker"
    assert alternatives["no snapshot"]["pipeline"] == "no-snapshot"
    # The floors: Python's chain without onnxruntime-web, and plain JS (no Python stages).
    assert {"floor: Python chain alone", "floor: plain JS"} <= set(alternatives)
    for name, alt in alternatives.items():
        for visit in ("first_visit", "revisit"):
            assert alt[visit]["page_ready_ms"]["n"] == 1, (name, visit)
            assert is_number(alt[visit]["page_ready_ms"]["median"]), (name, visit)
            if name == "floor: plain JS":
                assert alt[visit]["startup_ms"]["pyodide_boot"]["n"] == 0
                continue
            for stage in ("pyodide_boot", "python_import", "python_done_at"):
                assert is_number(alt[visit]["startup_ms"][stage]["median"]), (name, visit, stage)
            # Booted from the memory snapshot, or the normal way (numpy's files written).
            normal = name == "no snapshot"
            stage = "numpy_load" if normal else "snapshot_restore"
            assert is_number(alt[visit]["startup_ms"][stage]["median"]), (name, visit, stage)
            other = "snapshot_restore" if normal else "numpy_load"
            assert alt[visit]["startup_ms"][other]["n"] == 0, (name, visit, other)
    text = (bench["out"] / "latest.md").read_text()
    assert "## Startup alternatives: first visits" in text and "| ORT in this worker |" in text
    assert "## Startup alternatives: revisits" in text


# bench/RESULTS.md: what a run that is not --quick inserts, rendered here into a copy.


def test_only_runs_that_are_not_quick_go_into_the_log():
    assert results_log.should_record({"quick": False}) is True
    assert results_log.should_record({"quick": True}) is False
    assert run.parse_args([]).quick is False and run.parse_args([]).results_log is True
    smoke = run.parse_args(["--smoke"])
    assert smoke.quick is True, "the smoke test must never write bench/RESULTS.md"
    assert (smoke.images, smoke.threads, smoke.runs, smoke.loads) == (["1024x768"], [2], 1, 1)
    assert not (smoke.models or smoke.memory or smoke.alternatives or smoke.peer)


def log_sample(bench, tmp_path, date: str | None = None) -> dict:
    """Insert the sample's entry, as a full run would, into ``tmp_path/RESULTS.md``."""
    log, out = tmp_path / "RESULTS.md", tmp_path / "results"
    if not log.exists():
        shutil.copyfile(results_log.RESULTS, log)
    out.mkdir(exist_ok=True)
    shutil.copyfile(bench["out"] / "latest.json", out / "latest.json")
    report = json.loads(json.dumps(bench["report"]))
    report["options"]["quick"] = False
    if date:
        report["machine"]["date"] = date
    dated = results_log.record(report, bench["markdown"], out, log)
    return {"log": log, "dated": dated, "report": report, "out": out}


def test_the_entry_goes_first_below_the_marker_and_the_log_stays(bench, tmp_path):
    logged = log_sample(bench, tmp_path)
    before = results_log.RESULTS.read_text()
    after = logged["log"].read_text()
    head, tail = before.split(results_log.MARKER)
    assert after.startswith(head + results_log.MARKER + "\n\n## ")
    assert after.endswith(tail.lstrip())  # the carried-over runs are kept, unchanged
    entry = after[len(head + results_log.MARKER) : -len(tail.lstrip())]
    assert [line for line in entry.splitlines() if line.startswith(("# ", "## "))] == [
        results_log.heading(logged["report"])
    ]


def test_a_later_run_goes_above_an_earlier_one(bench, tmp_path):
    first = log_sample(bench, tmp_path, "2026-01-02T03:04:05+00:00")
    second = log_sample(bench, tmp_path, "2026-02-03T04:05:06+00:00")
    text = second["log"].read_text()
    assert text.index("## 2026-02-03 04:05 UTC") < text.index("## 2026-01-02 03:04 UTC")
    assert text.index("## 2026-01-02 03:04 UTC") < text.index("## Carried over from the README")
    assert first["dated"] != second["dated"] and first["dated"].exists()


def test_the_entry_has_date_commit_machine_targets_and_every_table(bench, tmp_path):
    logged = log_sample(bench, tmp_path)
    report, machine = logged["report"], logged["report"]["machine"]
    entry = results_log.entry(report, bench["markdown"], logged["dated"])
    assert entry in logged["log"].read_text()
    commit = machine["git_commit"]
    dirty = " (dirty: uncommitted changes to tracked files)" if machine["git_dirty"] else ""
    day, clock = machine["date"][:10], machine["date"][11:16]
    assert entry.startswith(f"## {day} {clock} UTC · full run · git `{commit[:7]}`{dirty}\n")
    assert f"- commit: `{commit}`" in entry
    assert f"{machine['cores']} cores" in entry and machine["chromium"] in entry
    assert f"{machine['loadavg_start']} → {machine['loadavg_end']}" in entry
    assert f"Playwright {machine['playwright']}" in entry
    runtime = report["cold_start"]["first_visit"]["samples"][0]["runtime"]
    assert f"Pyodide {runtime['pyodide']} (Python {runtime['python']}" in entry
    assert f"onnxruntime-web {runtime['onnxruntime_web']}" in entry
    for package, package_version in machine["native"].items():
        assert f"{package} {package_version}" in entry
    assert f"--runs {report['options']['runs']}" in entry
    # The full JSON is kept under a dated name, and the entry says where.
    dated = logged["dated"]
    assert dated.read_bytes() == (logged["out"] / "latest.json").read_bytes()
    assert dated.name == f"run-{day.replace('-', '')}T{clock.replace(':', '')}Z-{commit[:7]}" + (
        "-dirty.json" if machine["git_dirty"] else ".json"
    )
    assert f"full JSON: `{dated}`" in entry
    # The targets first, then the report's sections in its order, one level deeper.
    headings = [line for line in entry.splitlines() if line.startswith("### ")]
    report_headings = [
        "#" + line
        for line in bench["markdown"].splitlines()
        if line.startswith("## ") and line != "## Targets"
    ]
    assert headings == ["### Targets", *report_headings]
    assert "#### 1024x768 JPEG" in entry and "#### 4000x3000 JPEG" in entry
    for target in report["targets"]:
        assert f"| {target['name']} |" in entry
    tables = [line for line in bench["markdown"].splitlines() if line.startswith("|")]
    assert len(tables) > 50
    for line in tables:
        assert line in entry


def test_the_heading_says_which_sections_ran(bench):
    report = json.loads(json.dumps(bench["report"]))
    assert " · full run · " in results_log.heading(report)
    report["options"].update(models=False, alternatives=False)
    assert " · run without models, alternatives · " in results_log.heading(report)
    assert "--no-models --no-alternatives" in results_log.command(report)


def test_a_new_log_gets_its_title_and_marker():
    text = results_log.insert("", "## an entry\n")
    assert text == f"# Benchmark results\n\n{results_log.MARKER}\n\n## an entry\n"


def test_the_committed_log_keeps_the_runs_carried_over_from_the_readme():
    text = results_log.RESULTS.read_text()
    assert text.count(results_log.MARKER) == 1
    carried = text.index("## Carried over from the README")
    assert text.index(results_log.MARKER) < carried
    assert text.index("### 2026-11-27 · full run · git `fa0a3d3`") > carried
    assert text.index("### 2026-11-27 · models section · git `cf3fd5a`") > carried
    assert "| first visit | 4097 | 4568 |" in text
    assert "](../docs/bench.png)" in text


def test_an_only_memory_run_logs_its_section_and_targets(bench, tmp_path):
    sample = bench["report"]
    report = {
        "schema_version": 1,
        "options": {**sample["options"], "quick": False, "only": "memory"},
        "machine": sample["machine"],
        "memory": sample["memory"],
        "targets": sample["targets"][9:16],  # the memory section's own, after the main nine
    }
    text = run.report_markdown(report)
    entry = results_log.entry(report, text, tmp_path / "run.json")
    machine = report["machine"]
    dirty = " (dirty: uncommitted changes to tracked files)" if machine["git_dirty"] else ""
    only = f" · `--only memory` · git `{machine['git_commit'][:7]}`{dirty}"
    assert entry.splitlines()[0].endswith(only)
    assert "--only memory" in entry
    headings = [line for line in entry.splitlines() if line.startswith("### ")]
    assert headings == ["### Targets", "### Memory (30 classifications)"]
    for target in report["targets"]:
        assert f"| {target['name']} |" in entry


# The peer section (benchlib/peer.py): Transformers.js beside edge-infer and plain JS.


def test_peer_section_has_every_pipeline_offline(bench):
    section = bench["report"]["peer"]
    options = section["options"]
    assert (options["loads"], options["runs"], options["threads"]) == (2, 5, 2)  # quick
    assert options["drop_image"] == "1024x768" and set(options["images"]) == IMAGES
    assert options["photos"] == list(PHOTOS)
    assert set(section["pipelines"]) == set(PIPELINES)
    for name, row in section["pipelines"].items():
        assert row["offline"] is True and row["offsite_requests"] == [], name
        assert row["requests"] > 10, name
        for visit in ("first_visit", "revisit"):
            for key in ("first_result_ms", "ready_ms"):
                assert row[visit][key]["n"] == options["loads"], (name, visit, key)
                check_stats(row[visit][key])
            # classify waits for ready, whatever ready means in that library.
            for pair in section["raw"]["pairs"][name]:
                assert pair[visit]["first_result_ms"] >= pair[visit]["page_ready_ms"] > 0
            assert set(row[visit]["labels"]) <= {"Egyptian cat", "tabby", "tiger cat"}
        for image in IMAGES:
            steady = row["steady"][image]
            assert steady["n"] == options["runs"]
            for stage in STAGES:
                check_stats(steady["stages_ms"][stage])
            check_stats(steady["ort_run_ms"])
            assert is_number(steady["first_total_ms"]) and steady["labels"]
        assert set(row["top5"]) == IMAGES | set(PHOTOS)
        assert all(len(labels) == 5 for labels in row["top5"].values())
    runtime = section["pipelines"]["transformers-js"]["runtime"]
    assert runtime["transformers_js"].startswith("4.3.") and runtime["threads"] == 2
    raw = section["raw"]
    assert all(len(raw["pairs"][name]) == options["loads"] for name in PIPELINES)
    assert len(raw["steady"]) == len(PIPELINES) * len(IMAGES)


def test_peer_agreement_and_targets(bench):
    section = bench["report"]["peer"]
    inputs = len(IMAGES) + len(PHOTOS)
    for name in ("plain-js", "transformers-js"):
        agreement = section["agreement"][name]
        assert agreement["inputs"] == inputs
        assert 0.0 <= agreement["top1"] <= 1.0 and 0.0 <= agreement["top5_overlap"] <= 1.0
        assert agreement["top1_same"] + len(agreement["differs"]) == inputs
    targets = bench["report"]["targets"][-3:-1]
    assert targets == peer_targets(section)
    assert [t["name"] for t in targets] == [
        "first result, revisit: ours / Transformers.js",
        "first result, revisit: ours / plain JS",
    ]
    assert [t["limit"] for t in targets] == [1.0, 1.3]
    text = (bench["out"] / "latest.md").read_text()
    assert "## Peer library: Transformers.js (2 threads, 2 loads each)" in text
    assert "| Transformers.js | 1024x768 |" in text and "| edge-infer | 4000x3000 |" in text
    assert text.index("## Peer library") < text.index("## Targets")


def test_agreement_compares_labels_input_by_input():
    ours = {"a": ["cat", "dog", "fox", "owl", "elk"], "b": ["cup", "mug", "jar", "pot", "pan"]}
    other = {"a": ["cat", "fox", "dog", "emu", "yak"], "b": ["mug", "cup", "jar", "pot", "pan"]}
    agreement = agreement_with(ours, {**other, "c": ["x"] * 5})
    assert agreement["inputs"] == 2 and agreement["top1_same"] == 1
    assert agreement["top1"] == 0.5
    assert agreement["top5_overlap"] == pytest.approx((3 / 5 + 5 / 5) / 2)
    assert agreement["differs"] == {"b": ["cup", "mug"]}


def test_a_peer_row_that_left_the_origin_fails_its_target(bench):
    section = json.loads(json.dumps(bench["report"]["peer"]))
    assert all(t["met"] in (True, False) and is_number(t["value"]) for t in peer_targets(section))
    row = section["pipelines"]["transformers-js"]
    row["offline"], row["offsite_requests"] = False, ["https://example.org/model.onnx"]
    peer, plain = peer_targets(section)
    assert peer["value"] is None and peer["met"] is False
    assert is_number(plain["value"])
    report = {**bench["report"], "peer": section}
    assert "**FAILED**: 1 offsite" in run.report_markdown(report)


def test_an_only_peer_run_logs_its_section_and_targets(bench, tmp_path):
    sample = bench["report"]
    report = {
        "schema_version": 1,
        "options": {**sample["options"], "quick": False, "only": "peer"},
        "machine": sample["machine"],
        "peer": sample["peer"],
        "targets": peer_targets(sample["peer"]),
    }
    text = run.report_markdown(report)
    assert text.startswith("# edge-infer benchmark (peer only)")
    entry = results_log.entry(report, text, tmp_path / "run.json")
    assert "--only peer" in entry
    headings = [line for line in entry.splitlines() if line.startswith("### ")]
    title = "### Peer library: Transformers.js (2 threads, 2 loads each)"
    assert headings == ["### Targets", title]
    for target in report["targets"]:
        assert f"| {target['name']} |" in entry


def test_network_section_times_both_pipelines_and_counts_their_bytes(bench):
    report = bench["report"]
    section = report["network"]
    assert section["conditions"]["downloadThroughput"] * 8 == 50e6
    assert section["conditions"]["latency"] == 20
    assert set(section["pipelines"]) == {"product", "plain-js"}
    for row in section["pipelines"].values():
        assert len(row["samples"]) == section["loads"] >= 1
        check_stats(row["page_ready_ms"])
        check_stats(row["wire_bytes"])
    ours = section["pipelines"]["product"]["wire_bytes"]["median"]
    assert ours > section["pipelines"]["plain-js"]["wire_bytes"]["median"]
    # The product's files: both runtimes' wasm came brotli-compressed, and the files add up.
    files = {f["path"].rsplit("/", 1)[-1]: f for f in section["files"]}
    for name in ("pyodide.asm.wasm", "ort-wasm-simd-threaded.wasm"):
        assert files[name]["encoding"] == "br" and files[name]["bytes"] < files[name]["raw"]
    assert (
        sum(f["bytes"] for f in section["files"])
        == section["pipelines"]["product"]["samples"][0]["wire"]["bytes"]
    )
    assert report["targets"][-1] == network_targets(section)[0]
    text = (bench["out"] / "latest.md").read_text()
    assert "## First visit over an emulated network (50 Mbit/s down, 20 ms RTT;" in text
    assert "| vendor/pyodide/pyodide.asm.wasm |" in text
