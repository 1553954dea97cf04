"""lmz's deflate (runtime/deflate.py) writes zlib's bytes exactly, for every level and memLevel, and
GNU gzip's for every level."""
from __future__ import annotations

import re
import shutil
import subprocess
import zlib

import numpy as np
import pytest

from lmz.runtime import deflate

# the comparisons need the system's zlib to be zlib 1.2.12 or later (zlib-ng and others write other bytes)
_v = re.match(r"(\d+)\.(\d+)\.(\d+)", zlib.ZLIB_RUNTIME_VERSION)
STOCK_ZLIB = bool(_v) and (int(_v[1]), int(_v[2]), int(_v[3])) >= (1, 2, 12) and "ng" not in zlib.ZLIB_RUNTIME_VERSION
needs_zlib = pytest.mark.skipif(not STOCK_ZLIB, reason=f"system zlib {zlib.ZLIB_RUNTIME_VERSION} is not stock zlib")
needs_gzip = pytest.mark.skipif(shutil.which("gzip") is None, reason="no gzip program")


def _zlib(data: bytes, level: int, mem: int = 8, wbits: int = 15) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -wbits, mem)
    return c.compress(data) + c.flush()


def _samples() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    words = [b"the", b"deflate", b"window", b"of", b"lmz", b"match", b"zlib", b"\n", b"lazy", b"tree"]
    text = b" ".join(words[i] for i in rng.integers(0, len(words), 30000))
    src = open(deflate.__file__, "rb").read()
    return {
        "empty": b"", "one": b"x", "two": b"xy", "three": b"xyz", "run": b"a" * 5000,
        "random": rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        "2bit": rng.integers(0, 4, 20000, dtype=np.uint8).tobytes(),
        "source": src,
        # past two window slides (64 KiB), ending inside a match
        "words": text[:150000] + text[:700],
        "tail": (src * 4)[:65536 + 131],
    }


SAMPLES = _samples()


@needs_zlib
@pytest.mark.parametrize("level", range(1, 10))
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_zlib_bytes_every_level(name, level):
    data = SAMPLES[name]
    assert deflate.deflate(data, level) == _zlib(data, level)


@needs_zlib
@pytest.mark.parametrize("level", [1, 4, 6, 9])
@pytest.mark.parametrize("name", ["source", "words", "2bit"])
def test_zlib_bytes_filtered_strategy(name, level):
    data = SAMPLES[name]
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_FILTERED)
    assert deflate.deflate(data, level, strategy=deflate.FILTERED) == c.compress(data) + c.flush()


@needs_zlib
@pytest.mark.parametrize("level,mem,wbits", [(9, 9, 15), (6, 1, 9), (1, 3, 10), (4, 5, 12), (8, 7, 14), (3, 9, 15)])
@pytest.mark.parametrize("name", ["source", "words", "2bit"])
def test_zlib_bytes_other_memlevels_and_windows(name, level, mem, wbits):
    data = SAMPLES[name]
    assert deflate.deflate(data, level, mem, wbits) == _zlib(data, level, mem, wbits)


def _gnu_gzip(data: bytes, level: int) -> bytes:
    """The raw deflate stream of GNU gzip's output (its 10-byte header with -n, 8-byte trailer)."""
    return subprocess.run(["gzip", f"-{level}", "-n", "-c"], input=data, capture_output=True, check=True).stdout[10:-8]


@needs_gzip
@pytest.mark.parametrize("level", range(1, 10))
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_gnu_gzip_bytes_every_level(name, level):
    data = SAMPLES[name]
    assert deflate.deflate(data, level, impl=deflate.GNU) == _gnu_gzip(data, level)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_output_inflates_to_the_input(name):
    data = SAMPLES[name]
    for level in (1, 6, 9):
        assert zlib.decompress(deflate.deflate(data, level), -15) == data
        assert zlib.decompress(deflate.deflate(data, level, impl=deflate.GNU), -15) == data


def test_reproduces_and_find_params():
    data = SAMPLES["words"]
    d9 = deflate.deflate(data, 9)
    assert deflate.reproduces(data, d9, 9)
    assert not deflate.reproduces(data, deflate.deflate(data, 1), 9)
    assert not deflate.reproduces(data, d9[:-1], 9) and not deflate.reproduces(data, d9 + b"\0", 9)
    assert deflate.find_params(data, d9) == (deflate.ZLIB, 9, 8, 15, deflate.DEFAULT)
    assert deflate.find_params(data, deflate.deflate(data, 2)) == (deflate.ZLIB, 2, 8, 15, deflate.DEFAULT)
    gnu = deflate.deflate(data, 1, impl=deflate.GNU)  # other blocks than zlib's (at level 9 the same here)
    assert gnu != deflate.deflate(data, 1) and deflate.find_params(data, gnu) == (deflate.GNU, 1, 8, 15, deflate.DEFAULT)
    assert deflate.find_params(data, d9, prefer=((deflate.GNU, 9, 8),)) == (deflate.GNU, 9, 8, 15, deflate.DEFAULT)
    for level, mem in [(9, 9), (4, 8), (7, 8)]:  # any parameters that reproduce it will do
        target = deflate.deflate(data, level, mem)
        impl, lv, m, wb, st = deflate.find_params(data, target)
        assert deflate.deflate(data, lv, m, wb, impl, st) == target
    assert deflate.find_params(data, deflate.deflate(data, 6, 2)) is None  # memLevel 2 is not searched
    # a stream zlib flushed in the middle is not what one call of deflate writes
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    flushed = c.compress(data[:5000]) + c.flush(zlib.Z_FULL_FLUSH) + c.compress(data[5000:]) + c.flush()
    assert deflate.find_params(data, flushed) is None


def test_parameters_are_checked():
    for bad in [(0, 8, 15), (10, 8, 15), (6, 0, 15), (6, 10, 15), (6, 8, 8), (6, 8, 16)]:
        with pytest.raises(ValueError):
            deflate.deflate(b"abc", *bad)
    for bad in [(6, 9, 15, deflate.GNU), (6, 8, 14, deflate.GNU), (6, 8, 15, 3), (6, 8, 15, 0),
                (6, 8, 15, deflate.GNU, deflate.FILTERED), (6, 8, 15, deflate.ZLIB, 2)]:
        with pytest.raises(ValueError):
            deflate.deflate(b"abc", *bad)
