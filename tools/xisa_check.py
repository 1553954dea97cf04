"""Cross-CPU bit-exactness check (run under ../shared/tools/xisa emulated CPUs).

    python tools/xisa_check.py prepare DIR [--model PATH ...]   # on the host (needs torch/onnx for export)
    python tools/xisa_check.py verify DIR                        # anywhere: numpy + onnxruntime + lmz.runtime

`prepare` exports tiny models of every family (plus any given model files), records the sha256
of onnxruntime's outputs on fixed inputs (random, all-zero, all-0xFF, real text; 1 and 7
lanes) after checking them against the numpy reference, and compresses a text sample with the
mix off and on, and writes records files of its lines (model only; a dictionary). `verify` recomputes everything with 1 and 2 threads and graph optimisation
off and on, decompresses the host's files, compresses again and demands identical bytes.
It prints one line per check and exits non-zero on any difference.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np

# the previous image preset (2-D contexts as bit histories) plus img_act, with small tables (fast under emulation)
IMAGE_MIX = {"img_w": 64, "img_h": 32, "words": 0, "orders": [0, 1, 2], "ctx2d": list(range(8)), "apm_ctx": 1,
             "img_act": 1, "mixer_ctx": 0, "table_bits": 18, "bh_bits": 18, "hist_bits": 13, "match_bits": 14}
# the shipped preset's options: all 2-D contexts as direct counters, second mixer
IMAGE_MIX_DIRECT = dict(IMAGE_MIX, ctx2d=list(range(10)), ctx2d_direct=1, mixer2=1, img_act=0, orders=[0, 1],
                        apm_rate=7, sse_w=[4, 4, 8], mixer_lr=4)
# ... with neighbours across patch edges, on small 4x8 patches so that a lane spans enough of
# them to find k (patches per image row) and use the patch above
IMAGE_MIX_XPATCH = dict(IMAGE_MIX_DIRECT, img_w=8, img_h=4, img_xpatch=1)
# ... and two adaptive linear predictors (the shipped preset's options)
IMAGE_MIX_LMS = dict(IMAGE_MIX_XPATCH, ctx2d=list(range(12)), img_lms=[4, 1], apm_ctx=2)
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "github" / "wiki.txt"
N_STEPS = 12


def inputs(lanes: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(lanes)
    text = (SAMPLE.read_bytes()[:4096] if SAMPLE.exists() else b"The quick brown fox. " * 200)
    t = np.frombuffer((text * 2)[:lanes * N_STEPS], np.uint8).reshape(lanes, N_STEPS).astype(np.int64)
    return {"random": rng.integers(0, 256, (lanes, N_STEPS)), "zeros": np.zeros((lanes, N_STEPS), np.int64),
            "ff": np.full((lanes, N_STEPS), 255, np.int64), "text": t}


def run_model(path, data, threads, opt):
    from lmz.runtime.session import make_session, read_model_info

    info = read_model_info(path)
    sess, _ = make_session(path, "cpu", threads=threads, opt_level=opt)
    state = np.zeros((data.shape[0], info.state_size), np.float32)
    outs = []
    for s in range(0, data.shape[1], info.chunk):
        sc, state = sess.run(["scores", "state_out"], {"bytes": data[:, s:s + info.chunk], "state": state})
        outs.append(sc)
    h = hashlib.sha256(np.concatenate(outs, 1).astype("<f4").tobytes())
    h.update(state.astype("<f4").tobytes())
    return h.hexdigest()


def sample_text() -> bytes:
    return SAMPLE.read_bytes()[:1500] if SAMPLE.exists() else b"The quick brown fox jumps. " * 55


def prepare(d: Path, extra: list[str]):
    from lmz.export.tiny import RANDOM_WEIGHTS, export_random_model
    from lmz.runtime import api

    d.mkdir(parents=True, exist_ok=True)
    models = []
    for fam in sorted(RANDOM_WEIGHTS):
        for chunk in (1, 4):
            p = d / f"tiny-{fam}-c{chunk}.onnx"
            export_random_model(p, family=fam, chunk=chunk, seed=5)  # export itself checks ORT == reference
            models.append(p)
    for m in extra:
        p = d / Path(m).name
        shutil.copy(m, p)
        models.append(p)
    expected = {}
    for p in models:
        for lanes in (1, 7):
            for name, data in inputs(lanes).items():
                expected[f"{p.name}|{lanes}|{name}"] = run_model(p, data, 1, "all")
    text = sample_text()
    files = {}
    tiny = str(d / "tiny-gru-c1.onnx")
    for mix in ("off", "on"):
        blob = api.compress(text, model=tiny, mix=mix, lanes=3)
        (d / f"sample.mix-{mix}.lmz").write_bytes(blob)
        files[f"sample.mix-{mix}.lmz"] = {"mix": mix, "sha256": hashlib.sha256(blob).hexdigest(), "input": "sample.txt"}
    (d / "sample.txt").write_bytes(text)
    # --mix auto: a text block, a binary table (frame type 03, mix preset 12 with sparse and column contexts and the
    # model-free compiled step loop), x86-like calls (preset 5, the call-address transform) and
    # random bytes (stored)
    table = b"".join(np.array([i, i * 7 % 1000, 3], dtype="<u4").tobytes() for i in range(100))
    code = bytearray()
    for i in range(120):
        code += bytes([0x48, 0x89, 0xC7, 0x31, 0xF6]) + b"\xe8"
        code += ((0x1000 * (1 + i % 3) - len(code) - 4) & 0xFFFFFFFF).to_bytes(4, "little")
    rand = np.random.default_rng(3).integers(0, 256, 600, dtype=np.uint8).tobytes()
    blocks = text[:1200] + table + bytes(code) + rand
    (d / "blocks.bin").write_bytes(blocks)
    blob = api.compress(blocks, model=tiny, mix="auto", lanes=3, frame_size=1200)
    files["blocks.mix-auto.lmz"] = {"mix": "auto", "frame_size": 1200, "sha256": hashlib.sha256(blob).hexdigest(),
                                    "input": "blocks.bin"}
    (d / "blocks.mix-auto.lmz").write_bytes(blob)
    # --mix auto on a 16-bit stereo WAV in 2000-byte frames: the PCM residual transform (mix
    # preset 7; the first frame from its header, the later ones found without one)
    import io
    import wave

    n = np.arange(1500)
    left = (3000 * np.sin(n / 9.0) + 800 * np.sin(n / 2.3)).astype(np.int64)
    right = (left // 2 + (n * 37 % 101) - 50).astype(np.int64)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.stack([left, right], axis=1).astype("<i2").tobytes())
    (d / "stereo.wav").write_bytes(buf.getvalue())
    blob = api.compress(buf.getvalue(), model=tiny, mix="auto", lanes=3, frame_size=2000)
    files["stereo.mix-auto.lmz"] = {"mix": "auto", "frame_size": 2000, "sha256": hashlib.sha256(blob).hexdigest(),
                                    "input": "stereo.wav"}
    (d / "stereo.mix-auto.lmz").write_bytes(blob)
    # --mix auto on a semicolon table in one lane: model-free frames with the column contexts (mix preset 9)
    table = b"".join(b"%04X;NAME %d;Lu;%d;L;;;;;N;;;;%04X;\n" % (i, i * 3, i % 7, i + 32) for i in range(60))
    (d / "table.csv").write_bytes(table)
    blob = api.compress(table, model=tiny, mix="auto", lanes=1)
    files["table.mix-auto.lmz"] = {"mix": "auto", "lanes": 1, "sha256": hashlib.sha256(blob).hexdigest(),
                                   "input": "table.csv"}
    (d / "table.mix-auto.lmz").write_bytes(blob)
    # --mix auto on a small PPM image: the raster stack (mix preset 11: 2-D contexts, colour
    # differences and linear predictors from the image's own geometry)
    yy, xx = np.mgrid[0:36, 0:40]
    rgb = np.stack([xx * 5 + yy * 3, xx * 2 + yy * 7 + (xx * yy) % 13, 200 - xx * 3 + yy], axis=2)
    rgb = (rgb + np.random.default_rng(3).integers(0, 4, rgb.shape)).clip(0, 255).astype(np.uint8)
    (d / "image.ppm").write_bytes(b"P6\n40 36\n255\n" + rgb.tobytes())
    blob = api.compress((d / "image.ppm").read_bytes(), model=tiny, mix="auto", lanes=3)
    files["image.mix-auto.lmz"] = {"mix": "auto", "sha256": hashlib.sha256(blob).hexdigest(), "input": "image.ppm"}
    (d / "image.mix-auto.lmz").write_bytes(blob)
    # --mix auto on a gzip file: coded as the data it holds (deflate segments), so decoding deflates it
    # again with lmz's own deflate (runtime/deflate.py), which must write the same bytes on every CPU
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = table + sample_text()[:3000]
    gz = (b"\x1f\x8b\x08\x00" + bytes(6) + c.compress(body) + c.flush()
          + struct.pack("<II", zlib.crc32(body), len(body)))

    def expanded(name: str, data: bytes) -> None:
        """`data` as the file `name`, and its --mix auto stream, which must hold a segment table."""
        (d / name).write_bytes(data)
        blob = api.compress(data, model=tiny, mix="auto", lanes=3)
        assert api.read_header(blob).segments is not None, f"{name} was not coded as the data it holds"
        files[f"{name}.mix-auto.lmz"] = {"mix": "auto", "sha256": hashlib.sha256(blob).hexdigest(), "input": name,
                                         "segments": True}
        (d / f"{name}.mix-auto.lmz").write_bytes(blob)

    expanded("table.csv.gz", gz)
    # --mix auto on a baseline JPEG (4:2:0, restart markers; written by Pillow's libjpeg here): coded
    # as its DCT coefficients, so decoding Huffman-codes them again (runtime/jpeg.py) on every CPU
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 3 + yy, yy * 4 + (xx * yy) % 17, 230 - xx * 2], axis=2)
    rgb = rgb + np.random.default_rng(5).integers(0, 12, (48, 64, 3))
    buf = io.BytesIO()
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8), "RGB").save(buf, "JPEG", quality=88, restart_marker_blocks=5)
    expanded("photo.jpg", buf.getvalue())
    # ... and a PNG (Pillow's, RGBA): coded as its pixels, so decoding filters its rows again (runtime/png.py)
    buf = io.BytesIO()
    yy, xx = np.mgrid[0:64, 0:96]
    rgba = np.stack([xx * 2 + yy, yy * 2 + 40 * np.sin(xx / 9.0), 230 - xx, 255 - yy], axis=2)
    rgba[:, :, :3] += np.random.default_rng(5).integers(0, 3, (64, 96, 3))
    Image.fromarray(rgba.clip(0, 255).astype(np.uint8), "RGBA").save(buf, "PNG")
    expanded("photo.png", buf.getvalue())
    # records files: the sample's lines as independent records (model only, one lane each), and the
    # same lines coded with a dictionary (the model-free stack primed on part of the table and text;
    # small tables, so that copying the primed state per record stays cheap under emulation)
    from lmz.runtime.dictionary import PARAMS, train_dictionary
    from lmz.runtime.recordfile import RecordsWriter

    dct = train_dictionary([table[:1500], text[:600]], params=dict(PARAMS, table_bits=16, bh_bits=18, match_bits=16))
    (d / "sample.lmzd").write_bytes(dct.to_bytes())
    for name, kw in (("sample.lmzr", dict(model=tiny)), ("sample-dict.lmzr", dict(dictionary=dct))):
        with RecordsWriter(d / name, framing="lines", provider="cpu", **kw) as w:
            w.write_many(text.splitlines(keepends=True))
        files[name] = {"records": True, "sha256": hashlib.sha256((d / name).read_bytes()).hexdigest(),
                       "input": "sample.txt", **({"dict": "sample.lmzd"} if "dictionary" in kw else {})}
    # 2-D image contexts: 2048-byte 32x64 patches, frames and lanes not on patch boundaries
    y, x = np.divmod(np.arange(3 * 2048) % 2048, 64)
    img = ((x * 3 + y * 5 + np.random.default_rng(1).integers(0, 9, y.size)) & 255).astype(np.uint8).tobytes()
    (d / "image.bin").write_bytes(img)
    # a 24-pixel-wide image (k = 3 patches of 4x8 per row) cut row-major
    yy, xx = np.divmod(np.arange(2500), 24)
    pix = (xx * 7 + yy * 3 + (xx * yy) % 11 + np.random.default_rng(2).integers(0, 5, yy.size)) & 255
    imgx = pix[: 2496].reshape(-1, 4, 3, 8).transpose(0, 2, 1, 3).reshape(-1).astype(np.uint8).tobytes()
    (d / "imagex.bin").write_bytes(imgx)
    # 12 lanes of ~208 bytes per frame: unaligned to rows, and 3x fewer steps than 3 lanes under
    # emulation; the small-patch files in 6 lanes of ~416 bytes, so that every lane finds k
    for name, inp, mp, lanes in (("image.mix-img.lmz", "image.bin", IMAGE_MIX, 12),
                                 ("image.mix-img-direct.lmz", "image.bin", IMAGE_MIX_DIRECT, 12),
                                 ("image.mix-img-xpatch.lmz", "imagex.bin", IMAGE_MIX_XPATCH, 6),
                                 ("image.mix-img-lms.lmz", "imagex.bin", IMAGE_MIX_LMS, 6)):
        blob = api.compress((d / inp).read_bytes(), model=tiny, mix="on", lanes=lanes, frame_size=2500,
                            mix_params=mp)
        (d / name).write_bytes(blob)
        files[name] = {"mix": "on", "mix_params": mp, "frame_size": 2500, "lanes": lanes,
                       "sha256": hashlib.sha256(blob).hexdigest(), "input": inp}
    (d / "expected.json").write_text(json.dumps({"outputs": expected, "files": files, "model": "tiny-gru-c1.onnx"},
                                                indent=1))
    print(f"prepared {len(expected)} output hashes over {len(models)} models and {len(files)} files in {d}")


def verify(d: Path) -> int:
    import platform

    from lmz.runtime import api

    exp = json.loads((d / "expected.json").read_text())
    bad = 0
    t0 = time.time()
    for key, want in exp["outputs"].items():
        name, lanes, inp = key.split("|")
        data = inputs(int(lanes))[inp]
        for threads, opt in ((1, "disable"), (2, "all")):
            got = run_model(d / name, data, threads, opt)
            if got != want:
                bad += 1
                print(f"DIFF {key} threads={threads} opt={opt}")
    print(f"model outputs: {len(exp['outputs']) * 2 - bad} identical, {bad} different")
    model = str(d / exp["model"])
    for fname, f in exp["files"].items():
        text = (d / f["input"]).read_bytes()
        blob = (d / fname).read_bytes()
        if f.get("records"):
            bad += _verify_records(d, fname, f, text, model)
            continue
        ok_d = api.decompress(blob, model=model) == text
        kw = {k: f[k] for k in ("mix_params", "frame_size") if k in f}
        again = api.compress(text, model=model, mix=f["mix"], lanes=f.get("lanes", 3), **kw)
        ok_c = hashlib.sha256(again).hexdigest() == f["sha256"]
        bad += (not ok_d) + (not ok_c)
        print(f"{fname}: decompress {'identical' if ok_d else 'DIFFERENT'}, "
              f"re-compress {'identical bytes' if ok_c else 'DIFFERENT bytes'}")
    print(f"{platform.machine()} {'PASS' if not bad else 'FAIL'} in {time.time() - t0:.0f} s")
    return 1 if bad else 0


def _verify_records(d: Path, fname: str, f: dict, text: bytes, model: str) -> int:
    """A records file: every record decodes (all, and one alone), and coding again gives the same bytes."""
    import io

    from lmz.runtime.dictionary import Dictionary
    from lmz.runtime.recordfile import RecordsReader, RecordsWriter

    recs = text.splitlines(keepends=True)
    kw = {"dictionary": Dictionary.load(d / f["dict"])} if f.get("dict") else {"model": model}
    with RecordsReader(d / fname, provider="cpu", **kw) as r:
        ok_d = list(r) == recs and r[len(recs) // 2] == recs[len(recs) // 2]
    buf = io.BytesIO()
    with RecordsWriter(buf, framing="lines", provider="cpu", **kw) as w:
        w.write_many(recs)
    ok_c = hashlib.sha256(buf.getvalue()).hexdigest() == f["sha256"]
    print(f"{fname}: records {'identical' if ok_d else 'DIFFERENT'}, re-compress {'identical bytes' if ok_c else 'DIFFERENT bytes'}")
    return (not ok_d) + (not ok_c)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["prepare", "verify"])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--model", action="append", default=[], help="also check this exported model (prepare)")
    a = ap.parse_args(argv)
    if a.action == "prepare":
        prepare(a.dir, a.model)
        return 0
    return verify(a.dir)


if __name__ == "__main__":
    sys.exit(main())
