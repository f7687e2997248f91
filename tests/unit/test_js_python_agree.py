"""Values both hosts must share: the JavaScript side's copies equal Python's."""

import json
import shutil
import subprocess

import pytest
from edge_infer.decode import MAX_PIXELS
from edge_infer.preprocess import PREPROCESS_MODES
from helpers import ROOT


@pytest.fixture(scope="module")
def js_config():
    script = (
        "import('./web/lib/config.js').then((m) => console.log(JSON.stringify("
        "{modes: m.PREPROCESS_MODES, defaults: m.DEFAULTS, limits: m.LIMITS})))"
    )
    proc = subprocess.run(
        [shutil.which("node"), "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    return json.loads(proc.stdout)


def test_js_and_python_offer_the_same_preprocessing_modes(js_config):
    assert sorted(js_config["modes"]) == sorted(PREPROCESS_MODES)
    assert js_config["defaults"]["preprocess"] in PREPROCESS_MODES


def test_js_and_python_refuse_images_above_the_same_size(js_config):
    assert js_config["limits"]["decodePixels"] == MAX_PIXELS
