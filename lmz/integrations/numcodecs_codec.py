"""The ``lmz`` codec for numcodecs and Zarr (format 2 arrays; the codec id is ``lmz``).

    import zarr
    from lmz.integrations.numcodecs_codec import Lmz
    z = zarr.create_array("data.zarr", shape=(1000, 1000), dtype="u1", chunks=(256, 256),
                          zarr_format=2, compressors=Lmz(model="image"))

Every chunk is one lmz stream (a 33-byte header, the model named and fingerprinted); the
configuration (``{"id": "lmz", "model": ..., "mix": ..., "lanes": ...}``) is stored in the
array's metadata, so a reader with lmz installed decodes it through numcodecs' registry.
"""
from __future__ import annotations

from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ensure_contiguous_ndarray, ndarray_copy
from numcodecs.registry import register_codec

from ..runtime import api


class Lmz(Codec):
    codec_id = "lmz"

    def __init__(self, model: str = api.DEFAULT_MODEL, mix: str = "auto", lanes: int | None = None):
        self.model, self.mix, self.lanes = str(model), mix, lanes
        self._compressor = None

    def _c(self) -> api.Compressor:
        if self._compressor is None:
            self._compressor = api.Compressor(self.model, lanes=self.lanes, mix=self.mix)
        return self._compressor

    def encode(self, buf) -> bytes:
        return self._c().compress(ensure_bytes(ensure_contiguous_ndarray(buf)))

    def decode(self, buf, out=None):
        raw = api.Decompressor(self.model).decompress(ensure_bytes(ensure_contiguous_ndarray(buf)))
        return ndarray_copy(raw, out)

    def __getstate__(self):  # Dask and multiprocessing pickle codecs; the model is opened again
        return {k: v for k, v in self.__dict__.items() if k != "_compressor"} | {"_compressor": None}

    def __repr__(self) -> str:
        return f"Lmz(model={self.model!r}, mix={self.mix!r}, lanes={self.lanes!r})"


register_codec(Lmz)
