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

# A hooks file that imports a pure-Python package of its own (``blockmath``, a wheel built by
# build_wheel): the same block average and temperature softmax as HOOKS, from the package.
HOOKS_WITH_WHEEL = """import numpy as np
from blockmath import block_mean
from blockmath.activations import softmax


def preprocess(pixels, model):
    rgb = pixels[..., :3].astype(np.float32) / 255.0
    return (1.0 - block_mean(rgb, 32)).transpose(2, 0, 1)[None]


def postprocess(logits, model):
    return softmax(np.asarray(logits, dtype=np.float64).ravel(), temperature=2.0)
"""

BLOCKMATH = {
    "blockmath/__init__.py": '"""Block averages."""\n'
    "import numpy as np\n\n"
    "from blockmath.activations import softmax\n\n"
    "__all__ = ['block_mean', 'softmax']\n\n\n"
    "def block_mean(image, size):\n"
    "    rows = np.array_split(np.arange(image.shape[0]), size)\n"
    "    cols = np.array_split(np.arange(image.shape[1]), size)\n"
    "    return np.array([[image[r][:, c].mean(axis=(0, 1)) for c in cols] for r in rows])\n",
    "blockmath/activations.py": "import numpy as np\n\n\n"
    "def softmax(z, temperature=1.0):\n"
    "    z = np.asarray(z, dtype=np.float64) / temperature\n"
    "    e = np.exp(z - z.max())\n"
    "    return e / e.sum()\n",
}


def build_wheel(folder, name="blockmath", version="1.0.0", files=None, tag="py3-none-any",
                purelib=True):  # fmt: skip
    """Write a wheel (PEP 427) of ``files`` (path -> source) into ``folder``, byte for byte
    the same on every run; returns its path. The defaults make the pure-Python ``blockmath``."""
    import base64
    import hashlib
    import zipfile

    files = dict(BLOCKMATH if files is None else files)
    info = f"{name}-{version}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: edge-infer tests\n"
        f"Root-Is-Purelib: {'true' if purelib else 'false'}\nTag: {tag}\n"
    )
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, text in files.items():
            entry = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, text, zipfile.ZIP_DEFLATED)
    return wheel
