"""lmz on Ray Data: compress and decompress a dataset of files or of binary rows on a Ray cluster.

    import lmz.ray
    ds = lmz.ray.compress_files("corpus/", output_dir="corpus.lmz/", workers=8)   # a ray.data.Dataset
    rows = ds.take_all()   # one row per file: path, output, size, compressed, seconds, error
    bad = [r for r in rows if r["error"]]                 # one bad file is a row with an error, not a failed job
    lmz.ray.decompress_files("corpus.lmz/", output_dir="back/", workers=8).take_all()

    ds = ray.data.read_binary_files("s3://bucket/docs/", include_paths=True)      # rows {"bytes", "path"}
    packed = lmz.ray.compress(ds, model="text")          # rows {"path", "lmz", "size", "compressed", ...}
    lmz.ray.decompress(packed).take_all()                # rows {"path", "bytes", ...}

Every function returns a lazy ``ray.data.Dataset`` (nothing runs until it is consumed: ``take_all``,
``write_parquet``, ``materialize``...). The work runs in ``Dataset.map_batches`` over a callable
class on a fixed pool of ``workers`` actors, each with ``num_cpus`` CPUs and ``num_gpus`` GPUs: each
actor opens the ONNX session once and codes every item it is given with it. GPU workers:
``num_gpus=1`` (the session then asks for onnxruntime's CUDA provider, and fails loudly where it
cannot start one). Files are read and written by the workers themselves (a path travels, not the
data), streamed frame by frame, so a file of any size needs memory for a few frames only; with
``output_dir`` the results are ``.lmz`` files (written under a temporary name, then renamed), without
it the coded bytes come back as a column.

An item that fails (unreadable file, corrupt stream, a model that does not match) gives a row whose
``error`` column says why (``"ChecksumError: ..."``) and whose output is empty; the others go on.
``pip install lmz[ray]`` installs Ray Data.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from .runtime import api, model_store
from .runtime.errors import UsageError
from .runtime.lanes import FRAME_SIZE

__all__ = ["compress", "decompress", "compress_files", "decompress_files", "LmzCompressFn", "LmzDecompressFn"]

SUFFIX = ".lmz"


# -- the workers' callable classes (one instance per actor: the model is opened once) -----------
class _Fn:
    """Shared by both directions: the batch loop, per-item errors, file names."""

    out_column = ""

    def __init__(self, column: str, path_column: str, files: bool, output_dir: str | None, root: str | None,
                 overwrite: bool):
        self.column, self.path_column, self.files = column, path_column, files
        self.output_dir = None if output_dir is None else Path(output_dir)
        self.root = None if root is None else Path(root)
        self.overwrite = overwrite

    def __call__(self, batch):
        import pyarrow as pa

        n = batch.num_rows
        paths = batch.column(self.path_column).to_pylist() if self.path_column in batch.column_names else [None] * n
        data = None if self.files else batch.column(self.column).to_pylist()
        out, outputs, sizes, coded, secs, errors = [], [], [], [], [], []
        for i in range(n):
            t0 = time.perf_counter()
            blob = dst = None
            size = length = None
            try:
                if self.files:
                    if paths[i] is None:
                        raise UsageError(f"no {self.path_column!r} in this row")
                    src = Path(str(paths[i]))
                    if self.output_dir is None:
                        with open(src, "rb") as f:
                            raw = f.read()
                        blob = self.code(raw)
                        size, length = self.sizes(len(raw), len(blob))
                    else:
                        dst = self.target(src)
                        size, length = self.code_file(src, dst)
                else:
                    raw = data[i]
                    if raw is None:
                        raise UsageError(f"no data in column {self.column!r}")
                    blob = self.code(bytes(raw))
                    size, length = self.sizes(len(raw), len(blob))
                    if self.output_dir is not None:
                        if paths[i] is None:
                            raise UsageError(f"output_dir needs a name for each row in {self.path_column!r}")
                        dst = self.target(Path(str(paths[i])))
                        self.write_new(dst, lambda fo, b=blob: fo.write(b))
                        blob = None
            except Exception as e:  # one bad item is a row with its error, never a failed job
                blob = dst = None
                size = length = None
                errors.append(f"{type(e).__name__}: {e}")
            else:
                errors.append(None)
            out.append(blob)
            outputs.append(None if dst is None else str(dst))
            sizes.append(size)
            coded.append(length)
            secs.append(round(time.perf_counter() - t0, 6))
        cols = {k: batch.column(k) for k in batch.column_names if k not in (self.column, self.out_column)}
        if self.path_column not in cols:  # kept as given (any type) when the rows have it
            cols[self.path_column] = pa.array(paths, pa.string())
        if self.output_dir is None:
            cols[self.out_column] = pa.array(out, pa.binary())
        else:
            cols["output"] = pa.array(outputs, pa.string())
        cols["size"] = pa.array(sizes, pa.int64())         # original bytes
        cols["compressed"] = pa.array(coded, pa.int64())   # lmz bytes
        cols["seconds"] = pa.array(secs, pa.float64())     # this item's time in the worker
        cols["error"] = pa.array(errors, pa.string())
        return pa.table(cols)

    def target(self, src: Path) -> Path:
        try:
            rel = src.resolve().relative_to(self.root.resolve()) if self.root is not None else Path(src.name)
        except ValueError:
            rel = Path(src.name)
        return self.output_dir / self.rename(rel)

    def code_file(self, src: Path, dst: Path) -> tuple[int, int]:
        """Stream src into dst; returns (original bytes, lmz bytes)."""
        with open(src, "rb") as fi:
            return self.sizes(*self.write_new(dst, lambda fo: self.copy(fi, fo)))

    def write_new(self, dst: Path, write):
        """write(file) into dst's temporary name in its folder, then rename it to dst: a reader never
        sees half a file, and a failed item leaves nothing behind."""
        if dst.exists() and not self.overwrite:
            raise UsageError(f"{dst} exists (overwrite=True replaces it)")
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fo:
                ret = write(fo)
            os.replace(tmp, dst)
        finally:
            if tmp.exists():
                tmp.unlink()
        return ret

    def sizes(self, n_in: int, n_out: int) -> tuple[int, int]:
        """(original bytes, lmz bytes) of an item read as n_in bytes and written as n_out."""
        return (n_in, n_out) if self.out_column == "lmz" else (n_out, n_in)


class LmzCompressFn(_Fn):
    """Compresses each row's bytes (or file); the model is opened once, in the constructor."""

    out_column = "lmz"

    def __init__(self, model=api.DEFAULT_MODEL, provider: str = "auto", mix="auto", frame_size: int = FRAME_SIZE,
                 seekable: bool = False, ort_threads: int = 1, column: str = "bytes", path_column: str = "path",
                 files: bool = False, output_dir: str | None = None, root: str | None = None, overwrite: bool = False,
                 **compressor_kw):
        super().__init__(column, path_column, files, output_dir, root, overwrite)
        m = api.load_model(model, provider, threads=ort_threads)
        self.compressor = api.Compressor(m, provider, mix=mix, frame_size=frame_size, index=seekable, **compressor_kw)

    def code(self, raw: bytes) -> bytes:
        return self.compressor.compress(raw)

    def copy(self, fi, fo):
        return self.compressor.copy_stream(fi, fo, os.fstat(fi.fileno()).st_size)

    @staticmethod
    def rename(rel: Path) -> Path:
        return rel.with_name(rel.name + SUFFIX)


class LmzDecompressFn(_Fn):
    """Decompresses each row's lmz stream (or .lmz file). `model` None: each stream's recorded model,
    found on the search path (sessions are kept per model, so a worker opens each model once)."""

    out_column = "bytes"

    def __init__(self, model=None, provider: str = "auto", ort_threads: int = 1, memory_limit: int | None = None,
                 column: str = "lmz", path_column: str = "path", files: bool = False, output_dir: str | None = None,
                 root: str | None = None, overwrite: bool = False):
        super().__init__(column, path_column, files, output_dir, root, overwrite)
        self.model, self.provider, self.ort_threads = model, provider, ort_threads
        self.kw = {} if memory_limit is None else {"memory_limit": int(memory_limit)}
        self._dec: dict = {}
        if model is not None:  # open it now (once), as the compressor does
            self._decompressor_for(None)

    def _decompressor_for(self, header) -> api.Decompressor:
        if self.model is not None:
            key = None
        else:
            key = str(model_store.resolve_for_stream(header.model_name, header.fingerprint))
        if key not in self._dec:
            m = api.load_model(self.model, self.provider, path=None if key is None else Path(key),
                               threads=self.ort_threads)
            self._dec[key] = api.Decompressor(m, self.provider, **self.kw)
        return self._dec[key]

    def code(self, blob: bytes) -> bytes:
        return self._decompressor_for(None if self.model is not None else api.read_header(blob)).decompress(blob)

    def copy(self, fi, fo):
        h = None if self.model is not None else api.read_header(fi)
        fi.seek(0)
        return self._decompressor_for(h).copy_stream(fi, fo)

    @staticmethod
    def rename(rel: Path) -> Path:
        return rel.with_name(rel.name[: -len(SUFFIX)]) if rel.name.endswith(SUFFIX) and rel.name != SUFFIX \
            else rel.with_name(rel.name + ".out")


# -- the driver side --------------------------------------------------------------------------
def _map(ds, fn_cls, kw: dict, workers: int, num_cpus: float, num_gpus: float, batch_size: int, provider: str):
    import ray.data

    if workers < 1:
        raise UsageError("workers must be >= 1")
    if num_gpus and provider == "auto":
        provider = "cuda"  # a GPU worker that silently ran on the CPU would waste the GPU it holds
    if kw.get("ort_threads") is None:  # onnxruntime's threads: the worker's CPUs (docs/bench/parallel.md)
        kw["ort_threads"] = max(1, int(num_cpus))
    return ds.map_batches(fn_cls, fn_constructor_kwargs=kw | {"provider": provider}, batch_format="pyarrow",
                          batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=workers),
                          num_cpus=num_cpus, num_gpus=num_gpus or None)


def compress(ds, *, model=api.DEFAULT_MODEL, mix="auto", frame_size: int = FRAME_SIZE, seekable: bool = False,
             column: str = "bytes", path_column: str = "path", output_dir: str | os.PathLike | None = None,
             root: str | os.PathLike | None = None, overwrite: bool = False, workers: int = 1, num_cpus: float = 1,
             num_gpus: float = 0, provider: str = "auto", ort_threads: int | None = None, batch_size: int = 4,
             files: bool = False, **compressor_kw):
    """Compress the binary column `column` of every row of the Ray dataset `ds`.

    Returns a Dataset with the other columns kept, plus ``lmz`` (the stream; or ``output``, the
    ``.lmz`` file written under `output_dir`, named after `path_column` relative to `root`),
    ``size``, ``compressed``, ``seconds`` and ``error``. `workers` actors of `num_cpus` CPUs and
    `num_gpus` GPUs each; `ort_threads`: onnxruntime's threads per worker (default: its CPUs).
    `compressor_kw` go to :class:`lmz.Compressor` (lanes, lane_size, mix_params, ...). `files`: the
    rows name files (in `path_column`) that the workers read, instead of holding the bytes."""
    kw = dict(model=model, mix=mix, frame_size=frame_size, seekable=seekable, column=column, path_column=path_column,
              files=files,
              output_dir=_str(output_dir), root=_str(root), overwrite=overwrite, ort_threads=ort_threads,
              **compressor_kw)
    return _map(ds, LmzCompressFn, kw, workers, num_cpus, num_gpus, batch_size, provider)


def decompress(ds, *, model=None, column: str = "lmz", path_column: str = "path",
               output_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None,
               overwrite: bool = False, memory_limit: int | None = None, workers: int = 1, num_cpus: float = 1,
               num_gpus: float = 0, provider: str = "auto", ort_threads: int | None = None, batch_size: int = 4,
               files: bool = False):
    """Decompress the lmz streams in column `column` (as :func:`compress` made them); the result has
    ``bytes`` (or ``output`` with `output_dir`: the name less ``.lmz``), ``size``, ``compressed``,
    ``seconds`` and ``error``. `model` None: each stream's recorded model."""
    kw = dict(model=model, memory_limit=memory_limit, column=column, path_column=path_column, files=files,
              output_dir=_str(output_dir), root=_str(root), overwrite=overwrite, ort_threads=ort_threads)
    return _map(ds, LmzDecompressFn, kw, workers, num_cpus, num_gpus, batch_size, provider)


def compress_files(paths, output_dir: str | os.PathLike | None = None, *, root: str | os.PathLike | None = None,
                   pattern: str = "*", **kw):
    """Compress files: `paths` is a directory (every file under it matching `pattern`, recursively) or
    a list of files. With `output_dir`, ``A/B.txt`` (relative to `root`: the directory, or the files'
    common folder) becomes ``output_dir/A/B.txt.lmz``; without it the streams come back in ``lmz``.
    The workers read the files (they must see the same file system: one machine, NFS, a mounted
    bucket). Other arguments as for :func:`compress`."""
    items, root = _files(paths, root, pattern)
    return compress(_path_rows(items), output_dir=output_dir, root=root, files=True, **kw)


def decompress_files(paths, output_dir: str | os.PathLike | None = None, *, root: str | os.PathLike | None = None,
                     pattern: str = "*.lmz", **kw):
    """Decompress ``.lmz`` files (a directory or a list): ``output_dir/A/B.txt.lmz`` -> ``A/B.txt``."""
    items, root = _files(paths, root, pattern)
    return decompress(_path_rows(items), output_dir=output_dir, root=root, files=True, **kw)


def _str(p) -> str | None:
    return None if p is None else str(p)


def _files(paths, root, pattern: str) -> tuple[list[str], str | None]:
    if isinstance(paths, (str, os.PathLike)) and Path(paths).is_dir():
        top = Path(paths)
        items = sorted(str(p) for p in top.rglob(pattern) if p.is_file())
        return items, _str(root) if root is not None else str(top)
    items = [str(paths)] if isinstance(paths, (str, os.PathLike)) else [str(p) for p in paths]
    if not items:
        raise UsageError("no files to code")
    if root is None:
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in items])
    return items, str(root)


MAX_BLOCKS = 10_000  # blocks of a file list: one file each up to this, so that every worker gets work


def _path_rows(items: list[str]):
    import ray.data

    if not items:
        raise UsageError("no files to code")
    return ray.data.from_items([{"path": p} for p in items], override_num_blocks=min(len(items), MAX_BLOCKS))
