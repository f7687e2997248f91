"""Every model in the manifest: file integrity and answers on real photos (CPython host)."""

import hashlib
import shutil
from functools import cache

import pytest
from edge_infer.decode import decode_file
from edge_infer.hosts.native import ModelIntegrityError, create_pipeline
from edge_infer.manifest import load_manifest
from helpers import CAT_LABELS, MANIFEST, MODELS, photo

MANIFEST_DATA = load_manifest(MANIFEST)
IDS = list(MANIFEST_DATA.models)
FP32_IDS = [i for i in IDS if MANIFEST_DATA.models[i].precision == "fp32"]
DERIVED_IDS = [i for i in IDS if MANIFEST_DATA.models[i].precision != "fp32"]


@cache
def pipeline(model_id):
    return create_pipeline(MANIFEST_DATA, MODELS, model_id, threads=1)


@cache
def top_k(model_id, image):
    """Top-5 ``[(label, probability)]`` of one model on one photo (sessions are cached)."""
    pixels, _ = decode_file(photo(image))
    result = pipeline(model_id).classify(pixels, top_k=5)
    return [(r["label"], r["probability"]) for r in result["top_k"]]


def fp32_of(model_id):
    return f"{MANIFEST_DATA.models[model_id].family}-fp32"


def test_every_family_has_all_variants():
    assert set(IDS) >= {
        f"{family}-{precision}"
        for family in ("mobilenet_v2", "efficientnet_lite0")
        for precision in ("fp32", "fp16", "int8")
    }
    for model_id, model in MANIFEST_DATA.models.items():
        assert model_id == f"{model.family}-{model.precision}"
        assert model.file == f"{model_id}.onnx"


@pytest.mark.parametrize("model_id", IDS)
def test_file_matches_manifest(model_id):
    model = MANIFEST_DATA.models[model_id]
    data = (MODELS / model.file).read_bytes()
    assert len(data) == model.bytes
    assert hashlib.sha256(data).hexdigest() == model.sha256


@pytest.mark.parametrize("model_id", DERIVED_IDS)
def test_derived_variant_names_its_fp32_parent(model_id):
    parent = MANIFEST_DATA.models[fp32_of(model_id)]
    derived_from = MANIFEST_DATA.models[model_id].provenance["derived_from"]
    assert derived_from == {"id": parent.id, "sha256": parent.sha256, "bytes": parent.bytes}


@pytest.mark.parametrize("model_id", IDS)
def test_chelsea_is_a_cat(model_id):
    assert top_k(model_id, "chelsea.png")[0][0] in CAT_LABELS


@pytest.mark.parametrize("model_id", FP32_IDS)
def test_fp32_coffee_is_espresso(model_id):
    label, probability = top_k(model_id, "coffee.png")[0]
    assert label == "espresso"
    assert probability > 0.9


@pytest.mark.parametrize("image", ["chelsea.png", "coffee.png"])
@pytest.mark.parametrize("model_id", DERIVED_IDS)
def test_variant_agrees_with_fp32(model_id, image):
    assert top_k(model_id, image)[0][0] == top_k(fp32_of(model_id), image)[0][0]


@pytest.mark.parametrize("model_id", IDS)
def test_corrupted_copy_is_refused(model_id, tmp_path):
    model = MANIFEST_DATA.models[model_id]
    shutil.copy(MANIFEST, tmp_path / "manifest.json")
    data = bytearray((MODELS / model.file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / model.file).write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="fails its integrity check"):
        create_pipeline(load_manifest(tmp_path / "manifest.json"), tmp_path, model_id)
