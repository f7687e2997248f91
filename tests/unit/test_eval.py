"""``python -m edge_infer eval`` with the CPython host, run as the README runs the CLI: a folder
of class folders and a CSV, real photos and the committed model, bad rows counted."""

from __future__ import annotations

import json
import shutil

import pytest
from edge_infer.evaluate import label_key, read_dataset
from edge_infer.manifest import load_manifest
from helpers import MANIFEST, photo, run_cli

LABELS = load_manifest(MANIFEST).get().labels


@pytest.fixture
def dataset(tmp_path):
    """tabby/chelsea.png, espresso/coffee.png, plus an unknown class and an undecodable file."""
    root = tmp_path / "data"
    for folder, name in (("Tabby", "chelsea.png"), ("espresso", "coffee.png")):
        (root / folder).mkdir(parents=True)
        shutil.copy(photo(name), root / folder / name)
    (root / "not_a_class").mkdir()
    shutil.copy(photo("chelsea.png"), root / "not_a_class" / "cat.png")
    (root / "espresso" / "broken.jpg").write_bytes(b"not an image")
    return root


def test_folder_eval_prints_accuracy_and_counts_bad_rows(dataset, tmp_path):
    out = tmp_path / "report.json"
    proc = run_cli("eval", str(dataset), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["images"] == 4 and report["evaluated"] == 2
    native = report["hosts"]["native"]
    assert native["images"] == 2
    # The committed model calls the espresso photo espresso; the cat is a tabby in its top-5.
    answers = {r["path"].split("/")[-1]: r["native"]["top1"] for r in report["per_image"]}
    assert answers["coffee.png"] == "espresso"
    assert native["top1_accuracy"] == (1.0 if answers["chelsea.png"] == "tabby" else 0.5)
    assert native["top5_accuracy"] == 1.0
    reasons = {b["where"].split("/")[-1]: b["reason"] for b in report["bad_rows"]}
    assert "not a label of the model" in reasons["cat.png"]
    assert "native:" in reasons["broken.jpg"] and "decode" in reasons["broken.jpg"]
    assert "agreement" not in report  # one host
    assert "top-1 " in proc.stdout and "not evaluated: 2" in proc.stdout
    assert "native" in proc.stderr  # the progress bar


def test_csv_labels_by_name_or_index_and_bad_rows(tmp_path):
    shutil.copy(photo("coffee.png"), tmp_path / "coffee.png")
    espresso = LABELS.index("espresso")
    (tmp_path / "set.csv").write_text(
        "path,label\n"
        f"coffee.png,{espresso}\n"
        "coffee.png,ESPRESSO\n"
        "missing.png,espresso\n"
        "coffee.png,no such label\n"
        "coffee.png,5000\n"
        "just one column\n"
    )
    samples, bad = read_dataset(tmp_path / "set.csv", LABELS)
    assert [s.label for s in samples] == [espresso, espresso, espresso]
    assert [b.reason for b in bad] == [
        "label 'no such label' is not a label of the model",
        "class index 5000 is outside 0..999",
        "expected 2 columns (path,label), got 1",
    ]
    proc = run_cli("eval", str(tmp_path / "set.csv"))
    assert proc.returncode == 0, proc.stderr
    assert "2 of 6 images evaluated" in proc.stdout  # the missing file failed to decode
    assert "top-1 100.00%" in proc.stdout
    assert "missing.png: native:" in proc.stdout


def test_label_matching_ignores_case_spaces_underscores_and_hyphens():
    assert label_key("Egyptian_cat") == label_key("egyptian cat") == label_key(" Egyptian-Cat ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/data"], "no such folder or CSV file"),
        (["--limit", "0", "."], "--threads and --limit must be at least 1"),
        (["--model", "nope", "."], "unknown model id 'nope'"),
    ],
)
def test_eval_usage_errors(args, message):
    proc = run_cli("eval", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
