"""Reading an exported model file without the `onnx` package: metadata, initializers, fingerprint.

The runtime image has numpy and onnxruntime but not `onnx`, and onnxruntime does not expose the
initializers; the few protobuf fields we need (ModelProto.graph.initializer, .metadata_props) are
read here with a minimal wire-format parser.

The fingerprint a stream records is ``lmz.weights_sha256``, computed by the exporter
(``weights_sha256`` below) from the config and the integer weights *before* they were
laid out as graph initializers. :func:`weights_fingerprint` rebuilds those arrays from the
initializers (each weight ``K`` is stored as the initializer ``K_q``; a few were split or padded
by the graph builders, and are put back together here) and hashes them exactly as the exporter
did, so a model whose weights were changed no longer passes as the model a stream was made with.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

from .errors import ModelError

# TensorProto.DataType -> numpy dtype (little-endian raw_data)
_DTYPES = {1: "<f4", 2: "u1", 3: "i1", 4: "<u2", 5: "<i2", 6: "<i4", 7: "<i8", 10: "<f2", 11: "<f8", 12: "<u4",
           13: "<u8"}


class _Bad(Exception):
    pass


def _varint(buf, i: int):
    v = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise _Bad("bad varint")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return v, i
        shift += 7


def _fields(buf):
    """Yield (field number, wire type, value) of one protobuf message; length-delimited values are
    memoryview slices, varints ints, fixed32/64 raw bytes."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i: i + 8], i + 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            if i + ln > n:
                raise _Bad("field overruns the message")
            v, i = buf[i: i + ln], i + ln
        elif wt == 5:
            v, i = buf[i: i + 4], i + 4
        else:
            raise _Bad(f"unsupported wire type {wt}")
        if i > n:
            raise _Bad("truncated message")
        yield num, wt, v


def _packed_varints(v, wt):
    if wt == 0:
        return [v]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(x)
    return out


def _tensor(buf) -> tuple[str, np.ndarray]:
    name, dims, dtype, raw, location = "", [], None, None, 0
    int_data = []
    for num, wt, v in _fields(buf):
        if num == 1:
            dims += _packed_varints(v, wt)
        elif num == 2:
            dtype = v
        elif num == 8:
            name = bytes(v).decode("utf-8")
        elif num == 9:
            raw = bytes(v)
        elif num in (5, 7):  # int32_data / int64_data (not raw)
            int_data += [x - (1 << 64) if x >= 1 << 63 else x for x in _packed_varints(v, wt)]
        elif num == 14:
            location = v
    if location:
        raise _Bad(f"initializer {name!r} has external data")
    if dtype not in _DTYPES:
        raise _Bad(f"initializer {name!r} has unsupported data type {dtype}")
    if raw is not None:
        a = np.frombuffer(raw, dtype=_DTYPES[dtype])
    else:
        a = np.asarray(int_data, dtype=np.int64)
    if a.size != int(np.prod(dims, dtype=np.int64)):
        raise _Bad(f"initializer {name!r}: {a.size} values for shape {dims}")
    return name, a.reshape(dims)


def parse(data: bytes, initializers: bool = True) -> tuple[dict, dict]:
    """(metadata_props as a dict, {initializer name: array}) of a serialized ModelProto."""
    meta, inits = {}, {}
    buf = memoryview(data)
    for num, wt, v in _fields(buf):
        if num == 14 and wt == 2:  # metadata_props: StringStringEntryProto
            kv = {k: bytes(x).decode("utf-8") for k, _, x in _fields(v) if k in (1, 2)}
            meta[kv.get(1, "")] = kv.get(2, "")
        elif num == 7 and wt == 2 and initializers:  # graph
            for gnum, gwt, gv in _fields(v):
                if gnum == 5 and gwt == 2:
                    name, a = _tensor(gv)
                    inits[name] = a
    return meta, inits


def read(path: str | os.PathLike, initializers: bool = True) -> tuple[dict, dict]:
    """Metadata and initializers of the model file at `path` (ModelError if it cannot be read)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror or e}") from None
    try:
        return parse(data, initializers)
    except (_Bad, UnicodeDecodeError, ValueError) as e:
        raise ModelError(f"{path} is not a readable ONNX model ({e})") from None


def read_metadata(path: str | os.PathLike) -> dict:
    return read(path, initializers=False)[0]


# -- the weights fingerprint ---------------------------------------------------------------------
def weights_sha256(weights: dict, cfg: dict) -> str:
    """The model's fingerprint: sha256 of the config and every integer weight array, in name order
    (the exporter records it as ``lmz.weights_sha256``; this is its only definition)."""
    h = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode())
    for k in sorted(weights):
        a = np.ascontiguousarray(np.asarray(weights[k], dtype=np.int64))
        h.update(k.encode() + b"\0" + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def _join(w: dict, a: str, b: str, out: str, axis: int) -> None:
    if a in w or b in w:
        if a not in w or b not in w:
            raise _Bad(f"weight {out}: only one of {a}, {b}")
        w[out] = np.concatenate([w.pop(a), w.pop(b)], axis=axis)


def _gru(w: dict, cfg: dict) -> dict:
    _join(w, "tab_rz", "tab_n", "tab", 1)
    for i in range(int(cfg.get("n_layer", 1))):
        _join(w, f"wi_rz{i}", f"wi_n{i}", f"wi{i}", 1)
        _join(w, f"bi_rz{i}", f"bi_n{i}", f"bi{i}", 0)
    return w


def _transformer(w: dict, cfg: dict) -> dict:
    for k in [k for k in w if re.fullmatch(r"rel_bias_ext\d+", k)]:
        ext = w.pop(k)
        if ext.ndim != 2 or ext.shape[1] < 1:
            raise _Bad(f"{k} has shape {ext.shape}")
        w["rel_bias" + k[len("rel_bias_ext"):]] = ext[:, :-1]  # the graph appends a mask column
    return w


_FAMILIES = {"gru": _gru, "transformer": _transformer}


def weights_fingerprint(meta: dict, inits: dict) -> str:
    """sha256 of the config and the integer weights, as ``lmz.export.exporter.weights_sha256``."""
    cfg, w = integer_weights(meta, inits)
    return weights_sha256(w, cfg)


def integer_weights(meta: dict, inits: dict) -> tuple[dict, dict]:
    """(config, weights) as the exporter was given them, rebuilt from a file's initializers."""
    try:
        cfg = json.loads(meta["lmz.config"])
    except (KeyError, ValueError):
        raise ModelError("the model has no readable lmz.config metadata") from None
    fam = meta.get("lmz.family", cfg.get("family") if isinstance(cfg, dict) else None)
    if fam not in _FAMILIES:
        raise ModelError(f"cannot check the weights of model family {fam!r}")
    w = {k[:-2]: v for k, v in inits.items() if k.endswith("_q")}
    for k, v in w.items():
        if not np.issubdtype(v.dtype, np.integer):
            raise ModelError(f"weight {k} is not stored as integers")
    try:
        w = _FAMILIES[fam](w, cfg)
    except (_Bad, ValueError) as e:
        raise ModelError(f"unexpected weight layout: {e}") from None
    return cfg, w


_VERIFIED: dict = {}


def _identity(path: Path):
    st = os.stat(path)
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def verify(path: str | os.PathLike) -> str:
    """Compute the fingerprint of the model at `path` from its weights and check it against the
    ``lmz.weights_sha256`` its metadata claims; returns it. ModelError on any mismatch.
    Cached by file identity (path, size, mtime, inode)."""
    path = Path(path)
    try:
        key = _identity(path)
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror or e}") from None
    if key in _VERIFIED:
        return _VERIFIED[key]
    meta, inits = read(path)
    claimed = meta.get("lmz.weights_sha256", "")
    computed = weights_fingerprint(meta, inits)
    if computed != claimed:
        raise ModelError(f"{path}: the model's weights do not match its recorded fingerprint "
                         f"({computed[:16]} computed, {claimed[:16] or 'none'} recorded): modified or damaged file")
    if len(_VERIFIED) > 64:
        _VERIFIED.clear()
    _VERIFIED[key] = computed
    return computed
