"""lmz-run: the command line, with zstd's conventions.

    lmz-run compress FILE...          FILE -> FILE.lmz (input kept; --rm deletes it)
    lmz-run decompress FILE.lmz...    FILE.lmz -> FILE
    lmz-run test FILE.lmz...          decompress and check, write nothing
    lmz-run list FILE.lmz...          header information

`-` or no FILE means stdin -> stdout. Output goes to a temporary file beside the target and is
renamed into place at the end, so an error or Ctrl-C leaves nothing partial; an existing file is
never overwritten without -f. Compressed data is never written to a terminal. Messages and the
progress bar go to stderr only.

Exit codes: 0 ok; 1 usage or I/O error; 2 corrupt, truncated or not an lmz stream;
3 model missing, unreadable or not the one the file was made with; 130 interrupted.
"""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import api
from .errors import EXIT_INTERRUPTED, EXIT_USAGE, LmzError, LmzIOError, UsageError

SUFFIX = ".lmz"

app = typer.Typer(name="lmz-run", add_completion=False, no_args_is_help=True,
                  help=__doc__.split("\n\n", 1)[0] + "\n\nExit codes: 0 ok, 1 usage/IO, 2 corrupt or not lmz, "
                  "3 model missing/mismatch, 130 interrupted.",
                  context_settings={"help_option_names": ["-h", "--help"]})


class Provider(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Mix(str, Enum):
    on = "on"
    off = "off"


# -- shared options -----------------------------------------------------------------------------
FilesArg = typer.Argument(None, help="Input files; '-' or none: stdin -> stdout.", show_default=False)
OutOpt = typer.Option(None, "-o", "--output", help="Output file ('-': stdout); only with one input.")
StdoutOpt = typer.Option(False, "-c", "--stdout", help="Write to stdout.")
KeepOpt = typer.Option(True, "-k/--rm", "--keep/--rm", help="Keep (default) or delete the input after success.")
ForceOpt = typer.Option(False, "-f", "--force", help="Overwrite existing outputs; allow binary on a terminal.")
QuietOpt = typer.Option(False, "-q", "--quiet", help="Only errors.")
VerboseOpt = typer.Option(False, "-v", "--verbose", help="More information.")
NoProgressOpt = typer.Option(False, "--no-progress", help="No progress bar.")
ModelOpt = typer.Option(None, "--model", "-m", help="Model NAME (in lmz.models) or PATH to an .onnx file.")
ProviderOpt = typer.Option(Provider.auto, "--provider", help="onnxruntime execution provider.")


class Ctx:
    def __init__(self, quiet: bool, verbose: bool, no_progress: bool):
        self.quiet, self.verbose, self.no_progress = quiet, verbose, no_progress
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False)
        return self._console

    def info(self, msg: str) -> None:
        if not self.quiet:
            print(msg, file=sys.stderr)

    def error(self, msg: str) -> None:
        print(f"lmz-run: {msg}", file=sys.stderr)

    @contextlib.contextmanager
    def progress(self, label: str, total: Optional[int]):
        """Yields a callback(n_bytes) or None; rich renders on stderr and never touches stdout."""
        if self.quiet or self.no_progress or not sys.stderr.isatty():
            yield None
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      TimeRemainingColumn(), console=self.console, transient=True,
                      redirect_stdout=False, redirect_stderr=False) as p:
            task = p.add_task(label, total=total)
            yield lambda n: p.advance(task, n)


def run_command(ctx: Ctx, fn) -> None:
    """Run a command body; LmzError -> message + its exit code; Ctrl-C -> 130."""
    try:
        code = fn() or 0
    except LmzError as e:
        ctx.error(str(e))
        raise typer.Exit(e.exit_code)
    except KeyboardInterrupt:
        ctx.error("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED)
    except OSError as e:
        ctx.error(f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}".lstrip(": "))
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(code)


# -- file plumbing ------------------------------------------------------------------------------
def _is_std(p: Optional[str]) -> bool:
    return p is None or p == "-"


@contextlib.contextmanager
def _atomic_output(target: Path, force: bool, mode_from: Optional[Path] = None):
    """A temp file beside `target`, renamed onto it on success, removed on any error or Ctrl-C.
    The result gets the permissions of `mode_from` (the input), else the umask's default."""
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; use -f to overwrite")
    d = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        if target.exists() and not force:
            raise UsageError(f"{target} appeared while writing; use -f to overwrite")
        if mode_from is not None:
            os.chmod(tmp, os.stat(mode_from).st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _plan(files, output, stdout, force, decompress: bool, test: bool = False):
    """[(input or None for stdin, output Path or None for stdout)]"""
    files = list(files or ["-"])
    if output is not None and len(files) > 1:
        raise UsageError("-o needs a single input file")
    plan = []
    for f in files:
        if _is_std(f):
            src = None
        else:
            src = Path(f)
            if not src.is_file():
                raise LmzIOError(f"{f}: no such file" if not src.exists() else f"{f}: not a regular file")
        if output is not None:
            dst = None if output == "-" else Path(output)
        elif stdout or src is None or test:
            dst = None
        elif decompress:
            if src.suffix != SUFFIX:
                raise UsageError(f"{f}: unknown suffix (expected {SUFFIX}); use -o to name the output")
            dst = src.with_suffix("")
        else:
            if src.suffix == SUFFIX and not force:
                raise UsageError(f"{f} already has the {SUFFIX} suffix; use -f to compress it again")
            dst = src.with_name(src.name + SUFFIX)
        plan.append((src, dst))
    return plan


def _stdout_binary(force: bool):
    if sys.stdout.isatty() and not force:
        raise UsageError("stdout is a terminal: not writing compressed data to it (use -o FILE, a redirect, or -f)")
    sys.stdout.flush()
    return sys.stdout.buffer


def _rate(n: int, dt: float) -> str:
    kbps = n / max(dt, 1e-9) / 1e3
    return f"{kbps / 1e3:.2f} MB/s" if kbps >= 1000 else f"{kbps:.1f} kB/s"


# -- commands -----------------------------------------------------------------------------------
@app.command()
def compress(files: Optional[List[str]] = FilesArg, output: Optional[str] = OutOpt, stdout: bool = StdoutOpt,
             keep: bool = KeepOpt, force: bool = ForceOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt,
             no_progress: bool = NoProgressOpt, model: Optional[str] = ModelOpt,
             provider: Provider = ProviderOpt,
             lanes: Optional[int] = typer.Option(None, "--lanes", help="Lanes per frame (default: from the size)."),
             mix: Mix = typer.Option(Mix.on, "--mix", help="Adaptive context-mixing stage.")):
    """Compress FILEs to FILE.lmz (or stdin to stdout)."""
    ctx = Ctx(quiet, verbose, no_progress)

    def body():
        plan = _plan(files, output, stdout, force, decompress=False)
        comp = api.Compressor(model or api.DEFAULT_MODEL, provider.value, lanes, mix.value)
        for src, dst in plan:
            name = str(src) if src else "stdin"
            size = src.stat().st_size if src else None
            t0 = time.time()
            with ctx.progress(f"compress {name}", size) as cb:
                comp.progress = cb
                with (open(src, "rb") if src else contextlib.nullcontext(sys.stdin.buffer)) as fin:
                    if dst is None:
                        n, w = comp.copy_stream(fin, _stdout_binary(force), size)
                        sys.stdout.buffer.flush()
                    else:
                        with _atomic_output(dst, force, src) as fout:
                            n, w = comp.copy_stream(fin, fout, size)
            if not quiet and (verbose or dst is not None):
                ctx.info(f"{name}: {n} -> {w} bytes ({100 * w / max(n, 1):.2f}%, "
                         f"{8 * w / max(n, 1):.3f} bits/byte, {_rate(n, time.time() - t0)})"
                         + (f" -> {dst}" if dst else ""))
            if src is not None and dst is not None and not keep:
                src.unlink()

    run_command(ctx, body)


def _decompress_like(files, output, stdout, keep, force, ctx: Ctx, model, provider, test: bool):
    plan = _plan(files, output if not test else None, stdout, force, decompress=True, test=test)
    dec = api.Decompressor(model, provider.value)
    for src, dst in plan:
        name = str(src) if src else "stdin"
        if src is None and sys.stdin.isatty():
            raise UsageError("stdin is a terminal: not reading compressed data from it")
        total = None
        if src is not None:
            with contextlib.suppress(LmzError):
                total = api.read_header(src).content_size
        t0 = time.time()
        with ctx.progress(f"{'test' if test else 'decompress'} {name}", total) as cb:
            dec.progress = cb
            with (open(src, "rb") if src else contextlib.nullcontext(sys.stdin.buffer)) as fin:
                if test:
                    r, n = dec.copy_stream(fin, _Null())
                elif dst is None:
                    sys.stdout.flush()
                    r, n = dec.copy_stream(fin, sys.stdout.buffer)
                    sys.stdout.buffer.flush()
                else:
                    with _atomic_output(dst, force, src) as fout:
                        r, n = dec.copy_stream(fin, fout)
        if not ctx.quiet and (ctx.verbose or test or dst is not None):
            ctx.info(f"{name}: {'OK, ' if test else ''}{r} -> {n} bytes ({_rate(n, time.time() - t0)})"
                     + (f" -> {dst}" if dst and not test else ""))
        if not test and src is not None and dst is not None and not keep:
            src.unlink()


class _Null:
    def write(self, b):
        return len(b)


@app.command()
def decompress(files: Optional[List[str]] = FilesArg, output: Optional[str] = OutOpt, stdout: bool = StdoutOpt,
               keep: bool = KeepOpt, force: bool = ForceOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt,
               no_progress: bool = NoProgressOpt,
               model: Optional[str] = typer.Option(None, "--model", "-m",
                                                   help="Model NAME or PATH (default: the one named in the file)."),
               provider: Provider = ProviderOpt):
    """Decompress FILE.lmz to FILE (or stdin to stdout)."""
    ctx = Ctx(quiet, verbose, no_progress)
    run_command(ctx, lambda: _decompress_like(files, output, stdout, keep, force, ctx, model, provider, test=False))


@app.command("test")
def test_(files: Optional[List[str]] = FilesArg, quiet: bool = QuietOpt, verbose: bool = VerboseOpt,
          no_progress: bool = NoProgressOpt,
          model: Optional[str] = typer.Option(None, "--model", "-m", help="Model NAME or PATH."),
          provider: Provider = ProviderOpt):
    """Decompress and verify FILEs without writing anything."""
    ctx = Ctx(quiet, verbose, no_progress)
    run_command(ctx, lambda: _decompress_like(files, None, False, True, False, ctx, model, provider, test=True))


@app.command("list")
def list_(files: List[str] = typer.Argument(..., help="Compressed files."), verbose: bool = VerboseOpt):
    """Show what the headers and frames of FILEs say (no model needed)."""
    ctx = Ctx(False, verbose, True)

    def body():
        for f in files:
            info = api.scan(f)
            h = info["header"]
            n, c = info["size"], info["compressed"]
            print(f"{f}: {c} <- {n} bytes ({100 * c / max(n, 1):.2f}%), model {h.model_name or '?'} "
                  f"({h.fingerprint[:16]}), stack {h.stack_name}, {info['frames']} frames")
            if verbose:
                print(f"  format version {h.version}, header {h.size} bytes, frame size {h.max_frame}, "
                      f"content size {h.content_size}, coder {h.coder_id}, {h.prob_bits}-bit freqs, "
                      f"stored frames {info['stored_frames']}, lanes {info['lanes']}, crc32 {info['crc32']:08x}")
                print(f"  fingerprint {h.fingerprint}")
                if h.stack_params:
                    print(f"  stack params {h.stack_params.decode(errors='replace')}")

    run_command(ctx, body)


# The paper's studies live in lmz.studies, imported only when their command runs: each module
# has its own Typer app, and these two commands hand it the rest of the command line.
_FORWARD = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command(context_settings=_FORWARD, add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """Compare lmz with gzip, bzip2, xz, zstd, brotli, PPMd, PNG and FLAC (paper Table 1; --help)."""
    from lmz.studies import bench as study

    study.app(args=ctx.args, prog_name="lmz-run bench")


@app.command(context_settings=_FORWARD, add_help_option=False)
def generate(ctx: typer.Context) -> None:
    """Sample bytes from a model (or gzip), or complete image patches (paper §3.5; --help)."""
    from lmz.studies import generate as study

    study.app(args=ctx.args, prog_name="lmz-run generate")


def main() -> None:  # console script entry point
    app(prog_name="lmz-run")


if __name__ == "__main__":
    main()
