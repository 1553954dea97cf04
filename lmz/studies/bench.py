"""lmz-run bench: lmz against classical compressors on the same bytes, in the same run (paper Table 1).

    lmz-run bench                                 # text, image and audio evaluation sets, all models
    lmz-run bench --kind text --quick             # first 32 KiB of each text eval file (smoke run)
    lmz-run bench a.txt b.txt --models text,text-s --json out.json --plots plots/

Rows are compressors, columns are the input files (plus one "all" column per kind). For every
input it reports the compressed rate (compressed / raw, %), compression and decompression
throughput (kB/s, 1 kB = 1000 bytes), under two protocols:

* ``whole``: the input compressed as one stream (lmz: as ``lmz-run compress`` does it, default lanes);
* ``chunk``: the paper's protocol, independent 2048-byte chunks; baselines compress each chunk on
  its own (the sizes are summed, headers included); lmz writes one stream whose lanes are exactly
  2048 bytes (``Compressor(lane_size=2048)``), so every lane starts from the model's zero state.
  With ``mix on`` the lanes of a frame share the mixer's adaptive tables (the mix learns across
  lanes), so that row is not a strictly independent-chunk number: it is marked ``chunk*``.

Baselines: gzip -9, bzip2 -9, xz -9e (lzma preset 9 | PRESET_EXTREME), zstd -19, brotli -11,
PPMd var. H order 6 with 16 MiB (7-Zip's PPMd, ``pyppmd``; a varint of the length is prepended, as
the decoder needs it), PNG (image and audio: Pillow, optimize=True, the bytes as 32x64 grayscale
patches stacked into a 64-pixel-wide image) and FLAC -8 (audio: libFLAC through ``soundfile``,
compression level 1.0 = -8, 8-bit samples at 16 kHz; the files hold uint8 samples biased by
128, converted to signed 8-bit losslessly). A baseline whose optional package is missing is
skipped with a note (``pip install 'lmz[bench]'`` installs them all). Every result is verified by
decompressing it; a mismatch is an error (exit code 2).

lmz rows: every installed model fitting the kind (``lmz.runtime.api.available_models()``; the kind
comes from ``lmz.kind`` in the model's metadata, else the name's prefix ``text``/``image``/``audio``,
e.g. ``text-s``), with the mix off (the model alone) and on. Model-size-adjusted rates add the
model's ONNX file size, or the paper's 2 bytes per parameter (``lmz.params``), to the compressed size.

Data: the project's evaluation sets, found only through ``--data DIR`` or the environment
variable ``LMZ_DATA``: ``text/eval/*``, ``image/eval.bin``, ``audio/eval8.bin``. Build them with
``bash tools/fetch_corpora.sh DIR`` (it says what it could not build and why).

General-purpose set (issue 17, ``--kind general``): lmz's default against zpaq -m5 and these baselines on
the files users keep (an executable, JSON, CSV, a tarball, prose, PGM/PPM, WAV, JPEG), built by
``bash tools/fetch_general.sh DIR``; see lmz/studies/general.py and docs/bench/general.md.

In-context study (paper §3.7, ``--plots DIR``): bits/byte as a function of the position within a
lane (buckets 0-16, 16-64, ..., 16K-64K), on the text inputs, for each text model with the mix off
and on (the ideal code length -log2 p of every coded byte, from the same integer frequencies the
coder uses; the stream is not written) and for gzip (the marginal cost of each bucket: the growth
of the deflate size of the lane's prefix). Writes ``incontext.png`` and ``incontext.json``.
"""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import math
import os
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
import typer

from lmz.runtime.errors import LmzError, UsageError

KINDS = ("text", "image", "audio")
GENERAL = "general"  # the general-purpose set (lmz/studies/general.py): not a model kind
from lmz.studies import CHUNK  # noqa: E402
from lmz.studies import PATCH_COLS as PATCH_W  # noqa: E402

AUDIO_RATE = 16000
BUCKETS = (0, 16, 64, 256, 1024, 4096, 16384, 65536)
PPMD_ORDER, PPMD_MEM = 6, 16 << 20
QUICK_KB = 32
ROW_ORDER = ("gzip -9", "bzip2 -9", "xz -9e", "zstd -19", "brotli -11", "PPMd o6", "PNG", "FLAC -8")


class BenchError(LmzError):
    """A round trip gave back other bytes than the input."""

    exit_code = 2


# -- data ---------------------------------------------------------------------------------------
def data_root(data: Optional[str] = None) -> Path:
    """--data DIR, else $LMZ_DATA; nothing is guessed from where the package is installed."""
    for cand in (data, os.environ.get("LMZ_DATA")):
        if cand:
            return Path(cand)
    raise UsageError("no evaluation data: pass --data DIR or set LMZ_DATA (build DIR with "
                     "`bash tools/fetch_corpora.sh DIR`), or give input FILEs")


def default_inputs(kind: str, root: Path) -> list[Path]:
    if kind == "text":
        d = root / "text" / "eval"
        files = sorted(p for p in d.glob("*") if p.is_file()) if d.is_dir() else []
    else:
        files = [p for p in [root / kind / ("eval.bin" if kind == "image" else "eval8.bin")] if p.is_file()]
    if not files:
        raise UsageError(f"no {kind} evaluation data under {root}; build it with "
                         f"`bash tools/fetch_corpora.sh DIR` and pass --data DIR (or set LMZ_DATA)")
    return files


@dataclass
class Input:
    name: str
    kind: str
    data: bytes
    path: str = ""


# -- codecs -------------------------------------------------------------------------------------
# lmz rows: the model alone, the model with the mix, the mix without the model (its stack params
# are the model's own, so the kind's contexts apply; the model is not run, only named)
MIX_ROWS = {"off": "", "on": " +mix", "alone": " mix only (no model)"}

@dataclass
class Codec:
    name: str
    kinds: tuple
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes, int], bytes]  # (blob, original length) -> bytes
    missing: str = ""  # why it cannot run (a missing optional package)
    model: Optional[str] = None  # lmz rows: the model path
    mix: Optional[str] = None
    model_bytes: int = 0
    model_params: int = 0
    lmz: bool = False


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _unvarint(b: bytes) -> tuple[int, int]:
    n = shift = i = 0
    while True:
        c = b[i]
        n |= (c & 0x7F) << shift
        shift += 7
        i += 1
        if not c & 0x80:
            return n, i


def _ppmd():
    import pyppmd

    def comp(d: bytes) -> bytes:
        e = pyppmd.Ppmd7Encoder(PPMD_ORDER, PPMD_MEM)
        # fed in 4 KiB pieces: one encode() call on a large buffer (1.6 MB wiki.txt), and 64 KiB
        # pieces on the 5.8 MB image evaluation set, gave streams that do not decode (pyppmd 1.3.1);
        # 4 KiB pieces decode on every evaluation set (checked), and all pieces form one PPMd stream
        body = b"".join(e.encode(d[i: i + 4096]) for i in range(0, len(d), 4096))
        return _varint(len(d)) + body + e.flush(endmark=False)

    def decomp(b: bytes, n: int) -> bytes:
        m, i = _unvarint(b)
        return pyppmd.Ppmd7Decoder(PPMD_ORDER, PPMD_MEM).decode(b[i:], m)

    return comp, decomp


def _zstd():
    import zstandard

    c = zstandard.ZstdCompressor(level=19)
    d = zstandard.ZstdDecompressor()
    return c.compress, lambda b, n: d.decompress(b)


def _brotli():
    import brotli

    return (lambda d: brotli.compress(d, quality=11)), (lambda b, n: brotli.decompress(b))


def _png():
    from PIL import Image

    def comp(d: bytes) -> bytes:
        rows = -(-len(d) // PATCH_W)
        buf = d + bytes(rows * PATCH_W - len(d))  # pad the last row; the length is known to the reader
        out = io.BytesIO()
        Image.frombytes("L", (PATCH_W, rows), buf).save(out, format="PNG", optimize=True)
        return out.getvalue()

    def decomp(b: bytes, n: int) -> bytes:
        return Image.open(io.BytesIO(b)).tobytes()[:n]

    return comp, decomp


def _flac():
    import soundfile as sf

    def comp(d: bytes) -> bytes:
        x = (np.frombuffer(d, dtype=np.uint8).astype(np.int16) - 128) << 8  # PCM_S8 keeps the top 8 bits
        out = io.BytesIO()
        sf.write(out, x, AUDIO_RATE, format="FLAC", subtype="PCM_S8", compression_level=1.0)
        return out.getvalue()

    def decomp(b: bytes, n: int) -> bytes:
        y, _ = sf.read(io.BytesIO(b), dtype="int16")
        return ((y.astype(np.int32) >> 8) + 128).astype(np.uint8).tobytes()

    return comp, decomp


def baselines() -> list[Codec]:
    """The classical compressors (optional ones with `missing` set when their package is absent)."""
    out = [
        Codec("gzip -9", KINDS, lambda d: gzip.compress(d, 9, mtime=0), lambda b, n: gzip.decompress(b)),
        Codec("bzip2 -9", KINDS, lambda d: bz2.compress(d, 9), lambda b, n: bz2.decompress(b)),
        Codec("xz -9e", KINDS, lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
              lambda b, n: lzma.decompress(b)),
    ]
    for name, kinds, make, pkg in (("zstd -19", KINDS, _zstd, "zstandard"), ("brotli -11", KINDS, _brotli, "brotli"),
                                   ("PPMd o6", KINDS, _ppmd, "pyppmd"), ("PNG", ("image", "audio"), _png, "pillow"),
                                   ("FLAC -8", ("audio",), _flac, "soundfile")):
        try:
            c, d = make()
            out.append(Codec(name, kinds, c, d))
        except (ImportError, OSError) as e:  # soundfile raises OSError when libsndfile is missing
            out.append(Codec(name, kinds, None, None, missing=f"{pkg} not installed ({e})"))
    return out


def model_meta(path: Path) -> dict:
    """The model's metadata: NAME.json beside it, else the ONNX metadata_props."""
    j = path.with_suffix(".json")
    if j.is_file():
        try:
            return json.loads(j.read_text())
        except ValueError:
            pass
    from lmz.runtime.session import read_model_info

    return read_model_info(path).meta


def model_kind(path: Path, meta: Optional[dict] = None) -> Optional[str]:
    meta = model_meta(path) if meta is None else meta
    k = meta.get("lmz.kind")
    if k in KINDS:
        return k
    prefix = path.stem.split("-")[0].split("_")[0]
    return prefix if prefix in KINDS else None


def lmz_codecs(models: Optional[str], kinds: list[str], mixes=("off", "on"), provider: str = "cpu",
               notes: Optional[list] = None) -> list[Codec]:
    """Codecs for the chosen models: `models` = "a,b" (NAMEs or PATHs), "none", or None (every
    installed model whose kind is among `kinds`; models with chunk != 1 are left out)."""
    from lmz.runtime import api

    notes = notes if notes is not None else []
    if models is not None and models.strip().lower() in ("none", ""):
        return []
    explicit = models is not None
    names = [m.strip() for m in models.split(",") if m.strip()] if explicit else api.available_models()
    out = []
    alone_kinds: set = set()
    for name in names:
        path = api.resolve_model(name)
        meta = model_meta(path)
        kind = model_kind(path, meta)
        if not explicit and kind not in kinds:
            continue
        if int(meta.get("lmz.chunk", 1)) != 1:
            notes.append(f"model {name}: chunk {meta.get('lmz.chunk')} graph cannot decode; left out")
            continue
        mkinds = (kind,) if kind else KINDS  # a model of unknown kind runs on every input
        label = path.stem
        for mix in mixes:
            if mix == "alone":  # the mix without the model: one row per kind, not per model
                if kind in alone_kinds:
                    continue
                alone_kinds.add(kind)
            out.append(Codec(f"lmz {label}" + MIX_ROWS[mix], mkinds, None, None,
                             model=str(path), mix=mix, lmz=True,
                             model_bytes=path.stat().st_size if mix != "alone" else 0,
                             model_params=int(meta.get("lmz.params", 0) or 0) if mix != "alone" else 0))
    return out


# -- running ------------------------------------------------------------------------------------
@dataclass
class Result:
    file: str
    kind: str
    compressor: str
    protocol: str  # whole | chunk
    raw: int
    compressed: int
    rate: float  # compressed / raw, %
    compress_kBps: float
    decompress_kBps: float
    verified: bool
    model_bytes: int = 0
    model_params: int = 0
    rate_adj_onnx: Optional[float] = None  # (compressed + ONNX bytes) / raw, %
    rate_adj_params: Optional[float] = None  # (compressed + 2 bytes/param) / raw, %
    error: str = ""
    extra: dict = field(default_factory=dict)


def _chunks(d: bytes, size: int = CHUNK) -> list[bytes]:
    return [d[i: i + size] for i in range(0, len(d), size)] or [b""]


def run_baseline(c: Codec, data: bytes, protocol: str) -> tuple[int, float, float, bool]:
    parts = [data] if protocol == "whole" else _chunks(data)
    t0 = time.perf_counter()
    blobs = [c.compress(p) for p in parts]
    t1 = time.perf_counter()
    back = [c.decompress(b, len(p)) for b, p in zip(blobs, parts)]
    t2 = time.perf_counter()
    ok = all(x == p for x, p in zip(back, parts))
    return sum(map(len, blobs)), t1 - t0, t2 - t1, ok


def run_lmz(c: Codec, data: bytes, protocol: str, provider: str = "cpu", progress=None):
    from lmz.runtime import api

    kw = {"lane_size": CHUNK} if protocol == "chunk" else {}
    if c.mix == "alone":
        kw["mix_params"] = {"use_model": False}
    comp = api.Compressor(c.model, provider, mix="off" if c.mix == "off" else "on", progress=progress, **kw)
    t0 = time.perf_counter()
    blob = comp.compress(data)
    t1 = time.perf_counter()
    try:
        back = api.Decompressor(c.model, provider, progress=progress).decompress(blob)
    except LmzError as e:
        back = None
        err = str(e)
    else:
        err = ""
    t2 = time.perf_counter()
    return len(blob), t1 - t0, t2 - t1, back == data, err


def _kBps(n: int, dt: float) -> float:
    return n / 1000 / max(dt, 1e-9)


def run_bench(inputs: list[Input], codecs: list[Codec], protocols=("whole", "chunk"), provider: str = "cpu",
              progress=None) -> list[Result]:
    """Every codec that fits an input's kind, under every protocol. `progress(label)` is called before
    each job."""
    res = []
    for inp in inputs:
        for c in codecs:
            if inp.kind not in c.kinds or c.missing:
                continue
            for proto in protocols:
                if progress:
                    progress(f"{inp.name}: {c.name} ({proto})")
                n = len(inp.data)
                err = ""
                if c.lmz:
                    size, tc, td, ok, err = run_lmz(c, inp.data, proto, provider)
                else:
                    try:
                        size, tc, td, ok = run_baseline(c, inp.data, proto)
                    except Exception as e:  # a baseline library's own failure: reported, not fatal
                        size, tc, td, ok, err = 0, 0.0, 0.0, False, f"{c.name} failed: {type(e).__name__}: {e}"
                if not ok and not err:
                    err = "round trip mismatch"
                r = Result(inp.name, inp.kind, c.name, "chunk*" if (proto == "chunk" and c.lmz and c.mix != "off") else proto,
                           n, size, 100.0 * size / max(n, 1), _kBps(n, tc), _kBps(n, td), ok, error=err)
                if c.lmz:
                    r.model_bytes, r.model_params = c.model_bytes, c.model_params
                    r.rate_adj_onnx = 100.0 * (size + c.model_bytes) / max(n, 1)
                    r.rate_adj_params = 100.0 * (size + 2 * c.model_params) / max(n, 1)
                res.append(r)
    return res


# -- in-context study ---------------------------------------------------------------------------
def make_lanes(datas: list[bytes], lane_len: int, max_lanes: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Cut every input into lanes of lane_len bytes (a shorter input is one shorter lane)."""
    lanes = []
    for d in datas:
        if len(d) < lane_len:
            if d:
                lanes.append(d)
            continue
        lanes += [d[i: i + lane_len] for i in range(0, len(d) - lane_len + 1, lane_len)]
    lanes = lanes[:max_lanes]
    if not lanes:
        raise UsageError("no data for the in-context study")
    T = max(map(len, lanes))
    M = np.zeros((len(lanes), T), dtype=np.int64)
    lens = np.array([len(x) for x in lanes], dtype=np.int64)
    for i, x in enumerate(lanes):
        M[i, : len(x)] = np.frombuffer(x, dtype=np.uint8)
    return M, lens


def lmz_position_costs(model, M: np.ndarray, lens: np.ndarray, mix: str = "off") -> np.ndarray:
    """Ideal code length (bits) of every byte of every lane: [L, T], 0 past a lane's end.

    Runs the model over the lanes exactly as lmz/runtime/loop.py:encode_frame does (virtual 0 byte,
    same chunking, same scores_to_freqs) and, with mix on, MixStack.predict_step (the stack's
    measuring hook: same predictions and updates as encode_step, without a coder)."""
    from lmz.runtime.freqs import PROB_ONE, scores_to_freqs
    from lmz.runtime.lanes import FramePlan, model_inputs
    from lmz.runtime.loop import make_stack

    L, T = M.shape
    C = int(model.chunk)
    X = model_inputs(M, -(-T // C) * C)
    stack = make_stack(mix).make(FramePlan(0, lens)) if mix == "on" else None
    state = model.initial_state(L)
    cost = np.zeros((L, T), dtype=np.float64)
    rows = np.arange(L)
    for t0 in range(0, T, C):
        scores, state = model.step(X[:, t0: t0 + C], state)
        for j in range(min(C, T - t0)):
            t = t0 + j
            active = lens > t
            f = scores_to_freqs(scores[:, j])
            if stack is None:
                p = f[rows, M[:, t]]
                cost[:, t] = -np.log2(p / PROB_ONE)
            else:
                p = stack.predict_step(f, M[:, t], active)  # [8, L]
                cost[:, t] = -np.log2(p / PROB_ONE).sum(axis=0)
            cost[~active, t] = 0.0
    return cost


def gzip_bucket_costs(M: np.ndarray, lens: np.ndarray, edges=BUCKETS) -> np.ndarray:
    """Per bucket, the deflate (gzip -9) bits spent on it: size(prefix to b) - size(prefix to a)."""
    out = np.zeros(len(edges) - 1)
    cnt = np.zeros(len(edges) - 1)

    def size(x: bytes) -> int:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return len(c.compress(x) + c.flush())

    for row, n in zip(M, lens):
        x = row[:n].astype(np.uint8).tobytes()
        prev = 0
        for k in range(len(edges) - 1):
            a, b = edges[k], min(edges[k + 1], n)
            if b <= a:
                break
            s = size(x[:b])
            out[k] += 8 * (s - prev)
            cnt[k] += b - a
            prev = s
    return out / np.maximum(cnt, 1)


def bucket_means(cost: np.ndarray, lens: np.ndarray, edges=BUCKETS) -> np.ndarray:
    T = cost.shape[1]
    valid = np.arange(T)[None, :] < lens[:, None]
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        v = valid[:, a:b]
        out.append(float(cost[:, a:b][v].sum() / max(v.sum(), 1)) if v.any() else float("nan"))
    return np.array(out)


def incontext_study(inputs: list[Input], codecs: list[Codec], lane_len: int = 65536, provider: str = "cpu",
                    progress=None) -> dict:
    """bits/byte per position bucket for gzip and the text lmz codecs (mix off and on)."""
    from lmz.runtime.session import ByteModel

    texts = [i.data for i in inputs if i.kind == "text"]
    M, lens = make_lanes(texts, lane_len)
    T = int(lens.max())
    edges = [e for e in BUCKETS if e < T] + [min(T, BUCKETS[-1])]
    labels = [f"{_kb(a)}-{_kb(b)}" for a, b in zip(edges[:-1], edges[1:])]
    curves = {}
    if progress:
        progress("in-context: gzip")
    curves["gzip -9"] = gzip_bucket_costs(M, lens, edges).tolist()
    for c in codecs:
        if not c.lmz or "text" not in c.kinds or c.mix not in ("off", "on"):
            continue
        if progress:
            progress(f"in-context: {c.name}")
        m = ByteModel(c.model, provider=provider)
        curves[c.name] = bucket_means(lmz_position_costs(m, M, lens, c.mix), lens, edges).tolist()
    return {"edges": edges, "labels": labels, "lanes": int(len(lens)), "lane_len": T, "bits_per_byte": curves}


def _kb(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)


def plot_incontext(study: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = study["edges"]
    x = [math.sqrt(max(a, 1) * b) for a, b in zip(e[:-1], e[1:])]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, ys in study["bits_per_byte"].items():
        ax.plot(x, ys, marker="o", label=name, linestyle="--" if name.startswith("gzip") else "-")
    ax.set_xscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(study["labels"], rotation=30)
    ax.set_xlabel("position within the lane (bytes)")
    ax.set_ylabel("bits / byte")
    ax.set_title(f"In-context compression ({study['lanes']} text lanes of up to {study['lane_len']} bytes)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- reporting ----------------------------------------------------------------------------------
def _aggregate(results: list[Result]) -> list[Result]:
    """Add one "KIND (all)" column per kind with more than one file (sizes and times summed)."""
    out = list(results)
    keys = {}
    for r in results:
        keys.setdefault((r.kind, r.compressor, r.protocol), []).append(r)
    for (kind, comp, proto), rs in keys.items():
        files = {r.file for r in results if r.kind == kind}
        if len(files) < 2 or len(rs) != len(files):
            continue
        n = sum(r.raw for r in rs)
        s = sum(r.compressed for r in rs)
        tc = sum(r.raw / max(r.compress_kBps, 1e-12) / 1000 for r in rs)
        td = sum(r.raw / max(r.decompress_kBps, 1e-12) / 1000 for r in rs)
        a = Result(f"{kind} (all)", kind, comp, proto, n, s, 100.0 * s / n, _kBps(n, tc), _kBps(n, td),
                   all(r.verified for r in rs), rs[0].model_bytes, rs[0].model_params,
                   error="; ".join(r.error for r in rs if r.error))
        if rs[0].rate_adj_onnx is not None:
            a.rate_adj_onnx = 100.0 * (s + a.model_bytes) / n
            a.rate_adj_params = 100.0 * (s + 2 * a.model_params) / n
        out.append(a)
    return out


def _num(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def markdown(results: list[Result], study: Optional[dict] = None) -> str:
    res = _aggregate(results)
    files = list(dict.fromkeys((r.kind, r.file) for r in res))
    cols = [f for k in dict.fromkeys(k for k, _ in files) for kk, f in files if kk == k]  # grouped by kind
    lines = []
    for proto in dict.fromkeys(r.protocol.rstrip("*") for r in res):
        rs = [r for r in res if r.protocol.rstrip("*") == proto]
        rows = sorted(dict.fromkeys(r.compressor for r in rs),
                      key=lambda n: (n.startswith("lmz"), ROW_ORDER.index(n) if n in ROW_ORDER else 0))
        cell = {(r.compressor, r.file): r for r in rs}
        title = "whole input" if proto == "whole" else f"independent {CHUNK}-byte chunks"
        hdr = "| compressor | " + " | ".join(cols) + " |"
        sep = "|---|" + "---:|" * len(cols)

        def table(caption, fmt, only_lmz=False):
            if only_lmz and not any(r.rate_adj_onnx is not None for r in rs):
                return
            lines.extend(["", f"**{caption}** ({title})", "", hdr, sep])
            for row in rows:
                rr = [cell.get((row, c)) for c in cols]
                if only_lmz and not any(r is not None and r.rate_adj_onnx is not None for r in rr):
                    continue
                star = "*" if any(r is not None and r.protocol.endswith("*") for r in rr) else ""
                lines.append(f"| {row}{star} | " + " | ".join("–" if r is None else
                                                             ("ERROR" if r.error else fmt(r)) for r in rr) + " |")

        table("Rate, compressed / raw", lambda r: f"{r.rate:.1f}%")
        table("Rate adjusted for model size: + ONNX file / + 2 bytes per parameter",
              lambda r: f"{r.rate_adj_onnx:.1f}% / {r.rate_adj_params:.1f}%", only_lmz=True)
        table("Throughput, compress / decompress (kB/s)",
              lambda r: f"{_num(r.compress_kBps)} / {_num(r.decompress_kBps)}")
    if any(r.protocol.endswith("*") for r in res):
        lines += ["", f"\\* with the mix on, the {CHUNK}-byte lanes of a frame share the mixer's adaptive tables."]
    if study:
        lines += ["", f"**In-context: bits/byte by position within a lane** ({study['lanes']} text lanes of up to "
                      f"{study['lane_len']} bytes)", "",
                  "| compressor | " + " | ".join(study["labels"]) + " |", "|---|" + "---:|" * len(study["labels"])]
        for name, ys in study["bits_per_byte"].items():
            lines.append(f"| {name} | " + " | ".join(f"{y:.3f}" for y in ys) + " |")
    return "\n".join(lines).lstrip("\n") + "\n"


# -- command ------------------------------------------------------------------------------------
def load_inputs(files: list[str], kind: Optional[str], data: Optional[str], quick_bytes: Optional[int]) -> list[Input]:
    if kind is not None and kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS + (GENERAL,))}")
    if files:
        pairs = [(Path(f), kind or "text") for f in files]
    else:
        root = data_root(data)
        pairs = [(p, k) for k in ([kind] if kind else KINDS) for p in default_inputs(k, root)]
    out = []
    for p, k in pairs:
        if not p.is_file():
            raise UsageError(f"{p}: no such file")
        with open(p, "rb") as f:
            d = f.read(quick_bytes) if quick_bytes else f.read()
        out.append(Input(p.name, k, d, str(p)))
    names = [i.name for i in out]
    if len(set(names)) != len(names):  # same base name in two folders: use the paths
        for i in out:
            i.name = i.path
    return out


@dataclass
class BenchOptions:
    """What `lmz-run bench` runs; every field is one command-line option."""

    files: List[str] = field(default_factory=list)  # inputs (empty: the evaluation sets under `data`)
    kind: Optional[str] = None  # text|image|audio (None: all kinds; with files: text)
    json_out: Optional[str] = None  # write all results as JSON here
    plots: Optional[str] = None  # directory for the in-context study's incontext.png/.json
    models: Optional[str] = None  # "a,b" NAMEs or PATHs, "none", or None: every installed model of the kind
    quick_kb: Optional[int] = None  # keep only the first quick_kb KiB of each input (None: all)
    data: Optional[str] = None  # corpora directory (else $LMZ_DATA)
    mix: str = "both"  # lmz rows: off, on, alone (comma-separated); both = off,on
    protocols: str = "whole,chunk"  # whole, chunk or both
    only: Optional[str] = None  # only these baselines (name prefixes)
    provider: str = "cpu"  # onnxruntime provider
    lane_kb: int = 64  # lane length (KiB) of the in-context study
    show_progress: bool = True
    # --kind general only (lmz/studies/general.py)
    select: Optional[str] = None  # only these files of the set ("a,b")
    variants: List[str] = field(default_factory=list)  # lmz rows: lmz.compress options "k=v,..." (empty: default)
    out: Optional[str] = None  # write PREFIX.md and PREFIX.json after every file
    resume: bool = False  # reuse the results in PREFIX.json of unchanged files


def main(o: BenchOptions, info=print) -> int:
    """The bench command; returns the exit code (2 if any round trip failed)."""
    if o.kind == GENERAL:
        from lmz.studies import general

        return general.main(o, info)
    if o.select or o.variants or o.out or o.resume:
        raise UsageError("--files, --lmz-opts, --out and --resume belong to --kind general")
    files, kind, json_out, plots, models, data = o.files, o.kind, o.json_out, o.plots, o.models, o.data
    mix, protocols, only, provider, lane_kb = o.mix, o.protocols, o.only, o.provider, o.lane_kb
    quick = o.quick_kb is not None
    protos = tuple(p.strip() for p in protocols.split(",") if p.strip())
    if not protos or any(p not in ("whole", "chunk") for p in protos):
        raise UsageError("--protocols takes whole, chunk or both (comma-separated)")
    mixes = ("off", "on") if mix == "both" else tuple(m.strip() for m in mix.split(",") if m.strip())
    if not mixes or any(m not in MIX_ROWS for m in mixes):
        raise UsageError("--mix takes off, on, alone (the mix without the model) or both, comma-separated")
    inputs = load_inputs(list(files or []), kind, data, o.quick_kb * 1024 if quick else None)
    kinds = sorted({i.kind for i in inputs})
    notes: list[str] = []
    codecs = [c for c in baselines() if any(k in c.kinds for k in kinds)]
    for c in codecs:
        if c.missing:
            notes.append(f"{c.name} skipped: {c.missing}; pip install 'lmz[bench]'")
    codecs += lmz_codecs(models, kinds, mixes, provider, notes)
    if only:
        want = [w.strip().lower() for w in only.split(",")]
        codecs = [c for c in codecs if c.lmz or any(c.name.lower().startswith(w) for w in want)]
    for n in notes:
        info(n)
    jobs = sum(len(protos) for i in inputs for c in codecs if i.kind in c.kinds and not c.missing)
    want_study = plots is not None and "text" in kinds
    if plots is not None and not want_study:
        info("--plots: the in-context study needs text inputs; none given")
    with _progress(o.show_progress, jobs + (1 + sum(c.lmz for c in codecs) if want_study else 0)) as step:
        results = run_bench(inputs, codecs, protos, provider, step)
        study = None
        if want_study:
            study = incontext_study(inputs, codecs, lane_kb * 1024, provider, step)
    if study is not None:
        pd = Path(plots)
        pd.mkdir(parents=True, exist_ok=True)
        (pd / "incontext.json").write_text(json.dumps(study, indent=1) + "\n")
        try:
            plot_incontext(study, pd / "incontext.png")
        except ImportError as e:
            info(f"incontext.png not written: matplotlib is missing ({e}); pip install 'lmz[bench]'")
    sys.stdout.write(markdown(results, study))
    sys.stdout.flush()
    if json_out:
        doc = {"inputs": [{"name": i.name, "kind": i.kind, "path": i.path, "bytes": len(i.data)} for i in inputs],
               "quick": bool(quick), "chunk": CHUNK, "notes": notes,
               "results": [asdict(r) for r in _aggregate(results)], "incontext": study}
        Path(json_out).write_text(json.dumps(doc, indent=1) + "\n")
    bad = [r for r in results if r.error]
    for r in bad:
        info(f"ERROR {r.file}: {r.compressor} ({r.protocol}): {r.error}")
    # lmz's own round trips decide the exit code; a failing baseline library is only reported
    return 2 if any(r.model_params for r in bad) else 0


class _progress:
    """A rich progress bar on stderr (only on a terminal); yields step(label)."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled and sys.stderr.isatty()
        self.total, self.p, self.task, self.started = total, None, None, False

    def __enter__(self):
        if not self.enabled:
            return lambda label: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=Console(stderr=True), transient=True, redirect_stdout=False,
                          redirect_stderr=False)
        self.p.__enter__()
        self.task = self.p.add_task("bench", total=self.total)

        def step(label):
            if self.started:
                self.p.advance(self.task)
            self.started = True
            self.p.update(self.task, description=label)

        return step

    def __exit__(self, *exc):
        if self.p is not None:
            self.p.__exit__(*exc)
        return False


def _command(files: Optional[List[str]] = typer.Argument(None, help="Inputs (default: the evaluation sets).",
                                                     show_default=False),
             kind: Optional[str] = typer.Option(None, "--kind", help="text|image|audio (default: all; "
                                                "with FILEs: text), or general: the general-purpose set "
                                                "(tools/fetch_general.sh) against zpaq -m5."),
             json_out: Optional[str] = typer.Option(None, "--json", help="Write all results as JSON to this file."),
             plots: Optional[str] = typer.Option(None, "--plots", help="Directory for incontext.png/.json."),
             models: Optional[str] = typer.Option(None, "--models", help="lmz models a,b (NAMEs or PATHs), or "
                                                  "'none' (default: every installed model of the kind)."),
             quick: bool = typer.Option(False, "--quick", help="Only the first --quick-kib KiB of each input."),
             quick_kb: int = typer.Option(QUICK_KB, "--quick-kib", help="KiB kept by --quick."),
             data: Optional[str] = typer.Option(None, "--data", help="Corpora directory (default: $LMZ_DATA)."),
             mix: str = typer.Option("both", "--mix", help="lmz rows: off (model alone), on (model + mix), alone "
                                     "(mix without the model), comma-separated; both = off,on."),
             protocols: str = typer.Option("whole,chunk", "--protocols", help="whole, chunk or both."),
             only: Optional[str] = typer.Option(None, "--baselines", help="Only these baselines (name "
                                                "prefixes, e.g. gzip,xz)."),
             lane_kb: int = typer.Option(64, "--lane-kib", help="Lane length (KiB) of the in-context study."),
             provider: str = typer.Option("cpu", "--provider", help="onnxruntime provider: auto|cpu|cuda."),
             select: Optional[str] = typer.Option(None, "--files", help="--kind general: only these files "
                                                  "of the set (names, comma-separated)."),
             variants: Optional[List[str]] = typer.Option(None, "--lmz-opts", help="--kind general: an lmz row "
                                                          "with these lmz.compress options, e.g. 'mix=alone' or "
                                                          "'frame_size=1MiB,mix=off' (repeatable; default: "
                                                          "the defaults)."),
             out: Optional[str] = typer.Option(None, "--out", help="--kind general: write PREFIX.md and "
                                               "PREFIX.json after every file."),
             resume: bool = typer.Option(False, "--resume", help="--kind general: reuse the results in "
                                         "PREFIX.json of files that did not change."),
             quiet: bool = typer.Option(False, "-q", "--quiet", help="Only errors and the table."),
             no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar.")):
    """Compare lmz with gzip, bzip2, xz, zstd, brotli, PPMd, PNG and FLAC (paper Table 1); --kind general:
    with zpaq -m5 on the general-purpose set."""
    from lmz.runtime.cli import Ctx, run_command

    ctx = Ctx(quiet, False, no_progress)
    opts = BenchOptions(list(files or []), kind, json_out, plots, models, quick_kb if quick else None, data, mix,
                        protocols, only, provider, lane_kb, not no_progress and not quiet,
                        select=select, variants=list(variants or []), out=out, resume=resume)
    run_command(ctx, lambda: main(opts, ctx.info))


app = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})
app.command("bench")(_command)
