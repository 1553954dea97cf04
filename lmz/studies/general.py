"""lmz-run bench --kind general: lmz's default against zpaq -m5 and the classical compressors on the
general-purpose evaluation set (issue 17: the kinds of files users keep).

    bash tools/fetch_general.sh ~/corpora                       # builds ~/corpora/general (7.5 MB)
    lmz-run bench --kind general --data ~/corpora --out docs/bench/general-run
    lmz-run bench --kind general --data ~/corpora --files camera.pgm,oui36.csv --lmz-opts mix=alone

Every file is compressed whole, as one input, by every compressor, and decompressed again; a
result that does not give back the input is an error (lmz's own: exit code 2). Reported per file:
the rate (compressed / raw, %), the wall time of lmz and zpaq (compress and decompress, seconds),
lmz / zpaq, and over the set the geometric mean of lmz / zpaq and the issue's targets.

Compressors
* gzip -9, bzip2 -9, xz -9e, zstd -19, brotli -11, PPMd o6: as in the other kinds (lmz/studies/bench.py).
* ``zpaq -m5``: the ``zpaq`` program (Debian's zpaq 7.15: ``apt-get install zpaq``), ``zpaq a ARC f -m5``
  on the file stored under the one-letter name ``f``; the size is the whole archive's (its journaling
  headers, the file name and the -m5 model description included: the notes give that overhead,
  measured as the archive of a 1-byte file). Without the program the column is skipped, with a note.
* PNG (PGM/PPM files): the pixels as an 8-bit gray or RGB PNG (pillow, optimize=True) plus the PNM
  header stored raw. FLAC -8 (16-bit PCM WAV files): the samples through libFLAC (``soundfile``,
  compression level 1.0) plus the WAV's header and any trailing bytes stored raw.
* lmz: ``lmz.compress(data)`` with the default model and options (row ``lmz default``); more rows with
  ``--lmz-opts SPEC`` (repeatable): comma-separated ``key=value`` passed to ``lmz.compress``
  (``mix=on|off|alone``, ``frame_size=1MiB``, ``lanes=N``, ``min_lane=N``, ``max_lanes=N``,
  ``lane_size=N``, ``model=NAME``). ``mix=alone`` is the mix without the model
  (``mix_params={"use_model": False}``).

``--out PREFIX`` writes PREFIX.md and PREFIX.json after every file (a checkpoint); ``--resume`` reuses
the results in PREFIX.json of files whose bytes did not change (same size and sha256), so a cut-off
run continues where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

from lmz.runtime.errors import LmzError, UsageError
from lmz.studies import bench as B

KIND = "general"
BASELINE_NAMES = ("gzip -9", "bzip2 -9", "xz -9e", "zstd -19", "brotli -11", "PPMd o6")
ZPAQ = "zpaq -m5"
COLUMNS = BASELINE_NAMES + ("PNG", "FLAC -8", ZPAQ)
COMPRESSED_TYPES = ("JPEG", "gzip", "xz", "zip", "zstd", "bzip2")
MIX_KEYS = ("frame_size", "lanes", "min_lane", "max_lanes", "lane_size")


# -- the set ------------------------------------------------------------------------------------
def set_dir(data: Optional[str]) -> Path:
    """DIR/general (DIR from --data or $LMZ_DATA), or DIR itself when it is the set's folder."""
    if not (data or os.environ.get("LMZ_DATA")):
        raise UsageError("no general-purpose evaluation set: pass --data DIR or set LMZ_DATA (build DIR with "
                         "`bash tools/fetch_general.sh DIR`)")
    root = B.data_root(data)
    for d in (root / KIND, root):
        if d.is_dir() and d.name == KIND:
            return d
    raise UsageError(f"no general-purpose evaluation set under {root}: build it with "
                     f"`bash tools/fetch_general.sh DIR` and pass --data DIR (or set LMZ_DATA)")


def load_set(d: Path, select: Optional[str] = None) -> list[B.Input]:
    """The files of the set (sorted by name), or only those named in `select` ("a,b")."""
    files = sorted(p for p in d.iterdir() if p.is_file())
    if select:
        want = [s.strip() for s in select.split(",") if s.strip()]
        have = {p.name: p for p in files}
        missing = [w for w in want if w not in have]
        if missing:
            raise UsageError(f"--files: not in {d}: {', '.join(missing)} (there: {', '.join(have)})")
        files = [have[w] for w in want]
    if not files:
        raise UsageError(f"{d}: no files")
    return [B.Input(p.name, KIND, p.read_bytes(), str(p)) for p in files]


EXT_TYPES = {".json": "JSON", ".csv": "CSV", ".txt": "text", ".xml": "XML", ".html": "HTML"}


def file_type(data: bytes, name: str = "") -> str:
    """What a file is, from its first bytes (the bench's columns and targets depend on it only), else
    from the name's extension (a label)."""
    if data[:4] == b"\x7fELF":
        return "ELF"
    if data[:2] in (b"P5", b"P6") and pnm_split(data) is not None:
        return "PGM" if data[:2] == b"P5" else "PPM"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "WAV"
    for magic, label in ((b"\xff\xd8\xff", "JPEG"), (b"\x1f\x8b", "gzip"), (b"\xfd7zXZ\x00", "xz"),
                         (b"PK\x03\x04", "zip"), (b"\x28\xb5\x2f\xfd", "zstd"), (b"BZh", "bzip2")):
        if data.startswith(magic):
            return label
    if len(data) > 262 and data[257:262] == b"ustar":
        return "tar"
    return EXT_TYPES.get(Path(name).suffix.lower(), "other")


# -- format-aware baselines ---------------------------------------------------------------------
def pnm_split(data: bytes) -> Optional[tuple[bytes, int, int, int]]:
    """Binary PGM/PPM with maxval 255 and no comments: (header, width, height, channels), else None."""
    parts, i = [], 2
    try:
        while len(parts) < 3:
            while data[i:i + 1].isspace():
                i += 1
            j = i
            while data[j:j + 1].isdigit():
                j += 1
            if j == i:
                return None
            parts.append(int(data[i:j]))
            i = j
        if not data[i:i + 1].isspace():
            return None
    except (IndexError, ValueError):
        return None
    w, h, maxval = parts
    ch = 1 if data[:2] == b"P5" else 3
    if maxval != 255 or len(data) != i + 1 + w * h * ch:
        return None
    return data[: i + 1], w, h, ch


def wav_split(data: bytes) -> Optional[tuple[bytes, bytes, bytes, int, int]]:
    """16-bit PCM RIFF/WAVE: (bytes before the samples, samples, bytes after, rate, channels), else None."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    i, fmt = 12, None
    while i + 8 <= len(data):
        cid, size = data[i:i + 4], struct.unpack("<I", data[i + 4:i + 8])[0]
        if cid == b"fmt " and size >= 16:
            fmt = struct.unpack("<HHIIHH", data[i + 8:i + 24])
        elif cid == b"data":
            if fmt is None or fmt[0] != 1 or fmt[5] != 16 or i + 8 + size > len(data) or size % (2 * fmt[1]):
                return None
            return data[:i + 8], data[i + 8:i + 8 + size], data[i + 8 + size:], fmt[2], fmt[1]
        i += 8 + size + (size & 1)
    return None


def _framed(*parts: bytes) -> bytes:
    return b"".join(B._varint(len(p)) + p for p in parts)


def _unframed(b: bytes, n: int) -> list[bytes]:
    out, i = [], 0
    for _ in range(n):
        m, k = B._unvarint(b[i:])
        out.append(b[i + k: i + k + m])
        i += k + m
    return out


def png_codec() -> tuple[Callable, Callable]:
    """PGM/PPM: the header raw, the pixels as PNG."""
    import io

    import numpy as np
    from PIL import Image

    def comp(d: bytes) -> bytes:
        head, w, h, ch = pnm_split(d)
        px = np.frombuffer(d, np.uint8, offset=len(head)).reshape((h, w) if ch == 1 else (h, w, ch))
        out = io.BytesIO()
        Image.fromarray(px, "L" if ch == 1 else "RGB").save(out, format="PNG", optimize=True)
        return _framed(head, out.getvalue())

    def decomp(b: bytes, n: int) -> bytes:
        head, png = _unframed(b, 2)
        return head + Image.open(io.BytesIO(png)).tobytes()

    return comp, decomp


def flac_codec() -> tuple[Callable, Callable]:
    """16-bit WAV: the header and trailing bytes raw, the samples as FLAC -8."""
    import io

    import numpy as np
    import soundfile as sf

    def comp(d: bytes) -> bytes:
        head, pcm, tail, rate, ch = wav_split(d)
        x = np.frombuffer(pcm, "<i2").reshape(-1, ch)
        out = io.BytesIO()
        sf.write(out, x, rate, format="FLAC", subtype="PCM_16", compression_level=1.0)
        return _framed(head, tail, out.getvalue())

    def decomp(b: bytes, n: int) -> bytes:
        head, tail, fl = _unframed(b, 3)
        y, _ = sf.read(io.BytesIO(fl), dtype="int16", always_2d=True)
        return head + y.astype("<i2").tobytes() + tail

    return comp, decomp


# -- zpaq -------------------------------------------------------------------------------------
def zpaq_program() -> Optional[str]:
    return shutil.which("zpaq")


def zpaq_version(prog: str) -> str:
    r = subprocess.run([prog], capture_output=True, text=True)
    lines = [x for x in (r.stdout + r.stderr).splitlines() if x.strip()]
    return lines[0].strip() if lines else "zpaq"


def _zpaq_run(args: list[str], cwd: str) -> None:
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}")


def zpaq_codec(prog: str, method: str = "-m5") -> tuple[Callable, Callable]:
    """The archive of the data stored as the file "f" (sizes are whole archives)."""

    def comp(d: bytes) -> bytes:
        with tempfile.TemporaryDirectory(prefix="lmz-zpaq-") as t:
            Path(t, "f").write_bytes(d)
            _zpaq_run([prog, "a", "a.zpaq", "f", method], t)
            return Path(t, "a.zpaq").read_bytes()

    def decomp(b: bytes, n: int) -> bytes:
        with tempfile.TemporaryDirectory(prefix="lmz-zpaq-") as t:
            Path(t, "a.zpaq").write_bytes(b)
            _zpaq_run([prog, "x", "a.zpaq", "-to", "out"], t)
            return Path(t, "out", "f").read_bytes()

    return comp, decomp


# -- lmz rows -----------------------------------------------------------------------------------
@dataclass
class Variant:
    name: str  # row label: "lmz default", "lmz mix=alone"
    kwargs: dict  # for lmz.compress


def _size(v: str) -> int:
    s = v.strip()
    for suf, mul in (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)):
        if s.endswith(suf):
            return int(s[: -len(suf)]) * mul
    return int(s)


def parse_variant(spec: str) -> Variant:
    """"default" or "key=value,..." (see the module doc) -> the lmz.compress keyword arguments."""
    spec = spec.strip()
    if spec in ("", "default"):
        return Variant("lmz default", {})
    kw: dict = {}
    for item in spec.split(","):
        if "=" not in item:
            raise UsageError(f"--lmz-opts {spec!r}: expected key=value items, got {item!r}")
        k, v = (x.strip() for x in item.split("=", 1))
        k = k.replace("-", "_")
        try:
            if k == "mix":
                if v not in ("on", "off", "alone"):
                    raise UsageError(f"--lmz-opts: mix takes on, off or alone, not {v!r}")
                kw["mix"] = "off" if v == "off" else "on"
                if v == "alone":
                    kw["mix_params"] = {"use_model": False}
            elif k in MIX_KEYS:
                kw[k] = _size(v)
            elif k == "model":
                kw["model"] = v
            else:
                raise UsageError(f"--lmz-opts: unknown key {k!r} (mix, model, {', '.join(MIX_KEYS)})")
        except ValueError:
            raise UsageError(f"--lmz-opts: {k}={v!r} is not a number (sizes: N, NKiB, NMiB)") from None
    return Variant(f"lmz {spec}", kw)


def lmz_codec(v: Variant, provider: str) -> tuple[Callable, Callable]:
    import lmz

    model = v.kwargs.get("model")  # None: the model the stream names (the default model for the default row)
    return ((lambda d: lmz.compress(d, provider=provider, **v.kwargs)),
            (lambda b, n: lmz.decompress(b, model=model, provider=provider)))


# -- running ------------------------------------------------------------------------------------
@dataclass
class Job:
    name: str
    compress: Callable
    decompress: Callable
    types: Optional[tuple] = None  # only files of these types (None: every file)
    lmz: bool = False


def make_jobs(variants: list[Variant], provider: str, only: Optional[str], notes: list[str]) -> list[Job]:
    jobs = []
    want = [w.strip().lower() for w in only.split(",")] if only else None

    def wanted(name):
        return want is None or any(name.lower().startswith(w) for w in want)

    for c in B.baselines():
        if c.name in BASELINE_NAMES and wanted(c.name):
            if c.missing:
                notes.append(f"{c.name} skipped: {c.missing}; pip install 'lmz[bench]'")
            else:
                jobs.append(Job(c.name, c.compress, c.decompress))
    for name, types, make, pkg in (("PNG", ("PGM", "PPM"), png_codec, "pillow"),
                                   ("FLAC -8", ("WAV",), flac_codec, "soundfile")):
        if not wanted(name):
            continue
        try:
            c, d = make()
        except (ImportError, OSError) as e:
            notes.append(f"{name} skipped: {pkg} not installed ({e}); pip install 'lmz[bench]'")
            continue
        jobs.append(Job(name, c, d, types))
    if wanted("zpaq"):
        prog = zpaq_program()
        if prog is None:
            notes.append("zpaq -m5 skipped: the zpaq program is not installed (Debian: apt-get install zpaq)")
        else:
            c, d = zpaq_codec(prog)
            over = len(c(b"x")) - 1
            notes.append(f"zpaq -m5: {zpaq_version(prog)} ({prog}); sizes are whole archives: an archive "
                         f"of a 1-byte file is {over + 1} bytes ({over} bytes of overhead: journaling "
                         "headers, file name, the -m5 model description)")
            jobs.append(Job(ZPAQ, c, d))
    for v in variants:
        c, d = lmz_codec(v, provider)
        jobs.append(Job(v.name, c, d, lmz=True))
    return jobs


def run_job(j: Job, inp: B.Input, ftype: str, sha: str) -> B.Result:
    n = len(inp.data)
    err = ""
    t0 = time.perf_counter()
    try:
        blob = j.compress(inp.data)
        t1 = time.perf_counter()
        back = j.decompress(blob, n)
        t2 = time.perf_counter()
    except Exception as e:  # a baseline's failure, or lmz refusing its own stream: reported per file
        if j.lmz and not isinstance(e, LmzError):
            raise
        t1 = t2 = time.perf_counter()
        blob, back, err = b"", None, f"{j.name} failed: {type(e).__name__}: {e}"
    ok = back == inp.data
    if not ok and not err:
        err = "round trip mismatch"
    tc, td = t1 - t0, t2 - t1
    return B.Result(inp.name, KIND, j.name, "whole", n, len(blob), 100.0 * len(blob) / max(n, 1),
                    B._kBps(n, tc), B._kBps(n, td), ok, error=err,
                    extra={"type": ftype, "sha256": sha, "compress_s": round(tc, 3), "decompress_s": round(td, 3),
                           "at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load": _load()})


def run_set(inputs: list[B.Input], jobs: list[Job], done: Optional[dict] = None, checkpoint=None,
            progress=None, types: Optional[dict] = None) -> list[B.Result]:
    """Every job on every file it fits; `done[(file, compressor, sha256)]` are reused; `checkpoint(results)`
    is called after each file. `types`: file name -> file_type (default: from the data)."""
    done = done or {}
    shas = [hashlib.sha256(i.data).hexdigest() for i in inputs]
    # the earlier results of the files not reached yet: kept in every checkpoint, so that a run cut off
    # early loses nothing of the run it resumed
    later = [[done[k] for j in jobs if (k := (i.name, j.name, sha)) in done] for i, sha in zip(inputs, shas)]
    res: list[B.Result] = []
    for n, (inp, sha) in enumerate(zip(inputs, shas)):
        ftype = (types or {}).get(inp.name) or file_type(inp.data, inp.name)
        for j in jobs:
            if j.types is not None and ftype not in j.types:
                continue
            prev = done.get((inp.name, j.name, sha))
            if prev is not None:
                res.append(prev)
                continue
            if progress:
                progress(f"{inp.name}: {j.name}")
            res.append(run_job(j, inp, ftype, sha))
        if checkpoint:
            checkpoint(res + [r for rs in later[n + 1:] for r in rs])
    return res


def load_done(path: Path) -> dict:
    """Results of an earlier run (its JSON) without errors, keyed by (file, compressor, sha256)."""
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
        rs = [B.Result(**r) for r in doc["results"]]
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"--resume: {path} is not a bench JSON ({e})") from None
    return {(r.file, r.compressor, r.extra.get("sha256")): r for r in rs if not r.error and r.verified}


# -- reporting ----------------------------------------------------------------------------------
def geomean(xs: list[float]) -> float:
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def summary(results: list[B.Result]) -> dict:
    """Per lmz row: lmz/zpaq per file, their geometric mean, and issue 17's targets."""
    cell = {(r.file, r.compressor): r for r in results if not r.error}
    files = list(dict.fromkeys(r.file for r in results))
    types = {r.file: r.extra.get("type", "other") for r in results}
    out = {}
    for row in dict.fromkeys(r.compressor for r in results if r.compressor.startswith("lmz")):
        per, vs_xz, growth, vs_flac, pgm = {}, [], [], [], []
        for f in files:
            m = cell.get((f, row))
            if m is None:
                continue
            z, x, fl = cell.get((f, ZPAQ)), cell.get((f, "xz -9e")), cell.get((f, "FLAC -8"))
            if z is not None:
                per[f] = m.compressed / z.compressed
                if types[f] == "PGM":
                    pgm.append(per[f])
            if x is not None:
                vs_xz.append(m.compressed <= x.compressed)
            if types[f] in COMPRESSED_TYPES:
                growth.append((f, m.compressed - m.raw, 0.001 * m.raw + 64))
            if fl is not None:
                vs_flac.append(m.compressed / fl.compressed)
        out[row] = {"lmz_over_zpaq": per, "geomean_lmz_over_zpaq": geomean(list(per.values())),
                    "at_or_below_zpaq": sum(v <= 1 for v in per.values()), "files_with_zpaq": len(per),
                    "at_or_below_xz": sum(vs_xz), "files_with_xz": len(vs_xz),
                    "compressed_growth": [{"file": f, "bytes": g, "allowed": a} for f, g, a in growth],
                    "wav_over_flac": vs_flac, "pgm_over_zpaq": pgm}
    return out


def _pct(r: Optional[B.Result]) -> str:
    if r is None:
        return "–"
    return "ERROR" if r.error else f"{r.rate:.2f}%"


def markdown(results: list[B.Result], inputs: list[B.Input], meta: dict) -> str:
    cell = {(r.file, r.compressor): r for r in results}
    files = [i.name for i in inputs if any(r.file == i.name for r in results)]
    sizes = {i.name: len(i.data) for i in inputs}
    types = {i.name: file_type(i.data, i.name) for i in inputs}
    present = set(r.compressor for r in results)
    cols = [c for c in COLUMNS if c in present]
    lmz_rows = list(dict.fromkeys(r.compressor for r in results if r.compressor.startswith("lmz")))
    L = [f"Run {meta['date']} on {meta['machine']}; load average {meta['load_start']} at the start, "
         f"{meta['load_end']} at the end.", "", f"Command: `{meta['command']}`", ""]
    for n in meta.get("notes", []):
        L.append(f"* {n}")
    if meta.get("reused"):
        L.append(f"* --resume: {meta['reused']} of these results were measured by an earlier run (each result's "
                 "time and load average are in the JSON: extra.at, extra.load)")
    L += ["", "**Rate, compressed / raw** (whole file; every result decompressed and checked)", "",
          "| file | type | bytes | " + " | ".join(cols + lmz_rows + [f"{r} / zpaq" for r in lmz_rows]) + " |",
          "|---|---|---:|" + "---:|" * (len(cols) + 2 * len(lmz_rows))]
    for f in files:
        ratio = []
        for row in lmz_rows:
            m, z = cell.get((f, row)), cell.get((f, ZPAQ))
            ok = m is not None and z is not None and not m.error and not z.error
            ratio.append(f"{m.compressed / z.compressed:.3f}" if ok else "–")
        L.append(f"| {f} | {types.get(f, '')} | {sizes[f]:,} | " +
                 " | ".join([_pct(cell.get((f, c))) for c in cols + lmz_rows] + ratio) + " |")
    timed = [c for c in (ZPAQ, *lmz_rows) if c in present]
    L += ["", "**Wall time, compress / decompress (seconds)**", "",
          "| file | bytes | " + " | ".join(timed) + " |", "|---|---:|" + "---:|" * len(timed)]
    for f in files:
        cells = []
        for c in timed:
            r = cell.get((f, c))
            cells.append("–" if r is None or r.error else
                         f"{r.extra['compress_s']:.1f} / {r.extra['decompress_s']:.1f}")
        L.append(f"| {f} | {sizes[f]:,} | " + " | ".join(cells) + " |")
    summ = summary(results)
    if summ:
        L += ["", "**Issue 17's targets**", "",
              "| lmz row | geomean lmz/zpaq (<= 0.90) | files <= zpaq | files <= xz -9e | "
              "already-compressed growth, bytes (allowed) | WAV / FLAC -8 (<= 0.95) | PGM / zpaq (<= 0.92) |",
              "|---|---:|---:|---:|---|---|---|"]
        for row, s in summ.items():
            gr = ", ".join(f"{g['file']}: {g['bytes']:+,} ({g['allowed']:,.0f})" for g in s["compressed_growth"]) or "–"
            L.append(f"| {row} | {s['geomean_lmz_over_zpaq']:.3f} | {s['at_or_below_zpaq']}/{s['files_with_zpaq']} | "
                     f"{s['at_or_below_xz']}/{s['files_with_xz']} | {gr} | "
                     f"{', '.join(f'{x:.3f}' for x in s['wav_over_flac']) or '–'} | "
                     f"{', '.join(f'{x:.3f}' for x in s['pgm_over_zpaq']) or '–'} |")
    bad = [r for r in results if r.error]
    if bad:
        L += ["", "Errors:"] + [f"* {r.file}: {r.compressor}: {r.error}" for r in bad]
    return "\n".join(L) + "\n"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _git_commit() -> str:
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parent)
        return r.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(o, info=print) -> int:
    """`lmz-run bench --kind general`; `o` is bench.BenchOptions. Returns the exit code."""
    if o.files:
        raise UsageError("--kind general reads the set under --data DIR; choose files with --files a,b")
    inputs = load_set(set_dir(o.data), o.select)
    types = {i.name: file_type(i.data, i.name) for i in inputs}  # of the whole files, also under --quick
    variants = [parse_variant(s) for s in (o.variants or ["default"])]
    if o.models is not None and o.models.strip().lower() == "none":
        variants = []
    notes: list[str] = []
    jobs = make_jobs(variants, o.provider, o.only, notes)
    if o.quick_kb is not None:
        inputs = [B.Input(i.name, KIND, i.data[: o.quick_kb * 1024], i.path) for i in inputs]
        notes.append(f"--quick: the first {o.quick_kb} KiB of each file; PNG and FLAC left out (a prefix is "
                     "not a whole image or WAV)")
        jobs = [j for j in jobs if j.types is None]
    for n in notes:
        info(n)
    for j in jobs:  # model loading and numba compilation are not what the wall times should measure
        if j.lmz:
            sample = bytes(range(256)) * 8 + b"warm-up text, warm-up text. " * 64
            if j.decompress(j.compress(sample), len(sample)) != sample:
                raise B.BenchError(f"{j.name}: the warm-up round trip gave other bytes")
    if any(j.lmz for j in jobs):
        notes.append("lmz rows: one warm-up round trip of 3.8 KB before timing (model loading, numba "
                     "compilation); the wall times are the calls to lmz.compress and lmz.decompress")
    out = Path(o.out) if o.out else None
    json_path = Path(o.json_out) if o.json_out else (out.with_suffix(".json") if out else None)
    done = {}
    if o.resume:
        if json_path is None:
            raise UsageError("--resume needs --out PREFIX (or --json FILE) of the earlier run")
        done = load_done(json_path)
        info(f"--resume: {len(done)} results reused from {json_path}")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": "lmz-run " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, lmz {_git_commit()}",
            "load_start": _load(), "load_end": _load(), "notes": notes,
            "quick_kib": o.quick_kb}

    reused_ids = {id(r) for r in done.values()}

    def write(results):
        meta["load_end"] = _load()
        meta["reused"] = sum(id(r) in reused_ids for r in results)
        md = markdown(results, inputs, meta)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.with_suffix(".md").write_text(md)
        if json_path is not None:
            doc = {"kind": KIND, "meta": meta,
                   "inputs": [{"name": i.name, "path": i.path, "bytes": len(i.data), "type": types[i.name]}
                              for i in inputs],
                   "summary": summary(results), "results": [asdict(r) for r in results]}
            json_path.write_text(json.dumps(doc, indent=1) + "\n")
        return md

    total = sum(1 for i in inputs for j in jobs if j.types is None or types[i.name] in j.types)
    with B._progress(o.show_progress, total) as step:
        results = run_set(inputs, jobs, done, write, step, types)
    sys.stdout.write(write(results))
    sys.stdout.flush()
    bad = [r for r in results if r.error]
    for r in bad:
        info(f"ERROR {r.file}: {r.compressor}: {r.error}")
    return 2 if any(r.compressor.startswith("lmz") for r in bad) else 0
