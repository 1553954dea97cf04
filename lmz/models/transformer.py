"""Integer-exact fixed-window (KV-free) byte transformer.

The state is the last W bytes (zeros at a lane's start: the virtual zero bytes). Each layer
attends causally over at most `span = W / n_layer` earlier positions plus itself (sliding-window
attention), so an output depends on exactly the W + 1 bytes ending at its position and layer l
only needs positions [W - (n_layer-1-l)*span, W + T) of the window [state, x]. Positions enter
through a learned per-head relative bias (no absolute position table: a window has no fixed
origin). No LayerNorm: the residual stream is int8 activations with clipping. The exact integer
math is documented in runtime/reference_transformer.py; `quant=True` forwards exactly those
integers (straight-through estimators), `quant=False` is the float twin (real softmax, no
rounding, same clips and scales).

State: [lanes, W] bytes as float32.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lmz.spec.fixedpoint import EXACT_LIMIT, W_BITS
from lmz.spec.transformer import ATT_FRAC, EXP_SIZE, MASK, exp_bits, make_exp_lut, span

from .qat import floor_div, qacc, qweight, ste

W_MAX = 127 / (1 << W_BITS)


@dataclass
class TransformerConfig:
    family: str = "transformer"
    window: int = 128  # W: bytes of context = the state; a multiple of n_layer
    d_model: int = 64  # D: residual width (int8 activations)
    n_layer: int = 2  # each layer attends over span = W / n_layer earlier bytes
    n_head: int = 4  # heads of width D / n_head
    d_ff: int = 256  # ReLU MLP width
    att_shift: int = 10  # logit (1/32 nat) = floor(q.k / 2**att_shift); 10 -> q.k/2 in real units
    bias_limit: int = 1 << 20  # |biases| in acc units (2**-14)
    rel_limit: int = 4095  # |relative position bias| in 1/32 nat


class TransformerModel(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        D, H, F, nl = cfg.d_model, cfg.n_head, cfg.d_ff, cfg.n_layer
        if D % H:
            raise ValueError(f"d_model {D} must be a multiple of n_head {H}")
        self.span = span({"window": cfg.window, "n_layer": nl})
        for width in (D, F):  # every matmul: int8 x int8 over `width` terms plus a bias
            if width * 127 * 127 + cfg.bias_limit >= EXACT_LIMIT:
                raise ValueError(f"width {width} is too wide for exact float32 sums")
        dh = D // H
        if dh * 127 * 127 >= EXACT_LIMIT or cfg.rel_limit >= (1 << 19):
            raise ValueError("attention logits would not be exact")
        c = {"window": cfg.window, "n_layer": nl}
        self.k_exp = exp_bits(c)
        self.register_buffer("exp_lut", torch.tensor(make_exp_lut(c), dtype=torch.float32), persistent=False)
        a = self.span
        self.emb = nn.Parameter(torch.randn(256, D) * 0.25)  # real activation units (x / 128)
        self.qkv = nn.ModuleList(nn.Linear(D, 3 * D) for _ in range(nl))
        self.proj = nn.ModuleList(nn.Linear(D, D) for _ in range(nl))
        self.fc1 = nn.ModuleList(nn.Linear(D, F) for _ in range(nl))
        self.fc2 = nn.ModuleList(nn.Linear(F, D) for _ in range(nl))
        # relative bias in nats, ALiBi-like recency slopes to start with
        slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / H) for h in range(H)])
        rb = -slopes[:, None] * torch.arange(a + 1, dtype=torch.float32)[None] * 4.0
        self.rel_bias = nn.ParameterList(nn.Parameter(rb.clone()) for _ in range(nl))
        self.head = nn.Linear(D, 256)
        with torch.no_grad():
            for m in list(self.proj) + list(self.fc2):
                m.weight.mul_(0.5)
        self.clamp_weights()

    def state_size(self) -> int:
        return self.cfg.window

    @torch.no_grad()
    def clamp_weights(self):
        self.emb.clamp_(-W_MAX, W_MAX)
        for mods in (self.qkv, self.proj, self.fc1, self.fc2):
            for m in mods:
                m.weight.clamp_(-W_MAX, W_MAX)
        self.head.weight.clamp_(-W_MAX, W_MAX)
        lim = self.cfg.rel_limit / (1 << ATT_FRAC)
        for rb in self.rel_bias:
            rb.clamp_(-lim, lim)

    # --------------------------------------------------------------------------- quantisers
    def _w(self, lin: nn.Linear, quant: bool):
        return qweight(lin.weight.t(), quant), qacc(lin.bias, quant, self.cfg.bias_limit)

    def _rb(self, i: int, quant: bool):
        s = self.rel_bias[i] * float(1 << ATT_FRAC)
        lim = self.cfg.rel_limit
        return ste(s, torch.clamp(torch.round(s), -lim, lim)) if quant else s

    def _act(self, acc, lo, quant: bool):
        """acc units -> activation units: clip(floor(acc / 2**7), lo, 127)."""
        return torch.clamp(floor_div(acc, 7, quant), lo, 127.0)

    def _rel_index(self, nq: int, nk: int, device):
        a = self.span
        d = a + torch.arange(nq, device=device)[:, None] - torch.arange(nk, device=device)[None, :]
        ok = (d >= 0) & (d <= a)
        return torch.where(ok, d, torch.zeros_like(d)), ok

    def _attend(self, q, k, v, rb, quant: bool):
        """q [B, H, nq, dh], k/v [B, H, nk, dh], rb [H, span+1] -> [B, H, nq, dh] (activation units)."""
        nq, nk = q.shape[2], k.shape[2]
        idx, ok = self._rel_index(nq, nk, q.device)
        if not quant:  # float twin: the same logits, real softmax, on the fused kernel
            unit = 1.0 / (1 << ATT_FRAC)  # logits are in 1/32 nat
            bias = torch.where(ok, rb[:, idx] * unit, torch.full_like(rb[:, idx], float("-inf")))
            return F.scaled_dot_product_attention(q, k, v, attn_mask=bias[None],
                                                  scale=unit / (1 << self.cfg.att_shift))
        s = floor_div(q @ k.transpose(-1, -2), self.cfg.att_shift, quant) + rb[:, idx][None]
        s = torch.where(ok, s, torch.full_like(s, float(MASK)))
        m = s.detach().max(-1, keepdim=True).values
        diff = m - s
        smooth = float(1 << self.k_exp) * torch.exp(-diff * (1.0 / (1 << ATT_FRAC)))
        if quant:
            idx_e = torch.clamp(diff.detach(), 0, EXP_SIZE - 1).long()
            e = ste(smooth, self.exp_lut[idx_e])
        else:
            e = smooth
        e = torch.where(ok, e, torch.zeros_like(e))
        num = e @ (v + 128.0)
        den = e.sum(-1, keepdim=True)
        if quant:
            exact = torch.div(num.detach().double(), den.detach().double(), rounding_mode="floor").float()
            o = ste(num / den, exact)
        else:
            o = num / den
        return o - 128.0

    def forward(self, x: torch.Tensor, state: torch.Tensor, quant: bool = True):
        """x long [B, T] bytes, state [B, W] (the last W bytes) -> (logits in acc units [B, T, 256], state)."""
        cfg, a = self.cfg, self.span
        D, H = cfg.d_model, cfg.n_head
        dh = D // H
        B = x.shape[0]
        win = torch.cat([state.long(), x], 1)  # [B, N]
        h = qweight(self.emb, quant)[win]  # [B, N, D] activation units
        for i in range(cfg.n_layer):
            nk = h.shape[1]
            nq = nk - a
            w, b = self._w(self.qkv[i], quant)
            qkv = self._act(h @ w + b, -127.0, quant)
            qkv = qkv.reshape(B, nk, 3, H, dh).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0][:, :, a:], qkv[1], qkv[2]
            o = self._attend(q, k, v, self._rb(i, quant), quant)
            o = o.transpose(1, 2).reshape(B, nq, D)
            w, b = self._w(self.proj[i], quant)
            h = torch.clamp(h[:, a:] + floor_div(o @ w + b, 7, quant), -127.0, 127.0)
            w, b = self._w(self.fc1[i], quant)
            hdn = self._act(h @ w + b, 0.0, quant)
            w, b = self._w(self.fc2[i], quant)
            h = torch.clamp(h + floor_div(hdn @ w + b, 7, quant), -127.0, 127.0)
        w, b = self._w(self.head, quant)
        acc = h @ w + b
        return acc, win[:, -cfg.window:].float()

    @torch.no_grad()
    def int_weights(self) -> dict[str, np.ndarray]:
        """The integers the exported graph and the numpy reference use."""
        def q(t):
            return qweight(t, True).round().long().numpy()

        def qa(t):
            return qacc(t, True, self.cfg.bias_limit).round().long().numpy()

        out = {"emb": q(self.emb), "w_head": q(self.head.weight.t()), "b_head": qa(self.head.bias),
               "exp_lut": make_exp_lut({"window": self.cfg.window, "n_layer": self.cfg.n_layer})}
        for i in range(self.cfg.n_layer):
            for name, mod in (("qkv", self.qkv), ("o", self.proj), ("1", self.fc1), ("2", self.fc2)):
                out[f"w_{name}{i}"], out[f"b_{name}{i}"] = q(mod[i].weight.t()), qa(mod[i].bias)
            out[f"rel_bias{i}"] = self._rb(i, True).round().long().numpy()
        return out

