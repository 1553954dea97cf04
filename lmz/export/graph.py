"""Small helpers for writing integer-exact ONNX graphs by hand with onnx.helper."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 18


class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0
        self._rows = {}  # lookup table -> its [1, 256] row (lut)

    def name(self, base="t"):
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, value, dtype=np.float32, name=None):
        name = name or self.name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def weight(self, value, name):
        """An integer weight stored in the smallest signed int type, cast to float32 in the graph
        (so the file is int8-sized while every computation stays in exact float32)."""
        v = np.asarray(value, dtype=np.int64)
        m = int(np.abs(v).max(initial=0))
        dt = np.int8 if m < 128 else np.int16 if m < 32768 else np.int32
        if dt is np.int32 and m >= (1 << 24):
            raise ValueError(f"{name}: integers beyond 2**24 are not exact in float32")
        stored = self.const(v, dt, name=f"{name}_q")
        self.nodes.append(helper.make_node("Cast", [stored], [name], to=TensorProto.FLOAT))
        return name

    def op(self, op_type, *inputs, n_out=1, **attrs):
        outs = [self.name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def output(self, value, name):
        """Bind an internal value to a graph output name."""
        self.nodes.append(helper.make_node("Identity", [value], [name]))

    # integer-exact building blocks (float32 tensors holding integers)
    def floor_shift(self, x, shift: int):
        """floor(x / 2**shift): an exact power-of-two scaling then Floor."""
        return self.op("Floor", self.op("Mul", x, self.const(2.0 ** -shift)))

    def lut(self, table_name, acc, shift: int):
        """table[clip(floor(acc / 2**shift), -128, 127) + 128], for integer acc below 2**24.

        Computed as int(clip(acc / 2**shift + 128, 0, 255)): exact for shift <= 15 (the sum either
        keeps every bit or is clipped), and the Cast truncates the non-negative index, which is
        its floor. The lookup is a GatherElements on the table as one [1, 256] row (onnxruntime's
        Gather copies element by element; GatherElements is several times faster here)."""
        if shift > 15:
            raise ValueError(f"lut: shift {shift} > 15 is not exact in float32")
        x = self.op("Add", self.op("Mul", acc, self.const(2.0 ** -shift)), self.const(128.0))
        idx = self.op("Cast", self.op("Clip", x, self.const(0.0), self.const(255.0)), to=TensorProto.INT64)
        if table_name not in self._rows:
            self._rows[table_name] = self.op("Reshape", table_name, self.const(np.array([1, 256]), np.int64))
        flat = self.op("Reshape", idx, self.const(np.array([1, -1]), np.int64))
        return self.op("Reshape", self.op("GatherElements", self._rows[table_name], flat, axis=1), self.op("Shape", acc))

    # int8 matrix products (MatMulInteger): exact on every CPU when the uint8 operand stays in 0..127
    # (the brief: AVX2's 16-bit pair sums saturate beyond that), and 2-3x faster than float32 MatMul
    def u8_halves(self, h):
        """[relu(h) | relu(-h)] as uint8 [L, 2K], for h holding integers in [-127, 127]."""
        pos, neg = self.op("Relu", h), self.op("Relu", self.op("Neg", h))
        return self.op("Cast", self.op("Concat", pos, neg, axis=1), to=TensorProto.UINT8)

    def s8_halves(self, w, name):
        """The int8 weight [K, N] (stored once, as `name`_q) stacked over its negation: [2K, N]."""
        v = np.asarray(w, dtype=np.int64)
        if np.abs(v).max(initial=0) > 127:
            raise ValueError(f"{name}: an int8 matrix product needs weights in [-127, 127]")
        stored = self.const(v, np.int8, name=f"{name}_q")
        return self.op("Concat", stored, self.op("Neg", stored), axis=0)

    def matmul_s8(self, halves, w_halves):
        """h @ w as float32 integers, from u8_halves(h) and s8_halves(w): relu(h) @ w - relu(-h) @ w."""
        return self.op("Cast", self.op("MatMulInteger", halves, w_halves), to=TensorProto.FLOAT)

    def model(self, inputs, outputs, name="lmz"):
        g = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lmz-export")
        m.ir_version = 8
        return m


def io_specs(chunk: int, state_size: int, lanes: int | None = None):
    """The runtime contract's inputs and outputs (lanes is the only axis that may be free)."""
    L = lanes or "lanes"
    ins = [helper.make_tensor_value_info("bytes", TensorProto.INT64, [L, chunk]),
           helper.make_tensor_value_info("state", TensorProto.FLOAT, [L, state_size])]
    outs = [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [L, chunk, 256]),
            helper.make_tensor_value_info("state_out", TensorProto.FLOAT, [L, state_size])]
    return ins, outs
