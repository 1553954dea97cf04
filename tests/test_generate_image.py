"""Image completion (paper §3.4): lower halves of patches sampled from their upper halves."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from lmz.runtime.cli import app
from lmz.studies import generate as gen

runner = CliRunner()


def _patches(n=3, seed=0):
    """Smooth-ish fake 32x64 patches (a gradient plus noise), uint8 [n, 2048]."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:32, 0:64]
    out = [np.clip(40 + 3 * r + 2 * c + rng.integers(0, 9, size=r.shape) + 20 * k, 0, 255) for k in range(n)]
    return np.stack(out).reshape(n, 2048).astype(np.uint8)


def test_completion_deterministic_keeps_upper_half(tiny_paths):
    from lmz.runtime.session import ByteModel

    pt = _patches()
    outs = []
    for threads in (1, 2):
        m = ByteModel(tiny_paths[1], provider="cpu", threads=threads)
        outs.append(gen.complete_patches(pt, m, "1", seed=11, gzip=False))
    a, b = outs
    assert np.array_equal(a["lmz"], b["lmz"])  # same seed, same bytes, any thread count
    assert a["lmz"].shape == pt.shape and a["lmz"].dtype == np.uint8
    assert np.array_equal(a["lmz"][:, :1024], pt[:, :1024])  # the prompt is kept
    assert np.array_equal(a["truth"], pt)
    assert not np.array_equal(a["lmz"][:, 1024:], pt[:, 1024:])
    c = gen.complete_patches(pt, m, "1", seed=12, gzip=False)
    assert not np.array_equal(c["lmz"], a["lmz"])  # another seed, another sample


def test_completion_lanes_match_single_stream(tiny_paths):
    """Completing patches as lanes of one model gives, for patch i, exactly the bytes of the
    one-lane generator with patch i's RNG: batching changes nothing."""
    from lmz.runtime.session import ByteModel

    m = ByteModel(tiny_paths[1], provider="cpu")
    pt = _patches(2)
    batched = gen.complete_model(m, pt[:, :1024], 40, "0.9", seed=5)
    for i in range(2):
        tm, rng = gen.temperature_milli("0.9"), gen.patch_rng(5, i)
        state, x, one = m.initial_state(1), 0, []
        for b in list(pt[i, :1024]) + [None] * 40:
            scores, state = m.step(np.array([[x]], dtype=np.int64), state)
            if b is None:
                x = gen.sample_from_scores(scores[0, 0], tm, rng)
                one.append(x)
            else:
                x = int(b)
        assert bytes(batched[i]) == bytes(one)


def test_gzip_completion_deterministic():
    pt = _patches(2)[:, :256]
    a = gen.complete_gzip(pt, 6, "1", seed=3)
    assert a.shape == (2, 6) and np.array_equal(a, gen.complete_gzip(pt, 6, "1", seed=3))
    # patch 0 with patch_rng(3, 0) is the plain gzip generator driven by that RNG
    rng, x = gen.patch_rng(3, 0), bytearray(pt[0].tobytes())
    for _ in range(6):
        x.append(gen.pick(gen.gzip_freqs(bytes(x)), rng.u16()))
    assert bytes(a[0]) == bytes(x[256:])


def test_read_patches_evenly_spaced(tmp_path):
    f = tmp_path / "p.bin"
    data = np.arange(10 * 2048 + 5, dtype=np.int64).astype(np.uint8)  # a partial patch at the end
    data.tofile(f)
    idx, pt = gen.read_patches(f, 4)
    assert idx == [1, 3, 6, 8] and pt.shape == (4, 2048)
    assert np.array_equal(pt[1], data[3 * 2048:4 * 2048])
    with pytest.raises(Exception):
        gen.read_patches(f, 11)


def test_cli_complete_patches(tiny_paths, tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image

    f = tmp_path / "patches.bin"
    _patches(2).tofile(f)
    out = tmp_path / "grid.png"
    args = ["generate", "--model", tiny_paths[1], "--complete-patches", str(f), "--patches", "2",
            "--grid", str(out), "--no-gzip", "--seed", "4"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert r.stdout_bytes == b""  # the grid goes to the file, nothing to stdout
    img = Image.open(out)
    assert img.mode == "L" and img.size[0] > 2 * 64 * 4 and img.size[1] > 2 * 32 * 4
    first = out.read_bytes()
    summ = tmp_path / "c.md"
    assert runner.invoke(app, args + ["--summary", str(summ)]).exit_code == 0
    assert "| lmz tiny1 |" in summ.read_text()
    assert runner.invoke(app, args).exit_code == 0 and out.read_bytes() == first
    r = runner.invoke(app, ["generate", "--model", tiny_paths[1], "--complete-patches", str(f)])
    assert r.exit_code == 1  # --grid missing: a usage error
    r = runner.invoke(app, ["generate", "--model", tiny_paths[8], "--complete-patches", str(f), "--patches", "2",
                            "--grid", str(out), "--no-gzip"])
    assert r.exit_code == 3  # a chunk-8 graph cannot generate
