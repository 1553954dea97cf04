"""Model families (torch, trained with quantisation-aware training) and the shipped ONNX files.

The ONNX files beside this file are package data (the runtime finds them through
``importlib.resources``); importing this package imports nothing, so the runtime never loads torch.
"""
from __future__ import annotations

import sys

TORCH_HINT = ("needs torch and onnx: pip install 'lmz[export]' (for the CPU build of torch first: "
              "pip install torch --index-url https://download.pytorch.org/whl/cpu)")


def require_torch(command: str) -> None:
    """Exit with a clear message (code 1) when the training/export dependencies are missing."""
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as e:
        sys.stderr.write(f"{command}: {TORCH_HINT} ({e})\n")
        raise SystemExit(1) from None


def train_main(argv=None):
    """The ``lmz-train`` console script."""
    print("lmz-train: loading torch ...", file=sys.stderr, flush=True)  # a few seconds, more on a busy machine
    require_torch("lmz-train")
    from .train import main

    return main(argv)
