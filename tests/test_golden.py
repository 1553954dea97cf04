"""Golden streams: every stream any released version wrote keeps decoding, bit for bit.

tests/golden/vN/ holds small .lmz files made by the code of their time (see make_golden.py) with
their inputs and the options that made them. Every stream of every folder must decode to its
input. The newest folder's inputs, re-encoded with the same options, must give the same bytes
while the format and algorithm versions are unchanged (a change that codes different bits gets a
new version number and a new folder, made by make_golden.py; old folders are never regenerated).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import lmz

GOLDEN = Path(__file__).resolve().parent / "golden"
VERSIONS = sorted((p for p in GOLDEN.iterdir() if p.is_dir() and p.name.startswith("v")),
                  key=lambda p: int(p.name[1:]))
NEWEST = VERSIONS[-1]
CASES = [(v, name, case) for v in VERSIONS for name, case in json.loads((v / "manifest.json").read_text()).items()]
IDS = [f"{v.name}-{name}" for v, name, _ in CASES]


def test_golden_folders_exist():
    assert VERSIONS and len(CASES) >= 9


@pytest.mark.parametrize("folder,name,case", CASES, ids=IDS)
def test_golden_stream_decodes(folder, name, case):
    blob = (folder / f"{name}.lmz").read_bytes()
    raw = (folder / case["raw"]).read_bytes()
    assert len(raw) == case["size"] and len(blob) == case["compressed"]
    assert lmz.decompress(blob) == raw


NEW_CASES = [c for c in CASES if c[0] == NEWEST]


@pytest.mark.parametrize("folder,name,case", NEW_CASES, ids=[f"{v.name}-{n}" for v, n, _ in NEW_CASES])
def test_golden_reencodes_identically(folder, name, case):
    blob = (folder / f"{name}.lmz").read_bytes()
    raw = (folder / case["raw"]).read_bytes()
    assert lmz.Compressor(**case["options"]).compress(raw) == blob


def test_every_format_version_has_golden_streams():
    from lmz.runtime.container import VERSIONS_READ

    assert {lmz.read_header((v / f"{n}.lmz").read_bytes()).version for v, n, _ in CASES} == set(VERSIONS_READ)
