"""Pick a model size that fits a training time budget, from steps timed on this machine.

A byte model trained for too few steps is worse than a smaller one trained for many: with a fixed
budget, the best width is the largest one that still gets enough training. The rule used here
(measured, not proven: see docs/bench/records.md): the largest GRU width whose timed step rate
gives at least `min_steps` optimizer steps and sees at least `bytes_per_param` training bytes per
parameter within the budget. Widths are timed smallest first (a warm-up step, then `probe_steps`
timed steps, a quarter of them quantisation-aware as in training) and probing stops at the first
width that does not fit, so calibration costs a few seconds.
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from lmz.spec.fixedpoint import ACC_BITS

from .registry import build

WIDTHS = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
MIN_STEPS = 300
BYTES_PER_PARAM = 4.0


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def time_step(cfg: dict, data: np.ndarray, batch: int, seq: int, steps: int = 2) -> float:
    """Seconds per training step (float and quantisation-aware steps mixed 3:1) of a fresh model."""
    model = build(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    state = torch.zeros(batch, model.state_size())

    def step(quant: bool):
        nonlocal state
        o = rng.integers(1, max(2, len(data) - seq - 1), batch)
        idx = o[:, None] + np.arange(seq)[None]
        x = torch.from_numpy(data[idx - 1].astype(np.int64))
        y = torch.from_numpy(data[idx].astype(np.int64))
        acc, state = model(x, state, quant=quant)
        loss = F.cross_entropy((acc / (1 << ACC_BITS)).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state = state.detach()

    step(False)  # warm-up (allocations, first-call costs)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i % 4 == 3)
    tf = (time.perf_counter() - t0) / steps
    t0 = time.perf_counter()
    step(True)
    tq = time.perf_counter() - t0
    return 0.75 * tf + 0.25 * tq


def pick_threads(data: np.ndarray, batch: int, seq: int, log, base: dict | None = None) -> int:
    """torch's intra-op threads for training: its default (one per core) or 1, whichever steps a
    small model faster here (on a machine shared with other jobs, one thread is often much faster)."""
    cfg = {"family": "gru", **(base or {}), "hidden": WIDTHS[0]}
    n = torch.get_num_threads()
    if n == 1:
        return 1
    t_n = time_step(cfg, data, batch, seq)
    torch.set_num_threads(1)
    t_1 = time_step(cfg, data, batch, seq)
    best = 1 if t_1 <= t_n else n
    torch.set_num_threads(best)
    log(f"  threads: {n} -> {t_n * 1000:.0f} ms/step, 1 -> {t_1 * 1000:.0f} ms/step: using {best}")
    return best


def pick_width(data: np.ndarray, seconds: float, batch: int, seq: int, log, base: dict | None = None,
               min_steps: int = MIN_STEPS, bytes_per_param: float = BYTES_PER_PARAM,
               widths=WIDTHS, calib_limit: float | None = None) -> tuple[int, dict]:
    """(hidden width, notes) for a run of `seconds` of training on `data` (the training bytes).
    `calib_limit`: stop probing once calibration has taken this many seconds."""
    base = {"family": "gru", **(base or {})}
    best, notes, t_start = widths[0], [], time.perf_counter()
    for h in widths:
        cfg = {**base, "hidden": h}
        t = time_step(cfg, data, batch, seq)
        params = _params(build(cfg))
        steps = seconds / t
        seen = steps * batch * seq
        fits = steps >= min_steps and seen >= bytes_per_param * params
        notes.append({"hidden": h, "params": params, "seconds_per_step": round(t, 4), "steps": int(steps),
                      "fits": bool(fits)})
        log(f"  width {h:4d}: {params:>9,} params, {t * 1000:7.1f} ms/step -> ~{int(steps):,} steps, "
            f"{seen / 1e6:.1f} MB seen in the budget: {'fits' if fits else 'too big'}")
        if not fits:
            break
        best = h
        if calib_limit is not None and time.perf_counter() - t_start > calib_limit:
            log("  (calibration time limit reached)")
            break
    return best, {"rule": f"largest width with >= {min_steps} steps and >= {bytes_per_param:g} bytes/param",
                  "probes": notes}
