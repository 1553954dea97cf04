"""Fuzzing the decoder: bit flips, truncations, insertions and crafted header fields (checksums
recomputed) over small streams of both format versions and both stacks. Every case must end in an
LmzError or give back exactly the original bytes; nothing else (no traceback, no wrong output, no
hang, no allocation above the memory limit).

CI runs a short pass; `LMZ_FUZZ=N python -m pytest -q tests/test_fuzz.py` runs N cases per stream.
"""
from __future__ import annotations

import os
import random
import struct
import time
import zlib

import pytest
from conftest import TEXT

from lmz.runtime import api
from lmz.runtime import container as ct
from lmz.runtime.errors import LmzError

CASES = int(os.environ.get("LMZ_FUZZ", "15"))
SMALL = {"table_bits": 15, "bh_bits": 15, "hist_bits": 10, "match_bits": 10}
LIMIT = 256 << 20  # the fuzzed decoder's memory limit: every case must stay under it


@pytest.fixture(scope="module")
def streams(fake_model):
    data = TEXT[:700] + bytes(range(256)) + TEXT[:300]
    out = {
        "model-v2": api.compress(data, model=fake_model, mix="off", lanes=3, frame_size=600),
        "mix-v2": api.compress(data, model=fake_model, mix="on", lanes=2, frame_size=700, mix_params=SMALL),
    }
    # a gzip file under --mix auto: a segment table in the header (deflate segments), frames of 1500 bytes
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    gz = (b"\x1f\x8b\x08\x00" + bytes(6) + c.compress(data * 3) + c.flush()
          + struct.pack("<II", zlib.crc32(data * 3), 3 * len(data)))
    # ... a JPEG (kind 4: coefficients) and a PNG (kind 5: pixels), the golden v11 inputs
    from pathlib import Path

    inputs = {"segments-v2": gz}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(api, "SEGMENTS_COMPARED", 0)  # the table even where coding the file as it is is smaller
        out["segments-v2"] = api.compress(gz, model=fake_model, frame_size=1500)
        for name, raw in (("jpeg-v2", "jpeg.raw"), ("png-v2", "png-rgba.raw")):
            inputs[name] = (Path(__file__).parent / "golden" / "v11" / raw).read_bytes()
            out[name] = api.compress(inputs[name], model=fake_model)
    for name in inputs:
        assert ct.read_header(out[name]).segments is not None
    return data, out, inputs


def _fix_header_crc(b: bytes) -> bytes:
    """Recompute a version-2 header's checksum after its fields were changed (a crafted stream)."""
    if len(b) < 7 or b[4] != 2:
        return b
    try:
        length = ct.Reader(b[6:]).varint("header length")
    except LmzError:
        return b
    n = 6 + len(ct.varint(length)) + length
    if not 10 <= n <= len(b):
        return b
    return b[: n - 4] + struct.pack("<I", zlib.crc32(b[: n - 4])) + b[n:]


def _mutations(blob: bytes, rng: random.Random):
    for _ in range(CASES):
        b = bytearray(blob)
        kind = rng.choice(["flip", "flips", "truncate", "insert", "header", "header", "frame-field"])
        if kind == "flip":
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        elif kind == "flips":
            for _ in range(rng.randint(2, 8)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == "truncate":
            b = b[: rng.randrange(len(b))]
        elif kind == "insert":
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif kind == "header":  # a crafted header: any field changed, checksum made valid again
            h = ct.read_header(bytes(b))
            i = rng.randrange(4, h.size - 4)
            b[i] = rng.choice([0, 1, 2, 0x7F, 0x80, 0xFF, rng.randrange(256)])
            b = bytearray(_fix_header_crc(bytes(b)))
        else:  # a frame field right after the header: type, lengths, lane counts
            h = ct.read_header(bytes(b))
            i = rng.randrange(h.size, min(len(b), h.size + 12))
            b[i] = rng.choice([0, 1, 2, 3, 0x7F, 0x80, 0xFF])
        yield kind, bytes(b)


@pytest.mark.parametrize("name", ["model-v2", "mix-v2", "segments-v2", "jpeg-v2", "png-v2", "golden-v1"])
def test_fuzz_decoder(name, streams, fake_model):
    data, out, inputs = streams
    data = inputs.get(name, data)
    if name == "golden-v1":  # a version-1 stream made by the shipped text model (model only)
        from pathlib import Path

        folder = Path(__file__).parent / "golden" / "v1"
        blob, data, model = (folder / "text-model-3lanes.lmz").read_bytes(), (folder / "mixed.raw").read_bytes(), None
    else:
        blob, model = out[name], fake_model
    rng = random.Random(f"{name}-{CASES}")
    dec = api.Decompressor(model, memory_limit=LIMIT)
    counts: dict[str, int] = {}
    for kind, b in _mutations(blob, rng):
        t = time.perf_counter()
        try:
            got = dec.decompress(b)
        except LmzError:
            counts["refused"] = counts.get("refused", 0) + 1
        else:
            assert got == data, f"{kind}: exit 0 with different output"
            counts["same"] = counts.get("same", 0) + 1
        assert time.perf_counter() - t < 60, f"{kind}: decoding took too long"
    assert counts.get("refused", 0) > 0
