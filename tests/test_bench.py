"""lmz-run bench and lmz-run generate: tiny inputs, tiny random-weight models, CPU only."""
from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest
from conftest import TEXT
from typer.testing import CliRunner

from lmz.runtime.cli import app
from lmz.studies import bench
from lmz.studies import generate as gen

runner = CliRunner()

OPTIONAL = {"zstd -19": "zstandard", "brotli -11": "brotli", "PPMd o6": "pyppmd", "PNG": "PIL",
            "FLAC -8": "soundfile"}


def _have(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


@pytest.fixture(scope="module")
def text_model(tiny_paths, tmp_path_factory):
    """The tiny chunk-1 model under a text-kind name (kind comes from the name prefix)."""
    d = tmp_path_factory.mktemp("benchmodels")
    src = tiny_paths[1]
    dst = d / "text-tiny.onnx"
    shutil.copy(src, dst)
    j = src[: -len(".onnx")] + ".json"
    shutil.copy(j, d / "text-tiny.json")
    return str(dst)


def _inputs():
    rng = np.random.default_rng(0)
    audio = (128 + 20 * np.sin(np.arange(3000) / 7) + rng.integers(-3, 4, 3000)).astype(np.uint8).tobytes()
    image = np.add.outer(np.arange(48), np.arange(64)).astype(np.uint8).tobytes()  # 3072 bytes, a gradient
    return [bench.Input("t.txt", "text", TEXT[:2600]), bench.Input("i.bin", "image", image),
            bench.Input("a.bin", "audio", audio)]


def test_all_compressors_present_and_verified(text_model):
    codecs = bench.baselines()
    names = {c.name for c in codecs}
    assert names == {"gzip -9", "bzip2 -9", "xz -9e", "zstd -19", "brotli -11", "PPMd o6", "PNG", "FLAC -8"}
    for c in codecs:  # skipped only when its optional package is missing (CI installs the bench extra)
        assert bool(c.missing) == (not _have(OPTIONAL.get(c.name, "zlib"))), (c.name, c.missing)
    codecs += bench.lmz_codecs(text_model, ["text"], ("off",), "cpu")
    inputs = _inputs()
    res = bench.run_bench(inputs, codecs, ("whole", "chunk"))
    assert res and all(r.verified and not r.error for r in res), [r for r in res if r.error]
    got = {(r.file, r.compressor, r.protocol) for r in res}
    for c in codecs:
        if c.missing:
            continue
        for i in inputs:
            if i.kind in c.kinds:
                assert (i.name, c.name, "whole") in got
    assert ("i.bin", "PNG", "chunk") in got and ("a.bin", "FLAC -8", "whole") in got or not _have("soundfile")
    assert ("t.txt", "PNG", "whole") not in got  # PNG only for image and audio
    lm = [r for r in res if r.compressor.startswith("lmz")]
    assert {r.protocol for r in lm} == {"whole", "chunk"}
    for r in lm:
        assert r.rate_adj_onnx > r.rate and r.rate_adj_params > r.rate and r.model_params > 0
    md = bench.markdown(res)
    assert "| gzip -9 |" in md and "lmz text-tiny" in md and "t.txt" in md


def test_lmz_with_mix_verified(text_model):
    """Mix on (the MixStack costs a few ms per byte and lane: a small input)."""
    codecs = bench.lmz_codecs(text_model, ["text"], ("on",), "cpu")
    assert [c.name for c in codecs] == ["lmz text-tiny +mix"]
    res = bench.run_bench([bench.Input("t.txt", "text", TEXT[:300])], codecs, ("whole", "chunk"))
    assert [r.protocol for r in res] == ["whole", "chunk*"] and all(r.verified and not r.error for r in res)
    assert "share the mixer" in bench.markdown(res)


def test_chunk_protocol_uses_exact_2048_byte_lanes(text_model):
    from lmz.runtime import api

    data = (TEXT * 5)[:2048 * 3 + 100]
    blob = api.compress(data, text_model, lane_size=2048)
    assert api.decompress(blob, text_model) == data
    import io

    from lmz.runtime import container as ct

    r = ct.Reader(io.BytesIO(blob))
    h = ct.read_header(r)
    frames = []
    while True:
        f = ct.read_frame(r, h)
        if f.kind == ct.FRAME_END:
            break
        frames.append(f)
        if f.kind == ct.FRAME_MODELED:
            assert list(f.lane_lens) == [2048] * 3 or list(f.lane_lens) == [100]
    assert [f.raw_len for f in frames] == [2048 * 3, 100]


def test_cli_bench_quick(text_model, tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(TEXT)
    out = tmp_path / "r.json"
    r = runner.invoke(app, ["bench", str(f), "--quick", "--quick-kib", "1", "--models", text_model, "--mix", "off",
                            "--baselines", "gzip,xz", "--json", str(out), "--no-progress",
                            "--plots", str(tmp_path / "p"), "--lane-kib", "1"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "| gzip -9 |" in r.output and "In-context" in r.output
    doc = json.loads(out.read_text())
    assert doc["inputs"][0]["bytes"] == 1024
    assert {x["compressor"] for x in doc["results"]} == {"gzip -9", "xz -9e", "lmz text-tiny"}
    assert all(x["verified"] for x in doc["results"])
    st = doc["incontext"]
    assert st["labels"][0] == "0-16" and set(st["bits_per_byte"]) == {"gzip -9", "lmz text-tiny"}
    assert (tmp_path / "p" / "incontext.json").exists()
    if _have("matplotlib"):
        assert (tmp_path / "p" / "incontext.png").stat().st_size > 1000


def test_incontext_costs_match_the_coder(tiny_model):
    """The per-byte ideal code lengths add up to what the coder writes (same frequencies)."""
    from lmz.runtime.lanes import FramePlan
    from lmz.runtime.loop import encode_frame, make_stack

    data = TEXT[:512]
    M, lens = bench.make_lanes([data], 256)
    cost = bench.lmz_position_costs(tiny_model, M, lens, "off")
    assert cost.shape == (2, 256) and np.all(cost > 0)
    cm = bench.lmz_position_costs(tiny_model, M, lens, "on")
    assert cm.shape == cost.shape and np.all(cm > 0)
    for mix, c in (("off", cost), ("on", cm)):  # the coder's lanes cost their ideal length + ~1 byte
        plan = FramePlan.cut(0, len(data), 2)
        coded = encode_frame(tiny_model, make_stack(mix).make(plan), data, plan)
        for i in range(2):
            assert abs(len(coded[i]) - c[i].sum() / 8) <= 3, (mix, i, len(coded[i]), c[i].sum() / 8)
    g = bench.gzip_bucket_costs(M, lens, (0, 16, 64, 256))
    assert g.shape == (3,) and np.all(g > 0)


def test_generate_deterministic_across_threads(tiny_paths):
    from lmz.runtime.session import ByteModel

    outs = set()
    for threads in (1, 2):
        m = ByteModel(tiny_paths[1], provider="cpu", threads=threads)
        outs.add(gen.generate(m, b"The ", 64, "0.8", seed=7))
    assert len(outs) == 1 and len(next(iter(outs))) == 64
    m = ByteModel(tiny_paths[1], provider="cpu", threads=1)
    assert gen.generate(m, b"The ", 64, "0.8", seed=8) != next(iter(outs))
    # pinned: the sampler is integer-only, so these bytes are the same on every machine
    a = gen.generate(m, b"", 16, "1", seed=0)
    assert a == gen.generate(m, b"", 16, 1.0, seed=0)
    assert gen.generate(m, b"", 8, "0", seed=1) == gen.generate(m, b"", 8, "0", seed=2)  # greedy ignores the seed


def test_integer_sampler_pieces():
    r = gen.IntRng(0)
    assert [gen.IntRng(0).next64() for _ in range(1)] == [0xE220A8397B1DCDAF]  # SplitMix64(0), first output
    us = [r.u16() for _ in range(1000)]
    assert 0 <= min(us) and max(us) < 65536
    f = np.zeros(256, dtype=np.int64)
    f[3], f[9] = 1000, 65536 - 1000
    assert gen.pick(f, 0) == 3 and gen.pick(f, 999) == 3 and gen.pick(f, 1000) == 9 and gen.pick(f, 65535) == 9
    s = np.arange(256) * 3
    assert np.array_equal(gen.apply_temperature(s, 1000), s)
    assert gen.apply_temperature(s, 500)[-1] == 0 and gen.apply_temperature(s, 500)[0] == -2 * 255 * 3
    assert gen.temperature_milli("0.8") == 800
    with pytest.raises(Exception):
        gen.temperature_milli("-1")


def test_gzip_generator():
    ctx = b"the cat sat on the mat. the cat sat on th"
    p = gen.gzip_probs(ctx)
    assert p.shape == (256,) and abs(p.sum() - 1.0) < 1e-12 and np.all(p > 0)
    assert int(np.argmax(p)) == ord("e")
    f = gen.gzip_freqs(ctx)
    assert f.sum() == 65536 and f.min() >= 1
    a = gen.generate("gzip", b"abcabcabc", 12, "1", seed=3)
    assert a == gen.generate_gzip(b"abcabcabc", 12, "1", seed=3) and len(a) == 12


def test_cli_generate(tiny_paths):
    r1 = runner.invoke(app, ["generate", "--model", tiny_paths[1], "-n", "20", "--seed", "5", "--prompt", "hi"])
    r2 = runner.invoke(app, ["generate", "--model", tiny_paths[1], "-n", "20", "--seed", "5", "--prompt", "hi"])
    assert r1.exit_code == 0 and r1.stdout_bytes == r2.stdout_bytes and len(r1.stdout_bytes) == 20
    r = runner.invoke(app, ["generate", "--model", "gzip", "-n", "5", "--prompt", "aaaa", "--echo"])
    assert r.exit_code == 0 and r.stdout_bytes[:4] == b"aaaa" and len(r.stdout_bytes) == 9
    r = runner.invoke(app, ["generate", "--model", tiny_paths[8], "-n", "5"])
    assert r.exit_code == 3  # a chunk-8 graph cannot generate: a model error
