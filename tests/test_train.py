"""lmz-train's data options: several files with shares, windows inside one file, and --init
(fine-tuning from a checkpoint, with its recipe kept in the metadata)."""
import numpy as np
import pytest
import torch

from lmz.models.train import BLOCK, Corpus, main


def _file(tmp_path, name, n, fill):
    p = tmp_path / name
    p.write_bytes(bytes([fill]) * n)
    return str(p)


def test_one_file_draws_as_before(tmp_path):
    """A single file keeps the old scheme: windows start inside one training block."""
    a = _file(tmp_path, "a.bin", 3 * BLOCK + 100, 1)
    c = Corpus([(a, None)], val_every=3, seed=5)
    assert [b for _, b in c.val_blocks] == [1] and c.train_blocks == [[0, 2]]
    rng = np.random.default_rng(5)
    for _ in range(50):
        b = [0, 2][rng.integers(2)]
        assert c.random_train_offset(4096) == b * BLOCK + int(rng.integers(0, BLOCK - 4096))
    assert c.info()["data"] == "a.bin" and c.info()["val_blocks"] == [1]


def test_shares_and_windows_stay_in_their_file(tmp_path):
    a = _file(tmp_path, "a.bin", 6 * BLOCK, 1)
    b = _file(tmp_path, "b.bin", BLOCK + BLOCK // 2, 2)  # one block + a tail; its last block is val
    c = Corpus([(a, None), (b, 0.25)], val_every=50, seed=0)
    assert np.allclose(c.p, [0.75, 0.25])
    L = 8192
    picks = [c.data[o:o + L] for o in (c.random_train_offset(L) for _ in range(4000))]
    assert all(len(w) == L and w.min() == w.max() for w in picks)  # never across a file boundary
    share_b = np.mean([w[0] == 2 for w in picks])
    assert 0.22 < share_b < 0.28
    v = c.val_windows(4, L)
    assert [w[0] for w in v] == [1, 2, 1, 2]  # val alternates over the files' val blocks
    info = c.info()
    assert info["data"] == "a.bin@0.75 + b.bin@0.25" and info["data_bytes"] == len(c.data)
    assert [f["data"] for f in info["data_files"]] == ["a.bin", "b.bin"]


@pytest.mark.parametrize("weights, ok", [((None, 0.5), True), ((2.0, 6.0), True), ((None, 1.0), False),
                                         ((None, 0.0), False), ((-1.0, 1.0), False)])
def test_weight_rules(weights, ok):
    if ok:
        p = Corpus._shares(list(weights), [3, 1])
        assert np.isclose(p.sum(), 1) and (p > 0).all()
    else:
        with pytest.raises(SystemExit):
            Corpus._shares(list(weights), [3, 1])


def test_init_fine_tunes_and_keeps_the_recipe(tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(rng.integers(97, 123, 200_000, dtype=np.uint8).tobytes())
    b.write_bytes(b"[[link]] {{template|x=1}} " * 4000)
    base, ft = tmp_path / "base.pt", tmp_path / "ft.pt"
    common = ["--batch", "4", "--seq", "16", "--reset-every", "4", "--eval-every", "1000",
              "--val-windows", "2", "--val-len", "64", "--threads", "1"]
    assert main(["--data", str(a), "-o", str(base), "--hidden", "8", "--max-steps", "3"] + common) == 0
    with pytest.raises(SystemExit):  # the config comes from the checkpoint
        main(["--init", str(base), "--hidden", "16", "--data", str(a), "-o", str(ft)] + common)
    assert main(["--init", str(base), "--data", str(a), "--data", f"{b}@0.5", "-o", str(ft),
                 "--max-steps", "2"] + common) == 0
    ck0 = torch.load(base, weights_only=True)
    ck = torch.load(ft, weights_only=True)
    t = ck["train"]
    assert ck["config"] == ck0["config"]
    assert t["steps"] == 5 and t["bytes_seen"] == 5 * 4 * 16
    assert t["command"].startswith(ck0["train"]["command"] + " && lmz-train --init")
    assert t["init"]["train"]["data_sha256"] == ck0["train"]["data_sha256"]
    assert t["data"] == "a.txt@0.5 + b.txt@0.5" and len(t["history"]) == 2  # before and after
    assert any(not torch.equal(ck["state_dict"][k], ck0["state_dict"][k]) for k in ck0["state_dict"])


def test_device_option_cpu_and_cuda_refusal(tmp_path):
    """--device cpu trains (and records where); --device cuda without a GPU is a clear error."""
    a = tmp_path / "a.txt"
    a.write_bytes(b"the quick brown fox jumps over the lazy dog. " * 3000)
    out = tmp_path / "m.pt"
    common = ["--data", str(a), "-o", str(out), "--hidden", "8", "--batch", "4", "--seq", "16",
              "--reset-every", "4", "--eval-every", "1000", "--val-windows", "2", "--val-len", "64", "--threads", "1"]
    assert main(common + ["--device", "cpu", "--max-steps", "2"]) == 0
    ck = torch.load(out, weights_only=True)
    assert ck["train"]["device"] == "cpu" and ck["train"]["steps"] == 2
    assert all(v.device.type == "cpu" for v in ck["state_dict"].values())
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA device"):
            main(common + ["--device", "cuda", "--max-steps", "1"])


def test_time_budget_is_one_command(tmp_path, capsys):
    """--time-budget: picks a width, trains, exports a bit-exact ONNX model and reports record rates
    against zstd + dictionary on held-out records; the model then works with the records API."""
    from conftest import TEXT

    import lmz

    data = tmp_path / "events.jsonl"
    rng = np.random.default_rng(0)
    data.write_bytes(b"".join(b'{"id": %d, "level": "%s", "msg": "%s"}\n'
                              % (i, [b"info", b"warn"][i % 2], TEXT[o: o + 30])
                              for i, o in enumerate(rng.integers(0, 800, 900))))
    out = tmp_path / "m.pt"
    assert main(["--data", str(data), "-o", str(out), "--time-budget", "0.1", "--records", "lines",
                 "--threads", "1", "--val-windows", "2", "--val-len", "256", "--progress-seconds", "1"]) == 0
    err = capsys.readouterr().err
    assert "width   16" in err and "step 1 " in err and "bit-exact" in err and "x zstd+dictionary" in err
    ck = torch.load(out, weights_only=True)
    rep = ck["train"]["records_report"]
    assert rep["records"] > 0 and 0 < rep["lmz"] < 2 and rep["zstd19_dict"] > 0 and rep["record_spec"] == "lines"
    onnx_path = tmp_path / "m.onnx"
    recs = data.read_bytes().splitlines(keepends=True)[:5]
    blobs = lmz.compress_records(recs, model=str(onnx_path))
    assert lmz.decompress_records(blobs, model=str(onnx_path)) == recs
    with pytest.raises(SystemExit, match="at least"):
        small = tmp_path / "small.txt"
        small.write_bytes(b"x" * 1000)
        main(["--data", str(small), "-o", str(tmp_path / "s.pt"), "--time-budget", "0.1"])
