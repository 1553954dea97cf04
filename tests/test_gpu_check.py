"""tools/gpu_check on a CPU host: the check reports "no CUDA" cleanly and still runs its CPU-side
comparisons; the carrying plan cuts and joins payloads exactly; device.sh stashes pieces, starts
training (on the CPU here), installs the archive and runs the check end to end."""
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "gpu_check"


def _cuda_usable() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers() and os.path.exists("/dev/nvidia0")


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def test_check_quick_on_the_cpu(tmp_path):
    rep = tmp_path / "gpu.md"
    r = subprocess.run([sys.executable, str(TOOL / "check.py"), "--quick", "--report", str(rep)],
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    text = rep.read_text()
    res = json.loads(rep.with_suffix(".json").read_text())
    assert text.startswith("# GPU check") and "## 1. Exactness" in text and "## 3. Throughput" in text
    if not _cuda_usable():
        assert res["cuda"] is False and res["status"].startswith("no CUDA: ")
        assert f"**{res['status']}**" in text and "no CUDA: " in r.stderr
        assert not res["placement"]
    # the CPU-side comparisons ran: another CPU configuration and the numpy reference, every family
    ex = res["exactness"]
    assert {r["vs"] for r in ex} >= {"cpu-1thread-noopt", "numpy-reference"}
    assert {r["model"] for r in ex} == {"tiny-gru-c1", "tiny-gru-c4", "tiny-transformer-c1", "tiny-transformer-c4"}
    assert {r["input"] for r in ex} == {"random", "real", "zeros", "ff", "alternating", "high"}
    assert all(r["differ"] == 0 and r["integers"] > 0 for r in ex)
    rt = res["roundtrips"]
    assert [(r["model"], r["mix"]) for r in rt] == [("tiny-gru-c1", "off"), ("tiny-gru-c1", "on")]
    assert all(r["ok"] and r["cpu->cpu"] for r in rt)
    assert [(r["provider"], r["lanes"]) for r in res["throughput"]] == [("cpu", 16), ("cpu", 64)]
    assert all(r["model_kBps"] > 0 and r["stack_kBps"] > 0 for r in res["throughput"])
    assert res["problems"] == []


def test_check_cuda_paths_with_cpu_stand_ins(tmp_path):
    """--pretend-cuda runs the code a GPU host runs (three CUDA variants, placement from the
    profile, cross-provider decoding, CUDA timings) with CPU sessions, so a slip in it is found
    here and not in a device call."""
    rep = tmp_path / "gpu.md"
    r = subprocess.run([sys.executable, str(TOOL / "check.py"), "--quick", "--pretend-cuda", "--report", str(rep)],
                       capture_output=True, text=True, env=_env(), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(rep.with_suffix(".json").read_text())
    assert res["cuda"] is True and res["status"].startswith("PRETEND")
    assert {r["vs"] for r in res["exactness"]} >= {"cuda", "cuda-tf32-off", "cuda-deterministic"}
    assert all(r["differ"] == 0 for r in res["exactness"])
    assert set(res["placement"]) == {"tiny-gru-c1", "tiny-gru-c4", "tiny-transformer-c1", "tiny-transformer-c4"}
    assert res["placement"]["tiny-gru-c1"]["CPUExecutionProvider"].get("Floor", 0) >= 1
    assert all(r["cpu->cuda"] and r["cuda->cpu"] and r["same_bytes"] for r in res["roundtrips"])
    assert {r["provider"] for r in res["throughput"]} == {"cpu", "cuda"}
    assert "| cpu->cuda | cuda->cpu |" in rep.read_text()


def _xz_tar(path: Path, files: dict):
    src = path.parent / "src"
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    with tarfile.open(path, "w:xz") as t:
        for name in files:
            t.add(src / name, arcname=name)


def test_plan_cuts_and_packs(tmp_path):
    sys.path.insert(0, str(TOOL))
    try:
        import plan
    finally:
        sys.path.remove(str(TOOL))
    rng = np.random.default_rng(0)
    wheel, data = tmp_path / "w.bin", tmp_path / "d.bin"
    wheel.write_bytes(rng.bytes(45 << 20))
    data.write_bytes(rng.bytes(5 << 20))
    calls = plan.plan(wheel, data, tmp_path / "g", max_mib=20, margin_mib=3, root=ROOT, train_minutes=7)
    assert calls[0][0] == "data.01"  # the training text travels first
    # 50 MiB in calls of 20 MiB: [data 5 + wheel 15], [wheel 20], [wheel 10]
    assert calls == [["data.01", "wheel.01"], ["wheel.02"], ["wheel.03"]]
    tree = plan.tree_bytes(ROOT)
    for k, c in enumerate(calls, 1):
        d = tmp_path / "g" / f"call{k}"
        assert sum(f.stat().st_size for f in d.iterdir()) + tree < 64 << 20
    joined = b"".join((tmp_path / "g" / f"call{k}" / n).read_bytes() for k, c in enumerate(calls, 1) for n in c
                      if n.startswith("wheel"))
    assert joined == wheel.read_bytes()
    pl = (tmp_path / "g" / "PLAN.md").read_text()
    assert "TRAIN_MINUTES=7 bash tools/gpu_check/device.sh stash .gpu/call1" in pl
    assert f"device.sh stash .gpu/call{len(calls)} && bash tools/gpu_check/device.sh check" in pl
    for line in pl.splitlines():
        if "run(command=" in line:
            assert len(line.split("run(command=")[1].split(", carry=")[0]) < 2000


@pytest.mark.skipif(subprocess.run(["which", "xz"], capture_output=True).returncode != 0, reason="needs xz")
def test_device_script_end_to_end_on_the_cpu(tmp_path):
    """device.sh as the device runs it, with a stand-in archive (no onnxruntime in it: the host's
    onnxruntime is used), training on the CPU at tiny size, and the quick check."""
    sys.path.insert(0, str(TOOL))
    try:
        import plan
    finally:
        sys.path.remove(str(TOOL))
    arch = tmp_path / "ort.tar.xz"
    _xz_tar(arch, {"fake_ort/__init__.py": b"", "fake_ort-1.0.dist-info/METADATA": b"Name: fake\n"})
    text = tmp_path / "train.txt"
    text.write_bytes(b"the quick brown fox jumps over the lazy dog. " * 6000)
    subprocess.run(["xz", "-k", str(text)], check=True)
    g = tmp_path / "g"
    calls = plan.plan(arch, Path(str(text) + ".xz"), g, max_mib=64, margin_mib=3, root=ROOT, train_minutes=1)
    w, out = tmp_path / "w", tmp_path / "out"
    env = {**_env(), "LMZ_GPU_DIR": str(w), "OUT": str(out), "GPU_REPORT": str(tmp_path / "rep" / "gpu.md"),
           "TRAIN_DEVICE": "cpu", "TRAIN_MINUTES": "1", "CHECK_BUDGET_S": "500", "CHECK_ARGS": "--quick",
           "TRAIN_ARGS": "--hidden 8 --batch 4 --seq 16 --reset-every 4 --max-steps 3 --eval-every 1000 "
                         "--val-windows 2 --val-len 64 --threads 1"}
    for k in range(1, len(calls) + 1):
        r = subprocess.run(["bash", str(TOOL / "device.sh"), "stash", str(g / f"call{k}")], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
    assert (w / "site" / ".installed").exists() and (w / "site" / "fake_ort" / "__init__.py").exists()
    assert (w / "train" / "train.txt").read_bytes() == text.read_bytes()
    r = subprocess.run(["bash", str(TOOL / "device.sh"), "check"], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert (w / "train" / "rc").read_text().strip() == "0"
    res = json.loads((tmp_path / "rep" / "gpu.json").read_text())
    names = {m["name"] for m in res["models"]}
    assert {"text-xl", "text", "text-l", "tiny-gru-c1"} <= names  # the trained model, and step 1's merged rows
    assert any(r["model"] == "text-xl" for r in res["exactness"]) and res["problems"] == []
    assert {p.name for p in out.iterdir()} >= {"gpu.md", "gpu.json", "check.log", "train.log", "text-xl.onnx",
                                               "text-xl.json", "text-xl.pt"}
