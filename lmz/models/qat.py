"""Straight-through quantisation steps shared by the model families.

Forward passes compute exactly the integers of `runtime/reference.py` (held in float32,
every value an integer below 2**24); backward passes see the smooth function each step
approximates. `quant=False` gives the float twin used to report the cost of quantising.
"""
from __future__ import annotations

import torch

from lmz.spec.fixedpoint import ACC_BITS, LUT_SHIFT, W_BITS, make_luts

ACC_ONE = float(1 << ACC_BITS)  # acc units per real unit
W_ONE = float(1 << W_BITS)


def ste(smooth: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Value of `exact`, gradient of `smooth`."""
    return smooth + (exact - smooth).detach()


def qweight(w: torch.Tensor, quant: bool) -> torch.Tensor:
    """Real-valued weight -> integer weight units (q in [-127, 127])."""
    s = w * W_ONE
    return ste(s, torch.clamp(torch.round(s), -127, 127)) if quant else s


def qacc(b: torch.Tensor, quant: bool, limit: float) -> torch.Tensor:
    """Real-valued bias/table -> integer acc units, clipped to +-limit."""
    s = b * ACC_ONE
    return ste(s, torch.clamp(torch.round(s), -limit, limit)) if quant else s


def floor_div(x: torch.Tensor, shift: int, quant: bool) -> torch.Tensor:
    v = x * (1.0 / (1 << shift))
    return ste(v, torch.floor(v)) if quant else v


class Luts(torch.nn.Module):
    """Sigmoid (0..128) and tanh (-127..127) tables indexed by floor(acc / 2**LUT_SHIFT)."""

    def __init__(self):
        super().__init__()
        for k, v in make_luts().items():
            self.register_buffer(k, torch.tensor(v, dtype=torch.float32), persistent=False)

    def _idx(self, acc):
        return (torch.clamp(torch.floor(acc * (1.0 / (1 << LUT_SHIFT))), -128, 127) + 128).long()

    def sig(self, acc, quant: bool):
        smooth = 128.0 * torch.sigmoid(acc / ACC_ONE)
        return ste(smooth, self.sig_lut[self._idx(acc.detach())]) if quant else smooth

    def tanh(self, acc, quant: bool):
        smooth = 127.0 * torch.tanh(acc / ACC_ONE)
        return ste(smooth, self.tanh_lut[self._idx(acc.detach())]) if quant else smooth
