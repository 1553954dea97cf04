"""Golden streams: every stream any released version wrote keeps decoding, bit for bit.

tests/golden/vN/ holds small .lmz files made by the code of their time (see make_golden.py) with
their inputs and the options that made them. Every stream of every folder must decode to its
input. The newest folder's inputs, re-encoded with the same options, must give the same bytes
while the algorithm versions are unchanged; older folders must still give the same frames
(everything after the header), since only the header layout may change between them.
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


@pytest.mark.parametrize("folder,name,case", CASES, ids=IDS)
def test_golden_reencodes_identically(folder, name, case):
    blob = (folder / f"{name}.lmz").read_bytes()
    raw = (folder / case["raw"]).read_bytes()
    again = lmz.Compressor(**case["options"]).compress(raw)
    if folder == NEWEST:
        assert again == blob
    else:
        old, new = lmz.read_header(blob), lmz.read_header(again)
        assert again[new.size:] == blob[old.size:]
