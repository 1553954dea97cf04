"""Model half: torch QAT == numpy reference == onnxruntime, bit for bit; lmz-export fails loudly."""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lmz import spec as reference  # noqa: E402
from lmz.export import exporter  # noqa: E402
from lmz.export.cli import app as export_app  # noqa: E402
from lmz.export.tiny import random_gru_weights  # noqa: E402
from lmz.models.gru import GRUConfig, GRUModel  # noqa: E402
from lmz.models.registry import save_checkpoint  # noqa: E402
from lmz.runtime.freqs import EXP_LUT, scores_to_freqs  # noqa: E402
from lmz.runtime.session import make_session  # noqa: E402

TEXT = (b"The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst "
        b"of times; <ref>{{cite web|url=http://x}}</ref> for (i = 0; i < n; i++) x[i] = 0;\n") * 20


def trained_gru(steps=15, hidden=24, n_layer=1, seed=0):
    """A briefly trained QAT model (a few steps on real text), so weights are not just random."""
    torch.manual_seed(seed)
    m = GRUModel(GRUConfig(hidden=hidden, n_layer=n_layer, embed=16))
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    data = torch.tensor(list(TEXT[:1025]), dtype=torch.long).reshape(1, -1)
    for i in range(steps):
        acc, _ = m(data[:, :-1][:, :64], torch.zeros(1, m.state_size()), quant=i % 2 == 0)
        loss = torch.nn.functional.cross_entropy(acc.reshape(-1, 256) / 16384, data[:, 1:65].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        m.clamp_weights()
    return m


MODELS = {
    "random-1layer": lambda: random_gru_weights(hidden=16, n_layer=1, seed=1),
    "random-2layer": lambda: random_gru_weights(hidden=12, n_layer=2, seed=2),
}


def _trained(n_layer):
    m = trained_gru(n_layer=n_layer)
    return m.int_weights(), dataclasses.asdict(m.cfg)


MODELS["trained-2layer"] = lambda: _trained(2)


@pytest.fixture(scope="module", params=sorted(MODELS))
def exported(request, tmp_path_factory):
    w, cfg = MODELS[request.param]()
    d = tmp_path_factory.mktemp("exp")
    paths = {}
    for chunk in (1, 8):
        paths[chunk] = d / f"m{chunk}.onnx"
        exporter.export_model(w, cfg, paths[chunk], chunk=chunk, real=TEXT)
    return w, cfg, paths


def inputs(lanes, n):
    rng = np.random.default_rng(lanes * 7 + n)
    text = np.frombuffer((TEXT * 4)[:lanes * n], np.uint8).reshape(lanes, n).astype(np.int64)
    return {"random": rng.integers(0, 256, (lanes, n)), "zeros": np.zeros((lanes, n), np.int64),
            "ff": np.full((lanes, n), 255, np.int64), "text": text}


def run_ort(path, data, chunk, threads=1, opt="all"):
    sess, _ = make_session(path, "cpu", threads=threads, opt_level=opt)
    L, n = data.shape
    state = np.zeros((L, int(sess.get_inputs()[1].shape[1])), np.float32)
    out = []
    for s in range(0, n, chunk):
        sc, state = sess.run(["scores", "state_out"], {"bytes": data[:, s:s + chunk], "state": state})
        out.append(sc)
    return np.concatenate(out, 1), state


@pytest.mark.parametrize("lanes", [1, 33])
@pytest.mark.parametrize("threads,opt", [(1, "disable"), (2, "all")])
def test_onnxruntime_equals_reference(exported, lanes, threads, opt):
    w, cfg, paths = exported
    for name, data in inputs(lanes, 16).items():
        ref, ref_state = reference.forward(w, cfg, data, np.zeros((lanes, reference.state_size(cfg)), np.int64))
        for chunk in (1, 8):
            got, state = run_ort(paths[chunk], data, chunk, threads, opt)
            assert np.array_equal(got, ref), (name, chunk)
            assert np.array_equal(state, ref_state), (name, chunk)
            assert got.dtype == np.float32 and np.array_equal(got, np.floor(got))


def test_chunked_graph_equals_one_step_graph(exported):
    _, _, paths = exported
    data = inputs(5, 24)["text"]
    one, s1 = run_ort(paths[1], data, 1)
    eight, s8 = run_ort(paths[8], data, 8)
    assert np.array_equal(one, eight) and np.array_equal(s1, s8)


@pytest.mark.parametrize("n_layer", [1, 2])
def test_torch_qat_forward_is_the_integer_model(n_layer):
    m = trained_gru(n_layer=n_layer, steps=4)
    x = torch.randint(0, 256, (3, 40))
    with torch.no_grad():
        acc, st = m(x, torch.zeros(3, m.state_size()), quant=True)
    ref, ref_st = reference.forward(m.int_weights(), dataclasses.asdict(m.cfg), x.numpy(),
                                    np.zeros((3, m.state_size()), np.int64))
    assert np.array_equal(reference.to_scores(acc.numpy().astype(np.int64)), ref)
    assert np.array_equal(st.numpy().astype(np.int64), ref_st)


def test_float_twin_is_close():
    m = trained_gru(steps=10)
    x = torch.tensor(list(TEXT[:200]), dtype=torch.long)[None]
    with torch.no_grad():
        a_int, _ = m(x, torch.zeros(1, m.state_size()), quant=True)
        a_flt, _ = m(x, torch.zeros(1, m.state_size()), quant=False)
    # logits in nats differ by a small amount (tables sampled every 1/16, int8 weights)
    assert float((a_int - a_flt).abs().max()) / 16384 < 0.5


def test_exp_lut_is_pinned():
    """The table every encoder and decoder share: a change here breaks every existing file."""
    assert hashlib.sha256(EXP_LUT.astype("<i8").tobytes()).hexdigest() == \
        "8388977499463fffdc831bdf955954cefad67adb7754a2788c4b887eabed85da"
    assert EXP_LUT[0] == 65536 and EXP_LUT[16] == 24109 and EXP_LUT[-1] == 1
    f = scores_to_freqs(np.random.default_rng(0).integers(-3000, 3000, (50, 256)))
    assert (f.sum(-1) == 65536).all() and f.min() >= 1


def test_export_refuses_inexact_graph(tmp_path, monkeypatch):
    """A graph that differs from the reference in one integer is an error and leaves no file."""
    w, cfg = random_gru_weights(hidden=8, seed=3)
    real_builder = exporter.BUILDERS["gru"]

    def off_by_one(weights, cfg_, chunk, lanes=None):
        bad = dict(weights)
        bad["bo"] = weights["bo"].copy()
        bad["bo"][7] += 1 << reference.LUT_SHIFT  # one score off by one
        return real_builder(bad, cfg_, chunk, lanes)

    monkeypatch.setitem(exporter.BUILDERS, "gru", off_by_one)
    out = tmp_path / "bad.onnx"
    with pytest.raises(exporter.ExportError, match="not bit-exact"):
        exporter.export_model(w, cfg, out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_export_refuses_weights_beyond_float32_exactness(tmp_path):
    w, cfg = random_gru_weights(hidden=8, seed=4)
    w["tab"] = w["tab"].copy()
    w["tab"][0, 0] = 1 << 25
    with pytest.raises(exporter.ExportError):
        exporter.export_model(w, cfg, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def _cli(args):
    from typer.testing import CliRunner

    return CliRunner().invoke(export_app, [str(a) for a in args])


def test_cli_exports_a_checkpoint(tmp_path):
    m = trained_gru(steps=3, hidden=8)
    ck = tmp_path / "m.pt"
    save_checkpoint(ck, m, {"data_sha256": "ab" * 32, "steps": 3})
    r = _cli([ck, "-o", tmp_path / "m.onnx", "--chunk", "4"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.onnx").exists() and (tmp_path / "m.json").exists()
    assert "parameters" in r.output and "bit-exact" in r.output
    from lmz.runtime.session import read_model_info

    info = read_model_info(tmp_path / "m.onnx")
    assert info.chunk == 4 and info.family == "gru" and len(info.fingerprint) == 64
    assert info.meta["lmz.data_fingerprint"] == "ab" * 32


def test_cli_fails_on_corrupt_checkpoint(tmp_path):
    ck = tmp_path / "c.pt"
    ck.write_bytes(b"\x00not a checkpoint")
    r = _cli([ck, "-o", tmp_path / "c.onnx"])
    assert r.exit_code == 2 and "not a readable checkpoint" in r.output
    assert not (tmp_path / "c.onnx").exists()
    r = _cli([tmp_path / "missing.pt"])
    assert r.exit_code == 2


def test_cli_fails_on_unknown_family(tmp_path):
    ck = tmp_path / "u.pt"
    torch.save({"lmz_checkpoint": 1, "config": {"family": "lstm9000"}, "state_dict": {}, "train": {}}, ck)
    r = _cli([ck, "-o", tmp_path / "u.onnx"])
    assert r.exit_code == 2 and "unknown model family" in r.output
    assert not (tmp_path / "u.onnx").exists()


def _run_graph(g, inp, out, x, shape):
    from onnx import TensorProto, helper

    m = g.model([helper.make_tensor_value_info(inp, TensorProto.FLOAT, list(shape))],
                [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)])
    import onnxruntime as ort

    return ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {inp: x})[0]


def test_lut_is_exact_at_every_cell_edge():
    """GraphBuilder.lut (clip + truncating cast + GatherElements) == fixedpoint.lut, at the edges of
    every table cell and at the float32-exact extremes."""
    from lmz.export.graph import GraphBuilder
    from lmz.spec.fixedpoint import EXACT_LIMIT, LUT_SHIFT, lut

    k = np.arange(-140, 141, dtype=np.int64) << LUT_SHIFT
    acc = np.unique(np.concatenate([k - 1, k, k + 1, [EXACT_LIMIT - 1, -(EXACT_LIMIT - 1), 1 << 23, -(1 << 23)]]))
    table = np.random.default_rng(3).integers(-127, 128, 256)
    g = GraphBuilder()
    g.output(g.lut(g.weight(table, "t"), "acc", LUT_SHIFT), "y")
    got = _run_graph(g, "acc", "y", acc.astype(np.float32).reshape(1, -1), (1, acc.size))
    assert np.array_equal(got.reshape(-1).astype(np.int64), lut(table, acc))
    with pytest.raises(ValueError):
        GraphBuilder().lut("t", "acc", 16)


def test_int8_matmul_is_exact_at_the_extremes():
    """h @ w through u8 halves and MatMulInteger, with every operand at its bound (a 16-bit pair
    sum of 2 * 127 * 127 must not saturate) and at random values, equals the int64 product."""
    from lmz.export.graph import GraphBuilder

    rng = np.random.default_rng(4)
    K, N = 256, 48
    w = rng.choice([-127, 127], (K, N))
    w[:, 0], w[:, 1] = 127, -127
    for h in (np.full((3, K), 127), np.full((3, K), -127), rng.integers(-127, 128, (5, K)),
              rng.choice([-127, 127], (4, K))):
        g = GraphBuilder()
        g.output(g.matmul_s8(g.u8_halves("h"), g.s8_halves(w, "w")), "y")
        got = _run_graph(g, "h", "y", h.astype(np.float32), h.shape)
        assert np.array_equal(got.astype(np.int64), h @ w)
    with pytest.raises(ValueError):
        GraphBuilder().s8_halves(np.full((2, 2), 128), "w")


@pytest.mark.parametrize("name", ["text", "text-s", "text-m", "text-l", "image", "audio"])
def test_shipped_models_use_the_int8_graph(name):
    """The shipped GRU files were re-exported with the current builder (tools/reexport_models.py):
    their matrix products are MatMulInteger, none is left in float32."""
    import onnx

    from lmz.models import __file__ as models_init

    path = __import__("pathlib").Path(models_init).parent / f"{name}.onnx"
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "MatMulInteger" in ops and "MatMul" not in ops and "Gather" in ops
