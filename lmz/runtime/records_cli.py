"""`lmz-run records`: records files from the command line (lmz/runtime/recordfile.py).

    lmz-run records compress events.jsonl -m mine        # one record per line -> events.jsonl.lmzr
    lmz-run records compress --split u32 msgs.bin        # u32-length-delimited records
    lmz-run records compress --split files mail/         # a directory of small files, one record each
    lmz-run records extract events.jsonl.lmzr            # -> events.jsonl (a directory for --split files)
    lmz-run records get events.jsonl.lmzr 41 7           # records 41 and 7 to stdout (decodes only those)
    lmz-run records list events.jsonl.lmzr               # count, framing, model, sizes
"""
from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import recordfile as rf
from .cli import (
    Ctx,
    ForceOpt,
    Provider,
    ProviderOpt,
    QuietOpt,
    VerboseOpt,
    _Command,
    _file_output,
    _rate,
    _stdin,
    _stdout_binary,
    run_command,
)
from .errors import CorruptError, LmzIOError, UsageError

app = typer.Typer(name="lmz-run records", add_completion=False, rich_markup_mode=None, no_args_is_help=True,
                  help="Records files: many small records, each compressed on its own, with an index for "
                  "random access to record i.", context_settings={"help_option_names": ["-h", "--help"]})


class Split(str, Enum):
    lines = "lines"
    u32 = "u32"
    varint = "varint"
    files = "files"


RecModelOpt = typer.Option(None, "--model", "-m", help="Model NAME or PATH (default: the shipped default to "
                           "compress; the model recorded in the file to read).")
OutOpt = typer.Option(None, "-o", "--output", help="Output file or directory ('-': stdout).")
ThreadsOpt = typer.Option(1, "-T", "--threads", help="With --dict: code records on N threads (0: one per "
                          "core; each holds a working copy of the primed state, about 60 MB).")
DictOpt = typer.Option(None, "--dict", "-D", help="A dictionary file (made by 'lmz-run records train-dict'): "
                       "records are coded from the stack primed on it instead of by a model; reading such a file "
                       "needs the same dictionary.")


def _dictionary(path: Optional[str], ctx: Optional[Ctx] = None):
    """The dictionary at `path` (None: none), primed now; says so first when that takes a while."""
    if path is None:
        return None
    from .dictionary import Dictionary

    try:
        d = Dictionary.load(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such dictionary file") from None
    except OSError as e:
        raise LmzIOError(f"{path}: {e.strerror or e}") from None
    where = d.cache_file()
    if ctx is not None and not (where and where.exists()):
        ctx.info(f"{path}: priming the dictionary ({len(d.prime)} bytes, about 10-15 s per MiB; once"
                 + (f", then cached in {where.parent})" if where else ")"))
    d.primed()
    return d


def _files_of(root: Path) -> list[tuple[str, Path]]:
    """The regular files under `root` (symbolic links skipped), by relative name, sorted."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for fn in sorted(files):
            p = Path(dirpath) / fn
            if p.is_file() and not p.is_symlink():
                out.append((p.relative_to(root).as_posix(), p))
    return sorted(out)


@app.command("compress", cls=_Command)
def compress(inp: str = typer.Argument(..., metavar="INPUT", help="File, '-' (stdin) or directory (--split files)."),
             output: Optional[str] = OutOpt, split: Optional[Split] = typer.Option(
                 None, "--split", help="How INPUT holds its records: lines (each with its newline; the default "
                 "for a file), u32 / varint (each record preceded by its length: u32 little-endian or LEB128), "
                 "files (a directory, one record per file; the default for a directory)."),
             model: Optional[str] = RecModelOpt, provider: Provider = ProviderOpt, force: bool = ForceOpt,
             no_index: bool = typer.Option(False, "--no-index", help="No seek index (random access then scans "
                                           "the record lengths)."),
             dict_file: Optional[str] = DictOpt, threads: int = ThreadsOpt, quiet: bool = QuietOpt,
             verbose: bool = VerboseOpt):
    """Compress INPUT's records into a records file (INPUT.lmzr)."""
    ctx = Ctx(quiet, verbose, True)

    def body():
        if dict_file is not None and model is not None:
            raise UsageError("--dict and --model: records are coded with one or the other")
        dictionary = _dictionary(dict_file, ctx)
        src = None if inp == "-" else Path(inp)
        is_dir = src is not None and src.is_dir()
        mode = split.value if split else ("files" if is_dir else "lines")
        if (mode == "files") != is_dir:
            raise UsageError("--split files takes a directory" if mode == "files" else f"{inp} is a directory "
                             "(use --split files)")
        dst = None if output == "-" or (output is None and src is None) else \
            Path(output) if output else src.with_name(src.name.rstrip("/") + rf.SUFFIX)
        names = None
        stack = contextlib.ExitStack()
        if mode == "files":
            listing = _files_of(src)
            names = [n for n, _ in listing]
            recs = (p.read_bytes() for _, p in listing)
        else:
            fin = stack.enter_context(open(src, "rb")) if src is not None else _stdin("records")
            recs = rf.split_lines(fin) if mode == "lines" else rf.split_prefixed(fin, mode)
        t0 = time.time()
        with stack, (_file_output(dst, force, None) if dst is not None else contextlib.nullcontext(None)) as o:
            out = o.f if o is not None else _stdout_binary(force)
            w = rf.RecordsWriter(out, model, framing=mode, names=names, provider=provider.value,
                                 index=not no_index, dictionary=dictionary, threads=threads)
            n_in = 0
            for r in recs:
                n_in += len(r)
                w.write(r)
            w.close()
            n_out = out.tell() if o is not None else None
        if not quiet and dst is not None:
            ctx.info(f"{inp}: {w.count} records, {n_in} -> {n_out} bytes ({100 * n_out / max(n_in, 1):.2f}%, "
                     f"{_rate(n_in, time.time() - t0)}) -> {dst}")

    run_command(ctx, body)


def _extract_files(root: Path, names: list[str], recs, force: bool) -> None:
    """Record i to root/names[i] (each file written whole or not at all; the file's last checks run
    after its last record, so a damaged file fails there even if every record was written)."""
    root.mkdir(parents=True, exist_ok=True)
    base = os.path.realpath(root)
    for i, rec in enumerate(recs):
        if i >= len(names):
            raise CorruptError("records file: more records than file names")
        target = root / names[i]
        name = names[i]
        if not os.path.realpath(target).startswith(base + os.sep):
            raise UsageError(f"{name}: would be written outside {root}; refused")
        target.parent.mkdir(parents=True, exist_ok=True)
        with _file_output(target, force, None) as o:
            o.f.write(rec)


@app.command("extract", cls=_Command)
def extract(inp: str = typer.Argument(..., metavar="FILE", help="Records file ('-': stdin)."),
            output: Optional[str] = OutOpt, model: Optional[str] = RecModelOpt,
            provider: Provider = ProviderOpt, force: bool = ForceOpt, dict_file: Optional[str] = DictOpt,
            threads: int = ThreadsOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt):
    """Decompress every record and write the input back (lines / length-delimited: one file; files: a directory)."""
    ctx = Ctx(quiet, verbose, True)

    def body():
        src = None if inp == "-" else Path(inp)
        if output is None and src is not None and not src.name.endswith(rf.SUFFIX):
            raise UsageError(f"unknown suffix (expected {rf.SUFFIX}); use -o to name the output")
        dst = None if output == "-" or (output is None and src is None) else \
            Path(output) if output else src.with_name(src.name[: -len(rf.SUFFIX)])
        t0 = time.time()
        with (open(src, "rb") if src is not None else contextlib.nullcontext(_stdin("a records file"))) as fin:
            h, framing, names, recs = rf.iter_file(fin, model, provider.value, dictionary=_dictionary(dict_file, ctx),
                                                   threads=threads)
            n = 0
            if framing == rf.FRAMINGS["files"]:
                if dst is None:
                    raise UsageError("a records file of files extracts to a directory: use -o DIR")
                box = [0]
                _extract_files(dst, names, _counting(recs, box), force)
                n = box[0]
            else:
                with (_file_output(dst, force, None) if dst is not None else contextlib.nullcontext(None)) as o:
                    out = o.f if o is not None else _stdout_binary(True)
                    for r in recs:
                        out.write(rf.join_prefixed(r, framing))
                        n += len(r)
                    if o is None:
                        try:
                            out.flush()
                        except OSError as e:
                            raise LmzIOError(f"write error: {e.strerror or e}") from None
        if not quiet and dst is not None:
            ctx.info(f"{inp}: {n} bytes of records ({_rate(n, time.time() - t0)}) -> {dst}")

    run_command(ctx, body)


def _counting(recs, box: list):
    for r in recs:
        box[0] += len(r)
        yield r


@app.command("get", cls=_Command, context_settings={"ignore_unknown_options": True})
def get(inp: str = typer.Argument(..., metavar="FILE", help="Records file (seekable)."),
        indices: List[int] = typer.Argument(..., metavar="I...", help="Record numbers (0-based; negative: from the end, -1 the last)."),
        output: Optional[str] = OutOpt, model: Optional[str] = RecModelOpt, provider: Provider = ProviderOpt,
        force: bool = ForceOpt, dict_file: Optional[str] = DictOpt):
    """Write records I... (their bytes, in the order asked) to stdout or -o FILE: decodes only those records."""
    ctx = Ctx(True, False, True)

    def body():
        with rf.RecordsReader(inp, model, provider.value, dictionary=_dictionary(dict_file)) as r:
            recs = r.get(*indices)
        if output is None or output == "-":
            out = sys.stdout.buffer
            for rec in recs:
                out.write(rec)
            out.flush()
        else:
            with _file_output(Path(output), force, None) as o:
                for rec in recs:
                    o.f.write(rec)

    run_command(ctx, body)


@app.command("list", cls=_Command)
def list_(inp: str = typer.Argument(..., metavar="FILE", help="Records file."),
          model: Optional[str] = RecModelOpt, verbose: bool = VerboseOpt):
    """What a records file holds: model, framing, record count, sizes (from its index; nothing decoded)."""
    ctx = Ctx(False, verbose, True)

    def body():
        with rf.RecordsReader(inp, model, "cpu") as r:
            h, lens = r.header, r.lengths
            size = os.stat(inp).st_size if stat.S_ISREG(os.stat(inp).st_mode) else 0
            raw = int(lens.sum())
            coder = f"dictionary {h.fingerprint[:16]}" if r.header.stack_id == rf.STACK_MIX else \
                f"model {h.model_name or '?'} ({h.fingerprint[:16]})"
            print(f"{inp}: records file, {coder}, "
                  f"framing {r.framing_name}, {len(r)} records, {raw} -> {size} bytes "
                  f"({100 * size / max(raw, 1):.2f}%), index {'yes' if h.index else 'no'}")
            if verbose and len(r):
                print(f"record bytes: min {lens.min()}, median {int(sorted(lens)[len(lens) // 2])}, max {lens.max()}")

    run_command(ctx, body)


@app.command("train-dict", cls=_Command)
def train_dict(inputs: List[str] = typer.Argument(..., metavar="SAMPLE...", help="Files of your data (records, "
                                                 "logs, a directory: every file under it)."),
               output: str = typer.Option(..., "-o", "--output", help="The dictionary file to write."),
               size: str = typer.Option("2MiB", "--size", help="Prime bytes (evenly spread 4 KiB pieces of the "
                                        "samples when they hold more); larger primes code records smaller "
                                        "and take longer to load."),
               force: bool = ForceOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt):
    """Train a dictionary on samples of your data (for --dict): a mix stack primed on them."""
    ctx = Ctx(quiet, verbose, True)

    def body():
        from .cli import parse_size
        from .dictionary import MAX_PRIME, train_dictionary

        n = parse_size(size)
        if not 1 <= n <= MAX_PRIME:
            raise UsageError(f"--size must be 1..{MAX_PRIME} bytes")
        paths: list[Path] = []
        for i in inputs:
            p = Path(i)
            if p.is_dir():
                paths += [q for _, q in _files_of(p)]
            elif p.is_file():
                paths.append(p)
            else:
                raise UsageError(f"{i}: no such file or directory")
        data = []
        for p in paths:
            try:
                data.append(p.read_bytes())
            except OSError as e:
                raise LmzIOError(f"{p}: {e.strerror or e}") from None
        t0 = time.time()
        d = train_dictionary(data, size=n)
        d.primed()  # checks it primes, and tells the user what loading it costs
        blob = d.to_bytes()
        with _file_output(Path(output), force, None) as o:
            o.f.write(blob)
        if not quiet:
            ctx.info(f"{len(paths)} files, {sum(map(len, data))} bytes -> dictionary of {len(d.prime)} prime bytes "
                     f"({len(blob)} bytes, primes in {time.time() - t0:.1f} s) -> {output}")

    run_command(ctx, body)
