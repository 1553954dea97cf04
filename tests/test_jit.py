"""lmz.runtime.jit: cached kernels load without numba's full target set-up, with the same results,
and anything compiled later in the same process still gets the complete context."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from lmz.runtime import jit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One process: a kernel compiled without numba's runtime (bitloop.scores_cum), then an lmz kernel
# that allocates (x86._transform copies its input: the runtime), then a new function compiled on
# the spot that needs numba's array implementations (np.sum).
_CODE = """
import json, sys
import numpy as np
from numba.core.runtime import rtsys
from lmz.runtime import x86
from lmz.runtime.jit import fast_cache_load
from lmz.runtime.stack import bitloop
cum = np.zeros((1, 257), dtype=np.int64)
bitloop.scores_cum(np.arange(256, dtype=np.int32)[None] * 37, cum)
nrt_free = not rtsys._init
raw = bytes((np.arange(5000) * 7919 % 251).astype(np.uint8)) + bytes([0xE8, 1, 2, 3, 0]) * 9
enc = x86.encode(raw)
loaded_without_refresh = "numba.np.arraymath" not in sys.modules
from numba import njit
total = njit(lambda a: np.sum(a))(np.frombuffer(enc, dtype=np.uint8).astype(np.int64))
# ... and one that calls the kernel loaded without the refresh
calls = njit(lambda a: x86._transform(a, 1))(np.frombuffer(raw, dtype=np.uint8)).tobytes() == enc
print(json.dumps(dict(fast=fast_cache_load(), no_refresh=loaded_without_refresh, enc=enc.hex(), nrt_free=nrt_free,
                      cum=cum.tolist(),
                      back=x86.decode(enc) == raw, total=int(total), calls=calls)))
"""


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def test_the_pinned_numba_gets_the_fast_loader():
    """The loader leans on numba's internals: a numba upgrade must come here first (and the pin
    in pyproject.toml is what keeps every kernel's bits, too)."""
    import numba

    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        assert f'"numba=={jit.PINNED_NUMBA}"' in f.read()
    assert numba.__version__ == jit.PINNED_NUMBA
    assert jit.fast_cache_load()


def test_cached_kernels_load_without_the_full_set_up(tmp_path):
    # the first run compiles x86's kernel unless its cache exists (next to the module, or in
    # NUMBA_CACHE_DIR where that is read-only); the second loads it
    cold = _run(tmp_path)
    warm = _run(tmp_path)
    assert cold["enc"] == warm["enc"] and cold["back"] and warm["back"]
    assert cold["total"] == warm["total"] == sum(bytes.fromhex(warm["enc"]))
    assert cold["calls"] and warm["calls"]
    assert cold["cum"] == warm["cum"] and warm["cum"][0][-1] == 1 << 16
    assert warm["fast"] and warm["no_refresh"]  # loaded from the cache, numba's set-up skipped
    assert warm["nrt_free"] and not cold["nrt_free"]  # ... and the runtime until a kernel needs it
