"""lmz-run: the command line, with zstd's conventions.

    lmz-run [FILE...]                 FILE -> FILE.lmz (input kept; --rm deletes it)
    lmz-run -d FILE.lmz...            FILE.lmz -> FILE
    lmz-run -t FILE.lmz...            decompress and check, write nothing
    lmz-run -l FILE.lmz...            header information
    lmz-run compress|decompress|test|list FILE...   the same as subcommands
    lmz-run models                    the installed models (the model search path)

`-` or no FILE means stdin -> stdout, so `tar -I lmz-run` works. Output goes to a temporary file
beside the target and is renamed into place at the end, so an error, Ctrl-C, SIGTERM or SIGHUP
leaves nothing partial; an existing file is never overwritten without -f, and an output that is
the input is refused. Compressed data is never written to a terminal. Messages and the progress
bar go to stderr only. With several files, an error is reported with the file's name and the run
goes on with the next file.

Exit codes: 0 ok; 1 usage or I/O error; 2 corrupt, truncated or not an lmz stream;
3 model missing, unreadable or not the one the file was made with; 130 interrupted
(128 + the signal number for SIGTERM/SIGHUP). With several files: the code of the first failure.
"""
from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import stat
import sys
import tempfile
import time
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
import typer.core

from . import api, segments
from .errors import EXIT_INTERRUPTED, EXIT_USAGE, LmzError, LmzIOError, UsageError

SUFFIX = ".lmz"
# typer raises click's UsageError: its vendored copy (typer >= 0.17, which no longer installs
# click) or click itself (older typer); catch whichever exist
_CLICK_USAGE: tuple = ()
try:
    from typer._click.exceptions import UsageError as _TyperClickUsageError

    _CLICK_USAGE += (_TyperClickUsageError,)
except ImportError:  # pragma: no cover - older typer
    pass
try:
    import click

    _CLICK_USAGE += (click.UsageError,)
except ImportError:  # recent typer without click installed
    pass
_DEFAULT = "\0"  # the zstd-style command (no subcommand); NUL cannot appear in a command-line argument


class _UsageExit1:
    """Click exits 2 on a usage error; lmz-run reserves 2 for corrupt input, so usage errors exit 1."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except _CLICK_USAGE as e:
            e.exit_code = EXIT_USAGE
            raise

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except _CLICK_USAGE as e:
            e.exit_code = EXIT_USAGE
            raise


class _Command(_UsageExit1, typer.core.TyperCommand):
    pass


class _Group(_UsageExit1, typer.core.TyperGroup):
    """A command line that is not a subcommand (`lmz-run -d x.lmz`, `lmz-run FILE`, `lmz-run`) runs
    the zstd-style default command; `lmz-run -h` shows this group's help."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = [_DEFAULT, *args]
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx, args):
        if args and args[0] == _DEFAULT:
            return "", self.commands[_DEFAULT], args[1:]
        return super().resolve_command(ctx, args)


_HELP = """Lossless compression with small language models, with zstd's command line.

\b
  lmz-run [FILE...]             FILE -> FILE.lmz (input kept; --rm deletes it)
  lmz-run -d FILE.lmz...        FILE.lmz -> FILE
  lmz-run -t FILE.lmz...        decompress and check, write nothing
  lmz-run -l FILE.lmz...        what the headers say
  lmz-run -d -h                 every option of this form (-c, -o, -k/--rm, -f, -m, -T, -r, -V, ...)
  lmz-run records ...           records files: one record per line/file, record i by random access
  lmz-run COMMAND ...           the same as subcommands, and more (below)

'-' or no FILE means stdin -> stdout (so `tar -I lmz-run` works). Models are found by name on the
search path $LMZ_MODEL_PATH, ~/.local/share/lmz/models, the shipped models (`lmz-run models`).

Exit codes: 0 ok, 1 usage/IO, 2 corrupt or not lmz, 3 model missing/mismatch, 130 interrupted.
"""

app = typer.Typer(name="lmz-run", add_completion=False, cls=_Group, rich_markup_mode=None, help=_HELP,
                  context_settings={"help_option_names": ["-h", "--help"]})


class Provider(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Mix(str, Enum):
    auto = "auto"
    on = "on"
    off = "off"


# -- shared options -----------------------------------------------------------------------------
FilesArg = typer.Argument(None, help="Input files; '-' or none: stdin -> stdout.", show_default=False)
OutOpt = typer.Option(None, "-o", "--output", help="Output file ('-': stdout); only with one input.")
StdoutOpt = typer.Option(False, "-c", "--stdout", help="Write to stdout (several inputs: concatenated streams).")
KeepOpt = typer.Option(True, "-k/--rm", "--keep/--rm", show_default=False,
                       help="Keep (default) or delete the input after success (not with -c or a device output).")
ForceOpt = typer.Option(False, "-f", "--force", help="Overwrite existing outputs (and write into existing "
                        "device files or FIFOs); allow binary on a terminal.")
QuietOpt = typer.Option(False, "-q", "--quiet", help="Only errors.")
VerboseOpt = typer.Option(False, "-v", "--verbose", help="More information.")
NoProgressOpt = typer.Option(False, "--no-progress", help="No progress bar.")
ModelOpt = typer.Option(None, "--model", "-m", help="Model NAME (searched: $LMZ_MODEL_PATH, "
                        "~/.local/share/lmz/models, the shipped models) or PATH (./m, a/b, x.onnx).")
DecModelOpt = typer.Option(None, "--model", "-m", help="Model NAME or PATH (default: found by the name and "
                           "fingerprint recorded in the stream).")
ProviderOpt = typer.Option(Provider.auto, "--provider", help="onnxruntime execution provider.")
ThreadsOpt = typer.Option(1, "-T", "--threads", min=0, max=256,
                          help="Code frames in N worker processes (0: one per core); the output is the same "
                          "for every N. Memory: about N frames in flight.")
SeekableOpt = typer.Option(False, "--seekable", help="Write a seek index at the end of each stream, so that "
                           "lmz.open and --range find any frame from the end of the file (a few bytes per frame).")
FrameSizeOpt = typer.Option("4MiB", "--frame-size", metavar="SIZE",
                            help="Frame size (e.g. 1MiB): frames are coded independently, so smaller frames mean "
                            "finer random access (--seekable, --range) and more parallelism (-T), at some cost in ratio.")
NoRecompressOpt = typer.Option(False, "--no-recompress", help="Code a gzip, zip, PNG or JPEG file's bytes as "
                               "they are (default, with --mix auto: the data it holds, deflated or Huffman-coded "
                               "again exactly when decompressing).")
RangeOpt = typer.Option(None, "--range", metavar="START:END",
                        help="Decompress only the original bytes [START, END) (either may be omitted); decodes "
                        "only the frames they lie in (needs a seekable input).")
MemoryOpt = typer.Option("1GiB", "--memory", metavar="SIZE",
                         help="Refuse streams that need more memory than this to decode (e.g. 512MiB, 2GiB).")
RecursiveOpt = typer.Option(False, "-r", "--recursive", help="Operate on the files in directories, recursively.")
LanesOpt = typer.Option(None, "--lanes", help="Lanes per frame (default: from the size).")
MixOpt = typer.Option(Mix.auto, "--mix", help="Predictor stack: auto (per block: the model with the adaptive "
                      "mix, the mix alone, or stored), on (the model with the mix everywhere), off (the model alone).")


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


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwinds like Ctrl-C, so partial output is removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise Terminated(signum)


def install_signal_handlers() -> None:
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _on_signal)


def run_command(ctx: Ctx, fn) -> None:
    """Run a command body; LmzError -> message + its exit code; Ctrl-C -> 130; SIGTERM/SIGHUP -> 128+N."""
    try:
        code = fn() or 0
    except LmzError as e:
        ctx.error(str(e))
        raise typer.Exit(e.exit_code)
    except KeyboardInterrupt:
        ctx.error("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED)
    except Terminated as e:
        ctx.error(f"terminated by {signal.Signals(e.signum).name}")
        raise typer.Exit(128 + e.signum)
    except OSError as e:
        ctx.error(_oserror(e))
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(code)


def _oserror(e: OSError) -> str:
    return f"{getattr(e, 'filename', '') or ''}: {e.strerror or e}".lstrip(": ")


# -- file plumbing ------------------------------------------------------------------------------
def _is_std(p: Optional[str]) -> bool:
    return p is None or p == "-"


def _apply_source_stat(fd: int, src_st: Optional[os.stat_result]) -> None:
    """Output file metadata, as zstd: the input's owner (where allowed), its permission bits without
    setuid/setgid/sticky, its access and modification times; from stdin, the umask's default."""
    if src_st is None:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        return
    with contextlib.suppress(OSError):  # only root may give a file away; a member may set the group
        os.fchown(fd, src_st.st_uid, src_st.st_gid)
    os.fchmod(fd, stat.S_IMODE(src_st.st_mode) & 0o777)  # never carry setuid, setgid or sticky bits
    with contextlib.suppress(OSError):
        os.utime(fd, ns=(src_st.st_atime_ns, src_st.st_mtime_ns))


class _Out:
    """Where one job writes: `.f` the file object, `.regular` False for a device/FIFO written in place."""

    def __init__(self, f, regular: bool):
        self.f, self.regular = f, regular


@contextlib.contextmanager
def _file_output(target: Path, force: bool, src_st: Optional[os.stat_result]):
    """A regular file: a temp file beside `target`, renamed onto it on success and removed on any
    error, Ctrl-C, SIGTERM or SIGHUP. An existing device node or FIFO (e.g. /dev/null) is written
    in place, never replaced by a regular file."""
    try:
        tst = os.stat(target)
    except FileNotFoundError:
        tst = None
    if tst is not None and stat.S_ISDIR(tst.st_mode):
        raise LmzIOError(f"{target} is a directory")
    if tst is not None and not stat.S_ISREG(tst.st_mode):
        if not force and os.path.abspath(target) != os.devnull:
            raise UsageError(f"{target} already exists; use -f to write into it")
        with open(target, "wb") as f:
            yield _Out(f, regular=False)
        return
    if tst is not None and not force:
        raise UsageError(f"{target} already exists; use -f to overwrite")
    d = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            yield _Out(f, regular=True)
            f.flush()
            _apply_source_stat(f.fileno(), src_st)
        if os.path.lexists(target) and not force:
            raise UsageError(f"{target} appeared while writing; use -f to overwrite")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _stdout_binary(force: bool):
    if sys.stdout.isatty() and not force:
        raise UsageError("stdout is a terminal: not writing compressed data to it (use -o FILE, a redirect, or -f)")
    sys.stdout.flush()
    return sys.stdout.buffer


class _WakingPipe(io.RawIOBase):
    """A pipe's fd, read only once select() finds it readable, waking every 0.25 s. A read blocked on
    a pipe is interrupted only by a signal delivered to the blocked thread; with native threads in
    the process (onnxruntime's, numba's) the kernel may deliver SIGTERM/SIGHUP to one of them, and
    Python runs its handler only when the main thread returns to bytecode: without the wake-ups
    `lmz-run` could sleep forever on an open, silent pipe after being told to stop."""

    def __init__(self, fd: int):
        super().__init__()
        self._fd = fd

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, b) -> int:
        while not select.select([self._fd], [], [], 0.25)[0]:
            pass  # back in Python: a pending signal's handler runs here
        return os.readv(self._fd, [b])


def _stdin(what: str):
    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(f"stdin is a console, aborting (no {what} read from a terminal; name a file or redirect)")
    buf = sys.stdin.buffer
    try:
        fd = buf.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return buf  # not a real fd (a test's stand-in): as it is
    if regular or os.name != "posix" or not hasattr(os, "readv"):
        return buf  # a file never blocks; select() does not take pipes on Windows
    return io.BufferedReader(_WakingPipe(fd), buffer_size=1 << 16)


def _rate(n: int, dt: float) -> str:
    kbps = n / max(dt, 1e-9) / 1e3
    return f"{kbps / 1e3:.2f} MB/s" if kbps >= 1000 else f"{kbps:.1f} kB/s"


class _Null:
    def write(self, b):
        return len(b)


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1000, "KIB": 1 << 10, "M": 1 << 20, "MB": 10**6, "MIB": 1 << 20,
          "G": 1 << 30, "GB": 10**9, "GIB": 1 << 30}


def parse_size(text: str) -> int:
    """'512MiB', '2G', '1000000' -> bytes (zstd's --memory takes the same suffixes)."""
    t = str(text).strip().upper().replace(" ", "")
    num = t.rstrip("KMGIB")
    unit = t[len(num):]
    if not num.isdigit() or unit not in _UNITS:
        raise UsageError(f"cannot read {text!r} as a size (e.g. 512MiB, 2GiB)")
    return int(num) * _UNITS[unit]


def parse_range(text: str) -> tuple[int, int | None]:
    """'START:END', 'START:', ':END' -> (start, end or None); sizes may carry suffixes (4KiB)."""
    a, sep, b = str(text).partition(":")
    if not sep:
        raise UsageError(f"--range: expected START:END, got {text!r}")
    try:
        start = parse_size(a) if a.strip() else 0
        end = parse_size(b) if b.strip() else None
    except UsageError:
        raise UsageError(f"--range: cannot read {text!r} (e.g. 0:4096, 1MiB:2MiB, 100:)") from None
    if end is not None and end < start:
        raise UsageError(f"--range: END < START in {text!r}")
    return start, end


class _Opts:
    def __init__(self, mode, output=None, stdout=False, keep=True, force=False, model=None, provider=Provider.auto,
                 lanes=None, mix=Mix.auto, threads=1, recursive=False, memory="1GiB", seekable=False, range_=None,
                 frame_size="4MiB", no_recompress=False):
        self.mode, self.output, self.stdout, self.keep, self.force = mode, output, stdout, keep, force
        self.model, self.provider, self.lanes, self.mix = model, provider, lanes, mix
        self.threads, self.recursive = threads, recursive
        self.memory = parse_size(memory)
        self.seekable = seekable
        self.recompress = not no_recompress
        self.frame_size = parse_size(frame_size)
        self.range = parse_range(range_) if range_ is not None else None
        if self.range is not None and mode != "decompress":
            raise UsageError("--range is for decompressing")


def _expand(files, opts: _Opts) -> list:
    """The inputs: files as given ('-'/none: stdin = None); with -r, the regular files under each
    directory (when decompressing or testing, only the *.lmz ones), in name order."""
    out = []
    for f in list(files or ["-"]):
        if _is_std(f):
            out.append(None)
        elif opts.recursive and os.path.isdir(f):
            for root, dirs, names in os.walk(f):
                dirs.sort()
                for n in sorted(names):
                    p = os.path.join(root, n)
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    if opts.mode in ("decompress", "test", "list") and not n.endswith(SUFFIX):
                        continue
                    out.append(p)
        else:
            out.append(f)
    return out


class _Failures:
    def __init__(self, ctx: Ctx):
        self.ctx, self.code = ctx, 0

    def __call__(self, name: str, msg: str, code: int) -> None:
        self.ctx.error(f"{name}: {msg}")
        if not self.code:
            self.code = code


def _run(ctx: Ctx, opts: _Opts, files) -> int:
    """Every input in turn; an error is reported with the input's name and the run goes on.
    Returns the exit code of the first failure (0 if none)."""
    fail = _Failures(ctx)
    inputs = _expand(files, opts)
    if opts.output is not None and len(inputs) > 1:
        raise UsageError("-o needs a single input file")
    if opts.mode == "list":
        for inp in inputs:
            _guard(fail, inp, lambda: _list_one(ctx, inp))
        return fail.code
    worker = []  # the Compressor / Decompressor, made once for the first input that needs it

    def get_worker():
        if not worker:
            try:
                if opts.mode == "compress":
                    worker.append(api.Compressor(opts.model or api.DEFAULT_MODEL, opts.provider.value, opts.lanes,
                                                 opts.mix.value, index=opts.seekable, threads=opts.threads,
                                                 frame_size=opts.frame_size, recompress=opts.recompress))
                else:
                    worker.append(api.Decompressor(opts.model, opts.provider.value, memory_limit=opts.memory,
                                                   threads=opts.threads))
            except LmzError as e:  # no model to compress with: the same for every file, so stop here
                raise _Fatal(e) from None
        return worker[0]

    try:
        for inp in inputs:
            _guard(fail, inp, lambda: _job(ctx, opts, inp, get_worker))
    except _Fatal as f:
        raise f.error from None
    finally:
        if worker:
            worker[0].close()  # the worker processes of -T N
    return fail.code


class _Fatal(Exception):
    """An error that ends the whole run (not one file's), e.g. the model to compress with is missing."""

    def __init__(self, error: LmzError):
        super().__init__(str(error))
        self.error = error


def _guard(fail: _Failures, inp, fn) -> None:
    name = "stdin" if inp is None else inp
    try:
        fn()
    except LmzError as e:
        fail(name, str(e), e.exit_code)
    except OSError as e:
        msg = e.strerror or str(e)
        if e.filename and os.fspath(e.filename) != name:
            msg = f"{e.filename}: {msg}"
        fail(name, msg, EXIT_USAGE)


def _output_for(opts: _Opts, src: Optional[Path], ctx: Ctx):
    """(the output Path, None for stdout) or False when the input is skipped."""
    if opts.mode == "test":
        return None
    if opts.output is not None:
        return None if opts.output == "-" else Path(opts.output)
    if opts.stdout or src is None:
        return None
    if opts.mode == "decompress":
        if not src.name.endswith(SUFFIX) or src.name == SUFFIX:
            raise UsageError(f"unknown suffix (expected {SUFFIX}) -- ignored; use -o or -c to name the output")
        return src.with_name(src.name[: -len(SUFFIX)])
    if src.name.endswith(SUFFIX):
        ctx.info(f"lmz-run: {src}: already has the {SUFFIX} suffix -- ignored (use -o or -c to compress it again)")
        return False
    return src.with_name(src.name + SUFFIX)


def _job(ctx: Ctx, opts: _Opts, inp: Optional[str], get_worker) -> None:
    src = None if inp is None else Path(inp)
    src_st = None
    if src is not None:
        src_st = os.stat(src)
        if stat.S_ISDIR(src_st.st_mode):
            raise UsageError("is a directory -- ignored (use -r to go into directories)")
    dst = _output_for(opts, src, ctx)
    if dst is False:
        return
    if src is not None and not stat.S_ISREG(src_st.st_mode) and dst is not None and opts.mode != "test":
        raise UsageError("not a regular file -- ignored (use -c or -o to read it)")
    if src is not None and dst is not None:
        with contextlib.suppress(OSError):
            dst_st = os.stat(dst)
            if (dst_st.st_dev, dst_st.st_ino) == (src_st.st_dev, src_st.st_ino):
                raise UsageError(f"the output {dst} is the input file; refusing to overwrite it")
    name = str(src) if src else "stdin"
    what = {"compress": "data to compress", "decompress": "compressed data", "test": "compressed data"}[opts.mode]
    stdin = _stdin(what) if src is None else None
    if dst is None and opts.mode == "compress":
        _stdout_binary(opts.force)
    size = src_st.st_size if src_st is not None and stat.S_ISREG(src_st.st_mode) else None
    total = size
    if opts.mode != "compress" and src is not None and size is not None:
        total = None
        with contextlib.suppress(LmzError, OSError):
            total = api.read_header(src).content_size
    if opts.range is not None:
        _job_range(ctx, opts, src, dst, src_st)
        return
    work = get_worker()
    t0 = time.time()
    regular = True
    fin_cm = open(src, "rb") if src is not None else contextlib.nullcontext(stdin)
    with fin_cm as fin, ctx.progress(f"{opts.mode} {name}", total) as cb:
        work.progress = cb
        if opts.mode == "test":
            r, n = work.copy_stream(fin, _Null())
        elif dst is None:
            sys.stdout.flush()
            out = sys.stdout.buffer
            r, n = work.copy_stream(fin, out, size) if opts.mode == "compress" else work.copy_stream(fin, out)
            try:
                out.flush()
            except OSError as e:
                raise LmzIOError(f"write error: {e.strerror or e}") from None
        else:
            with _file_output(dst, opts.force, src_st if size is not None else None) as o:
                regular = o.regular
                if opts.mode == "compress":
                    r, n = work.copy_stream(fin, o.f, size)
                else:
                    r, n = work.copy_stream(fin, o.f)
    if opts.mode == "compress":
        n_in, n_out = r, n
        if not ctx.quiet and (ctx.verbose or dst is not None):
            ctx.info(f"{name}: {n_in} -> {n_out} bytes ({100 * n_out / max(n_in, 1):.2f}%, "
                     f"{8 * n_out / max(n_in, 1):.3f} bits/byte, {_rate(n_in, time.time() - t0)})"
                     + (f" -> {dst}" if dst else ""))
    elif not ctx.quiet and (ctx.verbose or opts.mode == "test" or dst is not None):
        ctx.info(f"{name}: {'OK, ' if opts.mode == 'test' else ''}{r} -> {n} bytes ({_rate(n, time.time() - t0)})"
                 + (f" -> {dst}" if dst and opts.mode != "test" else ""))
    if opts.mode != "test" and not opts.keep and src is not None and dst is not None:
        if regular:
            src.unlink()
        else:
            ctx.info(f"lmz-run: {src}: kept (the output {dst} is not a regular file)")


def _job_range(ctx: Ctx, opts: _Opts, src: Optional[Path], dst: Optional[Path], src_st) -> None:
    """--range START:END: only those original bytes, through lmz.open (decodes only their frames)."""
    from .seekable import LmzReader

    if src is None:
        raise UsageError("--range needs a file (a seekable input), not stdin")
    start, end = opts.range
    t0 = time.time()
    with LmzReader(src, opts.model, opts.provider.value, opts.memory) as f:
        end = f.size if end is None else min(end, f.size)
        f.seek(start)
        left = max(0, end - start)

        def copy(out) -> int:
            n = 0
            while n < left:
                b = f.read(min(left - n, 1 << 22))
                if not b:
                    break
                n += api.write_all(out, b)
            return n

        if dst is None:
            out = _stdout_binary(opts.force)
            n = copy(out)
            out.flush()
        else:
            with _file_output(dst, opts.force, None) as o:
                n = copy(o.f)
    if not ctx.quiet and (ctx.verbose or dst is not None):
        ctx.info(f"{src}: bytes {start}:{start + n} ({n} bytes, {_rate(n, time.time() - t0)})"
                 + (f" -> {dst}" if dst else ""))


def _list_one(ctx: Ctx, inp: Optional[str]) -> None:
    name = "stdin" if inp is None else inp
    info = api.scan(_stdin("compressed data") if inp is None else inp)
    h = info["header"]
    n, c = info["size"], info["compressed"]
    print(f"{name}: {c} <- {n} bytes ({100 * c / max(n, 1):.2f}%), model {h.model_name or '?'} "
          f"({h.fingerprint[:16]}), stack {h.stack_name}, {info['frames']} frames")
    if ctx.verbose:
        print(f"  format version {h.version}, header {h.size} bytes, frame size {h.max_frame}, "
              f"content size {h.content_size}, coder {h.coder_id}, {h.prob_bits}-bit freqs, "
              f"stored frames {info['stored_frames']}, lanes {info['lanes']}, crc32 {info['crc32']:08x}")
        print(f"  fingerprint {h.fingerprint}")
        if h.preset is not None:
            print(f"  stack preset {h.preset}")
        if h.stack_params:
            print(f"  stack params {h.stack_params.decode(errors='replace')}")
        for what, count in info["own_stack_frames"].items():  # --mix auto's per-block decisions
            print(f"  frames coded with their own stack ({what}): {count}")
        if h.segments is not None:
            t = h.segments
            print(f"  segments: {t.deflated} of {len(t.segments)} segments expanded, the frames hold "
                  f"{info['coded_size']} bytes")
            for s in t.segments:
                if s.kind == segments.JPEG_SCAN:
                    print(f"    {s.size} JPEG bytes <- {s.coded} (its DCT coefficients and {s.head} header bytes)")
                elif s.kind == segments.PNG_PIXELS:
                    print(f"    {s.size} PNG bytes <- {s.coded} (its pixels, row filters and {s.head} header bytes; "
                          f"zlib level {s.level}, memLevel {s.mem_level}, window bits {s.wbits})")
                elif s.kind != segments.RAW:
                    print(f"    {s.size} deflated bytes <- {s.coded} ({segments.IMPLEMENTATIONS[s.kind]} level "
                          f"{s.level}, memLevel {s.mem_level}, window bits {s.wbits})")


# -- commands -----------------------------------------------------------------------------------
def _version(value: bool):
    if value:
        from lmz import __version__

        print(f"lmz-run {__version__}")
        raise typer.Exit(0)


@app.command(_DEFAULT, hidden=True, cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
def zstd_style(files: Optional[List[str]] = FilesArg,
               decompress_: bool = typer.Option(False, "-d", "--decompress", "--uncompress", help="Decompress."),
               compress_: bool = typer.Option(False, "-z", "--compress", help="Compress (the default)."),
               test: bool = typer.Option(False, "-t", "--test", help="Decompress and verify; write nothing."),
               list_: bool = typer.Option(False, "-l", "--list", help="Show what the headers say (no model needed)."),
               output: Optional[str] = OutOpt, stdout: bool = StdoutOpt, keep: bool = KeepOpt,
               force: bool = ForceOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt,
               no_progress: bool = NoProgressOpt, model: Optional[str] = ModelOpt,
               provider: Provider = ProviderOpt, lanes: Optional[int] = LanesOpt, mix: Mix = MixOpt,
               threads: int = ThreadsOpt, recursive: bool = RecursiveOpt, memory: str = MemoryOpt,
               seekable: bool = SeekableOpt, range_: Optional[str] = RangeOpt, frame_size: str = FrameSizeOpt,
               no_recompress: bool = NoRecompressOpt,
               version: bool = typer.Option(False, "-V", "--version", callback=_version, is_eager=True,
                                            help="Print the version and exit.")):
    """lmz-run [OPTIONS] [FILE...]: compress (default), -d decompress, -t test, -l list; zstd's options."""
    ctx = Ctx(quiet, verbose, no_progress)

    def body():
        if compress_ and (decompress_ or test or list_):
            raise UsageError("-z cannot be combined with -d, -t or -l")
        mode = "list" if list_ else "test" if test else "decompress" if decompress_ else "compress"
        return _run(ctx, _Opts(mode, output, stdout, keep, force, model, provider, lanes, mix, threads,
                               recursive, memory, seekable, range_, frame_size, no_recompress), files)

    run_command(ctx, body)


@app.command(cls=_Command)
def compress(files: Optional[List[str]] = FilesArg, output: Optional[str] = OutOpt, stdout: bool = StdoutOpt,
             keep: bool = KeepOpt, force: bool = ForceOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt,
             no_progress: bool = NoProgressOpt, model: Optional[str] = ModelOpt,
             provider: Provider = ProviderOpt, lanes: Optional[int] = LanesOpt, mix: Mix = MixOpt,
             threads: int = ThreadsOpt, recursive: bool = RecursiveOpt, seekable: bool = SeekableOpt,
             frame_size: str = FrameSizeOpt, no_recompress: bool = NoRecompressOpt):
    """Compress FILEs to FILE.lmz (or stdin to stdout)."""
    ctx = Ctx(quiet, verbose, no_progress)
    run_command(ctx, lambda: _run(ctx, _Opts("compress", output, stdout, keep, force, model, provider, lanes, mix,
                                             threads, recursive, seekable=seekable, frame_size=frame_size,
                                             no_recompress=no_recompress), files))


@app.command(cls=_Command)
def decompress(files: Optional[List[str]] = FilesArg, output: Optional[str] = OutOpt, stdout: bool = StdoutOpt,
               keep: bool = KeepOpt, force: bool = ForceOpt, quiet: bool = QuietOpt, verbose: bool = VerboseOpt,
               no_progress: bool = NoProgressOpt, model: Optional[str] = DecModelOpt,
               provider: Provider = ProviderOpt, threads: int = ThreadsOpt, recursive: bool = RecursiveOpt,
               memory: str = MemoryOpt, range_: Optional[str] = RangeOpt):
    """Decompress FILE.lmz to FILE (or stdin to stdout); concatenated streams give their contents in order."""
    ctx = Ctx(quiet, verbose, no_progress)
    run_command(ctx, lambda: _run(ctx, _Opts("decompress", output, stdout, keep, force, model, provider,
                                             threads=threads, recursive=recursive, memory=memory, range_=range_),
                                  files))


@app.command("test", cls=_Command)
def test_(files: Optional[List[str]] = FilesArg, quiet: bool = QuietOpt, verbose: bool = VerboseOpt,
          no_progress: bool = NoProgressOpt, model: Optional[str] = DecModelOpt,
          provider: Provider = ProviderOpt, threads: int = ThreadsOpt, recursive: bool = RecursiveOpt,
          memory: str = MemoryOpt):
    """Decompress and verify FILEs without writing anything."""
    ctx = Ctx(quiet, verbose, no_progress)
    run_command(ctx, lambda: _run(ctx, _Opts("test", model=model, provider=provider, threads=threads,
                                             recursive=recursive, memory=memory), files))


@app.command("list", cls=_Command)
def list_(files: Optional[List[str]] = typer.Argument(None, help="Compressed files ('-' or none: stdin)."),
          verbose: bool = VerboseOpt, recursive: bool = RecursiveOpt):
    """Show what the headers and frames of FILEs say (no model needed)."""
    ctx = Ctx(False, verbose, True)
    run_command(ctx, lambda: _run(ctx, _Opts("list", recursive=recursive), files))


@app.command("models", cls=_Command)
def models(verbose: bool = VerboseOpt):
    """The installed models: name, fingerprint, family, parameters, file (search path order)."""
    ctx = Ctx(False, verbose, True)

    def body():
        from . import model_store

        entries = model_store.installed()
        if verbose:
            print("search path: " + os.pathsep.join(str(d) for d in model_store.search_path()))
        w = max([len(e.name) for e in entries] + [4])
        print(f"{'NAME':<{w}}  {'FINGERPRINT':<16}  {'FAMILY':<11}  {'PARAMS':>9}  PATH")
        for e in entries:
            print(f"{e.name:<{w}}  {e.fingerprint[:16] or '?':<16}  {e.family:<11}  {e.params:>9}  {e.path}"
                  + ("  (shadowed)" if e.shadowed else ""))

    run_command(ctx, body)


# The paper's studies live in lmz.studies, imported only when their command runs: each module
# has its own Typer app, and these two commands hand it the rest of the command line.
def _forward(study_app, args, prog: str) -> None:
    """Run a study's app inside this one, so that its usage errors exit 1 like ours."""
    rv = study_app(args=args, prog_name=prog, standalone_mode=False)
    if isinstance(rv, int) and rv:
        raise typer.Exit(rv)


_FORWARD = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command(context_settings=_FORWARD, add_help_option=False)
def bench(ctx: typer.Context) -> None:
    """Compare lmz with gzip, bzip2, xz, zstd, brotli, PPMd, PNG and FLAC (paper Table 1; --help)."""
    from lmz.studies import bench as study

    _forward(study.app, ctx.args, "lmz-run bench")


@app.command(context_settings=_FORWARD, add_help_option=False)
def records(ctx: typer.Context) -> None:
    """Records files: many small records, each compressed on its own, random access to record i (--help)."""
    from . import records_cli

    _forward(records_cli.app, ctx.args, "lmz-run records")


@app.command(context_settings=_FORWARD, add_help_option=False)
def generate(ctx: typer.Context) -> None:
    """Sample bytes from a model (or gzip), or complete image patches (paper §3.5; --help)."""
    from lmz.studies import generate as study

    _forward(study.app, ctx.args, "lmz-run generate")


def main() -> None:  # console script entry point
    install_signal_handlers()
    try:
        app(prog_name="lmz-run")
        code = 0
    except SystemExit as e:
        code = e.code
    _exit_now(code)


def _exit_now(code) -> None:
    """End the process as soon as the work is done: every output file is closed and renamed
    into place by then, so flush the standard streams, run the atexit handlers, and leave
    without the interpreter's module-by-module teardown (0.3-0.5 s after numba and onnxruntime
    have loaded: a third of a small file's wall time)."""
    import atexit

    if code is None:
        code = 0
    elif not isinstance(code, int):  # SystemExit("message"): print it, as Python does
        print(code, file=sys.stderr)
        code = EXIT_USAGE
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError) as e:  # a closed pipe or stream
            if stream is sys.stdout and code == 0:
                code = EXIT_USAGE
                with contextlib.suppress(OSError, ValueError):
                    print(f"lmz-run: stdout: write error: {_oserror(e) if isinstance(e, OSError) else e}",
                          file=sys.stderr, flush=True)
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":
    main()
