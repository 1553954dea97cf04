"""Compressors as generative models (paper §3.5): sample bytes from an lmz model, or from gzip.

    lmz-run generate --model text --prompt "The " -n 200 --temperature 0.8 --seed 1

Sampling uses the coder's own integer frequencies (:func:`lmz.runtime.freqs.scores_to_freqs`)
and integer arithmetic only, so a seed gives the same bytes on every machine, thread count
and execution provider (the model's scores are integers, see docs/MODEL_CONTRACT.md):

* RNG: SplitMix64 on Python ints, seeded with ``seed``; each draw keeps the top 16 bits,
  a value ``u`` in [0, 2**16).
* the sampled byte is the symbol whose cumulative frequency range ``[cum[s-1], cum[s])`` holds ``u``
  (exactly the arithmetic decoder's rule: sampling = decoding random bits).
* temperature ``T`` (a decimal, read exactly as a fraction, kept to 1/1000) divides the integer
  scores with floor division, ``scores * 1000 // round(1000 * T)``, before the mapping; ``T = 0``
  is greedy (the most probable byte, lowest byte on ties).

Image completion (paper §3.4): ``--complete-patches FILE --grid OUT.png`` samples the lower half
of evenly spaced 32x64 patches from their upper half with the model (the patches as lanes, each
with its own RNG stream, :func:`patch_rng`) and with gzip, and draws truth | model | gzip.

gzip as a generator: ``p(b | x) ∝ 2 ** -(8 * (len(gzip(x + b)) - len(gzip(x))))``, a code
length in bits turned into a probability, over the 256 candidates (``gzip_probs``). Sampling
from it uses integer frequencies derived from the same lengths.
"""
from __future__ import annotations

import sys
import zlib
from fractions import Fraction
from typing import Iterator, Optional

import numpy as np
import typer

from lmz.runtime.errors import ModelError, UsageError
from lmz.runtime.freqs import PROB_ONE, scores_to_freqs

_M64 = (1 << 64) - 1
GZIP_WINDOW = 4096  # bytes of context gzip sees (its own window is 32 KiB; this bounds the cost)


class IntRng:
    """SplitMix64 (Steele et al. 2014) on Python ints: portable and exactly reproducible."""

    def __init__(self, seed: int):
        self.state = int(seed) & _M64

    def next64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        return z ^ (z >> 31)

    def u16(self) -> int:
        return self.next64() >> 48


def temperature_milli(temperature) -> int:
    """'0.8' / 0.8 / Fraction -> 800 (exact for decimal strings; floats go through repr)."""
    try:
        t = Fraction(str(temperature))
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"temperature must be a number, not {temperature!r}") from None
    if t < 0:
        raise UsageError("temperature must be >= 0")
    return int(round(t * 1000))


def apply_temperature(scores: np.ndarray, tm: int) -> np.ndarray:
    """Integer scores [..., 256] rescaled by 1/T (T = tm / 1000) with floor division; tm > 0."""
    s = np.asarray(scores).astype(np.int64)
    if tm == 1000:
        return s
    s = s - s.max(axis=-1, keepdims=True)  # <= 0: keeps products small and the result shift-free
    return (s * 1000) // tm


def pick(freqs: np.ndarray, u: int) -> int:
    """The symbol whose cumulative frequency range holds u (0 <= u < 2**16)."""
    cum = np.cumsum(np.asarray(freqs, dtype=np.int64))
    return int(np.searchsorted(cum, u, side="right"))


def sample_from_scores(scores: np.ndarray, tm: int, rng: IntRng) -> int:
    """One byte from a model's integer scores [256] at temperature tm/1000 (0: greedy)."""
    if tm == 0:
        return int(np.argmax(np.asarray(scores).astype(np.int64)))
    return pick(scores_to_freqs(apply_temperature(scores, tm)), rng.u16())


# -- lmz models ---------------------------------------------------------------------------------
def iter_model(model, prompt: bytes = b"", n: int = 256, temperature=1, seed: int = 0) -> Iterator[int]:
    """Yield n sampled bytes continuing `prompt` (a loaded model with chunk 1, see lmz.runtime.api)."""
    if int(model.chunk) != 1:
        raise ModelError(f"generation needs the one-step graph of the model (chunk 1, got {model.chunk})")
    tm = temperature_milli(temperature)
    rng = IntRng(seed)
    state = model.initial_state(1)
    x = 0  # the virtual byte before every lane (MODEL_CONTRACT.md)
    for b in prompt:
        _, state = model.step(np.array([[x]], dtype=np.int64), state)
        x = b
    for _ in range(int(n)):
        scores, state = model.step(np.array([[x]], dtype=np.int64), state)
        x = sample_from_scores(scores[0, 0], tm, rng)
        yield x


def generate(model="text", prompt: bytes = b"", n: int = 256, temperature=1, seed: int = 0,
             provider: str = "cpu", threads: int = 0) -> bytes:
    """Sample n bytes after `prompt`. `model`: NAME, PATH, a loaded model, or "gzip"."""
    if isinstance(model, str) and model == "gzip":
        return generate_gzip(prompt, n, temperature, seed)
    if not hasattr(model, "step"):
        from lmz.runtime.api import resolve_model
        from lmz.runtime.session import ByteModel

        model = ByteModel(resolve_model(model), provider=provider, threads=threads)
    return bytes(iter_model(model, prompt, n, temperature, seed))


# -- gzip as a generator ------------------------------------------------------------------------
def gzip_lengths(context: bytes, window: int = GZIP_WINDOW) -> np.ndarray:
    """len(gzip(x + b)) - len(gzip(x)) in bytes for every b (x: the last `window` bytes of context).

    zlib at level 9 (gzip -9's deflate; gzip's 18-byte framing is a constant and cancels out)."""
    x = bytes(context[-window:]) if window else bytes(context)
    base = len(zlib.compress(x, 9))
    return np.array([len(zlib.compress(x + bytes((b,)), 9)) - base for b in range(256)], dtype=np.int64)


def gzip_probs(context: bytes, window: int = GZIP_WINDOW) -> np.ndarray:
    """p(b | context) ∝ 2**-(8 * extra bytes gzip needs for b): float64 [256], sums to 1."""
    d = gzip_lengths(context, window)
    w = np.exp2(-8.0 * (d - d.min()))
    return w / w.sum()


def gzip_freqs(context: bytes, window: int = GZIP_WINDOW, tm: int = 1000) -> np.ndarray:
    """Integer frequencies (sum 2**16, each >= 1) of the same distribution, sharpened by 1/T."""
    d = gzip_lengths(context, window)
    bits = 8 * (d - d.min())
    if tm != 1000:
        bits = (bits * 1000) // max(tm, 1)
    raw = np.left_shift(np.int64(1), np.maximum(0, 40 - np.minimum(bits, 40)))
    f = 1 + (raw * (PROB_ONE - 256)) // raw.sum()
    f[int(np.argmin(bits))] += PROB_ONE - int(f.sum())
    return f


def generate_gzip(prompt: bytes = b"", n: int = 256, temperature=1, seed: int = 0,
                  window: int = GZIP_WINDOW) -> bytes:
    return _gzip_continue(bytes(prompt), n, temperature_milli(temperature), IntRng(seed), window)


def _gzip_continue(prompt: bytes, n: int, tm: int, rng: IntRng, window: int) -> bytes:
    """n bytes sampled from gzip after `prompt` (greedy when tm == 0)."""
    x = bytearray(prompt)
    for _ in range(int(n)):
        if tm == 0:
            b = int(np.argmin(gzip_lengths(bytes(x), window)))
        else:
            b = pick(gzip_freqs(bytes(x), window, tm), rng.u16())
        x.append(b)
    return bytes(x[len(prompt):])


# -- image completion (paper §3.4) --------------------------------------------------------------
from lmz.studies import PATCH_BYTES, PATCH_COLS, PATCH_ROWS  # noqa: E402  (the image corpora's patches)


def patch_rng(seed: int, i: int) -> IntRng:
    """The sampler of the i-th patch of a completion: its own SplitMix64 stream, so a patch's
    completion does not depend on how many patches are completed with it."""
    return IntRng(((int(seed) & 0xFFFFFFFF) << 32) | (int(i) & 0xFFFFFFFF))


def read_patches(path, count: int, patch_bytes: int = PATCH_BYTES):
    """`count` patches evenly spaced over the file (patch k*N//count + N//(2*count), k = 0..count-1):
    -> (indices, uint8 [count, patch_bytes]). No choosing by eye: the spacing is fixed."""
    raw = np.fromfile(path, dtype=np.uint8)
    n = raw.size // patch_bytes
    if n == 0:
        raise UsageError(f"{path}: smaller than one {patch_bytes}-byte patch")
    if not 1 <= count <= n:
        raise UsageError(f"--patches must be between 1 and {n} for {path}")
    idx = [k * n // count + n // (2 * count) for k in range(count)]
    return idx, raw[: n * patch_bytes].reshape(n, patch_bytes)[idx].copy()


def complete_model(model, prompts: np.ndarray, n: int, temperature=1, seed: int = 0) -> np.ndarray:
    """Continue each row of `prompts` (uint8 [P, K]) by n bytes sampled from `model`, all rows as
    lanes of one model (a loaded chunk-1 model): -> uint8 [P, n]. Row i samples with
    ``patch_rng(seed, i)``, so it is the same bytes as :func:`iter_model` with that RNG."""
    if int(model.chunk) != 1:
        raise ModelError(f"completion needs the one-step graph of the model (chunk 1, got {model.chunk})")
    prompts = np.asarray(prompts, dtype=np.uint8)
    P, K = prompts.shape
    tm = temperature_milli(temperature)
    rngs = [patch_rng(seed, i) for i in range(P)]
    state = model.initial_state(P)
    x = np.zeros((P, 1), dtype=np.int64)  # the virtual byte 0 before every lane
    for j in range(K):
        _, state = model.step(x, state)
        x = prompts[:, j:j + 1].astype(np.int64)
    out = np.empty((P, int(n)), dtype=np.uint8)
    for j in range(int(n)):
        scores, state = model.step(x, state)
        for i in range(P):
            out[i, j] = sample_from_scores(scores[i, 0], tm, rngs[i])
        x = out[:, j:j + 1].astype(np.int64)
    return out


def complete_gzip(prompts: np.ndarray, n: int, temperature=1, seed: int = 0, window: int = GZIP_WINDOW,
                  progress=None) -> np.ndarray:
    """The same completion with gzip as the generator (about 257 zlib calls per byte: slow)."""
    prompts = np.asarray(prompts, dtype=np.uint8)
    tm = temperature_milli(temperature)
    out = np.empty((prompts.shape[0], int(n)), dtype=np.uint8)
    for i, p in enumerate(prompts):
        out[i] = np.frombuffer(_gzip_continue(p.tobytes(), n, tm, patch_rng(seed, i), window), dtype=np.uint8)
        if progress is not None:
            progress(i + 1)
    return out


def complete_patches(patches: np.ndarray, model, temperature=1, seed: int = 0, gzip: bool = True,
                     progress=None) -> dict:
    """Lower halves of image patches (uint8 [P, 2048]) completed from their upper halves:
    {"truth": [P, 2048], "lmz": [P, 2048], "gzip": [P, 2048] (when gzip)}; the first 1024 bytes of
    every row are the truth's."""
    patches = np.asarray(patches, dtype=np.uint8)
    half = patches.shape[1] // 2
    up = patches[:, :half]
    out = {"truth": patches,
           "lmz": np.concatenate([up, complete_model(model, up, patches.shape[1] - half, temperature, seed)], 1)}
    if gzip:
        out["gzip"] = np.concatenate(
            [up, complete_gzip(up, patches.shape[1] - half, temperature, seed, progress=progress)], 1)
    return out


def save_grid(path, columns: dict, rows: int = PATCH_ROWS, cols: int = PATCH_COLS, scale: int = 4) -> None:
    """A PNG grid (Pillow): one row per patch, one column per entry of `columns` (name -> [P, rows*cols]),
    each patch scaled by `scale` (nearest), a labelled header, a tick at the half-way row."""
    from PIL import Image, ImageDraw

    names = list(columns)
    P = next(iter(columns.values())).shape[0]
    gap, head = 8, 18
    w, h = cols * scale, rows * scale
    W = len(names) * w + (len(names) + 1) * gap
    H = head + P * h + (P + 1) * gap
    img = Image.new("L", (W, H), 255)
    draw = ImageDraw.Draw(img)
    for c, name in enumerate(names):
        x0 = gap + c * (w + gap)
        draw.text((x0, 3), name, fill=0)
        for r in range(P):
            y0 = head + gap + r * (h + gap)
            tile = Image.fromarray(np.asarray(columns[name][r], dtype=np.uint8).reshape(rows, cols), "L")
            img.paste(tile.resize((w, h), Image.NEAREST), (x0, y0))
            ym = y0 + h // 2  # the prompt / sample boundary
            draw.line([(x0 - gap + 1, ym), (x0 - 2, ym)], fill=0, width=2)
    img.save(path, optimize=True)


# -- command ------------------------------------------------------------------------------------
def _command(model: str = typer.Option("text", "--model", "-m", help="Model NAME or PATH, or 'gzip'."),
             prompt: Optional[str] = typer.Option(None, "--prompt", help="Text to continue (UTF-8)."),
             prompt_file: Optional[str] = typer.Option(None, "--prompt-file",
                                                       help="File whose bytes are the prompt."),
             n: int = typer.Option(256, "-n", "--bytes", help="Bytes to generate."),
             temperature: str = typer.Option("1", "--temperature", "-t", help="Sampling temperature "
                                             "(0: greedy); read as an exact decimal."),
             seed: int = typer.Option(0, "--seed", help="RNG seed: same seed, same bytes, any machine."),
             echo: bool = typer.Option(False, "--echo", help="Write the prompt before the sample."),
             provider: str = typer.Option("cpu", "--provider", help="auto|cpu|cuda."),
             complete_file: Optional[str] = typer.Option(
                 None, "--complete-patches", help="Image patch file (32x64-byte patches, e.g. "
                 "image/eval.bin): complete the lower half of --patches evenly spaced patches from "
                 "their upper half and write a PNG grid (truth | model | gzip) to --grid."),
             patches: int = typer.Option(6, "--patches", help="Patches to complete (evenly spaced)."),
             grid: Optional[str] = typer.Option(None, "--grid", help="PNG written by --complete-patches."),
             no_gzip: bool = typer.Option(False, "--no-gzip", help="Leave gzip's column out (it is slow)."),
             summary: Optional[str] = typer.Option(None, "--summary", help="Also write a markdown "
                                                   "summary of the completion to this file."),
             quiet: bool = typer.Option(False, "-q", "--quiet", help="Only errors.")):
    """Sample bytes from a model (or gzip) with integer-only sampling; raw bytes on stdout.

    With --complete-patches: image completion (paper §3.4), a PNG grid instead of stdout."""
    from lmz.runtime.cli import Ctx, run_command

    ctx = Ctx(quiet, False, True)

    def body():
        if complete_file is not None:
            return complete_body()
        if grid is not None:
            raise UsageError("--grid goes with --complete-patches")
        if prompt is not None and prompt_file is not None:
            raise UsageError("give --prompt or --prompt-file, not both")
        if n < 0:
            raise UsageError("-n must be >= 0")
        p = prompt.encode() if prompt is not None else b""
        if prompt_file is not None:
            with open(prompt_file, "rb") as f:
                p = f.read()
        out = generate(model, p, n, temperature, seed, provider=provider)
        sys.stdout.flush()
        sys.stdout.buffer.write((p if echo else b"") + out)
        sys.stdout.buffer.flush()

    def complete_body():
        import time

        if grid is None:
            raise UsageError("--complete-patches needs --grid OUT.png")
        if prompt is not None or prompt_file is not None or echo:
            raise UsageError("--complete-patches takes no --prompt, --prompt-file or --echo")
        if model == "gzip":
            raise UsageError("--complete-patches: give the lmz model with --model (gzip's column is added)")
        try:
            import PIL  # noqa: F401  (checked before minutes of sampling, not after)
        except ImportError:
            raise UsageError("--complete-patches writes its grid with Pillow: pip install -e '.[bench]'") from None
        from lmz.runtime.api import resolve_model
        from lmz.runtime.session import ByteModel

        m = ByteModel(resolve_model(model), provider=provider)
        idx, pt = read_patches(complete_file, patches)
        t0 = time.perf_counter()
        cols = complete_patches(pt, m, temperature, seed, gzip=not no_gzip,
                                progress=lambda k: ctx.info(f"gzip: {k}/{len(idx)} patches "
                                                            f"({time.perf_counter() - t0:.0f} s)"))
        t1 = time.perf_counter()
        name = f"lmz {m.info.path.stem}"
        named = {"truth": cols["truth"], name: cols["lmz"]}
        if "gzip" in cols:
            named["gzip"] = cols["gzip"]
        save_grid(grid, named)
        half = PATCH_BYTES // 2
        truth = cols["truth"][:, half:].astype(np.int64)
        mae = {k: float(np.abs(cols[k][:, half:].astype(np.int64) - truth).mean()) for k in ("lmz", "gzip")
               if k in cols}
        ctx.info(f"wrote {grid}: patches {idx} of {complete_file}, seed {seed}, temperature {temperature}; "
                 "mean |sample - truth| over the lower halves: "
                 + ", ".join(f"{k} {v:.1f}" for k, v in mae.items()) + f" ({t1 - t0:.0f} s)")
        if summary is not None:
            from pathlib import Path

            rows = [f"**Image completion** (patches {', '.join(map(str, idx))} of `{Path(complete_file).name}`, "
                    f"evenly spaced; seed {seed}, temperature {temperature}): the lower 16 rows sampled "
                    "from the upper 16", "", "| generator | mean abs. error of the lower half vs truth |",
                    "|---|---:|"]
            rows += [f"| {name if k == 'lmz' else 'gzip -9'} | {v:.1f} |" for k, v in mae.items()]
            rows += ["", "Each sample is one draw from the model's distribution, not its best guess: a "
                     "plausible texture can be far from the truth pixel by pixel."]
            with open(summary, "w") as f:
                f.write("\n".join(rows) + "\n")

    run_command(ctx, body)


app = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})
app.command("generate")(_command)
