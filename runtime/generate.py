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

gzip as a generator: ``p(b | x) ∝ 2 ** -(8 * (len(gzip(x + b)) - len(gzip(x))))``, a code
length in bits turned into a probability, over the 256 candidates (``gzip_probs``). Sampling
from it uses integer frequencies derived from the same lengths.
"""
from __future__ import annotations

import zlib
from fractions import Fraction
from typing import Iterator, Optional

import numpy as np

from .errors import ModelError, UsageError
from .freqs import PROB_ONE, scores_to_freqs

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
        from .api import resolve_model
        from .session import ByteModel

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
    tm = temperature_milli(temperature)
    rng = IntRng(seed)
    x = bytearray(prompt)
    for _ in range(int(n)):
        if tm == 0:
            b = int(np.argmin(gzip_lengths(bytes(x), window)))
        else:
            b = pick(gzip_freqs(bytes(x), window, tm), rng.u16())
        x.append(b)
    return bytes(x[len(prompt):])


# -- command ------------------------------------------------------------------------------------
def register(app, ctx_cls, run) -> None:
    """Add `generate` to the lmz-run Typer app (kept here so runtime/cli.py only calls this)."""
    import sys

    import typer

    @app.command("generate")
    def generate_cmd(model: str = typer.Option("text", "--model", "-m", help="Model NAME or PATH, or 'gzip'."),
                     prompt: Optional[str] = typer.Option(None, "--prompt", help="Text to continue (UTF-8)."),
                     prompt_file: Optional[str] = typer.Option(None, "--prompt-file",
                                                               help="File whose bytes are the prompt."),
                     n: int = typer.Option(256, "-n", "--bytes", help="Bytes to generate."),
                     temperature: str = typer.Option("1", "--temperature", "-t", help="Sampling temperature "
                                                     "(0: greedy); read as an exact decimal."),
                     seed: int = typer.Option(0, "--seed", help="RNG seed: same seed, same bytes, any machine."),
                     echo: bool = typer.Option(False, "--echo", help="Write the prompt before the sample."),
                     provider: str = typer.Option("cpu", "--provider", help="auto|cpu|cuda.")):
        """Sample bytes from a model (or gzip) with integer-only sampling; raw bytes on stdout."""
        ctx = ctx_cls(False, False, True)

        def body():
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

        run(ctx, body)
