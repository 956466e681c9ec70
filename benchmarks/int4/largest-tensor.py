#!/usr/bin/env python3
"""Prints the largest initializer of an ONNX file (name, element type, bytes) and which operators read it.

Standard library only (a minimal protobuf wire reader: ModelProto.graph = 7, GraphProto.node = 1 /
initializer = 5, NodeProto.input = 1 / op_type = 4, TensorProto.dims = 1 / data_type = 2 / name = 8 / raw_data = 9,
typed data fields 4-7, 10, 11, 13). Usage: largest-tensor.py model.onnx
"""
import sys

TYPES = {1: "float", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 10: "float16", 11: "double", 21: "uint4", 22: "int4"}


def varint(b, i):
    shift = result = 0
    while True:
        c = b[i]; i += 1
        result |= (c & 0x7F) << shift
        if c < 0x80: return result, i
        shift += 7


def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0: v, i = varint(b, i)
        elif wire == 1: v, i = b[i:i + 8], i + 8
        elif wire == 5: v, i = b[i:i + 4], i + 4
        elif wire == 2:
            n, i = varint(b, i); v, i = b[i:i + n], i + n
        else: raise ValueError(wire)
        yield num, wire, v


def main(path):
    data = open(path, "rb").read()
    graph = next(v for n, w, v in fields(data) if n == 7)
    tensors, readers = [], {}
    for n, w, v in fields(graph):
        if n == 1:
            node = list(fields(v))
            op = next((x.decode() for k, _, x in node if k == 4), "?")
            for k, _, x in node:
                if k == 1: readers.setdefault(x.decode(), set()).add(op)
        elif n == 5:
            name, dtype, size, dims = "", 0, 0, []
            for k, wt, x in fields(v):
                if k == 1: dims.append(x) if wt == 0 else dims.extend(_packed(x))
                elif k == 2: dtype = x
                elif k == 8: name = x.decode()
                elif k in (4, 5, 6, 7, 9, 10, 11, 13) and wt == 2: size += len(x)
            tensors.append((size, name, TYPES.get(dtype, str(dtype)), dims))
    size, name, dtype, dims = max(tensors)
    print(f"{name}\t{dtype}{dims}\t{size} B\tread by {','.join(sorted(readers.get(name, [])))}")


def _packed(x):
    out, i = [], 0
    while i < len(x):
        v, i = varint(x, i); out.append(v)
    return out


if __name__ == "__main__":
    main(sys.argv[1])
