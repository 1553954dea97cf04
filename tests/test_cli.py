"""lmz-run: round trips, stdin -> stdout, exit codes, -f, --rm, no partial output, model messages."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import TEXT
from typer.testing import CliRunner

from lmz.runtime import api
from lmz.runtime.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture()
def work(tmp_path, tiny_paths):
    f = tmp_path / "a.txt"
    f.write_bytes(TEXT)
    os.chmod(f, 0o640)
    return tmp_path, f, tiny_paths[1]


def _leftovers(d):
    return [p.name for p in d.iterdir() if p.name.endswith(".tmp")]


def test_file_round_trip_and_names(work):
    d, f, m = work
    r = run("compress", "--mix", "off", "-m", m, "--no-progress", f)
    assert r.exit_code == 0, r.output
    z = d / "a.txt.lmz"
    assert z.exists() and f.exists()  # -k is the default
    assert (os.stat(z).st_mode & 0o777) == 0o640
    f.rename(d / "orig.txt")
    assert run("decompress", "-m", m, z).exit_code == 0
    assert f.read_bytes() == TEXT
    assert run("test", "-m", m, z).exit_code == 0
    r = run("list", "-v", z)
    assert r.exit_code == 0 and "tiny1" in r.output and "stack model" in r.output


def test_mix_is_the_default(work):
    d, f, m = work
    f.write_bytes(TEXT[:300])
    assert run("compress", "-m", m, "--no-progress", f).exit_code == 0
    r = run("list", "-v", d / "a.txt.lmz")
    assert r.exit_code == 0 and "stack mix" in r.output
    f.unlink()
    assert run("decompress", "-m", m, d / "a.txt.lmz").exit_code == 0
    assert f.read_bytes() == TEXT[:300]


def test_existing_output_needs_force(work):
    d, f, m = work
    z = d / "a.txt.lmz"
    z.write_bytes(b"keep me")
    r = run("compress", "--mix", "off", "-m", m, f)
    assert r.exit_code == 1 and "already exists" in r.output
    assert z.read_bytes() == b"keep me"
    assert run("compress", "--mix", "off", "-m", m, "-f", f).exit_code == 0
    assert z.read_bytes() != b"keep me"


def test_rm_and_output_option(work):
    d, f, m = work
    out = d / "x.bin"
    assert run("compress", "--mix", "off", "-m", m, "--rm", "-o", out, f).exit_code == 0
    assert not f.exists()
    assert run("decompress", "-m", m, "-o", d / "y.txt", out).exit_code == 0
    assert (d / "y.txt").read_bytes() == TEXT


def test_corrupt_input_leaves_nothing(work):
    d, f, m = work
    run("compress", "--mix", "off", "-m", m, f)
    z = d / "a.txt.lmz"
    b = bytearray(z.read_bytes())
    b[-2] ^= 0x40  # the checksum in the end marker
    z.write_bytes(bytes(b))
    f.unlink()
    r = run("decompress", "-m", m, z)
    assert r.exit_code == 2 and "checksum" in r.output
    assert not f.exists() and not _leftovers(d)
    assert run("test", "-m", m, z).exit_code == 2
    (d / "junk.lmz").write_bytes(b"hello world")
    r = run("decompress", d / "junk.lmz")
    assert r.exit_code == 2 and "not an lmz stream" in r.output
    assert not (d / "junk").exists()


def test_model_errors(work, fake_model):
    d, f, m = work
    z = d / "fake.lmz"
    z.write_bytes(api.compress(TEXT, model=fake_model, mix="off"))
    r = run("decompress", "-m", m, "-o", d / "out", z)
    assert r.exit_code == 3 and "mismatch" in r.output and not (d / "out").exists()
    r = run("decompress", "-o", d / "out", z)
    assert r.exit_code == 3 and "fake" in r.output
    r = run("compress", "-m", d / "missing.onnx", f)
    assert r.exit_code == 3 and "not found" in r.output


def test_usage_errors(work):
    d, f, m = work
    assert run("compress", "--mix", "off", "-m", m, d / "nope").exit_code == 1
    assert run("decompress", "-m", m, f).exit_code == 1  # no .lmz suffix
    assert run("compress", "-m", m, "--mix", "maybe", f).exit_code == 1  # usage errors exit 1, not click's 2


def test_interrupt_leaves_nothing(work, monkeypatch):
    d, f, m = work

    def boom(self, raw, offset=0, image=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(api.Compressor, "frame_list", boom)  # what copy_stream calls per frame
    r = run("compress", "--mix", "off", "-m", m, f)
    assert r.exit_code == 130
    assert not (d / "a.txt.lmz").exists() and not _leftovers(d)


def test_stdin_to_stdout_subprocess(work):
    d, f, m = work
    exe = [sys.executable, "-m", "lmz.runtime.cli"]
    c = subprocess.run(exe + ["compress", "--mix", "off", "-m", str(m)], input=TEXT, capture_output=True, check=True)
    assert c.stdout[:4] == b"\x89LMZ"
    p = subprocess.run(exe + ["decompress", "-m", str(m), "-"], input=c.stdout, capture_output=True, check=True)
    assert p.stdout == TEXT
    assert p.stderr == b""  # nothing but data on the streams; no chatter without -v


def test_runtime_imports_no_torch_or_onnx():
    code = ("import sys, lmz.runtime.cli, lmz.runtime.api; "
            "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
