"""Shared fixtures: a numpy fake model, and tiny random-weight ONNX models exported once per session."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from fakes import FakeModel  # noqa: E402

# dictionaries cache their primed state (lmz/runtime/dictionary.py): not in the user's ~/.cache
if "LMZ_CACHE_DIR" not in os.environ:
    import tempfile

    os.environ["LMZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmz-test-cache-")

TEXT = (b"It was the best of times, it was the worst of times, it was the age of wisdom, it was the age "
        b"of foolishness. The quick brown fox jumps over the lazy dog. <p>Markup</p> code() {return 0;}\n") * 8


@pytest.fixture(scope="session")
def fake_model():
    return FakeModel()


@pytest.fixture(scope="session")
def tiny_paths(tmp_path_factory):
    """{chunk: path} of tiny random GRU models (same weights) exported with lmz.export.tiny."""
    tiny = pytest.importorskip("lmz.export.tiny")
    d = tmp_path_factory.mktemp("models")
    return {c: str(tiny.export_random_model(str(d / f"tiny{c}.onnx"), chunk=c, seed=0)) for c in (1, 8)}


@pytest.fixture(scope="session")
def tiny_model(tiny_paths):
    from lmz.runtime.session import ByteModel

    return ByteModel(tiny_paths[1], provider="cpu")


@pytest.fixture(scope="session")
def tiny_model8(tiny_paths):
    from lmz.runtime.session import ByteModel

    return ByteModel(tiny_paths[8], provider="cpu")
