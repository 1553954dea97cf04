"""Cut the carried payloads into pieces and pack them into device calls (used by prepare.sh).

    python tools/gpu_check/plan.py --wheel .gpu/dl/ort.tar.xz --data .gpu/dl/train.txt.xz --out .gpu

Every call may carry at most 64 MiB, the working tree included. The payloads fill the calls in
order (the training text first, so that training can start in the first call), cut where a call
is full, into OUT/call1, OUT/call2, ... each with a MANIFEST listing every piece and the sha256 of
both joined payloads. OUT/PLAN.md gets the exact run calls (commands, carry lists, timeouts).
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
from pathlib import Path

MIB = 1 << 20
LIMIT = 64 * MIB


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def tree_bytes(root: Path) -> int:
    """What travels without carry: tracked and untracked-not-ignored files."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True,
                         check=True).stdout
    return sum((root / p).stat().st_size for p in out.decode().split("\0") if p and (root / p).is_file())


def cut(payloads: list[tuple[str, bytes]], budget: int) -> list[list[tuple[str, str, bytes]]]:
    """Fill calls of `budget` bytes in order: each payload is cut where a call is full, so a piece
    never straddles two calls (pieces are named KIND.NN, in order)."""
    calls: list[list[tuple[str, str, bytes]]] = [[]]
    room = budget
    for kind, b in payloads:
        i = n = 0
        while i < len(b):
            if room == 0:
                calls.append([])
                room = budget
            take = min(room, len(b) - i)
            n += 1
            calls[-1].append((f"{kind}.{n:02d}", kind, b[i:i + take]))
            i += take
            room -= take
    return calls


def plan(wheel: Path, data: Path | None, out: Path, max_mib: int, margin_mib: int, root: Path,
         train_minutes: float) -> list[list[str]]:
    tree = tree_bytes(root)
    budget = min(LIMIT - tree - margin_mib * MIB, max_mib * MIB)
    if budget < MIB:
        raise SystemExit(f"plan: the working tree ({tree / MIB:.1f} MiB) leaves no room to carry anything")
    calls = cut(([("data", data.read_bytes())] if data else []) + [("wheel", wheel.read_bytes())], budget)
    pieces = [p for c in calls for p in c]
    manifest = [f"{sha256(b)} {name} {kind}" for name, kind, b in pieces]
    manifest.append(f"{sha256(wheel.read_bytes())} (joined) wheel-total")
    if data:
        manifest.append(f"{sha256(data.read_bytes())} (joined) data-total")
    for old in out.glob("call*"):
        shutil.rmtree(old)
    for k, c in enumerate(calls, 1):
        d = out / f"call{k}"
        d.mkdir(parents=True)
        (d / "MANIFEST").write_text("\n".join(manifest) + "\n")
        for name, _, b in c:
            (d / name).write_bytes(b)
    n = len(calls)
    lines = [f"# Device calls ({n} run calls; working tree {tree / MIB:.1f} MiB, at most {budget / MIB:.1f} MiB "
             "carried a call)", "",
             "Make every call right after the previous one returns: the machine stays warm for 30 s, and "
             "what the calls left in /tmp/lmz-gpu is lost when it goes back (then start again at call 1).", ""]
    for k, c in enumerate(calls, 1):
        cmd = f"bash tools/gpu_check/device.sh stash .gpu/call{k}"
        timeout = 120
        if k == 1 and data:
            cmd = f"TRAIN_MINUTES={train_minutes:g} " + cmd
        if k == n:
            cmd += " && bash tools/gpu_check/device.sh check"
            timeout = 600
        size = sum(len(x[2]) for x in c)
        lines += [f"{k}. run(command={cmd!r}, carry=[\".gpu/call{k}\"], timeout_s={timeout})  "
                  f"# {size / MIB:.1f} MiB: {', '.join(x[0] for x in c)}"]
    lines += ["", "Then fetch the files ($OUT: gpu.md, gpu.json, check.log, train.log, text-xl.onnx/.json/.pt) "
              "and give_back.", ""]
    (out / "PLAN.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return [[x[0] for x in c] for c in calls]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, required=True)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--max-mib", type=int, default=64, help="at most this much carried per call")
    ap.add_argument("--margin-mib", type=int, default=3, help="room left for files the session adds meanwhile")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2])
    ap.add_argument("--train-minutes", type=float, default=6)
    a = ap.parse_args(argv)
    plan(a.wheel, a.data, a.out, a.max_mib, a.margin_mib, a.root, a.train_minutes)


if __name__ == "__main__":
    main()
