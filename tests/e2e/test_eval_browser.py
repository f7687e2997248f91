"""``eval --host both``: the same labelled folder classified in CPython and in headless
Chromium (the CLI drives the page's API itself), with the same accuracy and answers."""

from __future__ import annotations

import json

import pytest
from helpers import photo, run_cli
from PIL import Image

pytestmark = pytest.mark.browser


def test_eval_both_hosts_agree_on_a_generated_labelled_folder(tmp_path):
    # Real photos, and variants of them no test stores: mirrored, and saved as JPEG.
    data = tmp_path / "data"
    for label, name in (("tabby", "chelsea.png"), ("espresso", "coffee.png")):
        folder = data / label
        folder.mkdir(parents=True)
        image = Image.open(photo(name)).convert("RGB")
        image.save(folder / name)
        image.transpose(Image.FLIP_LEFT_RIGHT).save(folder / f"mirrored-{name}")
        image.save(folder / f"{name}.jpg", quality=90)
    (data / "espresso" / "empty.png").write_bytes(b"")
    out = tmp_path / "report.json"

    proc = run_cli("eval", str(data), "--host", "both", "--json", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    native, browser = report["hosts"]["native"], report["hosts"]["browser"]
    assert report["evaluated"] == native["images"] == browser["images"] == 6
    assert native["top1_accuracy"] == browser["top1_accuracy"]
    assert native["top5_accuracy"] == browser["top5_accuracy"] == 1.0
    assert report["agreement"]["top1_equal"] == 1.0
    assert report["agreement"]["max_abs_dp"] < 1e-4
    assert report["agreement"]["disagreements"] == []
    [bad] = report["bad_rows"]
    assert bad["where"].endswith("empty.png")
    assert "native:" in bad["reason"] and "browser:" in bad["reason"]
    assert "agreement: top-1 equal on 100.00%" in proc.stdout
