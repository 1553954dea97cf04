"""Crafted streams with valid checksums: every field is checked before it is used or allocated.

Each case here was accepted by the decoder of format version 1 (tracebacks, MemoryError, hours of
work, GBs of memory). Now every one is a FormatError (exit code 2) raised before the work starts.
"""
from __future__ import annotations

import json
import struct
import time
import zlib

import pytest

from lmz.runtime import api
from lmz.runtime import container as ct
from lmz.runtime import stack_params as sp
from lmz.runtime.errors import FormatError, MemoryLimitError


def v2_stream(fp: str, stack_id: int, preset: int, overrides: bytes | None, frames: bytes = b"",
              max_frame: int = 1 << 22, name: bytes = b"fake", coder: int = 1) -> bytes:
    """A version-2 stream built field by field (docs/FORMAT.md), with a correct header checksum."""
    body = bytes.fromhex(fp)[:8] + bytes([len(name)]) + name + bytes([stack_id]) + ct.varint(preset)
    flags = 0
    if overrides is not None:
        flags |= ct.FLAG_OVERRIDES
        body += ct.varint(len(overrides)) + overrides
    body += bytes([coder]) + ct.varint(max_frame)
    head = ct.MAGIC + bytes([2, flags]) + ct.varint(len(body) + 4) + body
    return head + struct.pack("<I", zlib.crc32(head)) + frames


def v1_stream(fp: str, stack_id: int, params: bytes, frames: bytes = b"", max_frame: int = 1 << 22,
              name: bytes = b"fake") -> bytes:
    """A version-1 stream (the whole parameter set as JSON), with a correct header checksum."""
    body = bytes.fromhex(fp) + bytes([len(name)]) + name + struct.pack("<BH", stack_id, len(params)) + params
    body += struct.pack("<BBBI", 1, 16, 1, max_frame)
    total = 8 + len(body) + 4
    head = ct.MAGIC + struct.pack("<BBH", 1, 0, total) + body
    return head + struct.pack("<I", zlib.crc32(head)) + frames


BAD_PARAMS = [
    b'{"min_lane":"x"}', b'{"min_lane":null}', b'{"table_bits":1e400}', b'{"mixer_ctx":9}', b'{"mixer_lr":1e30}',
    b'{"table_bits":40}', b'{"hist_bits":60}', b'{"match_bits":64}', b'{"orders":[0,1,2,3,4,5,6,7,8,9,10]}',
    b'{"sse_w":"abc"}', b'{"use_model":2}', b'{"nope":1}', b'[1,2]', b'{"a":NaN}', b'{"table_bits":-1}',
    b'{"img_w":true}', b'{"orders":[0,1.5]}', b"\xff\xfe", b"{" * 2000 + b"}" * 2000,
    b'{"orders":' + b"[" * 2000 + b"]" * 2000 + b"}",
]


@pytest.mark.parametrize("params", BAD_PARAMS, ids=range(len(BAD_PARAMS)))
def test_bad_stack_parameters_are_format_errors(params, fake_model):
    fp = fake_model.info.fingerprint
    for blob in (v2_stream(fp, sp.STACK_MIX, 1, params), v1_stream(fp, sp.STACK_MIX, params)):
        with pytest.raises(FormatError):
            api.decompress(blob + ct.pack_end(0, 0), model=fake_model)


def test_model_only_stack_takes_no_parameters(fake_model):
    fp = fake_model.info.fingerprint
    with pytest.raises(FormatError):
        api.decompress(v2_stream(fp, sp.STACK_MODEL_ONLY, 0, b'{"table_bits":20}') + ct.pack_end(0, 0),
                       model=fake_model)
    with pytest.raises(FormatError, match="preset"):
        api.decompress(v2_stream(fp, sp.STACK_MIX, 99, None) + ct.pack_end(0, 0), model=fake_model)


def test_names_in_a_stream_are_never_paths(fake_model):
    for name in (b"/etc/passwd", b"../../x", b".hidden", b"a/b", b"a\\b", b"\xff"):
        with pytest.raises(FormatError):
            api.decompress(v2_stream(fake_model.info.fingerprint, 0, 0, None, name=name) + ct.pack_end(0, 0))


def test_memory_limit_is_checked_from_the_header(fake_model):
    """Tables the limit cannot hold are refused before anything is allocated (GBs in version 1)."""
    fp = fake_model.info.fingerprint
    big = json.dumps({"table_bits": 30, "bh_bits": 30}).encode()
    t = time.perf_counter()
    for blob in (v2_stream(fp, sp.STACK_MIX, 1, big), v1_stream(fp, sp.STACK_MIX, big)):
        with pytest.raises(MemoryLimitError, match="--memory"):
            api.decompress(blob + ct.pack_end(0, 0), model=fake_model)
    assert time.perf_counter() - t < 5
    # and a smaller limit refuses the default tables too, with the need in the message
    d = api.Decompressor(fake_model, memory_limit=64 << 20)
    with pytest.raises(MemoryLimitError, match="MiB"):
        d.decompress(api.compress(b"abc" * 100, model=fake_model))


def test_many_lanes_count_against_the_limit(fake_model):
    """65,536 lanes of one byte each: 4+ GiB of per-lane history in version 1; refused now."""
    fp = fake_model.info.fingerprint
    n = 1 << 16
    lanes = bytes([ct.FRAME_MODELED]) + ct.varint(n) + ct.varint(n) + bytes(n // 8) + b"\x00\x00\x00" * n
    with pytest.raises(FormatError):
        api.decompress(v2_stream(fp, sp.STACK_MIX, 1, None, lanes), model=fake_model)


@pytest.mark.parametrize("stack", [sp.STACK_MODEL_ONLY, sp.STACK_MIX])
def test_a_huge_frame_from_a_few_coded_bytes_is_refused_at_once(stack, fake_model):
    """An 83-byte stream claiming a 1 GiB lane ran for days in version 1; version 2 keeps every coded
    byte, so the claim is checked against what the stack can code from the bytes present."""
    fp = fake_model.info.fingerprint
    n = 1 << 30
    frame = bytes([ct.FRAME_MODELED]) + ct.varint(n) + ct.varint(1) + b"\x00" + ct.varint(20) + b"\0\0" + bytes(20)
    blob = v2_stream(fp, stack, sp.BASE_PRESET[stack], None, frame, max_frame=n) + ct.pack_end(n, 0)
    t = time.perf_counter()
    with pytest.raises(FormatError):
        api.Decompressor(fake_model, memory_limit=1 << 40).decompress(blob)
    assert time.perf_counter() - t < 5


def test_coded_length_bound_holds_for_real_streams(fake_model):
    """The bound never refuses what the encoder writes, even for the most compressible input."""
    for mix in ("off", "on"):
        data = bytes(20_000)
        blob = api.compress(data, model=fake_model, mix=mix, lanes=2, mix_params={"table_bits": 16, "bh_bits": 16}
                            if mix == "on" else None)
        assert mix == "off" or len(blob) < 200  # the mix codes 20,000 zeros in a few dozen bytes
        assert api.decompress(blob, model=fake_model) == data


def test_cli_memory_option(tmp_path, fake_model):
    from typer.testing import CliRunner

    from lmz.runtime.cli import app, parse_size

    assert parse_size("512MiB") == 512 << 20 and parse_size("2G") == 2 << 30 and parse_size("1000") == 1000
    fp = fake_model.info.fingerprint
    f = tmp_path / "big.lmz"
    f.write_bytes(v2_stream(fp, sp.STACK_MIX, 1, b'{"table_bits":28}') + ct.pack_end(0, 0))
    r = CliRunner().invoke(app, ["test", str(f)])
    assert r.exit_code == 2 and "--memory" in r.output
    r = CliRunner().invoke(app, ["test", "--memory", "lots", str(f)])
    assert r.exit_code == 1


def own_stack_frame(stack_id: int, preset: int, overrides: bytes, n: int = 100, coded: bytes = bytes(20)) -> bytes:
    """A frame of type 03 (its own stack) with one coded lane."""
    return (bytes([ct.FRAME_OWN_STACK, stack_id]) + ct.varint(preset) + ct.varint(len(overrides)) + overrides
            + ct.varint(n) + ct.varint(1) + b"\x00" + ct.varint(len(coded)) + b"\0\0" + coded)


@pytest.mark.parametrize("frame,err", [
    (own_stack_frame(7, 0, b""), "stack id"),
    (own_stack_frame(sp.STACK_MIX, 99, b""), "preset"),
    (own_stack_frame(sp.STACK_MIX, 3, b"x"), "overrides"),
    (own_stack_frame(sp.STACK_MIX, 3, b'{"table_bits":99}'), "table_bits"),
    (own_stack_frame(sp.STACK_MIX, 3, b'{"nope":1}'), "unknown"),
    (own_stack_frame(sp.STACK_MODEL_ONLY, 0, b'{"table_bits":20}'), "unknown"),
    (own_stack_frame(sp.STACK_MODEL_ONLY, 0, b"", n=1 << 20), "more than the model stack"),
    (own_stack_frame(sp.STACK_MIX, 4, b'{"table_bits":30,"bh_bits":30}'), "--memory"),
], ids=["stack-id", "preset", "overrides-len", "range", "unknown-key", "model-params", "bound", "memory"])
def test_frames_with_their_own_stack_are_checked_first(frame, err, fake_model):
    """Frame type 03 names its stack: the id, preset, overrides, parameters, the coded-length bound of
    that stack and its memory are all checked before any work."""
    blob = v2_stream(fake_model.info.fingerprint, sp.STACK_MIX, 1, None, frame) + ct.pack_end(100, 0)
    with pytest.raises(FormatError, match=err):
        api.decompress(blob, model=fake_model)


def test_version1_streams_have_no_own_stack_frames(fake_model):
    fp = fake_model.info.fingerprint
    params = sp.dump_params(sp.PRESETS[sp.STACK_MIX][1])
    with pytest.raises(FormatError, match="frame type"):
        api.decompress(v1_stream(fp, sp.STACK_MIX, params, own_stack_frame(sp.STACK_MIX, 3, b"")), model=fake_model)
