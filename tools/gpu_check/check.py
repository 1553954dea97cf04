"""GPU check: CUDA vs CPU bit-exactness, cross-provider decoding, throughput, one report.

    python tools/gpu_check/check.py                      # on a GPU machine: writes docs/bench/gpu.md + .json
    python tools/gpu_check/check.py --quick --report R.md  # anywhere (a CPU host reports "no CUDA: ...")

For every shipped model, any --model given, and tiny random models of each family (gru and
transformer, chunk 1 and 4):

1. exactness: runs each model over random, real and extreme byte inputs with many lanes, the
   state carried over several calls, on the CPU and on CUDA (TF32 on, as onnxruntime defaults;
   TF32 off; deterministic compute), and compares every integer of the scores and the state; tiny
   models are also compared with the numpy reference (lmz.spec). Node placement is read from
   onnxruntime's profile (which op ran on which provider): an op without a CUDA kernel falls
   back to the CPU silently, with copies.
2. cross-provider decoding: compresses a text sample on the CPU and on CUDA with the mix off and
   on, demands identical bytes, and decodes each file on the other provider.
3. throughput: the model alone and the default stack (mix on, the model's preset) at lane
   counts from 256 to 16,384, on the CPU and on CUDA.
4. the report: markdown + JSON.

On a host where CUDA cannot start (a CPU build of onnxruntime, or onnxruntime-gpu without a
driver), the CUDA columns are skipped, the report starts with "no CUDA: <why>", the CPU-side
checks still run (CPU with other settings, the numpy reference, CPU round trips) and the exit
code is 0 unless one of those failed. Exit 1: some integer or byte differed (the report says where).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the lmz of this checkout
    sys.path.insert(0, str(ROOT))

LANE_COUNTS = (256, 1024, 4096, 16384)
PRETEND = False  # --pretend-cuda: CPU sessions stand in for CUDA ones (tests this script's CUDA paths on a CPU)
CUDA_VARIANTS = {
    # onnxruntime's default: TF32 tensor cores for float32 MatMul. TF32 keeps 10 explicit mantissa
    # bits (11 significant): every integer of magnitude <= 2048 is exact, so int8-range operands
    # (|x| <= 127, what the GRU and most transformer MatMuls multiply) are exact; their products
    # (< 2**14) are exact and are accumulated in float32, exact while sums stay below 2**24. An
    # operand with more significant bits (the transformer's exp table, up to 2**12) is rounded:
    # that is what the "tf32-off" variant isolates.
    "cuda": ({}, False),
    "cuda-tf32-off": ({"use_tf32": "0"}, False),
    "cuda-deterministic": ({}, True),
}


# -- onnxruntime sessions -----------------------------------------------------------------------
def ort_info() -> dict:
    import onnxruntime as ort

    maps = ""
    with contextlib.suppress(OSError):
        maps = Path("/proc/self/maps").read_text()
    libs = sorted({ln.split()[-1] for ln in maps.splitlines()
                   if any(k in ln for k in ("libcublas", "libcudart", "libcudnn", "libonnxruntime_providers_cuda"))})
    return {"onnxruntime": ort.__version__, "onnxruntime_path": os.path.dirname(ort.__file__),
            "device": ort.get_device(), "available_providers": ort.get_available_providers(),
            "cuda_libraries_loaded": libs, "python": platform.python_version(), "machine": platform.machine(),
            "cpu_count": os.cpu_count()}


def _preload():
    import onnxruntime as ort

    out = io.StringIO()
    if hasattr(ort, "preload_dlls"):
        with contextlib.redirect_stdout(out):
            try:
                ort.preload_dlls()
            except Exception as e:  # depends on the host's CUDA install
                print(f"preload_dlls: {e}")
    return out.getvalue().strip()


def cpu_session(path, threads=0, opt="all"):
    from lmz.runtime.session import make_session

    return make_session(path, "cpu", threads=threads, opt_level=opt)[0]


def cuda_session(path, options: dict | None = None, deterministic: bool = False, profile_dir: str | None = None):
    """A CUDA session, or None when the session did not really get the CUDA provider."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers() and not PRETEND:
        return None
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.inter_op_num_threads = 1
    so.use_deterministic_compute = deterministic
    if profile_dir:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(profile_dir, "prof")
    if PRETEND:
        return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    ort.set_default_logger_severity(4)  # a CUDA provider that cannot start is what we test for, not an error
    try:
        sess = ort.InferenceSession(str(path), sess_options=so,
                                    providers=[("CUDAExecutionProvider", dict(options or {})), "CPUExecutionProvider"])
    except Exception:
        return None
    finally:
        ort.set_default_logger_severity(2)
    return sess if sess.get_providers()[0] == "CUDAExecutionProvider" else None


def probe_cuda(path) -> tuple[bool, str]:
    """(usable, why not / what): the provider actually used, not the one asked for."""
    import onnxruntime as ort

    if PRETEND:
        return True, "PRETEND: CPU sessions stand in for CUDA (--pretend-cuda tests this script, not a GPU)"
    avail = ort.get_available_providers()
    if "CUDAExecutionProvider" not in avail:
        return False, (f"no CUDA: onnxruntime {ort.__version__} ({os.path.dirname(ort.__file__)}) is a build without "
                       f"the CUDA execution provider (available: {', '.join(avail)})")
    msg = " / ".join(ln.strip()[:120] for ln in _preload().splitlines() if ln.strip())
    if cuda_session(path) is None:
        return False, (f"no CUDA: onnxruntime {ort.__version__} lists CUDAExecutionProvider, but a session asking for "
                       "it fell back to the CPU (no GPU, driver or CUDA 13 libraries on this host)"
                       + (f"; preload_dlls said: {msg[:300]}" if msg else ""))
    return True, f"CUDA: onnxruntime {ort.__version__} runs sessions on CUDAExecutionProvider"


def byte_model(path, provider: str):
    from lmz.runtime.session import ByteModel

    return ByteModel(path, "cpu" if PRETEND else provider)


def placement(path, lanes: int, chunk: int, state_size: int) -> dict:
    """{provider: {op_type: nodes}} as onnxruntime's profile of one CUDA run records it."""
    with tempfile.TemporaryDirectory() as d:
        sess = cuda_session(path, profile_dir=d)
        if sess is None:
            return {}
        sess.run(None, {"bytes": np.zeros((lanes, chunk), np.int64), "state": np.zeros((lanes, state_size), np.float32)})
        prof = json.loads(Path(sess.end_profiling()).read_text())
    seen: dict = {}
    for ev in prof:
        a = ev.get("args") or {}
        if ev.get("cat") == "Node" and "provider" in a and ev.get("name", "").endswith("_kernel_time"):
            seen.setdefault(a["provider"], {}).setdefault(ev["name"][:-len("_kernel_time")], a.get("op_name", "?"))
    return {prov: _count(nodes.values()) for prov, nodes in seen.items()}


def _count(xs) -> dict:
    out: dict = {}
    for x in xs:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items()))


# -- models ---------------------------------------------------------------------------------------
class Model:
    def __init__(self, name, path, weights=None, cfg=None, kind="shipped"):
        from lmz.runtime.session import read_model_info

        self.name, self.path, self.weights, self.cfg, self.kind = name, Path(path), weights, cfg, kind
        self.info = read_model_info(path)
        self.chunk, self.state_size = self.info.chunk, self.info.state_size


def tiny_models(d: Path) -> list[Model]:
    from lmz.export.exporter import export_model
    from lmz.export.tiny import RANDOM_WEIGHTS

    out = []
    for fam in sorted(RANDOM_WEIGHTS):
        w, cfg = RANDOM_WEIGHTS[fam](seed=7)
        for chunk in (1, 4):
            p = d / f"tiny-{fam}-c{chunk}.onnx"
            export_model(w, cfg, p, chunk=chunk, meta={"lmz.train": {"note": "random weights, seed 7"}})
            out.append(Model(p.stem, p, w, cfg, kind="tiny"))
    return out


def shipped_models(names=None) -> list[Model]:
    from lmz.runtime.api import available_models, resolve_model

    return [Model(n, resolve_model(n)) for n in (names if names is not None else available_models())]


# -- 1. exactness ---------------------------------------------------------------------------------
def inputs(lanes: int, n: int, real: bytes, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + lanes)
    buf = np.frombuffer((real * (lanes * n // max(len(real), 1) + 1))[: lanes * n], np.uint8)
    offs = rng.integers(0, max(1, len(real) - n), lanes)  # every lane a different place of the text
    txt = np.frombuffer(real * 2, np.uint8)
    return {
        "random": rng.integers(0, 256, (lanes, n)),
        "real": np.stack([txt[o:o + n] for o in offs]).astype(np.int64) if len(real) >= n else buf.reshape(lanes, n).astype(np.int64),
        "zeros": np.zeros((lanes, n), np.int64),
        "ff": np.full((lanes, n), 255, np.int64),
        "alternating": np.tile(np.array([0, 255], np.int64), (lanes, n // 2 + 1))[:, :n],
        "high": rng.integers(128, 256, (lanes, n)),
    }


def run_steps(sess_or_ref, m: Model, data: np.ndarray):
    """Run data [L, n] in chunk-sized calls with the state carried -> (scores [L, n, 256], state)."""
    L = data.shape[0]
    if sess_or_ref == "reference":
        from lmz import spec

        state = np.zeros((L, m.state_size), np.int64)
        outs = []
        for s in range(0, data.shape[1], m.chunk):
            sc, state = spec.forward(m.weights, m.cfg, data[:, s:s + m.chunk], state)
            outs.append(np.asarray(sc, np.float32))
        return np.concatenate(outs, 1), np.asarray(state, np.float32)
    state = np.zeros((L, m.state_size), np.float32)
    outs = []
    for s in range(0, data.shape[1], m.chunk):
        sc, state = sess_or_ref.run(["scores", "state_out"], {"bytes": np.ascontiguousarray(data[:, s:s + m.chunk]),
                                                               "state": state})
        outs.append(sc)
    return np.concatenate(outs, 1), state


def diff(a, b) -> dict:
    sa, ta = a
    sb, tb = b
    bad_s, bad_t = sa != sb, ta != tb
    n = int(bad_s.sum()) + int(bad_t.sum())
    r = {"integers": int(sa.size + ta.size), "differ": n}
    if n:
        r["max_abs"] = float(max(np.abs(sa - sb).max(initial=0), np.abs(ta - tb).max(initial=0)))
        if bad_s.any():
            lane, pos, sym = (int(v) for v in np.argwhere(bad_s)[0])
            r["first"] = f"scores lane {lane} byte {pos} symbol {sym}: {sb[lane, pos, sym]:.0f} vs {sa[lane, pos, sym]:.0f}"
        r["lanes_hit"] = int(bad_s.any(axis=(1, 2)).sum())
    return r


def exactness(models, lanes_list, steps, real, cuda: bool, log) -> list[dict]:
    rows = []
    for m in models:
        base = cpu_session(m.path)
        others = {"cpu-1thread-noopt": cpu_session(m.path, threads=1, opt="disable")}
        if cuda:
            for name, (opts, det) in CUDA_VARIANTS.items():
                s = cuda_session(m.path, opts, det)
                others[name] = s if s is not None else "failed"
        if m.weights is not None:
            others["numpy-reference"] = "reference"
        for L in lanes_list:
            if m.weights is not None and L > 4096:
                ref_ok = False  # the int64 reference is slow at many lanes: compared up to 4096
            else:
                ref_ok = True
            for case, data in inputs(L, steps * m.chunk, real).items():
                want = run_steps(base, m, data)
                for vname, sess in others.items():
                    if (sess == "reference" and not ref_ok) or (vname.startswith("cpu-") and L > 1024):
                        continue  # slow references are compared up to 4096 lanes, CPU settings up to 1024
                    if sess == "failed":
                        rows.append({"model": m.name, "lanes": L, "input": case, "vs": vname, "error": "no CUDA session"})
                        continue
                    r = diff(want, run_steps(sess, m, data))
                    rows.append({"model": m.name, "lanes": L, "input": case, "vs": vname, **r})
                    if r["differ"]:
                        log(f"  DIFF {m.name} lanes={L} input={case} cpu vs {vname}: {r}")
        log(f"exactness {m.name}: {sum(1 for r in rows if r['model'] == m.name)} comparisons, "
            f"{sum(1 for r in rows if r['model'] == m.name and r.get('differ', 1))} with differences")
    return rows


# -- 2. cross-provider decoding -------------------------------------------------------------------
def roundtrips(models, data: bytes, lanes: int, cuda: bool, log, file_mix_models=("text",)) -> list[dict]:
    """Per model (chunk 1) and mix off/on: the lane loop encodes on every provider (the coded lanes
    must be identical) and decodes each provider's lanes on the other; models that compress text
    (not the tiny random ones, whose frames would be stored raw) also go through whole files
    (lmz.compress on one provider, lmz.decompress on the other): with the mix off, and with it on
    for `file_mix_models` (the mix costs ~20-40 ms a step in numpy, whatever the provider)."""
    from lmz.runtime import api
    from lmz.runtime.lanes import FramePlan
    from lmz.runtime.loop import decode_frame, encode_frame, make_stack
    from lmz.runtime.session import ByteModel

    rows = []
    plan = FramePlan.cut(0, len(data), lanes)
    for m in models:
        if m.chunk != 1:
            continue  # decoding needs the one-step graph
        prov = {"cpu": ByteModel(m.path, "cpu")}
        if cuda:
            try:
                prov["cuda"] = byte_model(m.path, "cuda")
            except Exception as e:  # reported, and the other models still run
                rows.append({"model": m.name, "mix": "-", "bytes": 0, "lanes": lanes, "compressed": 0,
                             "same_bytes": False, "ok": False, "error": f"no CUDA session: {e}"[:300]})
                continue
        for mix in ("off", "on"):
            spec = make_stack(mix, **(m.info.mix_params if mix == "on" else {}))
            t, coded, row = {}, {}, {"model": m.name, "mix": mix, "bytes": len(data), "lanes": lanes}
            for p, bm in prov.items():
                t0 = time.perf_counter()
                coded[p] = encode_frame(bm, spec.make(plan), data, plan)
                t[f"encode_{p}_s"] = round(time.perf_counter() - t0, 3)
            row["compressed"] = sum(len(c) for c in coded["cpu"])
            row["same_bytes"] = all(c == coded["cpu"] for c in coded.values())
            # across providers only (same-provider decoding is what the test suite checks); when the
            # coded bytes are identical, decoding on the encoding provider is the same computation
            pairs = [(e, d) for e in prov for d in prov if e != d] or [("cpu", "cpu")]
            for enc, dec in pairs:
                lanes_coded, bm = coded[enc], prov[dec]
                t0 = time.perf_counter()
                try:
                    ok = b"".join(decode_frame(bm, spec.make(plan), lanes_coded, plan)) == data
                except Exception as e:  # a desynchronised decoder may run off its input
                    ok = False
                    row[f"error_{enc}_to_{dec}"] = f"{type(e).__name__}: {e}"[:200]
                t[f"decode_{enc}_to_{dec}_s"] = round(time.perf_counter() - t0, 3)
                row[f"{enc}->{dec}"] = ok
            if m.kind != "tiny" and (mix == "off" or m.name in file_mix_models):
                blobs = {p: api.compress(data, model=bm, mix=mix, lanes=lanes) for p, bm in prov.items()}
                row["file_same_bytes"] = len(set(blobs.values())) == 1
                for enc, dec in pairs:
                    blob, bm = blobs[enc], prov[dec]
                    try:
                        row[f"file {enc}->{dec}"] = api.decompress(blob, model=bm) == data
                    except Exception as e:  # a checksum error names the lane
                        row[f"file {enc}->{dec}"] = False
                        row[f"error_file_{enc}_to_{dec}"] = f"{type(e).__name__}: {e}"[:200]
            row.update(t)
            row["ok"] = row["same_bytes"] and row.get("file_same_bytes", True) and all(
                v for k, v in row.items() if "->" in k)
            rows.append(row)
            log(f"roundtrip {m.name} mix={mix}: {'ok' if row['ok'] else 'FAILED'} "
                f"({len(data)} -> {row['compressed']} bytes, {', '.join(f'{k}={v}' for k, v in t.items())})")
    return rows


# -- 3. throughput --------------------------------------------------------------------------------
def _timed(fn, seconds: float, max_steps: int) -> tuple[int, float]:
    fn()  # warm-up (allocations, kernel selection)
    n, t0 = 0, time.perf_counter()
    while n < max_steps and (n < 2 or time.perf_counter() - t0 < seconds):
        fn()
        n += 1
    return n, time.perf_counter() - t0


def throughput(models, lane_counts, seconds: float, cuda: bool, real: bytes, log, stack_models=None) -> list[dict]:
    from lmz.runtime.coder import Encoder
    from lmz.runtime.freqs import scores_to_freqs
    from lmz.runtime.lanes import FramePlan
    from lmz.runtime.loop import make_stack
    from lmz.runtime.session import ByteModel

    rows = []
    for m in models:
        provs = {"cpu": ByteModel(m.path, "cpu")}
        if cuda:
            try:
                provs["cuda"] = byte_model(m.path, "cuda")
            except Exception as e:  # timed on the CPU only
                log(f"throughput {m.name}: no CUDA session ({e})")
        spec = make_stack("on", **m.info.mix_params)
        for L in lane_counts:
            data = inputs(L, 64 * m.chunk, real)["real"]
            for p, bm in provs.items():
                st = {"s": bm.initial_state(L), "t": 0}

                def model_step():
                    t = st["t"] % 64
                    _, st["s"] = bm.step(data[:, t * m.chunk:(t + 1) * m.chunk], st["s"])
                    st["t"] += 1

                n, dt = _timed(model_step, seconds, 10_000)
                row = {"model": m.name, "provider": p, "lanes": L, "chunk": m.chunk,
                       "model_kBps": round(L * m.chunk * n / dt / 1e3, 1), "model_ms_per_call": round(dt / n * 1e3, 2)}
                if stack_models is None or m.name in stack_models:
                    stack = spec.make(FramePlan(0, np.full(L, 1 << 20, dtype=np.int64)))
                    enc = Encoder(L, capacity=1 << 12)
                    active = np.ones(L, bool)
                    s2 = {"s": bm.initial_state(L), "t": 0}

                    def stack_step():
                        t = s2["t"] % 64
                        scores, s2["s"] = bm.step(data[:, t * m.chunk:(t + 1) * m.chunk], s2["s"])
                        for j in range(m.chunk):
                            stack.encode_step(scores_to_freqs(scores[:, j]), data[:, (t * m.chunk + j + 1) % data.shape[1]],
                                              active, enc)
                        s2["t"] += 1

                    n2, dt2 = _timed(stack_step, seconds, 60)  # at most 60 calls: the coder's buffers stay small
                    row.update(stack_kBps=round(L * m.chunk * n2 / dt2 / 1e3, 1), stack_ms_per_call=round(dt2 / n2 * 1e3, 2))
                rows.append(row)
                log(f"throughput {m.name} {p} lanes={L}: model {row['model_kBps']} kB/s"
                    + (f", default stack {row['stack_kBps']} kB/s" if "stack_kBps" in row else ""))
    return rows


# -- 4. report ------------------------------------------------------------------------------------
def render(res: dict) -> str:
    L = [f"# GPU check ({time.strftime('%Y-%m-%d', time.gmtime(res['time']))})", ""]
    L += [f"**{res['status']}**", ""]
    e = res["env"]
    L += [f"Host: {e['machine']}, {e['cpu_count']} CPUs, Python {e['python']}; onnxruntime {e['onnxruntime']} "
          f"({e['device']}) from `{e['onnxruntime_path']}`; providers: {', '.join(e['available_providers'])}."]
    if e.get("gpu"):
        L += [f"GPU: {e['gpu']}."]
    if e.get("cuda_libraries_loaded"):
        L += ["CUDA libraries loaded: " + ", ".join(f"`{os.path.basename(x)}`" for x in e["cuda_libraries_loaded"]) + "."]
    L += [f"Command: `{res['command']}` ({res['seconds']:.0f} s).", ""]
    ex = res["exactness"]
    L += ["## 1. Exactness: every integer of scores and state, CPU (all threads, all optimisations) against each", ""]
    L += ["| model | compared with | lane counts | inputs | integers compared | differing | worst |", "|---|---|---|---|---|---|---|"]
    groups: dict = {}
    for r in ex:
        groups.setdefault((r["model"], r["vs"]), []).append(r)
    for (mname, vs), rs in groups.items():
        n = sum(r.get("integers", 0) for r in rs)
        d = sum(r.get("differ", 0) for r in rs)
        errs = [r for r in rs if "error" in r]
        worst = next((r.get("first", "") for r in rs if r.get("differ")), "")
        L += [f"| {mname} | {vs} | {', '.join(str(x) for x in sorted({r['lanes'] for r in rs}))} | "
              f"{len({r['input'] for r in rs})} | {n:,} | {d:,}{' + ' + str(len(errs)) + ' failed' if errs else ''} | {worst} |"]
    if res.get("placement"):
        L += ["", "Node placement of the CUDA sessions (onnxruntime profile; ops not on CUDA run on the CPU with copies):", ""]
        for mname, pl in res["placement"].items():
            parts = [f"{prov.replace('ExecutionProvider', '')}: " + ", ".join(f"{k} {v}" for k, v in ops.items())
                     for prov, ops in pl.items()]
            L += [f"- {mname}: " + ("; ".join(parts) if parts else "no profile")]
    L += ["", "## 2. Cross-provider decoding (a text sample; encoded on each provider, decoded on each)", ""]
    pairs = sorted({k for r in res["roundtrips"] for k in r if "->" in k and not k.startswith("file")})
    fpairs = sorted({k for r in res["roundtrips"] for k in r if k.startswith("file ")})
    L += ["| model | mix | bytes | lanes | coded | same bytes | " + " | ".join(pairs + fpairs) + " |",
          "|---|---|---|---|---|---|" + "---|" * len(pairs + fpairs)]
    for r in res["roundtrips"]:
        L += [f"| {r['model']} | {r['mix']} | {r['bytes']:,} | {r['lanes']} | {r['compressed']:,} | "
              f"{'yes' if r['same_bytes'] and r.get('file_same_bytes', True) else 'NO'} | "
              + " | ".join({True: "ok", False: "FAIL", None: "-"}[r.get(p)] for p in pairs + fpairs) + " |"]
    L += ["", "## 3. Throughput (kB/s of input bytes; model alone = one call over all lanes, default stack = "
          "model + scores_to_freqs + the mix stack's encode step)", ""]
    L += ["| model | provider | lanes | model alone kB/s | ms/call | default stack kB/s | ms/call |",
          "|---|---|---|---|---|---|---|"]
    for r in res["throughput"]:
        L += [f"| {r['model']} | {r['provider']} | {r['lanes']:,} | {r['model_kBps']:,} | {r['model_ms_per_call']} | "
              f"{r.get('stack_kBps', '-')} | {r.get('stack_ms_per_call', '-')} |"]
    L += ["", f"Problems: {len(res['problems'])}"] + [f"- {p}" for p in res["problems"]]
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=[], help="also check this model (NAME or PATH); repeatable")
    ap.add_argument("--shipped", default=None, help="comma-separated shipped models to check (default: all)")
    ap.add_argument("--no-tiny", action="store_true", help="skip the tiny random models")
    ap.add_argument("--lanes", default="1,7,1024,16384", help="lane counts of the exactness check")
    ap.add_argument("--steps", type=int, default=4, help="calls per exactness case (state carried)")
    ap.add_argument("--checks", default="all", help="models that get the exactness check and the round trips "
                    "(comma-separated names, or all); the others are only timed")
    ap.add_argument("--roundtrip-bytes", type=int, default=16384)
    ap.add_argument("--roundtrip-lanes", type=int, default=128)
    ap.add_argument("--roundtrip-models", default="all", help="comma-separated model names, or all")
    ap.add_argument("--file-mix-models", default="text", help="models whose whole-file round trip also runs "
                    "with the mix on (comma-separated)")
    ap.add_argument("--bench-lanes", default=",".join(map(str, LANE_COUNTS)))
    ap.add_argument("--bench-seconds", type=float, default=1.0, help="time per throughput measurement")
    ap.add_argument("--bench-models", default="text,text-l", help="models to time (comma-separated names; "
                    "--model files are always timed); 'all' for every checked model")
    ap.add_argument("--stack-models", default="text", help="timed models whose default stack is timed too "
                    "(comma-separated; the mix costs the same on every provider, ~2 s a step at 16,384 lanes)")
    ap.add_argument("--text", type=Path, default=ROOT / "README.md", help="real bytes (default: the README)")
    ap.add_argument("--report", type=Path, help="report path (.md; the JSON beside it). Default: docs/bench/gpu.md "
                    "when CUDA ran, else only printed")
    ap.add_argument("--merge", type=Path, help="a JSON report of an earlier run: its rows for models this run "
                    "does not check are kept (device.sh checks all models while training runs, then times)")
    ap.add_argument("--pretend-cuda", action="store_true", help="for tests: run the CUDA paths with CPU sessions")
    ap.add_argument("--quick", action="store_true", help="tiny settings for a CPU test: no shipped models unless "
                    "--shipped, lanes 1,7,33, 2 steps, 512-byte round trips and timings at lanes 16,64 (0.05 s) "
                    "of tiny-gru-c1 only")
    a = ap.parse_args(argv)
    if a.quick:  # quick values for the options left at their defaults
        quick = {"lanes": "1,7,33", "steps": 2, "roundtrip_bytes": 512, "roundtrip_lanes": 8, "bench_lanes": "16,64",
                 "bench_seconds": 0.05, "roundtrip_models": "tiny-gru-c1", "bench_models": "tiny-gru-c1", "stack_models": "tiny-gru-c1",
                 "shipped": ""}
        for k, v in quick.items():
            if getattr(a, k) == ap.get_default(k):
                setattr(a, k, v)
    global PRETEND
    PRETEND = a.pretend_cuda
    t_start = time.time()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    real = a.text.read_bytes() if a.text.is_file() else b"The quick brown fox jumps over the lazy dog. " * 400

    with tempfile.TemporaryDirectory() as tmp:
        models = shipped_models([s for s in a.shipped.split(",") if s] if a.shipped is not None else None)
        for m in a.model:
            from lmz.runtime.api import resolve_model

            p = resolve_model(m)
            models.append(Model(p.stem, p, kind="given"))
        if not a.no_tiny:
            models += tiny_models(Path(tmp))
        if not models:
            log("gpu_check: no models to check")
            return 2
        cuda, status = probe_cuda(models[0].path)
        log(status)
        env = ort_info()
        if cuda:
            with contextlib.suppress(Exception):
                import subprocess

                env["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                             "--format=csv,noheader"], capture_output=True, text=True,
                                            timeout=20).stdout.strip()
        lanes = [int(x) for x in a.lanes.split(",")]
        res = {"status": status, "cuda": cuda, "env": env, "time": t_start,
               "command": "python tools/gpu_check/check.py " + " ".join(sys.argv[1:] if argv is None else argv),
               "models": [{"name": m.name, "kind": m.kind, "family": m.info.family, "chunk": m.chunk,
                           "params": m.info.meta.get("lmz.params"), "fingerprint": m.info.fingerprint[:16]} for m in models]}
        res["placement"] = ({m.name: placement(m.path, 7, m.chunk, m.state_size) for m in models
                             if a.checks == "all" or m.name in a.checks.split(",")} if cuda else {})
        checked = [m for m in models if a.checks == "all" or m.name in a.checks.split(",")]
        res["exactness"] = exactness(checked, lanes, a.steps, real, cuda, log)
        rt = [m for m in checked if a.roundtrip_models == "all" or m.name in a.roundtrip_models.split(",")]
        res["roundtrips"] = roundtrips(rt, real[: a.roundtrip_bytes], a.roundtrip_lanes, cuda, log,
                                       a.file_mix_models.split(","))
        bench = [m for m in models if a.bench_models == "all" or m.name in a.bench_models.split(",") or m.kind == "given"]
        res["throughput"] = throughput(bench, [int(x) for x in a.bench_lanes.split(",")], a.bench_seconds, cuda,
                                       real, log, stack_models=a.stack_models.split(","))
    if a.merge and a.merge.is_file():
        old = json.loads(a.merge.read_text())
        mine = {m["name"] for m in res["models"]}
        res["models"] += [m for m in old.get("models", []) if m["name"] not in mine]
        for k in ("exactness", "roundtrips", "throughput"):  # per table: this run's rows win
            here = {r["model"] for r in res[k]}
            res[k] = [r for r in old.get(k, []) if r["model"] not in here] + res[k]
        res["placement"] = {**old.get("placement", {}), **res["placement"]}
        res["merged"] = str(a.merge)
    res["env"]["cuda_libraries_loaded"] = ort_info()["cuda_libraries_loaded"]
    probs = [f"{r['model']} lanes={r['lanes']} input={r['input']}: CPU vs {r['vs']}: "
             + (r["error"] if "error" in r else f"{r['differ']:,} integers differ ({r.get('first', '')})")
             for r in res["exactness"] if r.get("differ") or "error" in r]
    probs += [f"{r['model']} mix={r['mix']}: round trip failed "
              f"({ {k: v for k, v in r.items() if '->' in k or 'same_bytes' in k or k.startswith('error')} })"
              for r in res["roundtrips"] if not r["ok"]]
    for mname, pl in res["placement"].items():
        off = {p: ops for p, ops in pl.items() if p != "CUDAExecutionProvider"}
        if off:
            res.setdefault("notes", []).append(f"{mname}: nodes on other providers: {off}")
    res["problems"] = probs
    res["seconds"] = time.time() - t_start
    text = render(res)
    report = a.report or (ROOT / "docs" / "bench" / "gpu.md" if cuda and not PRETEND else None)
    if report:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text)
        report.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str) + "\n")
        log(f"wrote {report} and {report.with_suffix('.json')}")
    print(text)
    n_cmp = sum(1 for r in res["exactness"] if "integers" in r)
    log(f"{'CUDA' if cuda else 'no CUDA'}: {n_cmp} exactness comparisons, {len(res['roundtrips'])} round trips, "
        f"{len(res['throughput'])} timings, {len(probs)} problems, {res['seconds']:.0f} s")
    return 1 if probs else 0


if __name__ == "__main__":
    sys.exit(main())
