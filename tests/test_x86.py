"""The x86 call-address transform (runtime/x86.py, mix presets 5 and 14 of --mix auto): exact inverse on any
bytes, absolute targets for near calls, and frames coded with it round-trip."""
from __future__ import annotations

import numpy as np

from lmz.runtime import api, x86
from lmz.runtime import stack_params as sp


def _code(n_calls: int = 600) -> bytes:
    """x86-like bytes: calls of a few functions from many places (relative targets differ)."""
    rng = np.random.default_rng(1)
    out = bytearray()
    targets = [0x1000, 0x2400, 0x5000]
    for i in range(n_calls):
        out += bytes(rng.integers(0x40, 0x90, 7, dtype=np.uint8))  # some non-call instructions
        rel = (targets[i % 3] - (len(out) + 5)) & 0xFFFFFFFF
        out += b"\xe8" + rel.to_bytes(4, "little")
    return bytes(out)


def test_inverse_on_any_bytes():
    rng = np.random.default_rng(0)
    for raw in (b"", b"\xe8", b"\xe8\x00\x00\x00", b"\xe9\xff\xff\xff\xff\xe8", bytes(rng.integers(0, 256, 50_000,
                                                                                                  dtype=np.uint8)),
                bytes([0xE8, 0, 0, 0, 0] * 1000), _code()):
        assert x86.decode(x86.encode(raw)) == raw


def test_near_calls_become_absolute():
    code = _code()
    enc = x86.encode(code)
    assert enc != code and len(enc) == len(code)
    a = np.frombuffer(enc, dtype=np.uint8)
    calls = np.flatnonzero(a == 0xE8)
    targets = {int.from_bytes(enc[i + 1: i + 4], "little") for i in calls if i + 4 < len(enc)}
    assert len(targets) <= 6  # three functions (+ wrap-around), not one target per call site
    assert x86.looks_like_x86(code) and not x86.looks_like_x86(bytes(np.random.default_rng(2).integers(
        0, 256, 100_000, dtype=np.uint8)))


def test_x86_frames_round_trip(fake_model):
    code = _code(1500)
    blob = api.compress(code, model=fake_model, frame_size=8192, mix_params={"table_bits": 16, "bh_bits": 16})
    assert sp.PRESET_X86 in [preset for _, preset in api.scan(blob)["frame_kinds"]]
    assert api.decompress(blob, model=fake_model) == code
    plain = api.compress(code, model=fake_model, mix="on", lanes=1, frame_size=8192,
                         mix_params={"use_model": False, "sparse": [2, 6, 12, 10], "max_lanes": 1})
    assert len(blob) < len(plain)  # the transform pays on code
