"""The ``lmz`` codec for Zarr format 3 arrays (zarr-python >= 3: a bytes-to-bytes codec).

    import zarr
    from lmz.integrations.zarr_codec import LmzCodec
    z = zarr.create_array("data.zarr", shape=(1000, 1000), dtype="u1", chunks=(256, 256),
                          compressors=LmzCodec(model="image"))

The array's metadata records ``{"name": "lmz", "configuration": {"model": ..., "mix": ...,
"lanes": ...}}``; zarr finds the codec through the ``zarr.codecs`` entry point when lmz is
installed (and this module registers it on import). Every chunk is one lmz stream, so a chunk
names and fingerprints its model. Format 2 arrays use :mod:`lmz.integrations.numcodecs_codec`.
Chunks are coded one at a time per process (the model's session and the predictor stack are not
shared between threads); for parallelism, use several processes (Dask, Ray).
"""
from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zarr.abc.codec import BytesBytesCodec
from zarr.core.common import parse_named_configuration
from zarr.registry import register_codec

from ..runtime import api
from ..runtime.errors import UsageError

if TYPE_CHECKING:
    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer

_LOCK = threading.Lock()  # zarr runs codecs in a thread pool: one lmz chunk at a time per process
_COMPRESSORS: dict = {}


@dataclass(frozen=True)
class LmzCodec(BytesBytesCodec):
    """lmz as a Zarr v3 bytes-to-bytes codec. `model`: a NAME (portable: the reader finds it on its
    search path) or a PATH; `mix`: the predictor stack ("auto", "on" or "off"); `lanes`: None (chosen)."""

    is_fixed_size = False

    model: str = api.DEFAULT_MODEL
    mix: str = "auto"
    lanes: int | None = None

    def __init__(self, *, model: str = api.DEFAULT_MODEL, mix: str = "auto", lanes: int | None = None) -> None:
        if not isinstance(model, str) or not model:
            raise UsageError(f"lmz codec: model must be a name or path, got {model!r}")
        if mix not in ("auto", "on", "off"):
            raise UsageError(f"lmz codec: mix must be 'auto', 'on' or 'off', got {mix!r}")
        if lanes is not None and (isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1):
            raise UsageError(f"lmz codec: lanes must be a positive integer or null, got {lanes!r}")
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "mix", mix)
        object.__setattr__(self, "lanes", lanes)

    @classmethod
    def from_dict(cls, data: dict) -> LmzCodec:
        _, cfg = parse_named_configuration(data, "lmz")
        unknown = set(cfg) - {"model", "mix", "lanes"}
        if unknown:
            raise UsageError(f"lmz codec: unknown configuration {sorted(unknown)}")
        return cls(**cfg)

    def to_dict(self) -> dict:
        return {"name": "lmz", "configuration": {"model": self.model, "mix": self.mix, "lanes": self.lanes}}

    def _compressor(self) -> api.Compressor:
        key = (self.model, self.mix, self.lanes)
        if key not in _COMPRESSORS:
            _COMPRESSORS.clear()  # one model open at a time (as lmz.load_model's cache)
            _COMPRESSORS[key] = api.Compressor(self.model, lanes=self.lanes, mix=self.mix)
        return _COMPRESSORS[key]

    def _encode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        with _LOCK:
            blob = self._compressor().compress(chunk_bytes.to_bytes())
        return chunk_spec.prototype.buffer.from_bytes(blob)

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        with _LOCK:
            raw = api.Decompressor(self.model).decompress(chunk_bytes.to_bytes())
        return chunk_spec.prototype.buffer.from_bytes(raw)

    async def _encode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return await asyncio.to_thread(self._encode_sync, chunk_bytes, chunk_spec)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> Buffer:
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        raise NotImplementedError  # variable size


register_codec("lmz", LmzCodec)
