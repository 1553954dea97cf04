"""What a stream may ask of a predictor stack: versioned presets, a type/range schema for every
parameter, and the memory a stack needs. Everything here is checked before anything is allocated.

Presets. A stream names its stack's parameters as a preset id plus the keys that differ from it
(docs/FORMAT.md, version 2), so a default stream's header is a few tens of bytes instead of the
whole parameter set. A preset, once published, never changes: new settings get a new id, and
the reader keeps every old one (the golden streams pin them).
"""
from __future__ import annotations

import json

from .errors import FormatError

STACK_MODEL_ONLY = 0
STACK_MIX = 1

# stack id -> preset id -> the complete parameter set (frozen: never edit a published entry)
_MIX_TEXT_V1 = {
    "algo": 1, "apm_ctx": 0, "apm_rate": 6, "bh_bits": 24, "bh_from": 3, "ctx2d": [], "ctx2d_direct": 0,
    "hist_bits": 16, "img_act": 0, "img_h": 0, "img_lms": [], "img_w": 0, "img_xpatch": 0, "limit": 1023,
    "match_bits": 20, "match_min": 8, "max_lanes": 512, "min_lane": 1024, "mixer2": 1, "mixer_ctx": 2,
    "mixer_lr": 3, "mixer_norm": 1, "orders": [0, 1, 2, 3, 4, 6], "share": 1, "sm_limit": 1023,
    "pcm": [], "sparse": [], "sse_w": [0, 4, 12], "table_bits": 20, "use_model": True, "words": 2, "x86": 0}
_MIX_IMAGE_V1 = dict(_MIX_TEXT_V1, apm_ctx=2, apm_rate=7, bh_bits=15, ctx2d=[2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
                     ctx2d_direct=1, img_h=32, img_lms=[4, 1], img_w=64, img_xpatch=1, mixer_ctx=0, mixer_lr=4,
                     orders=[0, 1], sse_w=[4, 4, 8], table_bits=23, words=0)
# the general-purpose default's stacks for blocks the model does not help (docs/FORMAT.md, frame 03):
# the mix without the model, one lane per frame (its contexts and match model see the whole block);
# for binary blocks with sparse contexts too (the 2nd byte back; the 2nd and 3rd; the 3rd and 4th;
# the 2nd and 4th), which pay on executables and archives but not on text-like data (docs/bench/blocks.md)
# (a 4 MiB history ring, hist_bits=22: the match model reaches back over the whole block)
_MIX_PLAIN_V1 = dict(_MIX_TEXT_V1, use_model=False, min_lane=1 << 30, max_lanes=1, hist_bits=22)
_MIX_BINARY_V1 = dict(_MIX_PLAIN_V1, sparse=[2, 6, 12, 10])
# ... and x86 code: call/jump targets made absolute before coding (lmz/runtime/x86.py)
_MIX_X86_V1 = dict(_MIX_BINARY_V1, x86=1)
# the text stack with at most 128 lanes per frame (longer lanes: the mix and the model's state
# learn over 8-32 KiB instead of 2-8 KiB; 2.9% smaller for 6% more CPU on 0.9 MB of development
# text, docs/bench/lanes.md); the default of new text streams from preset 6 to preset 8 (MixStack.CURRENT)
_MIX_TEXT_V2 = dict(_MIX_TEXT_V1, max_lanes=128)
# ... and 16-bit PCM audio: the samples replaced by prediction residuals before coding
# (lmz/runtime/pcm.py); each frame overrides ``pcm`` with its sample range, [channels, start, end].
# Counters adapt faster (the residuals' scale follows the signal's loudness).
_MIX_PCM_V1 = dict(_MIX_PLAIN_V1, limit=127, sm_limit=255)
# text-like blocks without the model, with the column contexts (the same field of the previous line;
# lmz/runtime/stack/contexts.py): on development files (1 MiB each, the mix alone) a CSV -32%, JSON
# lines -4%, Python sources -2.8%, a changelog -0.3%; the plain stack of new streams since preset 9
_MIX_PLAIN_V2 = dict(_MIX_PLAIN_V1, columns=1)
# the 128-lane text stack with its lanes in 2 groups: each byte's decisions run group by group, so
# the decoder runs the model's next step for one group while the stack decodes the other
# (MixStack ``groups``, loop._decode_groups); a different arithmetic from preset 6 (docs/MIX.md);
# the default of new text streams from lane groups to preset 10
_MIX_TEXT_V3 = dict(_MIX_TEXT_V2, groups=2)
# ... and the column contexts (as preset 9 has them for model-free frames): with the model, on
# development files (512 KiB, --mix on) Python sources -2.4%, licence texts +0.06%; the default of
# new text streams since preset 10 (MixStack.CURRENT)
_MIX_TEXT_V4 = dict(_MIX_TEXT_V3, columns=1)
# raster images of known geometry (PGM, PPM, BMP; lmz/runtime/images.py): the model-free stack with
# orders 0-2 only, the 2-D contexts and linear predictors of lmz/runtime/stack/raster.py, and one
# mixer weight set per partial byte and local activity; each frame overrides ``raster`` with its
# geometry [row, channels, first]. On development images (scikit-image's coins, moon, chelsea;
# docs/MIX.md) 8-31% smaller than the binary stack (preset 4) they were coded with before.
_MIX_RASTER_V1 = dict(_MIX_PLAIN_V1, orders=[0, 1, 2], mixer_ctx=0, words=0)
# binary blocks with the column contexts too (lines and fields turn up in binary data: tar members'
# sources, tables of strings; on development files, 1 MiB each, preset 4 + columns: a tar of Python
# sources -0.9%, a tar of .pyc files -0.5%, glibc's LC_CTYPE -2.6%, for about 10-25% more time) and
# the indirect contexts (what followed the order-1 and order-2 contexts the last two times; 512 KiB
# each, over preset 4 + columns: the tar of sources -0.7%, an x86-64 executable -0.7%) and the
# record contexts (a detected record length: the byte one record back; 512 KiB each, over the
# indirect contexts: glibc's LC_CTYPE -11.8%, a headerless RGB image -3.6%, the tar -0.15%, a
# headerless gray image +0.4%); the binary stack of new streams since preset 12
_MIX_BINARY_V2 = dict(_MIX_BINARY_V1, columns=1, indirect=1, period=1)
# ... the indirect contexts for text-like blocks without the model (preset 9; 512 KiB each: JSON
# lines -2.3%, CSV -3.4%, Python sources -0.9%; the record contexts there: +0.15%, +0.2%, -0.2%, not
# taken), new since preset 13; and both for x86 code (preset 5; after the call transform, 512 KiB
# each: the start of perl -7.8%, of libpython3.11.so -22.5% (symbol and relocation tables), perl's
# code further in -0.1%), new since preset 14
_MIX_PLAIN_V3 = dict(_MIX_PLAIN_V2, indirect=1)
_MIX_X86_V2 = dict(_MIX_X86_V1, indirect=1, period=1)
PRESETS: dict[int, dict[int, dict]] = {
    STACK_MODEL_ONLY: {0: {}},
    STACK_MIX: {1: _MIX_TEXT_V1,  # the default text stack of mix ALGO 1 (mixer2 on)
                2: _MIX_IMAGE_V1,  # the `image` model's stack (32x64 patches)
                3: _MIX_PLAIN_V1,  # text-like blocks the model does not help (--mix auto)
                4: _MIX_BINARY_V1,  # binary blocks (--mix auto)
                5: _MIX_X86_V1,  # x86 code (--mix auto)
                6: _MIX_TEXT_V2,  # the text stack of 128-lane frames (the default before preset 8)
                7: _MIX_PCM_V1,  # 16-bit PCM audio (--mix auto)
                8: _MIX_TEXT_V3,  # preset 6 with 2 lane groups (decoder pipeline; the default before preset 10)
                9: _MIX_PLAIN_V2,  # text-like blocks the model does not help, with column contexts
                10: _MIX_TEXT_V4,  # the default text stack: preset 8 with the column contexts
                11: _MIX_RASTER_V1,  # raster images (--mix auto; frames override ``raster``)
                12: _MIX_BINARY_V2,  # binary blocks with column, indirect and record contexts
                13: _MIX_PLAIN_V3,  # text-like blocks without the model, with indirect contexts
                14: _MIX_X86_V2},  # x86 code with indirect and record contexts
}
PRESET_PLAIN, PRESET_BINARY, PRESET_X86, PRESET_PCM, PRESET_RASTER = 13, 12, 14, 7, 11  # what new --mix auto frames use
BASE_PRESET = {STACK_MODEL_ONLY: 0, STACK_MIX: 1}  # overrides are written against this one

# name -> (kind, lo, hi[, max length]): "int" (bools are ints 0/1 too), "bool", "ints" (a list)
_INT, _BOOL, _INTS = "int", "bool", "ints"
MIX_SCHEMA = {
    "algo": (_INT, 1, 1), "apm_ctx": (_INT, 0, 2), "apm_rate": (_INT, 1, 16), "bh_bits": (_INT, 15, 30),
    "bh_from": (_INT, 0, 9), "ctx2d": (_INTS, 0, 11, 12), "ctx2d_direct": (_INT, 0, 1), "hist_bits": (_INT, 8, 24),
    "img_act": (_INT, 0, 1), "img_h": (_INT, 0, 65535), "img_lms": (_INTS, 0, 16, 2), "img_w": (_INT, 0, 4096),
    "img_xpatch": (_INT, 0, 1), "limit": (_INT, 1, 65535), "match_bits": (_INT, 8, 30), "match_min": (_INT, 1, 8),
    "groups": (_INT, 1, 16), "max_lanes": (_INT, 1, 65535), "min_lane": (_INT, 1, 1 << 30), "mixer2": (_INT, 0, 1), "mixer_ctx": (_INT, 0, 3),
    "mixer_lr": (_INT, 0, 16), "mixer_norm": (_INT, 0, 2), "orders": (_INTS, 0, 8, 9), "pcm": (_INTS, 0, 1 << 30, 3), "share": (_INT, 0, 1),
    "sm_limit": (_INT, 1, 65535), "sparse": (_INTS, 1, 255, 8), "sse_w": (_INTS, 0, 16, 3), "table_bits": (_INT, 15, 30), "use_model": (_BOOL,), "x86": (_INT, 0, 1),
    "columns": (_INT, 0, 1), "raster": (_INTS, 0, 1 << 30, 3), "indirect": (_INT, 0, 1), "period": (_INT, 0, 1),
    "words": (_INT, 0, 2)}
SCHEMAS = {STACK_MODEL_ONLY: {}, STACK_MIX: MIX_SCHEMA}
MAX_PARAMS_BYTES = 4096


def _check_value(name: str, v, spec):
    kind = spec[0]
    if kind == _BOOL:
        if not isinstance(v, bool) and v not in (0, 1):
            raise FormatError(f"stack parameter {name} must be true or false, not {v!r}")
        return bool(v)
    if kind == _INT:
        if isinstance(v, bool) or not isinstance(v, int):
            raise FormatError(f"stack parameter {name} must be an integer, not {v!r}"[:200])
        if not spec[1] <= v <= spec[2]:
            raise FormatError(f"stack parameter {name}={v} outside {spec[1]}..{spec[2]}")
        return v
    if not isinstance(v, (list, tuple)) or len(v) > spec[3]:
        raise FormatError(f"stack parameter {name} must be a list of at most {spec[3]} integers")
    return [_check_value(f"{name}[{i}]", x, (_INT, spec[1], spec[2])) for i, x in enumerate(v)]


def check_params(stack_id: int, params) -> dict:
    """The parameters, type- and range-checked against the stack's schema (FormatError if not)."""
    if stack_id not in SCHEMAS:
        raise FormatError(f"unknown predictor stack id {stack_id}")
    if not isinstance(params, dict):
        raise FormatError("stack parameters must be a JSON object")
    schema = SCHEMAS[stack_id]
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise FormatError(f"unknown stack parameters {unknown[:5]}"[:200])
    return {k: _check_value(k, v, schema[k]) for k, v in params.items()}


def parse_params(blob: bytes) -> dict:
    """JSON object bytes -> dict; any malformation (depth, numbers, encoding) is a FormatError."""
    if len(blob) > MAX_PARAMS_BYTES:
        raise FormatError(f"stack parameters too long ({len(blob)} bytes)")
    if blob.count(b"[") + blob.count(b"{") > 64:
        raise FormatError("stack parameters nest too deeply")
    try:
        v = json.loads(blob.decode("utf-8"), parse_constant=_no_constant, parse_float=_no_float)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FormatError(f"corrupt predictor stack parameters ({str(e)[:80]})") from None
    if not isinstance(v, dict):
        raise FormatError("corrupt predictor stack parameters (not a JSON object)")
    return v


def _no_constant(s):
    raise ValueError(f"{s} is not allowed")


def _no_float(s):
    raise ValueError(f"non-integer number {s[:20]}")


def dump_params(params: dict) -> bytes:
    return json.dumps(params, sort_keys=True, separators=(",", ":")).encode()


def _norm(v):
    return list(v) if isinstance(v, tuple) else v


# Parameters added after the first presets were published, with the value that means the old
# behaviour: a preset without the key has that value (the published dicts stay as they were), so
# params holding it still match their preset exactly and a stream never needs it as an override.
ADDED_LATER = {STACK_MIX: {"columns": 0, "groups": 1, "raster": [], "indirect": 0, "period": 0}}


def to_preset(stack_id: int, params: dict) -> tuple[int, dict]:
    """(preset id, overrides) describing `params`: an exact preset if one matches, else the keys
    that differ from the stack's base preset (the PCM preset for params with a ``pcm`` range, the
    raster preset for params with a ``raster`` geometry); params that a newer DEFAULTS adds default
    to the old behaviour, so a key absent from a preset is written as an override, unless it holds
    its ADDED_LATER value)."""
    late = ADDED_LATER.get(stack_id, {})
    full = {k: _norm(v) for k, v in params.items() if not (k in late and _norm(v) == late[k])}
    for pid, p in PRESETS[stack_id].items():
        if p == full:
            return pid, {}
    base = BASE_PRESET[stack_id]
    if stack_id == STACK_MIX and full.get("pcm"):  # an audio frame: its sample range against preset 7
        base = PRESET_PCM
    if stack_id == STACK_MIX and full.get("raster"):  # an image frame: its geometry against preset 11
        base = PRESET_RASTER
    bp = PRESETS[stack_id][base]
    return base, {k: v for k, v in full.items() if bp.get(k, late.get(k, object())) != v}


def from_preset(stack_id: int, preset: int, overrides: dict) -> dict:
    """The complete, checked parameter set of a stream: its preset updated by its overrides."""
    if stack_id not in PRESETS:
        raise FormatError(f"unknown predictor stack id {stack_id}")
    if preset not in PRESETS[stack_id]:
        raise FormatError(f"unknown preset {preset} of predictor stack {stack_id} (written by a newer lmz?)")
    full = dict(PRESETS[stack_id][preset])
    full.update(overrides)
    return check_params(stack_id, full)


MIB = 1 << 20


def stack_memory(stack_id: int, params: dict, lanes: int) -> int:
    """An upper estimate of the bytes a stack of `lanes` lanes allocates (docs/MIX.md, Memory)."""
    if stack_id == STACK_MODEL_ONLY:
        return 0
    p = dict(PRESETS[STACK_MIX][1])
    p.update(params)
    tb, bb = int(p["table_bits"]), int(p["bh_bits"])
    shared = (8 << tb)  # direct counters and state maps
    shared += (2 << bb) + (4 << max(tb, bb))  # bit histories, the update's first-member scratch
    shared += 8 << int(p["match_bits"])  # match index
    shared += 26 * MIB  # APMs and their per-slot sums
    per_lane = (1 << int(p["hist_bits"])) + 4096
    per_lane += 2 * (256 + 65536) * int(p.get("indirect", 0))  # the indirect contexts' tables
    per_lane += 1024 if p.get("raster") else 0  # the raster stack's linear predictors
    per_lane += 8 * (3 * 256 + 4097 + 2) * int(p.get("period", 0))  # the record-length detector
    return shared + lanes * per_lane


def frame_memory(max_frame: int) -> int:
    """Bytes the loop holds for one frame: the coded and decoded lanes and the coder's buffers."""
    return 4 * max_frame
