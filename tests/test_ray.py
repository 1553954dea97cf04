"""lmz.ray on a real local Ray cluster (2 CPUs): files and rows, round trips bit-exact against the
in-process API, one bad item reported in its row while the others finish, and the worker resources
(CPU or GPU actors) passed to Ray Data as asked."""
from __future__ import annotations

import os

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

from conftest import TEXT  # noqa: E402

import lmz  # noqa: E402
import lmz.ray as lray  # noqa: E402
from lmz.runtime.errors import UsageError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def cluster():
    # the workers import lmz from where this test does (a checkout on PYTHONPATH, or the install)
    root = os.path.dirname(os.path.dirname(os.path.abspath(lmz.__file__)))
    env = {"PYTHONPATH": os.pathsep.join([root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 2**20,
             runtime_env={"env_vars": env})
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield
    ray.shutdown()


def _tree(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    files = {"a.txt": TEXT[:700], "b.txt": TEXT[100:1500], "empty": b"", "sub/c.md": TEXT[:333] + bytes(range(256)),
             "d.bin": os.urandom(500), "e.txt": TEXT[5:900], "f.txt": TEXT[:64], "sub/g.txt": TEXT[::-1][:999]}
    for name, data in files.items():
        (src / name).write_bytes(data)
    return src, files


def test_files_two_workers_bit_exact(cluster, tiny_paths, tmp_path):
    src, files = _tree(tmp_path)
    model = tiny_paths[1]
    rows = lray.compress_files(src, tmp_path / "z", model=model, mix="off", seekable=True, workers=2).take_all()
    assert len(rows) == len(files) and all(r["error"] is None for r in rows), rows
    for r in rows:
        name = os.path.relpath(r["path"], src)
        assert r["output"] == str(tmp_path / "z" / (name + ".lmz"))
        blob = open(r["output"], "rb").read()
        # the same bytes as compressing in this process (the stream does not depend on the worker)
        assert blob == lmz.compress(files[name], model=model, mix="off", index=True)
        assert (r["size"], r["compressed"]) == (len(files[name]), len(blob))
    back = lray.decompress_files(tmp_path / "z", tmp_path / "back", model=model, workers=2).take_all()
    assert len(back) == len(files) and all(r["error"] is None for r in back), back
    for name, data in files.items():
        assert (tmp_path / "back" / name).read_bytes() == data


def test_rows_bad_items_reported_not_fatal(cluster, tiny_paths):
    model = tiny_paths[1]
    items = [{"path": f"r{i}", "bytes": TEXT[i * 50: i * 50 + 300]} for i in range(5)]
    packed = lray.compress(ray.data.from_items(items), model=model, batch_size=2).take_all()
    assert [r["error"] for r in packed] == [None] * 5
    blobs = {r["path"]: r["lmz"] for r in packed}
    assert blobs["r3"] == lmz.compress(items[3]["bytes"], model=model)  # the default stack (mix auto), bit-exact
    bad = bytearray(blobs["r1"])
    bad[len(bad) // 2] ^= 0x40  # a byte inside the frame: a checksum or the frame's structure fails
    # by path: Ray does not keep the rows' order (take_all after several tasks)
    rows = [{"path": p, "lmz": bytes(bad) if p == "r1" else b} for p, b in sorted(blobs.items())]
    rows.append({"path": "junk", "lmz": b"not an lmz stream at all"})
    out = {r["path"]: r for r in lray.decompress(ray.data.from_items(rows), model=model, batch_size=3).take_all()}
    assert out["r1"]["bytes"] is None
    assert out["r1"]["error"].split(":")[0] in ("ChecksumError", "CorruptError", "FormatError", "TruncatedError")
    assert out["junk"]["bytes"] is None and out["junk"]["error"].startswith("FormatError")
    for it in items:
        if it["path"] != "r1":
            assert out[it["path"]]["error"] is None
            assert out[it["path"]]["bytes"] == it["bytes"] and out[it["path"]]["size"] == len(it["bytes"])


def test_missing_file_and_existing_output(cluster, tiny_paths, tmp_path):
    good = tmp_path / "good.txt"
    good.write_bytes(TEXT[:200])
    paths = [good, tmp_path / "missing.txt"]
    rows = {os.path.basename(r["path"]): r for r in
            lray.compress_files(paths, tmp_path / "o", model=tiny_paths[1], mix="off").take_all()}
    assert rows["good.txt"]["error"] is None
    assert rows["missing.txt"]["error"].startswith("FileNotFoundError") and rows["missing.txt"]["output"] is None
    assert not (tmp_path / "o" / "missing.txt.lmz").exists()
    again = lray.compress_files([good], tmp_path / "o", model=tiny_paths[1], mix="off").take_all()
    assert again[0]["error"].startswith("UsageError") and "exists" in again[0]["error"]
    assert lmz.decompress((tmp_path / "o" / "good.txt.lmz").read_bytes(), model=tiny_paths[1]) == TEXT[:200]


class _Recorder:
    """Stands for a Dataset: records what map_batches is asked (no cluster needed)."""

    def map_batches(self, fn, **kw):
        self.fn, self.kw = fn, kw
        return self


def test_cpu_and_gpu_workers_expressed():
    cpu = lray.compress(_Recorder(), model="m", workers=3, num_cpus=2)
    assert cpu.fn is lray.LmzCompressFn and cpu.kw["compute"].min_size == cpu.kw["compute"].max_size == 3
    assert cpu.kw["num_cpus"] == 2 and cpu.kw["num_gpus"] is None
    assert cpu.kw["fn_constructor_kwargs"]["provider"] == "auto" and cpu.kw["fn_constructor_kwargs"]["ort_threads"] == 2
    gpu = lray.decompress(_Recorder(), workers=8, num_cpus=1, num_gpus=1, batch_size=16)
    assert gpu.fn is lray.LmzDecompressFn and gpu.kw["num_gpus"] == 1 and gpu.kw["batch_size"] == 16
    assert gpu.kw["fn_constructor_kwargs"]["provider"] == "cuda"  # a GPU worker must not fall back silently
    with pytest.raises(UsageError):
        lray.compress(_Recorder(), workers=0)
    with pytest.raises(UsageError):
        lray.compress_files([])
