"""numba for lmz's kernels: `njit`, and loading cached kernels without numba's full set-up.

Every compiled kernel in lmz (the predictor stack, deflate, PNG/JPEG, PCM, x86) is an
`@njit(cache=True)` function imported from here.

Start-up: before loading *any* cached kernel, numba 0.68 refreshes its CPU target context, which
imports every implementation numba has (arrays, linear algebra and with it `scipy.linalg` where
SciPy is installed, typed containers, random, ...): 0.6-1.0 s, the largest single cost of
compressing a small file. Loading cached machine code needs none of it: the cache holds the
compiled library, and calling it from Python only boxes and unboxes arguments. So `Cache`'s
loader here only loads, after initialising numba's runtime (NRT: 0.05 s) if the kernel's machine
code refers to it (kernels compiled with `_nrt=False`, such as the predictor stack's, do not);
the full refresh still happens, unchanged, the first time anything is *compiled* (numba's
compiler refreshes the contexts itself), so a cache miss, or a user's own numba code in the same
process, sees the complete context as before. The machine code, and so every bit lmz writes,
is the same either way.

This relies on numba's internals (`Cache.load_overload`), so it is installed only for the numba
version that pyproject.toml pins; any other version loads the usual way.
"""

from __future__ import annotations

import numba
from numba import njit  # noqa: F401  (the decorator every kernel module uses)
from numba.core import caching
from numba.core.runtime import rtsys

PINNED_NUMBA = "0.68.1"


def _uses_nrt(data) -> bool:
    """Whether a cached compile result's machine code refers to numba's runtime (its symbols all
    start NRT_ / nrt_ / _nrt_); anything but object code counts as yes."""
    name, kind, payload = data[0]
    if kind != "object":
        return True
    return any(tok in blob for blob in payload for tok in (b"NRT_", b"nrt_"))


def _load_overload(self, sig, target_context):
    """numba's `Cache.load_overload` (and `_load_overload`) without the target context's full refresh."""
    with self._guard_against_spurious_io_errors():
        if not self._enabled:
            return None
        data = self._cache_file.load(self._index_key(sig, target_context.codegen()))
        if data is None:
            return None
        if _uses_nrt(data):
            rtsys.initialize(target_context)
        return self._impl.rebuild(target_context, data)


def fast_cache_load() -> bool:
    """Whether cached kernels load without the full refresh (the pinned numba only)."""
    return caching.Cache.load_overload is _load_overload


if numba.__version__ == PINNED_NUMBA:
    caching.Cache.load_overload = _load_overload
