"""The digits example (examples/digits/): its tool rebuilds every committed file byte for byte
(training, ONNX export, rendered images, the answers of native onnxruntime), and the committed
model registers with ``add-model --python`` as docs/custom-models.md tells the user."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

from helpers import MANIFEST, ROOT, VENV_PYTHON, run_cli

EXAMPLE = ROOT / "examples" / "digits"


def test_make_digits_check_rebuilds_every_committed_file_byte_for_byte():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [VENV_PYTHON, "examples/digits/make_digits.py", "--check"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "all 366 files match SHA256SUMS and a fresh build" in proc.stdout
    # SHA256SUMS covers exactly the files in git: the model, labels, answers and images.
    listed = {}
    for line in (EXAMPLE / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split("  ", 1)
        listed[path] = digest
    on_disk = {
        p.relative_to(EXAMPLE).as_posix()
        for p in EXAMPLE.rglob("*")
        if p.is_file()
        and p.suffix != ".py"
        and p.name != "SHA256SUMS"
        and "__pycache__" not in p.parts
    }
    assert set(listed) == on_disk
    assert all(
        hashlib.sha256((EXAMPLE / p).read_bytes()).hexdigest() == d for p, d in listed.items()
    )


def test_add_model_registers_the_digits_model_with_its_hook(tmp_path):
    shipped = MANIFEST.read_bytes()
    (tmp_path / "manifest.json").write_bytes(shipped)
    proc = run_cli(
        "add-model", "examples/digits/digits.onnx", "--labels", "examples/digits/labels.txt",
        "--python", "examples/digits/digits_hooks.py", "--id", "digits",
        "--name", "Handwritten digits (8x8)", "--license", "CC-BY-4.0",
        "--models-dir", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    entry = json.loads((tmp_path / "manifest.json").read_text())["models"][-1]
    assert entry["id"] == "digits" and entry["input"]["shape"] == [1, 1, 8, 8]
    assert entry["hooks"]["file"] == "digits.hooks.py"
    assert (tmp_path / "digits.hooks.py").read_bytes() == (EXAMPLE / "digits_hooks.py").read_bytes()

    # The samples get the answers the tool recorded, through the CLI's own decode and hook.
    expected = json.loads((EXAMPLE / "expected.json").read_text())["samples"]
    proc = run_cli(
        "classify", "examples/digits/samples", "--model", "digits", "--top-k", "1",
        "--manifest", str(tmp_path / "manifest.json"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = {
        os.path.relpath(r["file"], "examples/digits"): r
        for r in map(json.loads, proc.stdout.splitlines())
    }
    assert set(results) == set(expected)
    for name, want in expected.items():
        assert results[name]["preprocess_mode"] == "hook"
        assert results[name]["label"] == want["top1"] == str(want["digit"])
        assert abs(results[name]["confidence"] - want["probability"]) < 1e-6
    assert MANIFEST.read_bytes() == shipped  # --models-dir: models/ is left alone
