"""Integer-exact GRU byte model (the fast default family).

The parameters live in a standard `nn.GRU` (plus an embedding and a linear head), so most
training runs on PyTorch's fused float kernel (`quant=False`, the "float twin"); the
quantisation-aware pass (`quant=True`) recomputes, with straight-through estimators, exactly
the integers of runtime/reference.py and the exported graph. The input side of layer 0 is
folded into a 256-row table: tab[b] = W_ih @ emb[b] + b_ih (+ b_hh of the r and z gates).

State: [lanes, n_layer * hidden] integers in [-127, 127] (h * 128).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lmz.spec.fixedpoint import EXACT_LIMIT, W_BITS, make_luts

from .qat import Luts, floor_div, qacc, qweight

W_MAX = 127 / (1 << W_BITS)  # largest representable weight


@dataclass
class GRUConfig:
    family: str = "gru"
    hidden: int = 256  # H: state width per layer
    n_layer: int = 1  # stacked GRU layers
    embed: int = 256  # E: byte embedding width (folded into the input table at export)
    tab_limit: int = 1 << 20  # |input table / biases| in acc units (2**-14), i.e. < 64


class GRUModel(nn.Module):
    def __init__(self, cfg: GRUConfig):
        super().__init__()
        self.cfg = cfg
        H, nl = cfg.hidden, cfg.n_layer
        # a pre-activation sums at most two H-long int8 x int8 products plus two table/bias
        # entries: it must stay exact in float32
        terms = (2 if nl > 1 else 1) * H
        if terms * 127 * 127 + 2 * cfg.tab_limit >= EXACT_LIMIT:
            raise ValueError(f"hidden={H} with n_layer={nl} is too wide for exact float32 sums")
        self.emb = nn.Embedding(256, cfg.embed)
        self.gru = nn.GRU(cfg.embed, H, num_layers=nl, batch_first=True)
        self.head = nn.Linear(H, 256)
        self.luts = Luts()
        self.clamp_weights()

    def state_size(self) -> int:
        return self.cfg.n_layer * self.cfg.hidden

    @torch.no_grad()
    def clamp_weights(self):
        """Keep every int8-quantised weight inside its representable range."""
        for i in range(self.cfg.n_layer):
            getattr(self.gru, f"weight_hh_l{i}").clamp_(-W_MAX, W_MAX)
            if i:
                getattr(self.gru, f"weight_ih_l{i}").clamp_(-W_MAX, W_MAX)
        self.head.weight.clamp_(-W_MAX, W_MAX)

    def _real_params(self):
        """Per layer: (input table or (wi, bi), wh_rz, wh_n, bhn) in real units, [in, out] layout."""
        H, out = self.cfg.hidden, []
        for i in range(self.cfg.n_layer):
            w_ih, w_hh = getattr(self.gru, f"weight_ih_l{i}"), getattr(self.gru, f"weight_hh_l{i}")
            b_ih, b_hh = getattr(self.gru, f"bias_ih_l{i}"), getattr(self.gru, f"bias_hh_l{i}")
            b_in = b_ih + torch.cat([b_hh[:2 * H], torch.zeros_like(b_hh[2 * H:])])
            x_side = (self.emb.weight @ w_ih.t() + b_in) if i == 0 else (w_ih.t(), b_in)
            out.append((x_side, w_hh[:2 * H].t(), w_hh[2 * H:].t(), b_hh[2 * H:]))
        return out

    def forward(self, x: torch.Tensor, state: torch.Tensor, quant: bool = True):
        """x long [B, T] bytes, state [B, n_layer*H] (h * 128) -> (logits in acc units [B, T, 256], state).

        quant=False runs the float twin on the fused nn.GRU kernel; quant=True forwards exactly
        the integers of the exported graph (gradients by straight-through estimators).
        """
        if not quant:
            B, nl, H = x.shape[0], self.cfg.n_layer, self.cfg.hidden
            h0 = (state / 128.0).reshape(B, nl, H).transpose(0, 1).contiguous()
            out, hn = self.gru(self.emb(x), h0)
            acc = self.head(out) * float(1 << (W_BITS + 7))
            return acc, hn.transpose(0, 1).reshape(B, nl * H) * 128.0
        H, lim = self.cfg.hidden, self.cfg.tab_limit
        layers = []
        for i, (x_side, wh_rz, wh_n, bhn) in enumerate(self._real_params()):
            xs = qacc(x_side, True, lim) if i == 0 else (qweight(x_side[0], True), qacc(x_side[1], True, lim))
            layers.append((xs, qweight(wh_rz, True), qweight(wh_n, True), qacc(bhn, True, lim)))
        xin0 = layers[0][0][x]  # [B, T, 3H]
        hs = list(state.split(H, dim=1))
        tops = []
        for t in range(x.shape[1]):
            inp = None
            for i, (xs, wh_rz, wh_n, bhn) in enumerate(layers):
                h = hs[i]
                xin = xin0[:, t] if i == 0 else inp @ xs[0] + xs[1]
                a = xin[:, :2 * H] + h @ wh_rz
                r, z = self.luts.sig(a[:, :H], True), self.luts.sig(a[:, H:], True)
                hn = floor_div(h @ wh_n + bhn, 7, True)
                n = self.luts.tanh(xin[:, 2 * H:] + r * hn, True)
                h = floor_div(z * h + (128.0 - z) * n, 7, True)
                hs[i] = inp = h
            tops.append(inp)
        top = torch.stack(tops, 1)
        acc = top @ qweight(self.head.weight.t(), True) + qacc(self.head.bias, True, lim)
        return acc, torch.cat(hs, 1)

    @torch.no_grad()
    def int_weights(self) -> dict[str, np.ndarray]:
        """The integers the exported graph and the numpy reference use."""
        lim = self.cfg.tab_limit

        def q(w):
            return qweight(w, True).round().long().numpy()

        def qa(b):
            return qacc(b, True, lim).round().long().numpy()

        out = {"wo": q(self.head.weight.t()), "bo": qa(self.head.bias)}
        for i, (x_side, wh_rz, wh_n, bhn) in enumerate(self._real_params()):
            if i == 0:
                out["tab"] = qa(x_side)
            else:
                out[f"wi{i}"], out[f"bi{i}"] = q(x_side[0]), qa(x_side[1])
            out[f"wh_rz{i}"], out[f"wh_n{i}"], out[f"bhn{i}"] = q(wh_rz), q(wh_n), qa(bhn)
        out.update(make_luts())
        return out
