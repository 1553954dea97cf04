"""A cache prefetch hint for the compiled kernels: ``prefetch(a, i)`` asks the CPU to start loading
element ``i`` of the 1-D array ``a`` (LLVM's ``llvm.prefetch``, a read with high locality). It is
a hint only: it reads nothing into the program and cannot fault, so the results are the same with
or without it, on every CPU (an emulator or a CPU without the instruction drops it). The tables of
the stack are tens of MiB and read at hashed slots: without the hint, each of those reads waits for
memory in turn."""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch"]


@intrinsic
def prefetch(typingctx, arr, index):
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        aty, ity = sig.args
        a = context.make_array(aty)(context, builder, args[0])
        i = context.cast(builder, args[1], ity, types.intp)
        ptr = builder.gep(a.data, [i])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                                            "llvm.prefetch.p0i8")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(arr, index), codegen
