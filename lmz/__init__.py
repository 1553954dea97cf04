"""lmz: lossless compression with small integer-exact language models.

    import lmz
    blob = lmz.compress(data)                 # bytes -> bytes, the shipped default model
    assert lmz.decompress(blob) == data       # the model is named and fingerprinted in the stream
    lmz.read_header(blob)                     # a Header dataclass
    lmz.Compressor(model="text").copy_stream(src, dst)
    with lmz.open("big.lmz") as f:            # seekable: decodes only the frames a read needs
        f.seek(-4096, 2); tail = f.read()

Where things are: ``lmz.runtime`` (what compressing and decompressing need: the coder, the lane
loop, the container, the predictor stack, the ONNX session, the CLI ``lmz-run``), ``lmz.spec``
(the fixed-point math of each model family, numpy), ``lmz.models`` (the torch models, training
and the shipped ONNX files), ``lmz.export`` (``lmz-export``: checkpoint -> bit-exact ONNX), and
``lmz.studies`` (the paper's studies: bench, generate, scaling, tokenizer). Importing ``lmz``
loads only numpy; onnxruntime is imported when a model is first needed.
"""
from __future__ import annotations

from .runtime.api import (
                          DEFAULT_MODEL,
                          Compressor,
                          Decompressor,
                          Header,
                          available_models,
                          compress,
                          decompress,
                          read_header,
                          scan,
)
from .runtime.dictionary import Dictionary, train_dictionary
from .runtime.errors import (
                          ChecksumError,
                          CorruptError,
                          FormatError,
                          LmzError,
                          LmzIOError,
                          MemoryLimitError,
                          ModelError,
                          ModelMismatchError,
                          ModelNotFoundError,
                          TruncatedError,
                          UsageError,
)
from .runtime.recordfile import RecordsReader, RecordsWriter
from .runtime.records import compress_records, decompress_record, decompress_records, iter_decompress_records
from .runtime.seekable import LmzReader, LmzWriter, open  # noqa: A004  (lmz.open, like gzip.open)

__version__ = "0.1.0"

__all__ = ["compress", "decompress", "open", "LmzReader", "LmzWriter", "compress_records", "decompress_record",
           "decompress_records", "iter_decompress_records", "Dictionary", "train_dictionary", "RecordsWriter", "RecordsReader", "Compressor", "Decompressor", "read_header", "Header", "scan",
           "available_models", "DEFAULT_MODEL", "LmzError", "FormatError", "TruncatedError", "CorruptError",
           "ChecksumError", "MemoryLimitError", "ModelError", "ModelMismatchError", "ModelNotFoundError", "UsageError", "LmzIOError",
           "__version__"]
