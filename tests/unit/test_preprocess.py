import numpy as np
import pytest
from edge_infer.manifest import PreprocessSpec, load_manifest
from edge_infer.preprocess import (
    PreprocessError,
    crop_offsets,
    pillow_vertical_first,
    preprocess,
    resize_crop,
    resized_size,
    to_rgb,
)
from helpers import MANIFEST, photo
from PIL import Image


def spec(**overrides) -> PreprocessSpec:
    base = dict(
        resize_shorter_side=256,
        interpolation="bilinear",
        antialias=True,
        crop_height=224,
        crop_width=224,
        scale=1 / 255,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
    )
    base.update(overrides)
    return PreprocessSpec(**base)


IDENTITY = dict(scale=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


@pytest.mark.parametrize(
    ("height", "width", "channels"),
    [(768, 1024, 4), (300, 451, 3), (1000, 200, 4), (1, 1, 4), (224, 224, 3), (57, 93, 1)],
)
def test_output_shape_dtype_and_contiguity(height, width, channels):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    x = preprocess(pixels, spec())
    assert x.shape == (1, 3, 224, 224)
    assert x.dtype == np.float32
    assert x.flags.c_contiguous
    assert np.isfinite(x).all()


def test_grayscale_2d_input_is_accepted():
    x = preprocess(np.full((300, 400), 128, dtype=np.uint8), spec(**IDENTITY))
    np.testing.assert_allclose(x, 128.0, atol=1e-4)


def test_hand_computed_antialiased_downscale():
    # One row [0, 10, 20, 30] halved: Pillow's triangle filter widened to support 2 gives
    # taps (3/7, 3/7, 1/7) for output 0 and (1/7, 3/7, 3/7) for output 1, and Pillow rounds
    # each pass to uint8: 50/7 = 7.14 -> 7 and 160/7 = 22.86 -> 23.
    row = np.array([0, 10, 20, 30], dtype=np.uint8)
    pixels = np.repeat(np.repeat(row[None, :, None], 4, axis=0), 3, axis=2)  # 4x4 RGB
    x = preprocess(pixels, spec(resize_shorter_side=2, crop_height=2, crop_width=2, **IDENTITY))
    for c in range(3):
        np.testing.assert_allclose(x[0, c], [[7, 23], [7, 23]], rtol=0, atol=1e-4)


def test_hand_computed_normalisation_without_resize():
    pixels = np.array(
        [[[0, 128, 255], [255, 0, 128]], [[10, 20, 30], [40, 50, 60]]], dtype=np.uint8
    )
    s = spec(resize_shorter_side=2, crop_height=2, crop_width=2)
    x = preprocess(pixels, s)
    for c in range(3):
        expected = (pixels[:, :, c] / 255.0 - s.mean[c]) / s.std[c]
        np.testing.assert_allclose(x[0, c], expected, rtol=0, atol=1e-6)
    # Channel order is RGB and the layout is NCHW.
    assert x[0, 2, 0, 0] == pytest.approx((1.0 - 0.406) / 0.225, abs=1e-6)


def test_alpha_is_composited_on_white():
    pixels = np.zeros((2, 2, 4), dtype=np.uint8)
    pixels[0, 0] = [0, 0, 0, 0]  # transparent black -> white
    pixels[0, 1] = [0, 0, 0, 255]  # opaque black stays black
    pixels[1, 0] = [0, 0, 0, 128]  # half-transparent black -> mid grey
    pixels[1, 1] = [200, 100, 50, 255]
    rgb = to_rgb(pixels)
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[0, 1].tolist() == [0, 0, 0]
    assert rgb[1, 0].tolist() == [127, 127, 127]
    assert rgb[1, 1].tolist() == [200, 100, 50]


def test_sizes_and_crop_follow_torchvision():
    assert resized_size(300, 451, 256) == (256, 384)  # int(256 * 451 / 300) = 384.85 -> 384
    assert resized_size(451, 300, 256) == (384, 256)
    assert resized_size(768, 1024, 256) == (256, 341)
    assert crop_offsets(256, 341, 224, 224) == (16, 58)  # round(58.5) == 58 (half to even)
    assert crop_offsets(256, 384, 224, 224) == (16, 80)


def pillow_reference(rgb: np.ndarray, shorter: int, crop: int) -> np.ndarray:
    """torchvision's Resize(shorter) + CenterCrop(crop) on a PIL image, as float 0..255."""
    h, w = rgb.shape[:2]
    out_h, out_w = resized_size(h, w, shorter)
    resized = np.asarray(Image.fromarray(rgb).resize((out_w, out_h), Image.BILINEAR))
    top, left = crop_offsets(out_h, out_w, crop, crop)
    return resized[top : top + crop, left : left + crop].astype(np.float32)


def real_photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(photo(name)).convert("RGB"))


def pillow_resized(pixels: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Pillow's own ``resize(BILINEAR)``, for RGB ``(H, W, 3)`` or grayscale ``(H, W, 1)``."""
    image = Image.fromarray(pixels if pixels.shape[2] == 3 else pixels[:, :, 0])
    resized = np.asarray(image.resize((out_w, out_h), Image.BILINEAR))
    return resized.reshape(out_h, out_w, pixels.shape[2])


@pytest.mark.parametrize(
    "image",
    [
        "chelsea.png",
        "coffee.png",
        "astronaut.png",
        "random-1024x768",
        "random-768x1024",
        "random-100x80-upscale",
        "random-257x640-tall",  # Pillow 13 resizes this one vertically first
        "random-3000x4000",
    ],
)
def test_equals_pillow_resize_pixel_for_pixel(image):
    if image.startswith("random"):
        w, h = (int(n) for n in image.split("-")[1].split("x"))
        rgb = np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)
    else:
        rgb = real_photo(image)
    h, w = rgb.shape[:2]
    out_h, out_w = resized_size(h, w, 256)
    top, left = crop_offsets(out_h, out_w, 224, 224)
    ours = resize_crop(rgb, out_h, out_w, (top, left, 224, 224), antialias=True)
    np.testing.assert_array_equal(ours, pillow_reference(rgb, 256, 224))


def test_equals_pillow_in_both_pass_orders_at_any_size_and_crop():
    # Sizes and crops no model uses, up and down, grayscale and RGB: both of Pillow 13's pass
    # orders (vertical first when the height shrinks by over twice the width's pixels) occur.
    rng = np.random.default_rng(5)
    orders = set()
    for _ in range(60):
        h, w, out_h, out_w = (int(n) for n in rng.integers(8, 400, 4))
        channels = int(rng.choice([1, 3]))
        pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        ch, cw = int(rng.integers(1, out_h + 1)), int(rng.integers(1, out_w + 1))
        top, left = int(rng.integers(0, out_h - ch + 1)), int(rng.integers(0, out_w - cw + 1))
        ours = resize_crop(pixels, out_h, out_w, (top, left, ch, cw), antialias=True)
        expected = pillow_resized(pixels, out_h, out_w)[top : top + ch, left : left + cw]
        np.testing.assert_array_equal(ours, expected, err_msg=f"{w}x{h} -> {out_w}x{out_h}")
        orders.add(pillow_vertical_first(h, w, out_h, out_w))
    assert orders == {True, False}


def test_manifest_spec_matches_torchvision_pipeline_on_a_photo():
    # torchvision: Resize(256) and CenterCrop(224) on the PIL image, ToTensor, Normalize.
    model = load_manifest(MANIFEST).get()
    rgb = real_photo("chelsea.png")
    x = preprocess(rgb, model.preprocess)
    mean = np.array(model.preprocess.mean, dtype=np.float32)[:, None, None]
    std = np.array(model.preprocess.std, dtype=np.float32)[:, None, None]
    reference = (pillow_reference(rgb, 256, 224).transpose(2, 0, 1) / 255.0 - mean) / std
    np.testing.assert_allclose(x[0], reference, rtol=0, atol=1e-5)


def test_reuses_the_output_buffer():
    out = np.empty((1, 3, 224, 224), dtype=np.float32)
    pixels = np.zeros((300, 300, 4), dtype=np.uint8)
    assert preprocess(pixels, spec(), out=out) is out


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (np.zeros((10, 10, 3), dtype=np.float32), "uint8"),
        (np.zeros((10, 10, 2), dtype=np.uint8), "shaped"),
        (np.zeros((0, 10, 3), dtype=np.uint8), "empty"),
        (np.zeros((2, 3, 4, 5), dtype=np.uint8), "shaped"),
        ([[1, 2], [3, 4]], "numpy array"),
    ],
)
def test_bad_pixels_raise_clear_errors(pixels, message):
    with pytest.raises(PreprocessError, match=message):
        preprocess(pixels, spec())


def test_bad_output_buffer_is_refused():
    with pytest.raises(PreprocessError, match="C-contiguous float32"):
        preprocess(np.zeros((300, 300, 3), np.uint8), spec(), out=np.empty((1, 3, 224, 225)))


def test_fast_mode_takes_pixels_resized_by_the_host_and_equals_exact_on_them():
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (256, 341, 4), dtype=np.uint8)
    fast = preprocess(pixels, spec(), mode="fast")
    np.testing.assert_array_equal(fast, preprocess(pixels, spec(), mode="exact"))


@pytest.mark.parametrize("shape", [(768, 1024, 4), (255, 340, 4), (300, 451, 3)])
def test_fast_mode_refuses_pixels_the_host_did_not_resize(shape):
    with pytest.raises(PreprocessError, match="fast mode expects pixels whose shorter side is 256"):
        preprocess(np.zeros(shape, np.uint8), spec(), mode="fast")


def test_unknown_mode_is_refused():
    with pytest.raises(PreprocessError, match="mode must be one of exact, fast, got 'quick'"):
        preprocess(np.zeros((256, 256, 3), np.uint8), spec(), mode="quick")


def test_bgr_and_nhwc_hold_the_same_values_in_their_places():
    rng = np.random.default_rng(8)
    pixels = rng.integers(0, 256, (300, 451, 3), dtype=np.uint8)
    norm = dict(scale=1 / 255, mean=(0.1, 0.2, 0.3), std=(0.5, 0.6, 0.7))
    reference = preprocess(pixels, spec(**norm))  # NCHW RGB
    bgr_norm = dict(scale=1 / 255, mean=(0.3, 0.2, 0.1), std=(0.7, 0.6, 0.5))
    nhwc_bgr = preprocess(pixels, spec(layout="NHWC", channel_order="BGR", **bgr_norm))
    assert nhwc_bgr.shape == (1, 224, 224, 3) and nhwc_bgr.flags.c_contiguous
    np.testing.assert_array_equal(nhwc_bgr[0, :, :, ::-1].transpose(2, 0, 1), reference[0])


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_grey_is_pillows_convert_l_then_its_resize(layout):
    rgb = real_photo("coffee.png")
    s = spec(channel_order="L", layout=layout, scale=1.0, mean=(0.0,), std=(1.0,))
    x = preprocess(rgb, s)
    assert x.shape == ((1, 1, 224, 224) if layout == "NCHW" else (1, 224, 224, 1))
    grey = Image.fromarray(rgb).convert("L")
    h, w = rgb.shape[:2]
    out_h, out_w = resized_size(h, w, 256)
    top, left = crop_offsets(out_h, out_w, 224, 224)
    expected = np.asarray(grey.resize((out_w, out_h), Image.BILINEAR))[
        top : top + 224, left : left + 224
    ]
    np.testing.assert_array_equal(x.reshape(224, 224), expected.astype(np.float32))


def test_stretch_is_pillows_resize_to_the_input_size():
    rgb = real_photo("chelsea.png")  # 451x300: the aspect ratio is not kept
    x = preprocess(rgb, spec(resize_mode="stretch", crop_height=96, crop_width=160, **IDENTITY))
    expected = np.asarray(Image.fromarray(rgb).resize((160, 96), Image.BILINEAR))
    np.testing.assert_array_equal(x[0].transpose(1, 2, 0), expected.astype(np.float32))


def test_fast_mode_for_a_stretch_model_wants_the_input_size():
    s = spec(resize_mode="stretch", crop_height=96, crop_width=160, **IDENTITY)
    pixels = np.random.default_rng(2).integers(0, 256, (96, 160, 4), dtype=np.uint8)
    np.testing.assert_array_equal(
        preprocess(pixels, s, mode="fast"), preprocess(pixels, s, mode="exact")
    )
    with pytest.raises(PreprocessError, match="fast mode expects 160x96, got 170x96"):
        preprocess(np.zeros((96, 170, 4), np.uint8), s, mode="fast")
