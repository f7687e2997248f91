"""The classic edge-inference JSON request, in the CPython host (module and CLI)."""

import json
import re

import numpy as np
import pytest
from edge_infer.manifest import load_manifest
from edge_infer.raw_rgb_request import RawRgbRequestError, parse_raw_rgb_request
from helpers import CAT_LABELS, MANIFEST, photo, run_cli
from PIL import Image


def raw_rgb_request(name="chelsea.png", model_id=None, size=(96, 64)):
    image = Image.open(photo(name)).convert("RGB").resize(size)
    request = {
        "image_data": np.asarray(image).reshape(-1).tolist(),
        "width": size[0],
        "height": size[1],
    }
    if model_id:
        request["model_id"] = model_id
    return request


def test_parse_gives_rgb_pixels_in_row_major_order():
    pixels, model_id = parse_raw_rgb_request(
        {"image_data": [1, 2, 3, 4, 5, 6], "width": 2, "height": 1, "model_id": "m"}
    )
    assert pixels.tolist() == [[[1, 2, 3], [4, 5, 6]]]
    assert pixels.dtype == np.uint8 and model_id == "m"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"image_data": [0] * 5, "width": 2, "height": 1}, "has 5 values; width*height*3"),
        ({"image_data": [0, 0, float("nan")], "width": 1, "height": 1}, "not a finite number"),
        ({"image_data": [0, 0, float("inf")], "width": 1, "height": 1}, "not a finite number"),
        ({"image_data": [0, 0, 300], "width": 1, "height": 1}, "outside 0..255"),
        ({"image_data": [0, 0, "x"], "width": 1, "height": 1}, "only numbers"),
        ({"image_data": [0, 0, 0], "width": 0, "height": 1}, "width must be a positive"),
        ({"image_data": "abc", "width": 1, "height": 1}, "image_data must be a list"),
        ({"image_data": [0, 0, 0], "width": 1, "height": 1, "model_id": 3}, "model_id must"),
        ([1, 2, 3], "must be a JSON object"),
    ],
)
def test_parse_errors(request_, message):
    with pytest.raises(RawRgbRequestError, match=re.escape(message)):
        parse_raw_rgb_request(request_)


def run_serve_json(lines):
    return run_cli("serve-json", input="".join(line + "\n" for line in lines))


def test_cli_serve_json_answers_each_line():
    default = load_manifest(MANIFEST).default_model
    ok = raw_rgb_request(size=(224, 160))
    proc = run_serve_json(
        [
            json.dumps(ok),
            json.dumps({**ok, "image_data": ok["image_data"][:-1]}),
            json.dumps({**ok, "model_id": "no-such-model"}),
            '{"image_data": [0, 0, NaN], "width": 1, "height": 1}',
            "not json",
            json.dumps(raw_rgb_request("coffee.png", model_id=default, size=(224, 160))),
        ]
    )
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(answers) == 6
    assert proc.returncode == 1  # some requests failed
    cat, short, unknown, nan, garbage, coffee = answers
    assert cat["label"] in CAT_LABELS
    assert cat["latency_ms"] == cat["timings_ms"]["total"]
    assert cat["model_version"] == load_manifest(MANIFEST).get().version
    assert {"top_k", "timings_ms", "confidence"} <= set(cat)
    assert short["error"]["code"] == "E_INPUT" and "width*height*3" in short["error"]["message"]
    assert unknown["error"]["code"] == "E_MODEL_UNKNOWN"
    assert "no-such-model" in unknown["error"]["message"]
    assert nan["error"]["code"] == "E_INPUT" and "finite" in nan["error"]["message"]
    assert garbage["error"]["code"] == "E_INPUT"
    assert coffee["label"] == "espresso"
