"""Small real ONNX models, written as protobuf bytes: the venv has no ``onnx`` package
(requirements.lock pins only onnxruntime), and a dozen lines of wire-format encoding (field
numbers from onnx.proto) give exact control over every variant. Native onnxruntime and
onnxruntime-web load and run them like any exported model.
"""

from __future__ import annotations

import numpy as np


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


FLOAT, UINT8, BOOL = 1, 2, 9  # TensorProto.DataType


def value_info(name: str, dims: list, elem: int = FLOAT) -> bytes:
    """ValueInfoProto; a dim is an int, a symbolic name (str) or None (unknown)."""

    def dim(d):
        return b"" if d is None else _int(1, d) if isinstance(d, int) else _str(2, d)

    shape = b"".join(_bytes(1, dim(d)) for d in dims)
    return _str(1, name) + _bytes(2, _bytes(1, _int(1, elem) + _bytes(2, shape)))


def node(op: str, inputs: list[str], outputs: list[str], **attrs) -> bytes:
    body = b"".join(_str(1, i) for i in inputs) + b"".join(_str(2, o) for o in outputs)
    body += _str(4, op)
    for key, value in attrs.items():  # AttributeProto: INT (type 2) or INTS (type 7)
        if isinstance(value, int):
            body += _bytes(5, _str(1, key) + _int(3, value) + _int(20, 2))
        else:
            body += _bytes(5, _str(1, key) + b"".join(_int(8, v) for v in value) + _int(20, 7))
    return body


def tensor(name: str, array, elem: int = FLOAT) -> bytes:
    a = np.ascontiguousarray(array, dtype=np.float32 if elem == FLOAT else np.bool_)
    dims = b"".join(_int(1, d) for d in a.shape)
    return dims + _int(2, elem) + _str(8, name) + _bytes(9, a.tobytes())


def onnx_model(nodes, inputs, outputs, initializers=()) -> bytes:
    graph = b"".join(_bytes(1, n) for n in nodes) + _str(2, "test")
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += b"".join(_bytes(11, v) for v in inputs) + b"".join(_bytes(12, v) for v in outputs)
    return _int(1, 8) + _bytes(8, _str(1, "") + _int(2, 13)) + _bytes(7, graph)  # IR 8, opset 13


def colour_model(weights, in_dims=(1, 3, 32, 32), out_dims=None) -> bytes:
    """logits = (per-channel mean of the input) @ weights: a real classifier of colours."""
    weights = np.asarray(weights, dtype=np.float32)
    out_dims = out_dims or [1, weights.shape[1]]
    return onnx_model(
        [
            node("GlobalAveragePool", ["x"], ["pooled"]),
            node("Flatten", ["pooled"], ["flat"]),
            node("MatMul", ["flat", "w"], ["logits"]),
        ],
        [value_info("x", list(in_dims))],
        [value_info("logits", out_dims)],
        [tensor("w", weights)],
    )


def nhwc_colour_model(channels, weights=None):
    """colour_model for a channels-last input [1, 32, 32, C]."""
    weights = np.ones((channels, 3)) if weights is None else weights
    return onnx_model(
        [node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
         node("GlobalAveragePool", ["t"], ["p"]), node("Flatten", ["p"], ["f"]),
         node("MatMul", ["f", "w"], ["logits"])],
        [value_info("x", [1, 32, 32, channels])],
        [value_info("logits", [1, np.shape(weights)[1]])],
        [tensor("w", weights)],
    )  # fmt: skip
