"""The predictor stack (container stack id 1) as components with compiled (numba) kernels.

tables.py     lookup tables (squash/stretch, hash finaliser, node offsets, bit-history states)
counters.py   adaptive counters in a checked hash table (direct contexts, state maps, match counters)
bithistory.py bit-history states per hashed context node
mixer.py      logistic mixer (weight sets, batch training)
apm.py        APM/SSE stages
bitloop.py    one decision of all components for all lanes, and the byte loop (compiled)
stack.py      MixStack: parameters, per-byte contexts (orders, words, match, images) and the API
"""
from .stack import ALGO, STACK_ID, MixStack
from .tables import SQUASH, STRETCH, squash, stretch, table_checksums

__all__ = ["ALGO", "MixStack", "SQUASH", "STRETCH", "STACK_ID", "squash", "stretch", "table_checksums"]
