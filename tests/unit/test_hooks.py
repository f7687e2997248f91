"""A model's own Python hooks in the CPython host: added with ``add-model --python``, run by
``classify`` exactly as written, and failing one image at a time with the file and line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from edge_infer.hooks import HookError, load_hooks
from helpers import MANIFEST, photo, run_cli
from hook_examples import HOOKS
from onnx_models import colour_model

# The model averages each input channel and multiplies by 4: logits (4r, 4g, 4b).
MODEL = colour_model(np.eye(3) * 4.0)
LABELS = "red\ngreen\nblue\n"


def solid(path, rgb):
    from PIL import Image

    Image.new("RGB", (50, 40), rgb).save(path)
    return path


@pytest.fixture
def added(tmp_path):
    """A models folder with the colour model and its hooks added under id ``inverted``."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MANIFEST, models / "manifest.json")
    (tmp_path / "m.onnx").write_bytes(MODEL)
    (tmp_path / "labels.txt").write_text(LABELS)
    (tmp_path / "hooks.py").write_text(HOOKS)
    proc = run_cli(
        "add-model", str(tmp_path / "m.onnx"), "--labels", str(tmp_path / "labels.txt"),
        "--id", "inverted", "--python", str(tmp_path / "hooks.py"), "--models-dir", str(models),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return models


def test_hooks_replace_preprocessing_and_output_in_classify(added, tmp_path):
    entry = json.loads((added / "manifest.json").read_text())["models"][-1]
    hook_file = added / "inverted.hooks.py"
    assert hook_file.read_text() == HOOKS
    assert entry["hooks"]["file"] == "inverted.hooks.py"
    proc = run_cli(
        "classify", str(solid(tmp_path / "red.png", (255, 0, 0))),
        "--manifest", str(added / "manifest.json"), "--model", "inverted",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    # Red inverted is cyan (0, 1, 1): logits (0, 4, 4), halved by the hook's temperature.
    e = np.exp(np.array([0.0, 2.0, 2.0]) - 2.0)
    expected = e / e.sum()
    got = {t["label"]: t["probability"] for t in answer["top_k"]}
    assert got == pytest.approx({"red": expected[0], "green": expected[1], "blue": expected[2]})


def test_an_exception_in_a_hook_names_the_file_and_line_and_the_next_image_works(added, tmp_path):
    check = "    if pixels.shape[1] == 77:\n        raise ValueError('77 pixels wide')\n"
    hooks = HOOKS.replace("    rgb = pixels[..., :3]", check + "    rgb = pixels[..., :3]")
    (added / "inverted.hooks.py").write_text(hooks)
    manifest = json.loads((added / "manifest.json").read_text())
    import hashlib

    manifest["models"][-1]["hooks"]["sha256"] = hashlib.sha256(hooks.encode()).hexdigest()
    (added / "manifest.json").write_text(json.dumps(manifest))
    from PIL import Image

    Image.new("RGB", (77, 40), (255, 0, 0)).save(tmp_path / "wide.png")
    proc = run_cli(
        "classify", str(tmp_path / "wide.png"), str(solid(tmp_path / "ok.png", (0, 0, 255))),
        "--manifest", str(added / "manifest.json"), "--model", "inverted",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "inverted.hooks.py, line 6, in preprocess: ValueError: 77 pixels wide" in proc.stderr
    [answer] = [json.loads(line) for line in proc.stdout.splitlines()]
    assert answer["file"].endswith("ok.png") and answer["label"] in ("red", "green")


def test_a_changed_hook_file_is_refused_by_its_hash(added):
    (added / "inverted.hooks.py").write_text(HOOKS + "\n# edited\n")
    proc = run_cli(
        "classify", str(photo("coffee.png")),
        "--manifest", str(added / "manifest.json"), "--model", "inverted",
    )  # fmt: skip
    assert proc.returncode == 2
    assert "inverted.hooks.py fails its integrity check" in proc.stderr


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def preprocess(pixels, model):\n    return (\n", "h.py, line 2: does not import: Syn"),
        ("import no_such_module\n", "h.py, line 1: does not import: ModuleNotFoundError"),
        ("x = 1\n", "defines neither preprocess(pixels, model) nor postprocess"),
        ("preprocess = 3\n", "preprocess is a int, not a function"),
    ],
)
def test_hook_files_that_do_not_load_say_why(source, message):
    with pytest.raises(HookError) as info:
        load_hooks(source, "h.py")
    assert message in str(info.value)


def test_add_model_refuses_hooks_that_do_not_import_and_writes_nothing(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MANIFEST, models / "manifest.json")
    before = (models / "manifest.json").read_bytes()
    (tmp_path / "m.onnx").write_bytes(MODEL)
    (tmp_path / "labels.txt").write_text(LABELS)
    (tmp_path / "hooks.py").write_text("import numpy as np\n1 / 0\n")
    proc = run_cli(
        "add-model", str(tmp_path / "m.onnx"), "--labels", str(tmp_path / "labels.txt"),
        "--python", str(tmp_path / "hooks.py"), "--models-dir", str(models),
    )  # fmt: skip
    assert proc.returncode == 2
    assert "m.hooks.py, line 2: does not import: ZeroDivisionError" in proc.stderr
    assert (models / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in models.iterdir()) == ["manifest.json"]
