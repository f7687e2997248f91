"""The Pyodide host's Python side, in CPython: model bookkeeping and runtime facts.

Its per-image calls (``begin`` reads a JS typed array) run in the browser tests.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from edge_infer.hosts.browser import BrowserHost

MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.json"


@pytest.fixture
def host():
    return BrowserHost(MANIFEST.read_text())


def test_runtime_facts_added_later_reach_models_added_before_and_after(host):
    first = host.manifest.default_model
    host.add_model(first)
    host.set_runtime(json.dumps({"threads": 2, "onnxruntime_web": "1.30.0"}))
    other = next(m for m in host.manifest.models if m != first)
    host.add_model(other)
    for model_id in (first, other):
        assert host.pipelines[model_id].runtime["threads"] == 2
    facts = json.loads(host.runtime_json())
    assert facts["host"] == "pyodide" and facts["numpy"] == np.__version__
    assert facts["onnxruntime_web"] == "1.30.0"


def test_each_model_keeps_one_input_tensor_and_logits_buffer_until_removed(host):
    model_id = host.manifest.default_model
    host.add_model(model_id)
    tensor, logits = host.input_tensor(model_id), host.logits_buffer(model_id)
    assert tensor.dtype == np.float32 and logits.dtype == np.float32
    assert host.input_tensor(model_id) is tensor and host.logits_buffer(model_id) is logits
    host.remove_model(model_id)
    with pytest.raises(KeyError):
        host.input_tensor(model_id)
