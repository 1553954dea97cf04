"""lmz-run as a drop-in (issue 15): the zstd-style form, tar -I, concatenated streams, several files,
the model search path, and the data-loss and safety fixes (output == input, short writes, setuid,
device/FIFO outputs, SIGTERM/SIGHUP, model names that are paths, modified weights)."""
from __future__ import annotations

import io
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import TEXT
from typer.testing import CliRunner

from lmz.runtime import api, model_store, onnxfile
from lmz.runtime import container as ct
from lmz.runtime.cli import app
from lmz.runtime.errors import ModelError

ROOT = str(Path(__file__).resolve().parents[1])
runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path, monkeypatch):
    """No model of the host's user directory or LMZ_MODEL_PATH leaks into these tests."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(model_store.ENV, raising=False)


@pytest.fixture()
def store(tmp_path, tiny_paths, monkeypatch):
    """A model directory on LMZ_MODEL_PATH holding the tiny model as `mine`."""
    d = tmp_path / "store"
    d.mkdir()
    shutil.copy(tiny_paths[1], d / "mine.onnx")
    monkeypatch.setenv(model_store.ENV, str(d))
    return d


@pytest.fixture()
def mp(store):
    """The same model named by its path (for tests that are not about the search path)."""
    return str(store / "mine.onnx")


@pytest.fixture()
def files(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(TEXT[:400])
    b.write_bytes(TEXT[400:700] + b"second file\n")
    return a, b


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    return env


EXE = [sys.executable, "-m", "lmz.runtime.cli"]


def _default_signals():
    """In the child: SIGTERM/SIGHUP back to their defaults. An ignored signal is inherited across
    exec (`nohup` ignores SIGHUP), and lmz-run rightly keeps an inherited SIG_IGN."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _compress_from_open_pipe(mp, tmp_path):
    """`lmz-run compress -o out.lmz` reading a pipe that stays open, once its temp file exists."""
    out = tmp_path / "out.lmz"
    p = subprocess.Popen(EXE + ["compress", "--mix", "off", "-m", mp, "-o", str(out)], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=_env(), preexec_fn=_default_signals)
    p.stdin.write(b"partial input, the pipe stays open")
    p.stdin.flush()
    deadline = time.time() + 60
    while not _tmps(tmp_path) and time.time() < deadline:
        time.sleep(0.05)
    assert _tmps(tmp_path), "the temp file never appeared"
    return p, out


def _tmps(d):
    return [p.name for p in Path(d).iterdir() if p.name.endswith(".tmp")]


# -- data loss and safety -----------------------------------------------------------------------
def test_output_that_is_the_input_is_refused(mp, files):
    a, _ = files
    r = run("compress", "--mix", "off", "-m", mp, "-f", "--rm", "-o", a, a)
    assert r.exit_code == 1 and "is the input" in r.output
    assert a.read_bytes() == TEXT[:400]
    assert run("compress", "--mix", "off", "-m", mp, a).exit_code == 0
    z = a.with_name("a.txt.lmz")
    blob = z.read_bytes()
    r = run("decompress", "-m", mp, "-f", "--rm", "-o", z, z)
    assert r.exit_code == 1 and z.read_bytes() == blob
    os.link(a, a.with_name("hard"))  # another name of the same inode
    r = run("compress", "--mix", "off", "-m", mp, "-f", "--rm", "-o", a.with_name("hard"), a)
    assert r.exit_code == 1 and a.read_bytes() == TEXT[:400]


class ShortWriter:
    """A raw file that takes at most 7 bytes per write, like an unbuffered stdout near a full disk."""

    def __init__(self):
        self.buf = bytearray()

    def write(self, b):
        b = bytes(b)[:7]
        self.buf += b
        return len(b)


def test_short_writes_are_completed(mp):
    c = ShortWriter()
    api.Compressor(mp, mix="off").copy_stream(io.BytesIO(TEXT), c, len(TEXT))
    d = ShortWriter()
    r, n = api.Decompressor(mp).copy_stream(io.BytesIO(bytes(c.buf)), d)
    assert bytes(d.buf) == TEXT and n == len(TEXT)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_full_disk_on_stdout_is_an_error(mp, files):
    a, _ = files
    z = api.compress(TEXT, model=mp, mix="off")
    with open("/dev/full", "wb") as full:
        p = subprocess.run(EXE + ["-d", "-c", "-m", mp], input=z, stdout=full, stderr=subprocess.PIPE,
                           env=_env(PYTHONUNBUFFERED="1"), timeout=120)
    assert p.returncode == 1 and b"No space left" in p.stderr


def test_unbuffered_stdout_on_a_non_blocking_pipe_gets_everything(mp):
    """PYTHONUNBUFFERED=1 makes stdout a raw file: on a full non-blocking pipe a write takes part of
    the data or none; every byte must still arrive (the old code dropped the rest and exited 0)."""
    import zlib

    raw = os.urandom(1 << 20)  # incompressible: one stored frame, no model work
    fp = onnxfile.read_metadata(mp)["lmz.weights_sha256"]
    blob = (ct.Header(fp, "mine", ct.STACK_MODEL_ONLY, b"", 1 << 22, len(raw)).pack()
            + ct.pack_frame(raw, None, None) + ct.pack_end(len(raw), zlib.crc32(raw)))
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    p = subprocess.Popen(EXE + ["decompress", "-m", mp], stdin=subprocess.PIPE, stdout=wfd,
                         stderr=subprocess.PIPE, env=_env(PYTHONUNBUFFERED="1"))
    os.close(wfd)
    threading.Thread(target=lambda: (p.stdin.write(blob), p.stdin.close()), daemon=True).start()
    got = bytearray()
    with os.fdopen(rfd, "rb", buffering=0) as r:
        while True:
            b = r.read(1 << 16)
            if not b:
                break
            got += b
            time.sleep(0.002)  # a slow reader keeps the pipe full
    assert p.wait(120) == 0, p.stderr.read()
    assert bytes(got) == raw


_EXIT_NOW = "import sys; from lmz.runtime.cli import _exit_now; sys.stdout.write('pending data'); _exit_now({code!r})"


@pytest.mark.parametrize("code, rc", [(0, 0), (None, 0), (3, 3), ("a message", 1)])
def test_the_fast_exit_flushes_stdout_and_keeps_the_exit_code(code, rc):
    """lmz-run leaves by os._exit (cli._exit_now): buffered output still arrives, the code stands."""
    r = subprocess.run([sys.executable, "-c", _EXIT_NOW.format(code=code)], capture_output=True, env=_env())
    assert (r.returncode, r.stdout) == (rc, b"pending data")
    assert r.stderr == (b"a message\n" if code == "a message" else b"")


def test_the_fast_exit_reports_a_stdout_it_cannot_flush():
    rd, wr = os.pipe()
    os.close(rd)  # nobody reads: the final flush gets EPIPE
    env = _env()
    env.pop("PYTHONUNBUFFERED", None)  # the write stays in the buffer until that flush
    try:
        r = subprocess.run([sys.executable, "-c", _EXIT_NOW.format(code=0)], stdout=wr, stderr=subprocess.PIPE,
                           env=env)
    finally:
        os.close(wr)
    assert r.returncode == 1
    assert b"lmz-run: stdout: write error" in r.stderr


def test_no_setuid_setgid_sticky_and_owner_times_kept(mp, files):
    a, _ = files
    os.chmod(a, 0o7755)
    t = (1_000_000_000, 1_200_000_000)
    os.utime(a, t)
    root = os.geteuid() == 0
    if root:
        os.chown(a, 12345, 23456)
    assert run("compress", "--mix", "off", "-m", mp, "--rm", a).exit_code == 0
    z = a.with_name("a.txt.lmz")
    st = os.stat(z)
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert (int(st.st_atime), int(st.st_mtime)) == t
    if root:
        assert (st.st_uid, st.st_gid) == (12345, 23456)
    os.chmod(z, 0o6644)
    assert run("decompress", "-m", mp, "--rm", z).exit_code == 0
    st = os.stat(a)
    assert stat.S_IMODE(st.st_mode) == 0o644 and int(st.st_mtime) == t[1]
    assert a.read_bytes() == TEXT[:400]


def test_device_and_fifo_outputs_are_written_in_place(mp, files, tmp_path):
    a, _ = files
    z = tmp_path / "a.lmz"
    assert run("compress", "--mix", "off", "-m", mp, "-o", z, a).exit_code == 0
    r = run("decompress", "-m", mp, "--rm", "-o", os.devnull, z)  # /dev/null needs no -f, and stays a device
    assert r.exit_code == 0 and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert z.exists()  # --rm does not delete the input when the output was not a file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    t = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    t.start()
    assert run("decompress", "-m", mp, "-o", fifo, z).exit_code == 1  # an existing FIFO needs -f
    r = run("decompress", "-m", mp, "-f", "-o", fifo, z)
    assert r.exit_code == 0
    t.join(30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got == [TEXT[:400]]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_remove_the_temp_file(mp, tmp_path, sig):
    p, out = _compress_from_open_pipe(mp, tmp_path)
    p.send_signal(sig)
    rc = p.wait(30)
    p.stdin.close()
    assert rc == 128 + sig
    assert not _tmps(tmp_path) and not out.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="tgkill and /proc/PID/task are Linux's")
def test_a_signal_delivered_to_another_thread_still_stops_a_read_from_a_pipe(mp, tmp_path):
    """The kernel may deliver SIGHUP to any thread (onnxruntime's, numba's); the main thread, blocked
    reading a silent pipe, must still wake up, run the handler and clean up (CI hung here once)."""
    import ctypes

    p, out = _compress_from_open_pipe(mp, tmp_path)
    others = [int(t) for t in os.listdir(f"/proc/{p.pid}/task") if int(t) != p.pid]
    if not others:
        p.kill()
        pytest.skip("no thread besides the main one in this process")
    nr = {"x86_64": 234, "aarch64": 131}.get(os.uname().machine)  # the tgkill syscall's number
    if nr is None:
        p.kill()
        pytest.skip("tgkill's syscall number is not known here")
    assert ctypes.CDLL(None, use_errno=True).syscall(nr, p.pid, others[-1], int(signal.SIGHUP)) == 0
    try:
        rc = p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
        p.stdin.close()
    assert rc == 128 + signal.SIGHUP
    assert not _tmps(tmp_path) and not out.exists()


def test_a_file_in_the_working_directory_is_not_a_model(store, files, tmp_path, monkeypatch, tiny_paths):
    a, _ = files
    monkeypatch.chdir(tmp_path)
    Path("text").write_bytes(b"not a model")  # used to become the default model (exit 3)
    shutil.copy(tiny_paths[1], "tiny")  # a real model, but not installed: a name is not a path
    shutil.copy(tiny_paths[1], store / "text.onnx")  # the installed `text` (shadows the shipped one)
    assert run("compress", "--mix", "off", "-o", "x.lmz", a).exit_code == 0
    assert api.read_header("x.lmz").model_name == "text"
    r = run("compress", "--mix", "off", "-m", "tiny", "-o", "y.lmz", a)
    assert r.exit_code == 3 and "not found" in r.output
    assert run("compress", "--mix", "off", "-m", "./tiny", "-o", "y.lmz", a).exit_code == 0  # written as a path


def _renamed(blob: bytes, name: str, monkeypatch) -> bytes:
    """The stream with another model name in its header (the writer itself refuses such names)."""
    h = ct.read_header(blob)
    with monkeypatch.context() as m:
        m.setattr(ct, "valid_name", lambda n: True)
        h2 = ct.Header(h.fingerprint, name, h.stack_id, h.stack_params, h.max_frame, h.content_size)
        return h2.pack() + blob[h.size:]


@pytest.mark.parametrize("name", ["elsewhere/m.onnx", "../../tmp/x", "/etc/passwd", ".hidden"])
def test_a_name_in_a_stream_is_never_a_path(tmp_path, tiny_paths, name, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `elsewhere/m.onnx` is a real model file, relative to here
    outside = tmp_path / "elsewhere" / "m.onnx"  # a model that is not on the search path
    outside.parent.mkdir()
    shutil.copy(tiny_paths[1], outside)
    blob = api.compress(TEXT[:200], model=str(outside), mix="off")
    z = tmp_path / "x.lmz"
    z.write_bytes(_renamed(blob, name, monkeypatch))
    r = run("decompress", "-c", z)  # a header whose name is not a plain name is corrupt: nothing is opened
    assert r.exit_code == 2 and "not a plain name" in r.output
    assert run("decompress", "-c", "-m", outside, z).exit_code == 2
    assert not model_store.valid_name(name)


def test_modified_weights_are_refused(tmp_path, tiny_paths, files):
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    a, _ = files
    m = onnx.load(tiny_paths[1])
    for i, init in enumerate(m.graph.initializer):
        if init.name == "wo_q":
            w = numpy_helper.to_array(init).copy()
            w.flat[0] = w.flat[0] + 1 if w.flat[0] < 100 else w.flat[0] - 1
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(w, "wo_q"))
    bad = tmp_path / "bad.onnx"
    onnx.save(m, str(bad))
    assert onnxfile.verify(tiny_paths[1])  # the original passes
    with pytest.raises(ModelError, match="do not match"):
        onnxfile.verify(bad)
    r = run("compress", "--mix", "off", "-m", bad, a)
    assert r.exit_code == 3 and "do not match" in r.output


# -- model search path --------------------------------------------------------------------------
def test_search_path_by_name_and_by_fingerprint(store, files, tmp_path):
    a, _ = files
    assert run("compress", "--mix", "off", "-m", "mine", a).exit_code == 0
    z = a.with_name("a.txt.lmz")
    a.unlink()
    assert run("-d", z).exit_code == 0 and a.read_bytes() == TEXT[:400]  # found by its name
    user = tmp_path / "xdg" / "lmz" / "models"
    user.mkdir(parents=True)
    (store / "mine.onnx").rename(user / "renamed.onnx")  # the per-user directory, another name
    a.unlink()
    assert run("-d", z).exit_code == 0 and a.read_bytes() == TEXT[:400]  # found by its fingerprint
    r = run("models")
    assert r.exit_code == 0
    line = next(x for x in r.output.splitlines() if x.startswith("renamed"))
    fp = onnxfile.read_metadata(user / "renamed.onnx")["lmz.weights_sha256"]
    assert fp[:16] in line and "gru" in line and str(user / "renamed.onnx") in line


# -- the zstd-style command line ----------------------------------------------------------------
def test_zstd_style_flags(store, files, tmp_path):
    a, b = files
    r = run("--mix", "off", "-m", "mine", "-T", "2", a)  # lmz-run FILE compresses
    assert r.exit_code == 0
    z = a.with_name("a.txt.lmz")
    assert run("-t", z).exit_code == 0
    r = run("-l", z)
    assert r.exit_code == 0 and "model mine" in r.output
    r = run("-dc", z)
    assert r.exit_code == 0 and r.stdout_bytes == TEXT[:400]
    a.unlink()
    assert run("-d", z).exit_code == 0 and a.read_bytes() == TEXT[:400]
    assert run("-T", "-1", a).exit_code == 1  # validated; usage errors exit 1
    assert run("--no-such-option").exit_code == 1
    assert run("bench", "--no-such-option").exit_code == 1  # the studies' usage errors too
    assert run("-z", "-d", z).exit_code == 1
    r = run("-V")
    assert r.exit_code == 0 and r.output.startswith("lmz-run ")
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "c.txt").write_bytes(b"recursive " * 30)
    assert run("--mix", "off", "-m", "mine", d).exit_code == 1  # a directory without -r
    assert run("--mix", "off", "-m", "mine", "-r", d).exit_code == 0
    (d / "sub" / "c.txt").unlink()
    assert run("-d", "-r", d).exit_code == 0 and (d / "sub" / "c.txt").read_bytes() == b"recursive " * 30


def test_tar_round_trip(tmp_path, tiny_paths):
    tar = shutil.which("tar")
    if tar is None:
        pytest.skip("no tar")
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_paths[1], models / "text.onnx")  # the default model, found on LMZ_MODEL_PATH
    prog = tmp_path / "lmz-run"
    prog.write_text(f"#!/bin/sh\nexec {sys.executable} -m lmz.runtime.cli --mix off \"$@\"\n")
    prog.chmod(0o755)
    src = tmp_path / "dir"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(TEXT[:300])
    (src / "sub" / "b.txt").write_bytes(b"nested\n")
    env = _env(LMZ_MODEL_PATH=str(models))
    subprocess.run([tar, "-I", str(prog), "-cf", "x.tar.lmz", "dir"], cwd=tmp_path, env=env, check=True, timeout=300)
    assert (tmp_path / "x.tar.lmz").read_bytes()[:4] == ct.MAGIC
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run([tar, "-I", str(prog), "-xf", "../x.tar.lmz"], cwd=out, env=env, check=True, timeout=300)
    assert (out / "dir" / "a.txt").read_bytes() == TEXT[:300]
    assert (out / "dir" / "sub" / "b.txt").read_bytes() == b"nested\n"


def test_concatenated_streams(mp, files, tmp_path):
    a, b = files
    r = run("compress", "--mix", "off", "-m", mp, "-c", a, b)
    assert r.exit_code == 0
    both = r.stdout_bytes
    want = a.read_bytes() + b.read_bytes()
    assert api.decompress(both, model=mp) == want
    p = subprocess.run(EXE + ["decompress", "-m", mp], input=both, capture_output=True, env=_env(), timeout=120)
    assert p.returncode == 0 and p.stdout == want
    r = run("test", "-m", mp, input=both)
    assert r.exit_code == 0
    r = run("decompress", "-m", mp, "-c", input=both + b"garbage")
    assert r.exit_code == 2 and "stdin: trailing data" in r.output


def test_several_files_go_on_after_an_error(mp, files, tmp_path):
    a, b = files
    r = run("compress", "--mix", "off", "-m", mp, tmp_path / "missing", a, b)
    assert r.exit_code == 1 and "missing" in r.output
    assert a.with_name("a.txt.lmz").exists() and b.with_name("b.txt.lmz").exists()
    za, zb = a.with_name("a.txt.lmz"), b.with_name("b.txt.lmz")
    za.write_bytes(za.read_bytes()[:-3])  # truncated
    a.unlink()
    b.unlink()
    r = run("decompress", "-m", mp, za, zb)
    assert r.exit_code == 2 and f"{za}: truncated" in r.output
    assert b.read_bytes() == TEXT[400:700] + b"second file\n" and not a.exists() and not _tmps(tmp_path)
    x, y = tmp_path / "x", tmp_path / "y"
    x.write_bytes(b"x")
    y.write_bytes(b"y")
    r = run("compress", "-m", "no-such-model", x, y)
    assert r.exit_code == 3 and r.output.count("not found") == 1  # no model: one message, the run stops


def test_suffix_skipped_list_stdin_and_console_stdin(store, files, tmp_path):
    a, _ = files
    assert run("compress", "--mix", "off", "-m", "mine", a).exit_code == 0
    z = a.with_name("a.txt.lmz")
    r = run("compress", "-f", "-m", "mine", z)
    assert r.exit_code == 0 and "already has the .lmz suffix" in r.output
    assert not z.with_name("a.txt.lmz.lmz").exists()
    r = run("list", "-", input=z.read_bytes())
    assert r.exit_code == 0 and "stdin:" in r.output and "model mine" in r.output
    master, slave = os.openpty()
    try:
        for args in ([], ["-d"]):
            p = subprocess.run(EXE + args, stdin=slave, capture_output=True, env=_env(), timeout=60)
            assert p.returncode == 1 and b"stdin is a console" in p.stderr and p.stdout == b""
    finally:
        os.close(master)
        os.close(slave)
