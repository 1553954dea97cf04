"""The encoder's model-ahead thread (loop.PIPELINE): same bits as running the model inline,
errors from the model's thread reach the caller, and the thread never outlives the frame."""
from __future__ import annotations

import threading

import pytest
from conftest import TEXT
from fakes import FakeModel

from lmz.runtime import api, loop


class Boom(RuntimeError):
    pass


class FailingModel(FakeModel):
    """Raises at its `fail_at`-th step (in the model thread when the pipeline is on)."""

    def __init__(self, fail_at: int, **kw):
        super().__init__(**kw)
        self.fail_at, self.calls = fail_at, 0

    def step(self, data, state):
        self.calls += 1
        if self.calls == self.fail_at:
            raise Boom("model step failed")
        return super().step(data, state)


def _threads() -> int:
    return sum(t.name == "lmz-model-ahead" for t in threading.enumerate())


@pytest.mark.parametrize("mix", ["off", "on"])
@pytest.mark.parametrize("chunk", [1, 4])
def test_pipeline_gives_the_same_stream(monkeypatch, mix, chunk):
    """... and the same as the stack coding step by step (no compiled runs of steps: encode_cum),
    with runs of 24 steps (not a multiple of every chunk) handed over in blocks."""
    from lmz.runtime.stack import MixStack

    model = FakeModel(chunk=chunk)
    data = TEXT * 3
    monkeypatch.setattr(loop, "PIPELINE", False)
    monkeypatch.setattr(MixStack, "compiled_encode", False)
    serial = api.compress(data, model=model, mix=mix, lanes=7)
    monkeypatch.undo()
    monkeypatch.setattr(loop, "PIPELINE", True)
    monkeypatch.setattr(loop, "RUN_BYTES", 7 * 257 * 8 * 26)
    piped = api.compress(data, model=model, mix=mix, lanes=7)
    assert piped == serial
    assert api.decompress(piped, model=FakeModel()) == data  # the one-step graph decodes
    assert _threads() == 0


def test_model_error_in_the_thread_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(loop, "PIPELINE", True)
    with pytest.raises(Boom):
        api.compress(TEXT * 2, model=FailingModel(fail_at=5), mix="on", lanes=3)
    assert _threads() == 0


def test_stack_error_stops_the_model_thread(monkeypatch):
    monkeypatch.setattr(loop, "PIPELINE", True)
    from lmz.runtime.stack import MixStack

    calls = {"n": 0}
    real = MixStack.encode_steps  # the loop's path for a stack with compiled_encode (loop._encode_runs)

    def failing(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Boom("stack failed")
        return real(self, *a, **k)

    monkeypatch.setattr(MixStack, "encode_steps", failing)
    monkeypatch.setattr(loop, "RUN_BYTES", 2 * 257 * 8 * 16)  # runs of 16 steps
    model = FakeModel()
    with pytest.raises(Boom):
        api.compress(TEXT * 4, model=model, mix="on", lanes=2)
    assert _threads() == 0


def test_decoding_a_step_in_one_call_gives_the_same_bytes(monkeypatch):
    """A stack with one lane group decodes each step from the model's scores in one compiled call
    (decode_model_step, the step loop's kernel): the same bytes as the step-by-step methods, and
    the same verdict on a damaged stream. (Golden streams with several lanes in one group, e.g.
    v11/text-mix-groups1.lmz, take this path too.)"""
    lanes = 1
    from lmz.runtime.errors import LmzError
    from lmz.runtime.stack import MixStack

    data = TEXT * 3
    blob = api.compress(data, model=FakeModel(), mix="on", lanes=lanes)
    calls = {"n": 0}
    real = MixStack.decode_model_step

    def counting(self, *a, **k):
        calls["n"] += 1
        return real(self, *a, **k)

    monkeypatch.setattr(MixStack, "decode_model_step", counting)
    assert api.decompress(blob, model=FakeModel()) == data
    assert calls["n"] == -(-len(data) // lanes)  # one call per step
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0x10
    with pytest.raises(LmzError) as one_call:
        api.decompress(bytes(bad), model=FakeModel())
    monkeypatch.setattr(MixStack, "decodes_model_steps", False)
    calls["n"] = 0
    assert api.decompress(blob, model=FakeModel()) == data
    assert calls["n"] == 0
    with pytest.raises(LmzError) as per_step:
        api.decompress(bytes(bad), model=FakeModel())
    assert str(one_call.value) == str(per_step.value)
