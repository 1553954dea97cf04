"""Small helpers for writing integer-exact ONNX graphs by hand with onnx.helper."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 18


class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits, self._n = [], [], 0

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
        """table[clip(floor(acc / 2**shift), -128, 127) + 128]."""
        idx = self.op("Clip", self.floor_shift(acc, shift), self.const(-128.0), self.const(127.0))
        idx = self.op("Cast", self.op("Add", idx, self.const(128.0)), to=TensorProto.INT64)
        return self.op("Gather", table_name, idx, axis=0)

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
