"""``fsspec.open(url, compression="lmz")`` (and ``compression="infer"`` for ``*.lmz``).

    from lmz.integrations.fsspec_compression import register
    register()
    with fsspec.open("s3://bucket/big.txt.lmz", "rb", compression="lmz") as f:
        f.seek(10**9); f.read(4096)           # only the frames needed (with a seekable remote file)

Reading returns :class:`lmz.LmzReader` (seekable when the underlying file is: remote fsspec files
are), writing :class:`lmz.LmzWriter` (with a seek index). fsspec has no entry point for
compressions, so this module registers on :func:`register`. fsspec hands a compression nothing but
the file and the mode, so the options (``model=``, ``mix=``, ``frame_size=``, ``index=``, ...) are
given to :func:`register` and apply to every file fsspec opens with it.
"""
from __future__ import annotations

from ..runtime.seekable import open as lmz_open


class _LmzCompression:
    def __init__(self, options: dict):
        self.options = options

    def __call__(self, infile, mode: str = "rb", **kwargs):
        mode = mode if "b" in mode else mode + "b"
        opts = {**self.options, **kwargs}
        if mode.startswith("r"):  # reading takes only these; the stream records the rest
            opts = {k: v for k, v in opts.items() if k in ("model", "provider", "memory_limit")}
        return lmz_open(infile, mode, **opts)


def register(**options) -> None:
    """Register the "lmz" compression (extension .lmz) with fsspec; `options` go to
    :func:`lmz.open` (reading uses model/provider/memory_limit, writing all of them).
    Registering again replaces the options."""
    from fsspec.compression import register_compression

    register_compression("lmz", _LmzCompression(options), "lmz", force=True)
