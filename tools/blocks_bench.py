"""Dev-file comparison for docs/bench/blocks.md: lmz --mix on vs --mix auto vs xz / zpaq (same run)."""
import os, subprocess, sys, time, lmz
from lmz.runtime import container as ct
def frames(blob):
    r = ct.Reader(blob); h = ct.read_header(r); out = []
    while True:
        f = ct.read_frame(r, h)
        if f.kind == 0: return out
        out.append(f"{f.kind:02d}" + (f"/p{f.preset}" if f.preset else ""))
print("| file | bytes | xz -9e | zpaq -m5 | lmz --mix on | s | lmz auto | s | auto frames |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for f in sys.argv[1:]:
    d = open(f, 'rb').read()
    xz = len(subprocess.run(["xz", "-9e", "-c", f], capture_output=True).stdout)
    if os.path.exists("/tmp/zz.zpaq"): os.remove("/tmp/zz.zpaq")
    t = time.time(); subprocess.run(["zpaq", "a", "/tmp/zz.zpaq", f, "-m5"], capture_output=True); tz = time.time() - t
    zp = os.path.getsize("/tmp/zz.zpaq")
    t = time.time(); on = lmz.compress(d, mix="on"); ton = time.time() - t
    t = time.time(); au = lmz.compress(d); tau = time.time() - t
    assert lmz.decompress(au) == d
    pc = lambda n: f"{100 * n / len(d):.2f}%"
    print(f"| {os.path.basename(f)} | {len(d)} | {pc(xz)} | {pc(zp)} ({tz:.1f} s) | {pc(len(on))} | {ton:.1f} | {pc(len(au))} | {tau:.1f} | {' '.join(frames(au))} |", flush=True)
