"""16-bit PCM audio (runtime/pcm.py, mix preset 7 of --mix auto): the residual transform is an exact
inverse on any bytes, WAV headers are parsed strictly, and WAV files of every shape round-trip."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from lmz.runtime import api, blocks, pcm
from lmz.runtime import container as ct
from lmz.runtime import stack_params as sp
from lmz.runtime.errors import CorruptError, FormatError


def _samples(n: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Speech-like int16 samples [n, channels]: a few sines with a slow envelope, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    env = 0.5 + 0.5 * np.sin(t * 0.003)
    ch = np.arange(channels)[None, :]
    x = env * (6000 * np.sin(t * 0.05 + ch) + 2500 * np.sin(t * 0.23 + 2 * ch)) + rng.normal(0, 40, (n, channels))
    return x.round().clip(-32768, 32767).astype("<i2")


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def wav(samples: np.ndarray, before: bytes = b"", after: bytes = b"", tag: int = 1, bits: int = 16,
        data_size: int | None = None, align: int | None = None) -> bytes:
    """A RIFF/WAVE file of `samples` [n, channels] with optional chunks before/after the data chunk."""
    ch = samples.shape[1]
    fmt = struct.pack("<HHIIHH", tag, ch, 16000, 32000 * ch, 2 * ch if align is None else align, bits)
    data = samples.tobytes()
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + _chunk(b"fmt ", fmt) + before + b"data" + struct.pack("<I", size) + data + after
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_inverse_on_any_bytes():
    rng = np.random.default_rng(0)
    noise = bytes(rng.integers(0, 256, 20_001, dtype=np.uint8))
    for ch in range(1, 9):
        for s in (0, 1, 7):
            e = s + (len(noise) - s) // (2 * ch) * 2 * ch
            for rng_ in ([ch, s, e], [ch, s, s], [ch, s, s + 2 * ch]):
                enc = pcm.encode(noise, rng_)
                assert len(enc) == len(noise) and pcm.decode(enc, rng_) == noise
                assert enc[:s] == noise[:s] and enc[rng_[2]:] == noise[rng_[2]:]  # outside the range: as is
    extreme = np.array([-32768, 32767] * 500 + [0, -32768] * 300, dtype="<i2").tobytes()
    assert pcm.decode(pcm.encode(extreme, [1, 0, len(extreme)]), [1, 0, len(extreme)]) == extreme
    assert pcm.encode(b"", []) == b"" and pcm.encode(b"ab", []) == b"ab"


def test_residuals_are_small_on_audio():
    x = _samples(4000).tobytes()
    enc = np.frombuffer(pcm.encode(x, [1, 0, len(x)]), dtype=np.uint8)
    hi = enc[1000:4000]  # the high-byte plane, after the predictor has adapted
    assert (hi == 0).mean() > 0.9  # |residual| < 128 almost always
    assert (np.frombuffer(x, dtype=np.uint8)[1::2] == 0).mean() < 0.2


def test_check_rejects_bad_ranges():
    for bad in ([0, 0, 0], [9, 0, 0], [1, 4, 2], [1, 0, 3], [2, 0, 6], [1, 0, 102], [1, 2]):
        with pytest.raises(ValueError):
            pcm.check(bad, 100)
    assert pcm.check([2, 1, 9], 100) == (2, 1, 9)


def test_parse_wav():
    x = _samples(300, 2)
    assert pcm.parse_wav(wav(x)) == (2, 44, 44 + x.nbytes)
    info = _chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00lmz!\x00")
    assert pcm.parse_wav(wav(x, before=info)) == (2, 44 + len(info), 44 + len(info) + x.nbytes)
    assert pcm.parse_wav(wav(x, data_size=1 << 30)) == (2, 44, 44 + (1 << 30))  # cut by region()
    ext = bytearray(wav(x))  # WAVE_FORMAT_EXTENSIBLE with the PCM sub-format
    fmt = struct.pack("<HHIIHHHHI", 0xFFFE, 2, 16000, 64000, 4, 16, 22, 16, 3) + struct.pack("<H", 1) + bytes(14)
    ext = b"RIFF" + bytes(4) + b"WAVE" + _chunk(b"fmt ", fmt) + b"data" + struct.pack("<I", x.nbytes) + x.tobytes()
    assert pcm.parse_wav(ext) == (2, 12 + 8 + 40 + 8, 12 + 8 + 40 + 8 + x.nbytes)
    for bad in (wav(x, tag=3), wav(x, bits=8), wav(x, bits=24), wav(x, align=3), wav(_samples(10, 9)),
                wav(x)[:30], b"RIFF\0\0\0\0WAVEdata\x04\0\0\0abcd", b"RIFX" + wav(x)[4:], wav(x)[:36],
                b"RIFF" + bytes(4) + b"WAVE" + b"fmt " + struct.pack("<I", 8) + bytes(8), b"", b"RIFF"):
        assert pcm.parse_wav(bad) is None


def test_region():
    assert pcm.region(1000, 2, 44) == [2, 44, 1000] and pcm.region(1002, 2, 44) == [2, 44, 1000]
    assert pcm.region(1000, 1, 44, 500) == [1, 44, 500]
    assert pcm.region(1000, 1, 44, 501) == [1, 44, 500]
    assert pcm.region(45, 1, 44) is None and pcm.region(40, 1, 44) is None


def test_detect():
    assert pcm.detect(_samples(8000).tobytes()) == (1, 0)
    assert pcm.detect(b"\x00" + _samples(8000).tobytes()) == (1, 1)
    assert pcm.detect(_samples(8000, 2, seed=3).tobytes()) in ((2, 0), (2, 2))
    rng = np.random.default_rng(5)
    assert pcm.detect(bytes(rng.integers(0, 256, 30_000, dtype=np.uint8))) is None
    assert pcm.detect(b"The quick brown fox jumps over the lazy dog. " * 500) is None
    assert pcm.detect(b"ab") is None


def _kinds(blob: bytes) -> list:
    """The preset of each frame (None: stored or the stream's stack)."""
    return [preset for _, preset in api.scan(blob)["frame_kinds"]]


@pytest.mark.parametrize("name", ["mono", "stereo", "odd", "truncated", "oversize", "chunks", "six"])
def test_wav_round_trip(name, fake_model):
    x1, x2 = _samples(3000), _samples(1500, 2, seed=1)
    info = _chunk(b"LIST", b"INFOICMT\x07\x00\x00\x00comment\x00")
    raw = {"mono": wav(x1), "stereo": wav(x2), "odd": wav(x1) + b"\x01",  # a stray byte after the samples
           "truncated": wav(x2)[:-3],  # the data chunk ends mid-sample
           "oversize": wav(x1, data_size=0x7FFFFFF0),  # the data chunk claims more than the file holds
           "chunks": wav(x2, before=info, after=info + _chunk(b"id3 ", b"TAG" * 7)),
           "six": wav(_samples(500, 6, seed=2))}[name]
    blob = api.compress(raw, model=fake_model)
    assert sp.PRESET_PCM in _kinds(blob)
    assert api.decompress(blob, model=fake_model) == raw
    assert len(blob) < 0.65 * len(raw)


def test_wav_beats_the_binary_preset(fake_model):
    raw = wav(_samples(6000))
    binary = api.compress(raw, model=fake_model, mix="on", lanes=1,
                          mix_params=dict(sp.PRESETS[sp.STACK_MIX][sp.PRESET_BINARY]))
    assert len(api.compress(raw, model=fake_model)) < 0.8 * len(binary)


def test_not_wav_falls_back(fake_model):
    x = _samples(2000)
    for raw in (wav(x, bits=8), wav(x, tag=3), wav(x, align=5), b"RIFF" + bytes(40) + x.tobytes()[:200],
                wav(x)[:40], wav(x)[:47]):  # headers that are not 16-bit PCM, a cut header, 3 bytes of samples
        blob = api.compress(raw, model=fake_model)  # (the samples after a wrong header may still be found)
        assert api.decompress(blob, model=fake_model) == raw
    noise = wav(np.random.default_rng(9).integers(-32768, 32768, (3000, 1)).astype("<i2"))  # says PCM, is noise
    blob = api.compress(noise, model=fake_model)
    assert api.decompress(blob, model=fake_model) == noise and len(blob) < len(noise) + 200


def test_large_wav_later_frames_are_found_without_header(fake_model):
    """A WAV longer than a frame: the first frame has the header, later ones are detected as PCM
    (the phase of the samples in each frame is found too: the header here is 44 + 10 bytes)."""
    raw = wav(_samples(12000), before=_chunk(b"junk", b"x" * 2))
    blob = api.compress(raw, model=fake_model, frame_size=5001)
    kinds = _kinds(blob)
    assert len(kinds) == 5 and kinds.count(sp.PRESET_PCM) == 5
    assert api.decompress(blob, model=fake_model) == raw


def test_text_is_not_audio(fake_model):
    text = b"The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n" * 60
    assert blocks.audio_coder(text, 0, None, None, header_only=True) is None
    assert sp.PRESET_PCM not in _kinds(api.compress(text, model=fake_model))


def test_pcm_params_are_written_against_preset_7():
    params = dict(sp.PRESETS[sp.STACK_MIX][sp.PRESET_PCM], pcm=[2, 44, 1000])
    assert sp.to_preset(sp.STACK_MIX, params) == (sp.PRESET_PCM, {"pcm": [2, 44, 1000]})
    assert sp.from_preset(sp.STACK_MIX, sp.PRESET_PCM, {"pcm": [2, 44, 1000]}) == params
    for p in (1, 2, 3, 4, 5):  # the published presets are unchanged: no transform
        assert sp.PRESETS[sp.STACK_MIX][p]["pcm"] == []


def _own_stack_frame(preset: int, overrides: bytes, n: int = 100, coded: bytes = bytes(20)) -> bytes:
    return (bytes([ct.FRAME_OWN_STACK, sp.STACK_MIX]) + ct.varint(preset) + ct.varint(len(overrides)) + overrides
            + ct.varint(n) + ct.varint(1) + b"\x00" + ct.varint(len(coded)) + b"\0\0" + coded)


@pytest.mark.parametrize("overrides,err,exc", [
    (b'{"pcm":[9,0,0]}', "channels", FormatError),
    (b'{"pcm":[1,2]}', "pcm", FormatError),
    (b'{"pcm":[1,0,2147483647]}', "outside", FormatError),
    (b'{"pcm":[1,0,-2]}', "outside", FormatError),
    (b'{"pcm":[1,0,1.5]}', "non-integer", FormatError),
    (b'{"pcm":"x"}', "pcm", FormatError),
    (b'{"pcm":[1,0,2],"x86":1}', "x86", FormatError),
    (b'{"pcm":[1,0,102]}', "does not fit", CorruptError),  # beyond the frame's 100 bytes
    (b'{"pcm":[2,0,98]}', "whole sample frames", FormatError),
], ids=["channels", "length", "huge", "negative", "float", "type", "x86", "beyond", "align"])
def test_crafted_pcm_fields(overrides, err, exc, fake_model):
    from test_crafted import v2_stream

    frame = _own_stack_frame(sp.PRESET_PCM, overrides)
    blob = v2_stream(fake_model.info.fingerprint, sp.STACK_MIX, 1, None, frame) + ct.pack_end(100, 0)
    with pytest.raises(exc, match=err):
        api.decompress(blob, model=fake_model)


def test_random_access_into_audio_frames(fake_model):
    import io

    import lmz

    raw = wav(_samples(6000, 2, seed=4))
    blob = api.compress(raw, model=fake_model, frame_size=7000, index=True)
    assert _kinds(blob).count(sp.PRESET_PCM) == 4
    with lmz.open(io.BytesIO(blob), model=fake_model) as f:
        f.seek(15_001)
        assert f.read(6_000) == raw[15_001:21_001]
