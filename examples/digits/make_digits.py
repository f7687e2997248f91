"""Train the digits example's classifier, export it to ONNX and write its data, byte for byte.

From the repository root, with the dev venv (``python3 tools/setup.py`` installs scikit-learn):

    .venv/bin/python examples/digits/make_digits.py           # build twice, write examples/digits/
    .venv/bin/python examples/digits/make_digits.py --check   # build, compare, write nothing

Data: scikit-learn's bundled digits (1,797 8x8 images, 0..16, 10 classes; no download). A
stratified 80/20 split with a fixed seed holds back 360 digits, which are written as 32x32
PNGs (each grid cell a 4x4 block, dark ink on white) in ``heldout/<digit>/``. The model is
trained on what ``digits_hooks.py`` makes of the *training* digits rendered the same way, so
it sees exactly what the hook feeds it in the app. Model: scikit-learn's MLPClassifier, one
hidden layer of 32 ReLU units, L-BFGS, one BLAS thread (the same bytes on every run). Its
weights are written as ONNX by hand (Flatten, MatMul, Add, Relu; opset 18): no onnx package.

It also renders a few held-back digits as photo-like images in ``samples/`` (pen on paper,
chalk on a board, a transparent drawing), records the model's answers on them and on the
held-back set in ``expected.json`` (native onnxruntime through the hook), and lists every
file's sha256 in ``SHA256SUMS``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0
HELD_BACK = 0.2
HIDDEN = 32
INPUT_SHAPE = (1, 1, 8, 8)
LABELS = [str(d) for d in range(10)]
#: The samples: a style each, for the first held-back image of its digit.
SAMPLE_STYLES = {"pen": 3, "chalk": 7, "drawing": 5}


# ------------------------------------------------------------------------------ ONNX, by hand
# Protobuf wire format with the field numbers of onnx.proto: exact bytes, no onnx package.


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | 0x80 if n else low)
        if not n:
            return bytes(out)


def _int(num: int, n: int) -> bytes:
    return _varint(num << 3) + _varint(n)


def _bytes(num: int, data: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def _str(num: int, s: str) -> bytes:
    return _bytes(num, s.encode())


def _value_info(name: str, dims: tuple[int, ...]) -> bytes:
    shape = b"".join(_bytes(1, _int(1, d)) for d in dims)
    return _str(1, name) + _bytes(2, _bytes(1, _int(1, 1) + _bytes(2, shape)))  # float32


def _node(op: str, inputs: list[str], outputs: list[str], axis: int | None = None) -> bytes:
    body = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
    body += _str(3, f"{op.lower()}_{outputs[0]}") + _str(4, op)
    if axis is not None:
        body += _bytes(5, _str(1, "axis") + _int(3, axis) + _int(20, 2))  # INT attribute
    return body


def _tensor(name: str, array: np.ndarray) -> bytes:
    a = np.ascontiguousarray(array, dtype="<f4")
    dims = b"".join(_int(1, d) for d in a.shape)
    return dims + _int(2, 1) + _str(8, name) + _bytes(9, a.tobytes())


def mlp_onnx(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> bytes:
    """The MLP as an opset-18 ONNX model: relu(flatten(input) @ w1 + b1) @ w2 + b2."""
    nodes = [
        _node("Flatten", ["input"], ["x"], axis=1),
        _node("MatMul", ["x", "w1"], ["h0"]),
        _node("Add", ["h0", "b1"], ["h1"]),
        _node("Relu", ["h1"], ["h"]),
        _node("MatMul", ["h", "w2"], ["z0"]),
        _node("Add", ["z0", "b2"], ["logits"]),
    ]
    weights = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    graph = b"".join(_bytes(1, n) for n in nodes) + _str(2, "digits_mlp")
    graph += b"".join(_bytes(5, _tensor(k, v)) for k, v in weights.items())
    graph += _bytes(11, _value_info("input", INPUT_SHAPE))
    graph += _bytes(12, _value_info("logits", (1, len(LABELS))))
    return (
        _int(1, 8)  # IR version 8 (opset 18)
        + _str(2, "edge-infer examples/digits/make_digits.py")
        + _bytes(8, _str(1, "") + _int(2, 18))
        + _bytes(7, graph)
    )


# ------------------------------------------------------------------------------------ images


def png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 L, RGB or RGBA array (Pillow, no metadata: the same bytes)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG")
    return out.getvalue()


def render_grid(grid: np.ndarray) -> np.ndarray:
    """A digit's 8x8 0..16 grid as a 32x32 grey image: 4x4 blocks, dark ink on white."""
    grey = np.rint(255.0 - np.asarray(grid, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)
    return np.kron(grey, np.ones((4, 4), dtype=np.uint8))


def render_sample(grid: np.ndarray, style: str) -> np.ndarray:
    """A held-back digit as a photo-like image: smooth strokes, off centre, coloured."""
    from PIL import Image

    ink = Image.fromarray(np.uint8(np.rint(np.asarray(grid) * (255.0 / 16.0))))
    ink = np.asarray(ink.resize((72, 72), Image.Resampling.BICUBIC), dtype=np.float64) / 255.0
    h, w = 120, 160
    y, x = np.mgrid[0:h, 0:w]
    alpha = np.zeros((h, w))
    alpha[30:102, 58:130] = ink  # off centre, margins of different sizes
    if style == "pen":  # blue ink on cream paper with a shadow across it
        paper = np.array([246.0, 240.0, 226.0]) * (1.0 - 0.18 * x / w)[..., None]
        pen = np.array([28.0, 52.0, 150.0])
        rgb = paper * (1 - alpha[..., None]) + pen * alpha[..., None]
        return np.uint8(np.rint(rgb))
    if style == "chalk":  # light chalk on a dark green board
        board = np.array([38.0, 66.0, 52.0]) + 6.0 * np.sin(y / 7.0)[..., None]
        chalk = np.array([236.0, 238.0, 228.0])
        rgb = board * (1 - alpha[..., None]) + chalk * alpha[..., None]
        return np.uint8(np.rint(rgb))
    # A drawing app's export: black strokes on a transparent background.
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., 3] = np.uint8(np.rint(alpha * 255.0))
    return rgba


# -------------------------------------------------------------------------------- the build


def load_hooks(path: Path) -> types.ModuleType:
    """The example's hook file as a module (the app loads the same file)."""
    spec = importlib.util.spec_from_file_location("digits_hooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build() -> dict[str, bytes]:
    """Every generated file of the example: relative path -> bytes."""
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    hooks = load_hooks(HERE / "digits_hooks.py")
    model = types.SimpleNamespace(input_shape=INPUT_SHAPE)

    def features(grid: np.ndarray) -> np.ndarray:
        # As the app: the PNG decoded, then the hook.
        pixels = np.asarray(Image.open(io.BytesIO(png(render_grid(grid.reshape(8, 8))))))
        return hooks.preprocess(pixels, model).reshape(-1)

    digits = load_digits()
    index = np.arange(len(digits.target))
    train, held = train_test_split(
        index, test_size=HELD_BACK, random_state=SEED, stratify=digits.target
    )
    x_train = np.stack([features(digits.data[i]) for i in train]) / 16.0
    with threadpool_limits(limits=1):
        mlp = MLPClassifier(
            hidden_layer_sizes=(HIDDEN,), solver="lbfgs", alpha=1e-2, max_iter=400,
            random_state=SEED,
        ).fit(x_train, digits.target[train])  # fmt: skip
    w1, w2 = mlp.coefs_
    b1, b2 = mlp.intercepts_
    onnx = mlp_onnx(w1 / 16.0, b1, w2, b2)  # the /16 of the inputs folded into w1

    files = {"digits.onnx": onnx, "labels.txt": ("\n".join(LABELS) + "\n").encode()}
    for i in held:
        files[f"heldout/{digits.target[i]}/{i:04d}.png"] = png(render_grid(digits.images[i]))
    samples = {}
    for style, digit in SAMPLE_STYLES.items():
        first = next(i for i in held if digits.target[i] == digit)
        name = f"samples/{style}-{digit}.png"
        files[name] = png(render_sample(digits.images[first], style))
        samples[name] = digit

    expected = _answers(onnx, hooks, model, files, samples, held, digits.target)
    files["expected.json"] = (json.dumps(expected, indent=2) + "\n").encode()
    return files


def _answers(onnx, hooks, model, files, samples, held, target) -> dict:
    """Native onnxruntime through the hook on the samples and the held-back set."""
    import onnxruntime as ort
    from PIL import Image

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])

    def probabilities(name: str) -> np.ndarray:
        pixels = np.asarray(Image.open(io.BytesIO(files[name])))
        x = hooks.preprocess(pixels, model)
        z = session.run(["logits"], {"input": x})[0][0].astype(np.float64)
        e = np.exp(z - z.max())
        return e / e.sum()

    answers = {}
    for name, digit in samples.items():
        p = probabilities(name)
        answers[name] = {"digit": digit, "top1": LABELS[int(p.argmax())],
                         "probability": round(float(p.max()), 6)}  # fmt: skip
    correct = sum(
        int(probabilities(f"heldout/{target[i]}/{i:04d}.png").argmax()) == target[i] for i in held
    )
    accuracy = round(correct / len(held), 6)
    return {
        "samples": answers,
        "heldout": {"images": len(held), "top1_correct": int(correct), "top1_accuracy": accuracy},
    }


def sha256sums(files: dict[str, bytes]) -> bytes:
    """``sha256sum`` lines for every file, sorted by path (``sha256sum -c`` reads them)."""
    lines = [f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files)]
    return "".join(lines).encode()


def write(files: dict[str, bytes], root: Path) -> None:
    """Write the files under ``root``, replacing the generated folders."""
    for folder in ("heldout", "samples"):
        if (root / folder).exists():
            shutil.rmtree(root / folder)
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    (root / "SHA256SUMS").write_bytes(sha256sums(files))


def check(files: dict[str, bytes]) -> list[str]:
    """What differs between a fresh build and the committed files (empty: identical)."""
    committed = (HERE / "SHA256SUMS").read_bytes() if (HERE / "SHA256SUMS").exists() else b""
    problems = []
    if committed != sha256sums(files):
        problems.append("SHA256SUMS differs from a fresh build's")
    listed = {line.split("  ", 1)[1] for line in committed.decode().splitlines() if line}
    for path in sorted(set(files) | listed):
        have = HERE / path
        if path not in files:
            problems.append(f"{path}: committed, but the build makes no such file")
        elif not have.is_file():
            problems.append(f"{path}: missing")
        elif have.read_bytes() != files[path]:
            problems.append(f"{path}: differs from a fresh build")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Build; write the files, or with --check compare them with the committed ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; compare a fresh build with the files"
    )
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        problems = check(files)
        for problem in problems:
            print(f"make_digits: {problem}", file=sys.stderr)
        if problems:
            return 1
        print(f"make_digits: all {len(files)} files match SHA256SUMS and a fresh build")
        return 0
    if build() != files:
        print("make_digits: two builds differ; nothing written", file=sys.stderr)
        return 1
    write(files, HERE)
    heldout = json.loads(files["expected.json"])["heldout"]
    print(
        f"make_digits: wrote {len(files)} files to {HERE.name}/; held-back top-1 "
        f"{heldout['top1_correct']}/{heldout['images']} (native onnxruntime, through the hook)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
