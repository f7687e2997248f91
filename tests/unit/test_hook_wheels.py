"""Pure-Python packages a model's hooks import, in the CPython host: ``add-model --python
HOOKS.py --wheel PKG.whl`` checks the wheel, copies it next to the model and pins it in the
manifest; ``classify`` imports it from the zip. Every refusal leaves the manifest as it was.

The wheel (``blockmath``) is built by the test (tests/hook_examples.py), byte for byte the
same each time, so no binary is committed."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from edge_infer.manifest import ManifestError, parse_manifest
from helpers import MANIFEST, run_cli
from hook_examples import HOOKS_WITH_WHEEL, build_wheel
from onnx_models import colour_model
from PIL import Image

MODEL = colour_model(np.eye(3) * 4.0)  # logits (4r, 4g, 4b) of the input's channel means


@pytest.fixture
def src(tmp_path):
    """A models folder with the repo's manifest, and the model, labels, hooks and wheel."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MANIFEST, models / "manifest.json")
    (tmp_path / "m.onnx").write_bytes(MODEL)
    (tmp_path / "labels.txt").write_text("red\ngreen\nblue\n")
    (tmp_path / "hooks.py").write_text(HOOKS_WITH_WHEEL)
    build_wheel(tmp_path)
    return tmp_path


def add(src, *extra):
    return run_cli(
        "add-model", str(src / "m.onnx"), "--labels", str(src / "labels.txt"),
        "--id", "wheeled", "--models-dir", str(src / "models"), *extra,
    )  # fmt: skip


WHEEL = "blockmath-1.0.0-py3-none-any.whl"


def test_a_hook_imports_its_wheel_in_classify(src):
    proc = add(src, "--python", str(src / "hooks.py"), "--wheel", str(src / WHEEL))
    assert proc.returncode == 0, proc.stderr
    models = src / "models"
    entry = json.loads((models / "manifest.json").read_text())["models"][-1]
    digest = hashlib.sha256((src / WHEEL).read_bytes()).hexdigest()
    assert entry["hooks"]["wheels"] == [{"file": WHEEL, "sha256": digest}]
    assert (models / WHEEL).read_bytes() == (src / WHEEL).read_bytes()
    Image.new("RGB", (50, 40), (255, 0, 0)).save(src / "red.png")
    proc = run_cli(
        "classify", str(src / "red.png"), "--manifest", str(models / "manifest.json"),
        "--model", "wheeled",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # Red inverted is cyan: logits (0, 4, 4), halved by the package's temperature-2 softmax.
    e = np.exp(np.array([0.0, 2.0, 2.0]) - 2.0)
    expected = dict(zip(("red", "green", "blue"), e / e.sum(), strict=True))
    got = {t["label"]: t["probability"] for t in json.loads(proc.stdout)["top_k"]}
    assert got == pytest.approx(expected)


def test_a_changed_wheel_is_refused_by_its_hash(src):
    assert add(src, "--python", str(src / "hooks.py"), "--wheel", str(src / WHEEL)).returncode == 0
    models = src / "models"
    build_wheel(models, files={"blockmath/__init__.py": "def block_mean(i, s):\n    return i\n"})
    Image.new("RGB", (50, 40), (255, 0, 0)).save(src / "red.png")
    proc = run_cli(
        "classify", str(src / "red.png"), "--manifest", str(models / "manifest.json"),
        "--model", "wheeled",
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"{WHEEL} fails its integrity check" in proc.stderr


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing dependency", "line 2: does not import: ModuleNotFoundError: No module named "
         "'blockmath'; a pure-Python package comes with the model as a wheel: --wheel"),
        ("platform wheel", "is not a pure-Python wheel (tags cp312-cp312-linux_x86_64)"),
        ("not purelib", "is not a pure-Python wheel: its WHEEL file does not say Root-Is-Purelib"),
        ("no such wheel", "cannot read wheel"),
        ("not a zip", "is not a valid wheel"),
        ("wheel without hooks", "wheels are for a hooks file's imports: give --python"),
    ],
)  # fmt: skip
def test_refusals_name_the_problem_and_write_nothing(src, case, message):
    hooks = ["--python", str(src / "hooks.py")]
    wheel = {
        "missing dependency": [],
        "platform wheel": ["--wheel", str(build_wheel(src, tag="cp312-cp312-linux_x86_64"))],
        "not purelib": ["--wheel", str(build_wheel(src, name="other", purelib=False))],
        "no such wheel": ["--wheel", str(src / "absent-1.0-py3-none-any.whl")],
        "not a zip": ["--wheel", str(src / "junk-1.0-py3-none-any.whl")],
        "wheel without hooks": ["--wheel", str(src / WHEEL)],
    }[case]
    (src / "junk-1.0-py3-none-any.whl").write_text("not a zip")
    if case == "wheel without hooks":
        hooks = []
    before = sorted(p.name for p in (src / "models").iterdir())
    proc = add(src, *hooks, *wheel)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr
    assert (src / "models" / "manifest.json").read_bytes() == MANIFEST.read_bytes()
    assert sorted(p.name for p in (src / "models").iterdir()) == before


@pytest.mark.parametrize(
    ("wheels", "message"),
    [
        ([{"file": "numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", "sha256": "0" * 64}],
         "must be a pure-Python wheel's file name"),
        ([{"file": "../x-1.0-py3-none-any.whl", "sha256": "0" * 64}],
         "must be a pure-Python wheel's file name"),
        ([{"file": "x-1.0-py3-none-any.whl", "sha256": "0" * 63}], ".sha256: expected 64"),
        ([{"file": "x-1.0-py3-none-any.whl", "sha256": "0" * 64}] * 2, "is listed twice"),
        ("x-1.0-py3-none-any.whl", "hooks.wheels: expected a list"),
    ],
)  # fmt: skip
def test_the_manifest_refuses_bad_wheel_entries(wheels, message):
    data = json.loads(MANIFEST.read_text())
    data["models"][0]["hooks"] = {"file": "m.hooks.py", "sha256": "1" * 64, "wheels": wheels}
    with pytest.raises(ManifestError, match=r"models\[0\]\.hooks") as info:
        parse_manifest(data)
    assert message in str(info.value)


def test_the_manifest_reads_wheel_entries():
    data = json.loads(MANIFEST.read_text())
    wheel = {"file": "six-1.16.0-py2.py3-none-any.whl", "sha256": "2" * 64}
    data["models"][0]["hooks"] = {"file": "m.hooks.py", "sha256": "1" * 64, "wheels": [wheel]}
    hooks = parse_manifest(data).get(data["models"][0]["id"]).hooks
    assert [(w.file, w.sha256) for w in hooks.wheels] == [(wheel["file"], wheel["sha256"])]


def load_tool(name):
    """tools/NAME.py as a module (the tools are scripts, not a package)."""
    import importlib.util

    from helpers import ROOT

    spec = importlib.util.spec_from_file_location(
        f"edge_infer_{name}", ROOT / "tools" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def hooked_default(src):
    """A models folder whose default model has hooks with a wheel."""
    assert add(src, "--python", str(src / "hooks.py"), "--wheel", str(src / WHEEL)).returncode == 0
    models = src / "models"
    data = json.loads((models / "manifest.json").read_text())
    data["default_model"] = "wheeled"
    (models / "manifest.json").write_text(json.dumps(data, indent=2) + "\n")
    return models


def test_dist_and_precache_carry_hooks_and_wheels_at_content_addressed_urls(
    hooked_default, monkeypatch
):
    entry = json.loads((hooked_default / "manifest.json").read_text())["models"][-1]
    hooks, wheel = entry["hooks"], entry["hooks"]["wheels"][0]
    addressed = {
        f"models/{hooks['sha256']}/wheeled.hooks.py",
        f"models/{wheel['sha256']}/{WHEEL}",
        f"models/{entry['sha256']}/wheeled.onnx",
    }
    build = load_tool("build")
    data = json.loads((hooked_default / "manifest.json").read_text())
    data["models"] = [entry]  # the repo's own model files are not in this folder
    (hooked_default / "manifest.json").write_text(json.dumps(data))
    monkeypatch.setattr(build, "MODELS", hooked_default)
    plan, folders = build.plan_models({})
    assert set(plan) == addressed | {"models/manifest.json"}
    assert set(folders) == {url.rsplit("/", 1)[0] + "/" for url in addressed}
    (hooked_default / WHEEL).write_bytes(b"changed")
    with pytest.raises(build.BuildError, match=f"models/{WHEEL} .* does not match"):
        build.plan_models({})


def test_the_offline_cache_of_a_hooked_default_model_holds_its_wheels_and_micropip(
    hooked_default,
):
    from helpers import ROOT

    setup = load_tool("setup")
    entry = json.loads((hooked_default / "manifest.json").read_text())["models"][-1]
    urls = {f["url"] for f in setup.build_precache(ROOT / "web", hooked_default)["files"]}
    assert f"models/{entry['hooks']['sha256']}/wheeled.hooks.py" in urls
    assert f"models/{entry['hooks']['wheels'][0]['sha256']}/{WHEEL}" in urls
    assert {u.rsplit("/", 1)[-1] for u in urls if u.endswith("-py3-none-any.whl")} == {
        WHEEL,
        "micropip-0.9.0-py3-none-any.whl",
        "packaging-24.2-py3-none-any.whl",
    }
    # The repo's own default model has no hooks: its boot never fetches micropip.
    default = {f["url"] for f in setup.build_precache(ROOT / "web", ROOT / "models")["files"]}
    assert not [u for u in default if u.endswith(".whl")]
