"""Fixed-window transformer family: torch QAT == numpy reference == ONNX, chunked == one-step."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
from conftest import TEXT

from lmz import spec as reference
from lmz.spec.transformer import forward as transformer_forward
from lmz.spec.transformer import make_exp_lut

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
F = torch.nn.functional
torch.set_num_threads(1)  # a shared machine: keep the tests small and single-threaded

CFG = {"family": "transformer", "window": 16, "d_model": 16, "n_layer": 2, "n_head": 2, "d_ff": 32}
CORPUS = "/work/corpora/text/train.txt"


def _text(n: int) -> bytes:
    if os.path.exists(CORPUS):
        with open(CORPUS, "rb") as f:
            return f.read(n)
    return (TEXT * (n // len(TEXT) + 1))[:n]


def _model(seed=0, **over):
    from lmz.models.registry import build

    torch.manual_seed(seed)
    return build({**CFG, **over})


def _cfg(model):
    import dataclasses

    return dataclasses.asdict(model.cfg)


def _check_torch_vs_reference(model, data: np.ndarray, seq: int):
    """Run the torch QAT forward and the numpy reference over `data` in windows of `seq`, carrying state."""
    w, cfg = model.int_weights(), _cfg(model)
    L = data.shape[0]
    st_t = torch.zeros(L, model.state_size())
    st_r = np.zeros((L, reference.state_size(cfg)), np.int64)
    with torch.no_grad():
        for s in range(0, data.shape[1], seq):
            x = data[:, s:s + seq]
            acc, st_t = model(torch.from_numpy(x), st_t, quant=True)
            assert torch.equal(acc, torch.round(acc)), "torch QAT forward left the integers"
            assert acc.abs().max() < reference.EXACT_LIMIT
            sc, st_r = reference.forward(w, cfg, x, st_r)
            got = torch.floor(acc / (1 << reference.LUT_SHIFT)).long().numpy()
            np.testing.assert_array_equal(got, sc)
            np.testing.assert_array_equal(st_t.long().numpy(), st_r)


def _train(model, steps=20, B=4, T=32, lr=3e-3, quant=True):
    torch.manual_seed(1)
    buf = np.frombuffer(_text(8192), np.uint8).astype(np.int64)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        o = rng.integers(1, len(buf) - T - 1, B)
        idx = o[:, None] + np.arange(T)[None]
        x, y = torch.from_numpy(buf[idx - 1]), torch.from_numpy(buf[idx])
        acc, _ = model(x, torch.zeros(B, model.state_size()), quant=quant)
        loss = F.cross_entropy((acc / (1 << reference.ACC_BITS)).reshape(-1, 256), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.clamp_weights()
    model.eval()
    return model


def test_state_size_and_registration():
    from lmz.models.registry import FAMILIES

    assert "transformer" in FAMILIES and "transformer" in reference.FAMILIES
    m = _model()
    assert m.state_size() == reference.state_size(_cfg(m)) == CFG["window"]


def test_exp_table_keeps_attention_sums_exact():
    for W, nl in ((16, 2), (128, 2), (128, 1), (256, 4), (1024, 1)):
        cfg = {"window": W, "n_layer": nl}
        t = make_exp_lut(cfg)
        assert t[-1] == 0 and np.all(np.diff(t) <= 0)
        assert (W // nl + 1) * t[0] * 255 < reference.EXACT_LIMIT


def test_torch_qat_equals_reference_random_init():
    m = _model().eval()
    rng = np.random.default_rng(0)
    for data in (rng.integers(0, 256, (3, 40)), np.zeros((2, 24), np.int64), np.full((2, 24), 255, np.int64)):
        for seq in (1, 5, 16, 40):
            _check_torch_vs_reference(m, data, seq)


def test_torch_qat_equals_reference_after_training():
    m = _train(_model(seed=3, window=24, n_layer=3, n_head=4))
    data = np.frombuffer(_text(4096)[1000:1000 + 3 * 60], np.uint8).astype(np.int64).reshape(3, 60)
    for seq in (1, 7, 60):
        _check_torch_vs_reference(m, data, seq)


def test_float_gap_small_after_training():
    """The float twin and the integer model give close losses (quantisation costs little)."""
    m = _train(_model(seed=0), steps=40, quant=False)
    buf = np.frombuffer(_text(8192)[4096:4096 + 4 * 128], np.uint8).astype(np.int64).reshape(4, 128)
    y = torch.from_numpy(buf)
    x = torch.zeros_like(y)
    x[:, 1:] = y[:, :-1]
    bits = {}
    with torch.no_grad():
        for quant in (True, False):
            acc, _ = m(x, torch.zeros(4, m.state_size()), quant=quant)
            bits[quant] = F.cross_entropy((acc / (1 << reference.ACC_BITS)).reshape(-1, 256),
                                          y.reshape(-1)).item() / math.log(2)
    assert bits[False] < 6.5, bits  # it learned something (8 bits/byte at random)
    assert abs(bits[True] - bits[False]) < 0.15, bits


@pytest.fixture(scope="module")
def tiny_transformer(tmp_path_factory):
    """Tiny random transformer exported (with the exporter's full bit-exact check) at chunk 1 and 8."""
    from lmz.export.tiny import RANDOM_WEIGHTS, export_random_model

    d = tmp_path_factory.mktemp("tr")
    paths = {c: str(export_random_model(str(d / f"tr{c}.onnx"), family="transformer", chunk=c, seed=0))
             for c in (1, 8)}
    return paths, RANDOM_WEIGHTS["transformer"](seed=0)


def test_export_bit_exact_random_weights(tiny_transformer):
    paths, _ = tiny_transformer
    import json

    for c, p in paths.items():
        md = json.loads(open(p[:-5] + ".json").read())
        assert md["lmz.family"] == "transformer" and md["lmz.chunk"] == str(c) and md["lmz.state_size"] == "16"


def test_random_weights_use_attention():
    """Guard against a degenerate random model (attention weights all on one key)."""
    from lmz.export.tiny import RANDOM_WEIGHTS

    w, cfg = RANDOM_WEIGHTS["transformer"](seed=0)
    w2 = dict(w, rel_bias0=w["rel_bias0"] * 0 - 4000, rel_bias1=w["rel_bias1"] * 0 - 4000)
    w2["rel_bias0"][:, 0] = w2["rel_bias1"][:, 0] = 0  # attend to self only
    data = np.random.default_rng(0).integers(0, 256, (4, 32))
    st = np.zeros((4, 16), np.int64)
    assert not np.array_equal(transformer_forward(w, cfg, data, st)[0], transformer_forward(w2, cfg, data, st)[0])


def test_chunked_graph_equals_one_step_graph(tiny_transformer):
    from lmz.runtime.session import make_session

    paths, _ = tiny_transformer
    rng = np.random.default_rng(5)
    data = np.concatenate([rng.integers(0, 256, (3, 24)),
                           np.frombuffer(TEXT[:3 * 24], np.uint8).reshape(3, 24).astype(np.int64)], 0)
    L = data.shape[0]
    outs = {}
    for c, p in paths.items():
        sess, _ = make_session(p, "cpu", threads=1)
        st = np.zeros((L, 16), np.float32)
        got = []
        for s in range(0, data.shape[1], c):
            sc, st = sess.run(["scores", "state_out"], {"bytes": data[:, s:s + c], "state": st})
            got.append(sc)
        outs[c] = (np.concatenate(got, 1), st)
    np.testing.assert_array_equal(outs[1][0], outs[8][0])
    np.testing.assert_array_equal(outs[1][1], outs[8][1])
    np.testing.assert_array_equal(outs[1][1], data[:, -16:])


def test_trained_model_exports_bit_exact(tmp_path):
    """A (briefly) trained model's integers pass the exporter's check at chunk 1 and 8, lanes free."""
    from lmz.export.exporter import export_model

    m = _train(_model(seed=2), steps=10)
    for c in (1, 8):
        export_model(m.int_weights(), _cfg(m), tmp_path / f"t{c}.onnx", chunk=c, real=_text(2048))


def test_round_trip_through_runtime(tiny_transformer):
    """Encode with the chunked graph, decode with the one-step graph (the lane loop and coder)."""
    from lmz.runtime import container as ct
    from lmz.runtime.lanes import FramePlan
    from lmz.runtime.loop import ModelOnly, decode_frame, encode_frame
    from lmz.runtime.session import ByteModel

    paths, _ = tiny_transformer
    one, eight = ByteModel(paths[1], provider="cpu"), ByteModel(paths[8], provider="cpu")
    data = TEXT[:400] + bytes(range(256))
    ref = encode_frame(one, ModelOnly(), data, FramePlan.cut(0, len(data), 3))
    assert encode_frame(eight, ModelOnly(), data, FramePlan.cut(0, len(data), 3)) == ref
    lens = ct.lane_lengths(len(data), 3)
    assert b"".join(decode_frame(one, ModelOnly(), ref, FramePlan(0, lens))) == data
