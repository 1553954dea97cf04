"""One error base class for everything lmz raises on purpose.

Exit codes of ``lmz-run`` (documented in README and ``lmz-run --help``):

    0    success
    1    usage or I/O error (bad option, missing input, output exists without -f, ...)
    2    the input is not a valid lmz stream: wrong magic/version, truncated, corrupt, checksum
    3    the model is missing, unreadable, or not the one the file was compressed with
    130  interrupted (Ctrl-C)
"""

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_FORMAT = 2
EXIT_MODEL = 3
EXIT_INTERRUPTED = 130


class LmzError(Exception):
    """Base class of every lmz error."""

    exit_code = EXIT_USAGE


class UsageError(LmzError):
    """A bad argument or option, an output that exists without --force, a terminal for binary data."""

    exit_code = EXIT_USAGE


class LmzIOError(LmzError):
    """Reading the input or writing the output failed."""

    exit_code = EXIT_USAGE


class FormatError(LmzError):
    """The data is not an lmz stream this version can read (magic, version, reserved bits, fields)."""

    exit_code = EXIT_FORMAT


class MemoryLimitError(FormatError):
    """Decoding the stream would need more memory than the decoder's limit allows."""


class TruncatedError(FormatError):
    """The stream ends before its end marker."""


class CorruptError(FormatError):
    """The stream is well-formed but its contents are damaged."""


class ChecksumError(CorruptError):
    """A lane check or the checksum of the original data does not match."""


class ModelError(LmzError):
    """The model is missing, unreadable, not an lmz model, or not the one a file was made with."""

    exit_code = EXIT_MODEL


class ModelNotFoundError(ModelError):
    """No model file under the given name or path."""


class ModelMismatchError(ModelError):
    """The model's fingerprint differs from the one recorded in the compressed stream."""
