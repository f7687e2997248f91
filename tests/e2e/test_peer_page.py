"""The bench's peer pipeline: Transformers.js on our model, offline, in the real browser.

The page the bench's peer section measures (``bench/harness.html?pipeline=transformers-js``,
``bench/benchlib/peer.py``), served as the bench serves it: Transformers.js's browser bundle
and its onnxruntime-web build from node_modules, and the model folder that
``bench/benchlib/peer_model.py`` writes. A photo dropped at navigation start must come back
as a cat, and no request of the page or its workers may leave the origin. Timings are the
bench's business, not this test's.
"""

from __future__ import annotations

import shutil
import sys
from urllib.parse import urlencode

import pytest
from conftest import start_server
from helpers import CAT_LABELS, ROOT, photo

pytestmark = pytest.mark.browser

if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))
from benchlib.browser import Harness  # noqa: E402
from benchlib.peer import RequestLog, first_result, peer_mounts  # noqa: E402
from benchlib.peer_model import write_model_folder  # noqa: E402


@pytest.fixture(scope="module")
def peer_url(tmp_path_factory):
    """The dev server with bench/, one photo and Transformers.js's folders mounted."""
    root = tmp_path_factory.mktemp("peer")
    inputs = root / "inputs"
    inputs.mkdir()
    shutil.copyfile(photo("chelsea.png"), inputs / "chelsea.png")
    mounts = {"bench": ROOT / "bench", "bench-inputs": inputs}
    mounts.update(peer_mounts(write_model_folder(root / "models").parent))
    args = [arg for name, folder in mounts.items() for arg in ("--mount", f"{name}={folder}")]
    proc, url = start_server(*args)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_transformers_js_classifies_a_dropped_photo_offline(page, peer_url):
    requests = RequestLog(page.context, peer_url)
    photo_url = f"{peer_url}bench-inputs/chelsea.png"
    query = urlencode({"pipeline": "transformers-js", "threads": 2, "first": photo_url})
    harness = Harness(page, f"{peer_url}bench/harness.html?{query}")
    page.goto(harness.url)
    first = first_result(harness)

    assert first["result"]["label"] in CAT_LABELS, first["result"]
    assert len(first["result"]["top_labels"]) == 5
    runtime = first["runtime"]
    assert runtime["host"] == "transformers-js" and runtime["transformers_js"].startswith("4.3.")
    assert runtime["threads"] == 2 and runtime["cross_origin_isolated"] is True
    assert first["first_result_ms"] > first["page_ready_ms"] > 0
    # Everything came from this origin: the bundle, ORT's .mjs and .wasm, the model folder.
    assert requests.offsite == [], requests.offsite
    # The worker's requests are seen too (the model, ORT's build), so the check means something.
    paths = [url.removeprefix(peer_url) for url in requests.urls]
    assert "transformers-js-models/mobilenet_v2-fp32/onnx/model.onnx" in paths, paths
    assert "transformers-js-ort/ort-wasm-simd-threaded.asyncify.wasm" in paths, paths
    assert harness.errors == []
