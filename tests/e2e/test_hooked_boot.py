"""A model with Python hooks as the model the page boots with (``?model=ID``): its hooks file is
fetched and checked at boot. The boot never runs the user's hooks on its generated warm-up
image, so a hook that would refuse that image does not fail the boot, and the model then
classifies a photo. A hooks file that is not the manifest's fails the boot with
E_MODEL_INTEGRITY, naming the file.

Fresh pages: the boot itself is under test.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import READY_TIMEOUT_MS, serving_models
from edge_infer.add_model import add_model
from helpers import MANIFEST, photo
from hook_examples import HOOKS
from onnx_models import colour_model

pytestmark = pytest.mark.browser

# The example hooks, refusing images 320 pixels wide: the boot's warm-up image is 320x240.
REFUSING_HOOKS = HOOKS.replace(
    "    rgb = pixels[..., :3]",
    "    if pixels.shape[1] == 320:\n        raise ValueError('320 pixels wide')\n"
    "    rgb = pixels[..., :3]",
)


@pytest.fixture(scope="module")
def hooked_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    (folder / "manifest.json").write_bytes(MANIFEST.read_bytes())
    src = tmp_path_factory.mktemp("src")
    (src / "rgb.txt").write_text("red\ngreen\nblue\n")
    (src / "colours.onnx").write_bytes(colour_model(np.eye(3) * 4.0))
    (src / "hooks.py").write_text(REFUSING_HOOKS)
    for model_id in ("refusing", "tampered"):
        add_model(
            src / "colours.onnx",
            src / "rgb.txt",
            folder / "manifest.json",
            model_id=model_id,
            hooks_path=src / "hooks.py",
        )
    with (folder / "tampered.hooks.py").open("a") as f:
        f.write("# changed after add-model\n")
    with serving_models(folder) as url:
        yield url


def test_boot_model_with_a_hook_refusing_the_warm_up_image_boots_and_classifies(page, hooked_site):
    page.goto(f"{hooked_site}?model=refusing")
    page.wait_for_selector("body[data-state='ready']", timeout=READY_TIMEOUT_MS)
    page.set_input_files("#file-input", str(photo("coffee.png")))
    card = page.wait_for_selector("#results .result[data-state='done']", timeout=READY_TIMEOUT_MS)
    result = json.loads(card.get_attribute("data-result"))
    assert result["model"]["id"] == "refusing"
    assert result["preprocess_mode"] == "hook"
    assert result["label"] in ("red", "green", "blue")


def test_boot_model_whose_hooks_file_is_not_the_manifests_fails_with_integrity(page, hooked_site):
    page.goto(f"{hooked_site}?model=tampered")
    page.wait_for_selector("body[data-state='error']", timeout=READY_TIMEOUT_MS)
    message = page.inner_text("#message")
    assert "tampered.hooks.py" in message and "[E_MODEL_INTEGRITY]" in message, message
    assert not page.locator("#retry-load").is_hidden()
