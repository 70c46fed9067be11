"""Just enough of the ONNX file format (protocol buffers) to write a model for onnxruntime to load.

Field numbers are onnx.proto's (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto,
TypeProto, TensorShapeProto, OperatorSetIdProto). Writing them here spares the default install the ``onnx``
package and protobuf for the few messages the embedding model's graph is made of.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

# TensorProto.DataType
FLOAT = 1
UINT8 = 2
INT64 = 7
_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int64): INT64}

# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64s are written as ten bytes, two's complement
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _varint(field << 3 | 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _varint(field << 3 | 5) + struct.pack("<f", value)


def tensor(name: str, array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array)
    return (
        b"".join(_int(1, dim) for dim in array.shape)
        + _int(2, _TYPES[array.dtype])
        + _bytes(8, name)
        + _bytes(9, array.tobytes())
    )


def node(op: str, inputs: Sequence[str], outputs: Sequence[str], *, domain: str = "", **attrs: object) -> bytes:
    out = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
    out += _bytes(3, outputs[0]) + _bytes(4, op)
    for key, value in attrs.items():
        if isinstance(value, float):
            attr = _bytes(1, key) + _float(2, value) + _int(20, _ATTR_FLOAT)
        elif isinstance(value, int):
            attr = _bytes(1, key) + _int(3, value) + _int(20, _ATTR_INT)
        else:
            attr = _bytes(1, key) + b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)  # type: ignore[attr-defined]
        out += _bytes(5, attr)
    if domain:
        out += _bytes(7, domain)
    return out


def value_info(name: str, elem_type: int, dims: Sequence[int | str]) -> bytes:
    shape = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, elem_type) + _bytes(2, shape)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def model(
    nodes: Iterable[bytes],
    initializers: Iterable[bytes],
    inputs: Iterable[bytes],
    outputs: Iterable[bytes],
    opsets: dict[str, int],
) -> bytes:
    graph = b"".join(_bytes(1, n) for n in nodes) + _bytes(2, "graph")
    graph += b"".join(_bytes(5, t) for t in initializers)
    graph += b"".join(_bytes(11, v) for v in inputs) + b"".join(_bytes(12, v) for v in outputs)
    opset = b"".join(_bytes(8, _bytes(1, domain) + _int(2, version)) for domain, version in opsets.items())
    return _int(1, 8) + opset + _bytes(7, graph)  # ir_version 8
