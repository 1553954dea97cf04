"""The optional integrations: the numcodecs/Zarr codec and fsspec's compression="lmz"."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TEXT

import lmz

ROOT = Path(__file__).resolve().parent.parent


def test_runtime_does_not_import_them():
    import subprocess

    code = ("import sys, lmz, lmz.runtime.cli, lmz.runtime.seekable, lmz.runtime.parallel; "
            "print(any(m.split('.')[0] in ('zarr', 'numcodecs', 'fsspec', 'ray', 'pyarrow') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_entry_point_declared():
    tomllib = pytest.importorskip("tomllib")
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    target = cfg["project"]["entry-points"]["numcodecs.codecs"]["lmz"]
    mod, _, name = target.partition(":")
    pytest.importorskip("numcodecs")
    import importlib

    assert getattr(importlib.import_module(mod), name).codec_id == "lmz"
    assert set(cfg["project"]["optional-dependencies"]["zarr"]) >= {"zarr>=3.1,<4", "numcodecs>=0.15", "fsspec>=2023.1"}
    assert cfg["project"]["entry-points"]["zarr.codecs"]["lmz"] == "lmz.integrations.zarr_codec:LmzCodec"


def test_numcodecs_codec_round_trip(tiny_paths):
    numcodecs = pytest.importorskip("numcodecs")
    from lmz.integrations.numcodecs_codec import Lmz

    codec = Lmz(model=tiny_paths[1], mix="off")
    cfg = codec.get_config()
    assert cfg == {"id": "lmz", "model": tiny_paths[1], "mix": "off", "lanes": None}
    again = numcodecs.get_codec(cfg)
    arr = np.frombuffer(TEXT[:800], dtype=np.uint8).reshape(20, 40)
    enc = again.encode(arr)
    assert lmz.read_header(enc).model_name == "tiny1"
    out = np.empty_like(arr)
    again.decode(enc, out=out)
    assert (out == arr).all()
    assert bytes(codec.decode(enc)) == TEXT[:800]
    import pickle

    assert pickle.loads(pickle.dumps(codec)).get_config() == cfg


def test_zarr_array(tiny_paths, tmp_path):
    zarr = pytest.importorskip("zarr")
    from lmz.integrations.numcodecs_codec import Lmz

    arr = np.frombuffer(TEXT[:1200], dtype=np.uint8).reshape(30, 40)
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=arr.shape, dtype="u1", chunks=(15, 40), zarr_format=2,
                          compressors=Lmz(model=tiny_paths[1], mix="off"))
    z[:] = arr
    chunk = (tmp_path / "a.zarr" / "0.0").read_bytes()
    assert chunk.startswith(b"\x89LMZ")
    back = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")
    assert (back[:] == arr).all()
    assert back.metadata.compressor.get_config()["id"] == "lmz"


def test_zarr_v3_array(tiny_paths, tmp_path):
    zarr = pytest.importorskip("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.skip("the format 3 codec needs zarr-python >= 3")
    from zarr.registry import get_codec_class

    from lmz.integrations.zarr_codec import LmzCodec

    assert get_codec_class("lmz") is LmzCodec
    arr = np.frombuffer(TEXT[:1200] + TEXT[:1200], dtype="<u2").reshape(30, 40)  # 2-byte items: bytes -> lmz
    codec = LmzCodec(model=tiny_paths[1], mix="off")
    z = zarr.create_array(str(tmp_path / "b.zarr"), shape=arr.shape, dtype="<u2", chunks=(16, 40), zarr_format=3,
                          compressors=codec, fill_value=0)
    z[:] = arr
    chunk = (tmp_path / "b.zarr" / "c" / "0" / "0").read_bytes()
    assert chunk.startswith(b"\x89LMZ") and lmz.read_header(chunk).model_name == "tiny1"
    back = zarr.open_array(str(tmp_path / "b.zarr"), mode="r")  # the codec found from the metadata
    assert back.dtype == arr.dtype and (back[:] == arr).all() and (back[3:20, 5:9] == arr[3:20, 5:9]).all()
    assert back.metadata.codecs[-1] == codec
    assert LmzCodec.from_dict(codec.to_dict()) == codec
    from lmz.runtime.errors import UsageError

    for bad in ({"mix": "maybe"}, {"lanes": 0}, {"model": ""}, {"levels": 3}):
        with pytest.raises(UsageError):
            LmzCodec.from_dict({"name": "lmz", "configuration": {"model": "m"} | bad})


def test_fsspec_compression(fake_model, tmp_path):
    fsspec = pytest.importorskip("fsspec")
    from lmz.integrations.fsspec_compression import register

    register()
    register(model=fake_model, mix="off", frame_size=500)  # again: replaces the options
    assert "lmz" in fsspec.available_compressions()
    p = str(tmp_path / "x.txt.lmz")
    with fsspec.open(p, "wb", compression="lmz") as f:
        f.write(TEXT)
    blob = (tmp_path / "x.txt.lmz").read_bytes()
    h = lmz.read_header(blob)
    assert h.index and h.max_frame == 500 and h.model_name == "fake"
    assert lmz.Decompressor(fake_model).decompress(blob) == TEXT
    with fsspec.open(p, "rb", compression="infer") as f:
        f.seek(1000)
        assert f.read(100) == TEXT[1000:1100]
    with fsspec.open(p, "rt", compression="lmz", encoding="latin-1") as f:
        assert f.read().encode("latin-1") == TEXT
