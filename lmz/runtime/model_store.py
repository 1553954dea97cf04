"""Where models are found: a search path of directories, looked up by name and by fingerprint.

Search path, first match wins:

1. every directory in ``$LMZ_MODEL_PATH`` (``os.pathsep``-separated, like ``PATH``),
2. the per-user directory ``$XDG_DATA_HOME/lmz/models`` (default ``~/.local/share/lmz/models``),
3. the models shipped in the package (``lmz/models``).

A model NAME is the file name without ``.onnx``. Names are only ever looked up in these
directories: a file called ``text`` in the working directory is not the model ``text``. A model
is a path only when the user writes one (``./m.onnx``, anything with a separator, or an ``.onnx``
suffix). A name read from a stream is validated as a name (:func:`valid_name`) and never used as
a path.
"""
from __future__ import annotations

import importlib.resources
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import onnxfile
from .errors import ModelError, ModelNotFoundError

ENV = "LMZ_MODEL_PATH"
DEFAULT_MODEL = "text"
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")


def valid_name(name: str) -> bool:
    """A model name: 1..64 of [A-Za-z0-9._-], not starting with a dot (so never a path)."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


def fingerprint_matches(recorded: str, actual: str) -> bool:
    """A stream records the first bytes of the weights' sha256 (8 in format version 2, all 32 in
    version 1): `actual` (64 hex digits) matches when it starts with them."""
    return len(recorded) >= 16 and bool(actual) and actual.lower().startswith(recorded.lower())


def is_path(spec: str | os.PathLike) -> bool:
    """Whether the user wrote a path rather than a name: a separator or an .onnx suffix."""
    if isinstance(spec, os.PathLike):
        return True
    return "/" in spec or os.sep in spec or bool(os.altsep and os.altsep in spec) or spec.endswith(".onnx")


def shipped_dir() -> Path:
    """The shipped models: package data of ``lmz.models`` (its ``__init__`` imports nothing)."""
    return Path(str(importlib.resources.files("lmz.models")))


def user_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "lmz" / "models"


def search_path() -> list[Path]:
    dirs = [Path(d) for d in os.environ.get(ENV, "").split(os.pathsep) if d]
    out = []
    for d in dirs + [user_dir(), shipped_dir()]:
        if d not in out:
            out.append(d)
    return out


def _candidates():
    """(name, path) of every model file on the search path, in search order (shadowed ones too)."""
    for d in search_path():
        try:
            files = sorted(d.glob("*.onnx"))
        except OSError:
            continue
        for p in files:
            if valid_name(p.stem) and p.is_file():
                yield p.stem, p


def find(name: str) -> Path | None:
    """The first model file called NAME on the search path, or None."""
    if not valid_name(name):
        return None
    for d in search_path():
        p = d / f"{name}.onnx"
        if p.is_file():
            return p
    return None


def available() -> list[str]:
    return sorted({n for n, _ in _candidates()})


@dataclass
class Entry:
    name: str
    path: Path
    fingerprint: str  # as recorded in the model (checked against the weights when loaded)
    family: str
    params: str
    shadowed: bool = False  # a model of the same name comes earlier on the search path


def _metadata(p: Path) -> dict:
    """The model's metadata: the sidecar .json the exporter writes when it is beside the model
    and claims the same file size, else the ONNX file itself."""
    side = p.with_suffix(".json")
    try:
        j = json.loads(side.read_text())
        if isinstance(j, dict) and str(j.get("lmz.bytes")) == str(p.stat().st_size):
            return {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in j.items()}
    except (OSError, ValueError):
        pass
    return onnxfile.read_metadata(p)


def installed() -> list[Entry]:
    """Every model on the search path, in search order."""
    out, seen = [], set()
    for name, p in _candidates():
        try:
            md = _metadata(p)
        except ModelError:
            md = {}
        out.append(Entry(name, p, md.get("lmz.weights_sha256", ""), md.get("lmz.family", "?"),
                         md.get("lmz.params", "?"), name in seen))
        seen.add(name)
    return out


def find_by_fingerprint(fingerprint: str) -> Path | None:
    for e in installed():
        if not e.shadowed and fingerprint_matches(fingerprint, e.fingerprint):
            return e.path
    return None


def _where() -> str:
    return os.pathsep.join(str(d) for d in search_path())


def resolve(spec: str | os.PathLike | None) -> Path:
    """A model the user named: NAME (searched) or PATH (as written); default: the default model."""
    spec = DEFAULT_MODEL if spec is None else spec
    if is_path(spec):
        p = Path(spec)
        if not p.is_file():
            raise ModelNotFoundError(f"model file {os.fspath(spec)!r} not found")
        return p
    p = find(spec)
    if p is None:
        names = ", ".join(available()) or "none installed"
        why = "" if valid_name(spec) else " (not a valid model name; write ./NAME for a file)"
        raise ModelNotFoundError(f"model {spec!r} not found{why}; installed models: {names} "
                                 f"(search path {_where()}; see `lmz-run models`)")
    return p


def resolve_for_stream(name: str, fingerprint: str) -> Path:
    """The model a stream was made with: its recorded NAME if that model has the recorded
    fingerprint, else any installed model with that fingerprint. The name is only a name."""
    p = find(name) if valid_name(name) else None
    if p is not None:
        try:
            if fingerprint_matches(fingerprint, _metadata(p).get("lmz.weights_sha256", "")):
                return p
        except ModelError:
            pass
    q = find_by_fingerprint(fingerprint)
    if q is not None:
        return q
    if p is not None:
        return p  # the caller reports the mismatch, naming both fingerprints
    shown = name if valid_name(name) else "(invalid name)"
    raise ModelNotFoundError(f"this stream needs model {shown!r} (fingerprint {fingerprint[:16]}), which is not "
                             f"installed (search path {_where()}); install it there or pass --model NAME|PATH")
