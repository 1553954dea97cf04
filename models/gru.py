"""Integer-exact GRU byte model (the fast default family).

State: [lanes, n_layer * hidden] integers in [-127, 127]. Math: see runtime/reference.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .qat import Luts, floor_div, qacc, qweight
from lmz.runtime.reference import EXACT_LIMIT, LUT_SHIFT, make_luts


@dataclass
class GRUConfig:
    family: str = "gru"
    hidden: int = 384  # H: state width per layer; matmul sums stay < 2**24 for H <= 1040
    n_layer: int = 1  # stacked GRU layers (layer 0 reads a 256-row input table)
    tab_limit: int = 1 << 20  # |input table / bias| in acc units (2**-14): |pre-activation| < 64


class GRUModel(nn.Module):
    def __init__(self, cfg: GRUConfig):
        super().__init__()
        self.cfg = cfg
        H, nl = cfg.hidden, cfg.n_layer
        # a pre-activation sums at most two H-long int8 x int8 products (input from the layer
        # below, recurrence) plus a table/bias entry: keep it exact in float32
        terms = (2 if nl > 1 else 1) * H
        if terms * 127 * 127 + cfg.tab_limit >= EXACT_LIMIT:
            raise ValueError(f"hidden={H} with n_layer={nl} is too wide for exact float32 sums")
        k = 1.0 / math.sqrt(H)
        self.tab = nn.Parameter(torch.randn(256, 3 * H) * 0.5)  # layer-0 input table, real units
        self.wi = nn.ParameterList([nn.Parameter(torch.empty(H, 3 * H).uniform_(-k, k)) for _ in range(nl - 1)])
        self.bi = nn.ParameterList([nn.Parameter(torch.zeros(3 * H)) for _ in range(nl - 1)])
        self.wh_rz = nn.ParameterList([nn.Parameter(torch.empty(H, 2 * H).uniform_(-k, k)) for _ in range(nl)])
        self.wh_n = nn.ParameterList([nn.Parameter(torch.empty(H, H).uniform_(-k, k)) for _ in range(nl)])
        self.wo = nn.Parameter(torch.empty(H, 256).uniform_(-k, k))
        self.bo = nn.Parameter(torch.zeros(256))
        self.luts = Luts()

    def state_size(self) -> int:
        return self.cfg.n_layer * self.cfg.hidden

    def forward(self, x: torch.Tensor, state: torch.Tensor, quant: bool = True):
        """x long [B, T] bytes, state [B, n_layer*H] -> (logits in acc units [B, T, 256], state).

        With quant=True every forward value is the integer the exported graph computes.
        """
        cfg, H = self.cfg, self.cfg.hidden
        lim = cfg.tab_limit
        tab = qacc(self.tab, quant, lim)
        wh_rz = [qweight(w, quant) for w in self.wh_rz]
        wh_n = [qweight(w, quant) for w in self.wh_n]
        wi = [qweight(w, quant) for w in self.wi]
        bi = [qacc(b, quant, lim) for b in self.bi]
        xin0 = tab[x]  # [B, T, 3H]
        hs = list(state.split(H, dim=1))
        tops = []
        for t in range(x.shape[1]):
            inp = None
            for i in range(cfg.n_layer):
                h = hs[i]
                xin = xin0[:, t] if i == 0 else inp @ wi[i - 1] + bi[i - 1]
                a = xin[:, :2 * H] + h @ wh_rz[i]
                r, z = self.luts.sig(a[:, :H], quant), self.luts.sig(a[:, H:], quant)
                rh = floor_div(r * h, 7, quant)
                n = self.luts.tanh(xin[:, 2 * H:] + rh @ wh_n[i], quant)
                h = floor_div((128.0 - z) * h + z * n, 7, quant)
                hs[i] = h
                inp = h
            tops.append(inp)
        top = torch.stack(tops, 1)  # [B, T, H]
        acc = top @ qweight(self.wo, quant) + qacc(self.bo, quant, lim)
        return acc, torch.cat(hs, 1)

    def int_weights(self) -> dict[str, np.ndarray]:
        """The integers the exported graph and the numpy reference use."""
        cfg, lim = self.cfg, self.cfg.tab_limit
        with torch.no_grad():
            def q(w):
                return qweight(w, True).round().long().numpy()

            def qa(b):
                return qacc(b, True, lim).round().long().numpy()

            out = {"tab": qa(self.tab), "wo": q(self.wo), "bo": qa(self.bo)}
            for i in range(cfg.n_layer):
                out[f"wh_rz{i}"] = q(self.wh_rz[i])
                out[f"wh_n{i}"] = q(self.wh_n[i])
                if i:
                    out[f"wi{i}"] = q(self.wi[i - 1])
                    out[f"bi{i}"] = qa(self.bi[i - 1])
        out.update(make_luts())
        return out


def scores_from_acc(acc: torch.Tensor) -> torch.Tensor:
    return torch.floor(acc * (1.0 / (1 << LUT_SHIFT)))
