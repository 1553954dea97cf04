"""Per-block stack decisions: what ``--mix auto`` (the default) does with each frame of the input.

A language model helps on the kind of data it was trained on and costs time everywhere; the mix
without the model, run as one long lane over the block, learns any data's own statistics (measured
on executables, JSON, source code and tarballs: smaller and about 4x faster than the model with
the mix over 1 KiB lanes; on prose the model wins, docs/bench/blocks.md). So per frame:

0. **16-bit PCM audio?** A block that starts with a RIFF/WAVE header of 16-bit PCM (1..8
   channels), or a block that is not text and whose first ``SAMPLE`` bytes ``pcm.detect`` finds
   PCM-like (a later frame of a WAV larger than a frame, raw PCM) and codes at most ``PCM_MARGIN``
   of the binary stack's size that way, is coded as prediction residuals (``pcm.py``, frame type 03,
   mix preset 7 with the frame's sample range). With a text model that is final; with another model
   the audio coding takes the place of preset 13 in step 3.
0b. **A raster image?** A block that starts with a PGM, PPM, PAM or BMP header (``images.geometry``),
   or a later block of an image whose header was in an earlier one (the caller's ``geometry``),
   is coded with the raster stack (mix preset 11 with the image's geometry: 2-D contexts and
   linear predictors from the pixels above and to the left, ``stack/raster.py``; in step 1 too,
   which may still store it). With a text model that is final; with another model the raster
   coding takes the place of the model-free preset in step 3.
1. **Already compressed?** If the block's order-0 entropy is above ``STORE_H0`` bits per byte, a
   ``SAMPLE``-byte sample is coded without the model; if that does not shrink it below
   ``STORE_RATIO``, the block is stored at once (no modeling cost for JPEG, zip, xz ...).
2. **Text at all?** With a text model, blocks with control bytes (other than tab, CR, LF) above
   ``CTRL_MAX`` or letters below ``LETTERS_MIN`` are binary: coded without the model, with sparse contexts too
   (frame type 03, mix preset 12: preset 4 with column, indirect and record contexts); if they look like
   x86 code (near calls ``E8`` more often than once in 256 bytes), after the call-address transform
   of ``x86.py`` (mix preset 14: preset 5 with indirect and record contexts). With another model (image,
   audio, one trained by the user) binary blocks go to step 3, against preset 12 or 14.
3. **Does the model pay?** Otherwise the sample is coded with the stream's own stack (the model
   with the mix) and without the model (mix preset 13: preset 3 with column and indirect contexts); the model is kept only if it codes the
   sample smaller by ``TEXT_MARGIN`` (the model-free lane learns more on the whole block than on
   the sample). A block no longer than the sample is coded both ways and the smaller result kept.
   If the model's stack ends up storing the whole block (with the mix, one lane that would expand,
   say a binary member in a text archive, stores the frame: docs/FORMAT.md), the block is coded
   without the model too and the smaller kept.

The decision uses only the block's bytes and fixed rules, so encoding is deterministic and the
same with any number of worker processes; the decoder reads the decision from the frame type.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import container as ct
from . import images, pcm, x86

SAMPLE = 32 << 10  # bytes coded both ways to decide a block
STORE_H0 = 7.9  # order-0 bits per byte above which a block may be already compressed
STORE_RATIO = 0.985  # ... and is stored if its sample does not code below this fraction
CTRL_MAX = 0.01  # more control bytes than this: not text, the model is not tried
LETTERS_MIN = 0.15  # fewer ASCII letters than this: not text
TEXT_MARGIN = 0.97  # the model's stack must code the sample to at most this fraction of the other
PCM_MARGIN = 0.97  # headerless 16-bit PCM: the residual coding must code the sample to this fraction

Coder = Callable[[bytes, int], bytes]  # (block, input offset) -> its packed frame
PcmCoder = Callable[[bytes, int, list], bytes]  # (block, offset, pcm range [channels, start, end]) -> frame
RasterCoder = Callable[[bytes, int, list], bytes]  # (block, offset, geometry [row, channels, first]) -> frame


def audio_coder(raw: bytes, offset: int, binary: Coder, pcm16: PcmCoder, header_only: bool = False) -> Coder | None:
    """A coder of `raw` (or a prefix of it) as 16-bit PCM residuals (mix preset 7), or None.

    A RIFF/WAVE header of 16-bit PCM at the block's start gives the channels and the sample range
    (cut to the block; what follows the data chunk is coded as it is). Without a header
    (`header_only` False), a block whose first SAMPLE bytes pcm.detect finds PCM-like (a later frame
    of a large WAV, raw PCM) is PCM if the residual coding codes that sample to at most PCM_MARGIN
    of the binary stack's coding."""
    w = pcm.parse_wav(raw)
    if w is not None:
        ch, start, end = w
    elif header_only:
        return None
    else:
        d = pcm.detect(raw, SAMPLE)
        if d is None:
            return None
        (ch, start), end = d, None
    if pcm.region(len(raw), ch, start, end) is None:
        return None

    def code(b: bytes, offset: int) -> bytes:
        rng = pcm.region(len(b), ch, start, end)
        return pcm16(b, offset, rng) if rng is not None else binary(b, offset)

    if w is None:
        sample = raw[:SAMPLE]
        if len(code(sample, offset)) > PCM_MARGIN * len(binary(sample, offset)):
            return None
    return code


def byte_stats(raw: bytes) -> tuple[float, float, float]:
    """(order-0 entropy in bits per byte, control-byte fraction, ASCII-letter fraction)."""
    counts = np.bincount(np.frombuffer(raw, dtype=np.uint8), minlength=256).astype(np.float64)
    n = counts.sum()
    p = counts[counts > 0] / n
    h0 = float(-(p * np.log2(p)).sum())
    ctrl = float(counts[:32].sum() - counts[[9, 10, 13]].sum()) / n
    letters = float(counts[65:91].sum() + counts[97:123].sum()) / n
    return h0, ctrl, letters


def choose_frame(raw: bytes, offset: int, with_model: Coder, without_model: Coder, binary: Coder | None = None,
                 x86code: Coder | None = None, text_model: bool = True, pcm16: PcmCoder | None = None,
                 raster: RasterCoder | None = None, geometry: list | None = None) -> bytes:
    """The packed frame of one block (see the module docstring): stored, coded without the model
    (frame type 03: `without_model` for text-like blocks, `binary` for binary ones, `x86code` for
    binary ones that look like x86 code, `pcm16` for 16-bit PCM audio, `raster` for images), or coded with the stream's
    stack. `text_model` False (an image, audio or user model): binary blocks are decided on the
    sample too, never skipped. `geometry`: the raster geometry of a block that continues an image
    whose header was in an earlier block (images.continuation), used when the block has no header."""
    binary = binary or without_model
    stored = ct.pack_frame(raw, None, None)
    if not raw:
        return stored
    h0, ctrl, letters = byte_stats(raw)
    sample = raw[:SAMPLE]
    whole = len(raw) <= SAMPLE
    binary_like = ctrl > CTRL_MAX or letters < LETTERS_MIN
    # 16-bit PCM audio: a WAV header at the start, or (in blocks that are not text) samples
    audio = None
    if pcm16 is not None and geometry is None:
        audio = audio_coder(raw, offset, binary, pcm16, header_only=not (binary_like or h0 > STORE_H0))
        if audio is not None and text_model:
            return audio(raw, offset)
    image = None
    if raster is not None and audio is None:
        geo = images.geometry(raw) or geometry
        if geo is not None:
            def image(b, o, geo=geo):
                return raster(b, o, geo)
    if h0 > STORE_H0 and audio is None:
        coder = image or binary
        plain = coder(sample, offset)
        if len(plain) > STORE_RATIO * len(sample):
            return stored
        return plain if whole else coder(raw, offset)
    other = without_model
    if image is not None and text_model:
        return image(raw, offset)
    if audio is not None or image is not None:
        other = audio or image
    elif binary_like:
        other = x86code if x86code is not None and x86.looks_like_x86(raw) else binary
        if text_model:
            return other(raw, offset)
    a, b = with_model(sample, offset), other(sample, offset)
    if whole:
        return a if len(a) <= len(b) else b
    if len(a) > TEXT_MARGIN * len(b):
        return other(raw, offset)
    out = with_model(raw, offset)
    if out[0] == ct.FRAME_STORED:  # a lane of the shared-state stack expanded (binary in a text block)
        alt = other(raw, offset)
        return alt if len(alt) < len(out) else out
    return out
