"""A model's Python hooks file as a user writes one, shared by the CPython and browser tests."""

# Preprocessing a user wrote in numpy: no resize library, a plain block average to 32x32 of
# the inverted colours; and a postprocess that turns logits into a temperature-2 softmax.
# It also uses numpy.fft and statistics, which the browser runtime does not import itself:
# the browser installs the whole library before it imports a model's hooks.
HOOKS = """import numpy as np


def preprocess(pixels, model):
    rgb = pixels[..., :3].astype(np.float32) / 255.0
    h, w = rgb.shape[:2]
    rows = np.array_split(np.arange(h), 32)
    cols = np.array_split(np.arange(w), 32)
    small = np.array([[rgb[r][:, c].mean(axis=(0, 1)) for c in cols] for r in rows])
    small = np.fft.ifft2(np.fft.fft2(small, axes=(0, 1)), axes=(0, 1)).real  # a round trip
    return (1.0 - small).transpose(2, 0, 1)[None]


def postprocess(logits, model):
    from statistics import fmean

    z = np.asarray(logits, dtype=np.float64).ravel() / 2.0
    z = z - fmean(z)
    e = np.exp(z - z.max())
    return e / e.sum()
"""
