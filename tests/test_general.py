"""lmz-run bench --kind general: a tiny synthetic set (not the real one), the tiny random model; zpaq only
where the program is installed."""
from __future__ import annotations

import gzip
import importlib.util
import json
import wave

import numpy as np
import pytest
from conftest import TEXT
from typer.testing import CliRunner

from lmz.runtime.cli import app
from lmz.runtime.errors import UsageError
from lmz.studies import bench
from lmz.studies import general as G

runner = CliRunner()
HAVE_ZPAQ = G.zpaq_program() is not None


def _have(mod: str) -> bool:
    return importlib.util.find_spec(mod) is not None


def _pgm(w=24, h=10) -> bytes:
    px = np.add.outer(np.arange(h) * 7, np.arange(w) * 3).astype(np.uint8)
    return f"P5\n{w} {h}\n255\n".encode() + px.tobytes()


def _wav(path, n=600, rate=8000, ch=2):
    x = (3000 * np.sin(np.arange(n * ch) / 9)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(ch)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(x.tobytes())


@pytest.fixture()
def gset(tmp_path):
    d = tmp_path / "general"
    d.mkdir()
    (d / "a.pgm").write_bytes(_pgm())
    (d / "b.txt").write_bytes(TEXT[:900])
    (d / "c.gz").write_bytes(gzip.compress(TEXT, 9, mtime=0))
    _wav(d / "d.wav")
    return tmp_path


def test_file_types_and_headers(gset):
    d = gset / "general"
    types = {p.name: G.file_type(p.read_bytes(), p.name) for p in d.iterdir()}
    assert types == {"a.pgm": "PGM", "b.txt": "text", "c.gz": "gzip", "d.wav": "WAV"}
    assert G.file_type(b"plain", "x.bin") == "other" and G.file_type(b"\x1f\x8b..", "x.txt") == "gzip"
    head, w, h, ch = G.pnm_split(_pgm())
    assert (head, w, h, ch) == (b"P5\n24 10\n255\n", 24, 10, 1)
    assert G.pnm_split(_pgm()[:-1]) is None  # a truncated image is not one
    assert G.pnm_split(b"P5\n2 2\n65535\n" + bytes(8)) is None  # 16-bit PGM: not handled
    raw = (d / "d.wav").read_bytes()
    head, pcm, tail, rate, ch = G.wav_split(raw)
    assert (len(head), len(pcm), tail, rate, ch) == (44, 600 * 2 * 2, b"", 8000, 2)
    assert G.wav_split(raw[:-3]) is None
    assert G.file_type(b"\x7fELF\x02\x01") == "ELF"


@pytest.mark.skipif(not (_have("PIL") and _have("soundfile")), reason="pillow and soundfile (lmz[bench])")
def test_png_and_flac_keep_headers_exact(gset):
    d = gset / "general"
    for make, name in ((G.png_codec, "a.pgm"), (G.flac_codec, "d.wav")):
        comp, decomp = make()
        raw = (d / name).read_bytes()
        blob = comp(raw)
        assert decomp(blob, len(raw)) == raw
    rgb = b"P6\n5 3\n255\n" + bytes(range(45))
    comp, decomp = G.png_codec()
    assert decomp(comp(rgb), len(rgb)) == rgb


def test_parse_variant():
    assert G.parse_variant("default") == G.Variant("lmz default", {})
    v = G.parse_variant("mix=alone,frame_size=1MiB")
    assert v.name == "lmz mix=alone,frame_size=1MiB"
    assert v.kwargs == {"mix": "on", "mix_params": {"use_model": False}, "frame_size": 1 << 20}
    assert G.parse_variant("mix=off,lanes=4").kwargs == {"mix": "off", "lanes": 4}
    for bad in ("mix=maybe", "speed=3", "frame_size=big", "nokey"):
        with pytest.raises(UsageError):
            G.parse_variant(bad)


def test_summary_targets():
    def r(f, c, size, t="other", raw=1000):
        return bench.Result(f, "general", c, "whole", raw, size, 100 * size / raw, 1, 1, True, extra={"type": t})

    res = [r("x", G.ZPAQ, 400), r("x", "xz -9e", 500), r("x", "lmz default", 200),
           r("y", G.ZPAQ, 800, "PGM"), r("y", "xz -9e", 700, "PGM"), r("y", "lmz default", 800, "PGM"),
           r("j", G.ZPAQ, 1010, "JPEG"), r("j", "lmz default", 1070, "JPEG")]
    s = G.summary(res)["lmz default"]
    assert s["lmz_over_zpaq"] == {"x": 0.5, "y": 1.0, "j": pytest.approx(1070 / 1010)}
    assert s["geomean_lmz_over_zpaq"] == pytest.approx((0.5 * 1.0 * 1070 / 1010) ** (1 / 3))
    assert (s["at_or_below_zpaq"], s["files_with_zpaq"]) == (2, 3)
    assert (s["at_or_below_xz"], s["files_with_xz"]) == (1, 2)
    assert s["compressed_growth"] == [{"file": "j", "bytes": 70, "allowed": 65.0}]
    assert s["pgm_over_zpaq"] == [1.0]


def test_cli_general(gset, tiny_paths, tmp_path):
    prefix = tmp_path / "out" / "general"
    args = ["bench", "--kind", "general", "--data", str(gset), "--lmz-opts", f"model={tiny_paths[1]}",
            "--baselines", "gzip,xz,png,flac,zpaq", "--out", str(prefix), "--no-progress"]
    r = runner.invoke(app, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    doc = json.loads(prefix.with_suffix(".json").read_text())
    got = {(x["file"], x["compressor"]) for x in doc["results"]}
    lmz_row = f"lmz model={tiny_paths[1]}"
    for f in ("a.pgm", "b.txt", "c.gz", "d.wav"):
        assert {(f, "gzip -9"), (f, "xz -9e"), (f, lmz_row)} <= got
        assert ((f, G.ZPAQ) in got) == HAVE_ZPAQ
    assert (("a.pgm", "PNG") in got) == _have("PIL") and ("b.txt", "PNG") not in got
    assert (("d.wav", "FLAC -8") in got) == _have("soundfile") and ("a.pgm", "FLAC -8") not in got
    assert all(x["verified"] and not x["error"] for x in doc["results"])
    md = prefix.with_suffix(".md").read_text()
    assert "| a.pgm | PGM | 253 |" in md and "Wall time" in md and "load average" in md
    if HAVE_ZPAQ:
        assert "zpaq v7" in md and f"{lmz_row} / zpaq" in md and "Issue 17's targets" in md
    else:
        assert "zpaq -m5 skipped: the zpaq program is not installed" in r.output
    # --resume reuses every result of unchanged files, and redoes a changed one
    (gset / "general" / "b.txt").write_bytes(TEXT[:901])
    r = runner.invoke(app, args + ["--resume", "--files", "b.txt,a.pgm"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    doc2 = json.loads(prefix.with_suffix(".json").read_text())
    assert doc2["meta"]["reused"] == len([x for x in doc["results"] if x["file"] == "a.pgm"])
    assert "results were measured by an earlier run" in prefix.with_suffix(".md").read_text()
    assert [i["name"] for i in doc2["inputs"]] == ["b.txt", "a.pgm"]
    old = {(x["file"], x["compressor"]): x for x in doc["results"]}
    for x in doc2["results"]:
        if x["file"] == "a.pgm":
            assert x == old[("a.pgm", x["compressor"])]
        else:
            assert x["raw"] == 901


def test_cli_general_errors(gset, tmp_path):
    r = runner.invoke(app, ["bench", "--kind", "general", "--data", str(gset), "--files", "nope.bin",
                            "--models", "none", "--no-progress"])
    assert r.exit_code != 0 and "nope.bin" in r.output
    r = runner.invoke(app, ["bench", "--kind", "general", "--data", str(tmp_path / "empty"), "--models", "none"])
    assert r.exit_code != 0 and "fetch_general.sh" in r.output
    r = runner.invoke(app, ["bench", "--kind", "general", "--models", "none"], env={"LMZ_DATA": ""})
    assert r.exit_code != 0 and "fetch_general.sh" in r.output
    r = runner.invoke(app, ["bench", "--kind", "text", "--lmz-opts", "mix=off", "--data", str(gset)])
    assert r.exit_code != 0 and "--kind general" in r.output


@pytest.mark.skipif(not HAVE_ZPAQ, reason="the zpaq program is not installed")
def test_zpaq_round_trip():
    comp, decomp = G.zpaq_codec(G.zpaq_program())
    blob = comp(TEXT)
    assert blob[:4] != TEXT[:4] and decomp(blob, len(TEXT)) == TEXT


def test_without_zpaq_the_column_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setattr(G, "zpaq_program", lambda: None)
    notes: list = []
    jobs = G.make_jobs([], "cpu", "xz,zpaq", notes)
    assert [j.name for j in jobs] == ["xz -9e"]
    assert notes == ["zpaq -m5 skipped: the zpaq program is not installed (Debian: apt-get install zpaq)"]


def test_checkpoints_keep_the_resumed_results_of_later_files():
    import hashlib

    inputs = [bench.Input("p", "general", b"p" * 50), bench.Input("q", "general", b"q" * 60)]
    job = G.Job("gzip -9", lambda d: gzip.compress(d, 9, mtime=0), lambda b, n: gzip.decompress(b))
    earlier = G.run_set(inputs, [job])
    done = {(r.file, r.compressor, hashlib.sha256(i.data).hexdigest()): r for r, i in zip(earlier, inputs)}
    inputs[0] = bench.Input("p", "general", b"P" * 50)  # changed: redone; q: reused
    seen = []
    res = G.run_set(inputs, [job], done, checkpoint=lambda rs: seen.append([(r.file, r.raw) for r in rs]))
    assert seen[0] == [("p", 50), ("q", 60)] and seen[1] == [("p", 50), ("q", 60)]
    assert res[1] is earlier[1] and res[0] is not earlier[0]
