"""Compatibility module: the predictor stack lives in :mod:`lmz.runtime.stack` (components with
compiled kernels); this name stays for the loop and for code that imported it."""
from .stack import ALGO, SQUASH, STACK_ID, STRETCH, MixStack, squash, stretch, table_checksums
from .stack.tables import BH_COUNTS, BH_NEXT
from .stack.tables import c0_scramble as _c0_scramble
from .stack.tables import mix64 as _mix64

__all__ = ["ALGO", "MixStack", "SQUASH", "STRETCH", "squash", "stretch", "table_checksums", "STACK_ID",
           "BH_COUNTS", "BH_NEXT", "_c0_scramble", "_mix64"]
