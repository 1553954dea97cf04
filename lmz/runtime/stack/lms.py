"""Linear predictors of the stack (``img_lms``): per lane and step shift one normalised LMS
predictor of the pixel from W and N, NW, NE, WW, NN, NNE minus W (integer weights x 2**-16); its
prediction with its recent error becomes 2-D context 10 (11), and APM 2's context with apm_ctx=2.
State lives on the stack (``lw``, ``lea``, ``lpred``, ...); per byte, numpy.
"""
from __future__ import annotations

import numpy as np

from .tables import clip255, ilog2

__all__ = ["lms_predict", "lms_update"]


def lms_predict(st, nb) -> None:
    """img_lms: predict the pixel at step t; adds nb["lms"] [L, predictors] and nb["lerr"],
    each predictor's recent mean absolute error in the lane, log2-quantised to 0..7."""
    W = nb["W"]
    d = np.stack([nb[k] - W for k in ("N", "NW", "NE", "WW", "NN", "NNE")], axis=1)  # [L, 6]
    pd = np.einsum("lj,lkj->lk", d, st.lw)  # int64, exact
    st.ld, st.lpd, st.lW = d, pd, W
    st.lpred = clip255(W[:, None] + ((pd + 32768) >> 16))
    nb["lms"] = st.lpred
    nb["lerr"] = np.minimum(ilog2(st.lea + 1), 7)

def lms_update(st, syms, act) -> None:
    """After pixel t: w += e * d / (|d|^2 + 16) / 2**shift (integer floor division; weights
    clipped to +-4); each error mean moves 1/8 of the way to |e|."""
    d = st.ld
    e = ((syms - st.lW) << 16)[:, None] - st.lpd  # [L, predictors]
    S = (d * d).sum(axis=1) + 16
    dw = (e[:, :, None] * d[:, None, :]) // (S[:, None] << st.lshift[None, :])[:, :, None]
    a = act[:, None]
    st.lw = np.where(a[:, :, None], np.clip(st.lw + dw, -(1 << 18), 1 << 18), st.lw)
    ae = np.abs(syms[:, None] - st.lpred) << 4
    st.lea = np.where(a, st.lea + ((ae - st.lea) >> 3), st.lea)
