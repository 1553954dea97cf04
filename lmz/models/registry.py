"""Model families, checkpoints (config travels inside), and loading with clear errors."""
from __future__ import annotations

import dataclasses
import os

import torch

from .gru import GRUConfig, GRUModel

FAMILIES = {"gru": (GRUConfig, GRUModel)}
try:  # the transformer family lives in its own file
    from .transformer import TransformerConfig, TransformerModel

    FAMILIES["transformer"] = (TransformerConfig, TransformerModel)
except ImportError:  # pragma: no cover
    pass

CHECKPOINT_VERSION = 1


class CheckpointError(Exception):
    pass


def build(config: dict):
    fam = config.get("family")
    if fam not in FAMILIES:
        raise CheckpointError(f"unknown model family {fam!r} (known: {', '.join(sorted(FAMILIES))})")
    cfg_cls, model_cls = FAMILIES[fam]
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = set(config) - names
    if unknown:
        raise CheckpointError(f"unknown {fam} config keys: {sorted(unknown)}")
    return model_cls(cfg_cls(**config))


def save_checkpoint(path, model, train: dict, optimizer=None):
    tmp = f"{path}.tmp"
    torch.save({"lmz_checkpoint": CHECKPOINT_VERSION, "config": dataclasses.asdict(model.cfg),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "train": train,
                "optimizer": optimizer.state_dict() if optimizer is not None else None}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path):
    """-> (model in eval mode, checkpoint dict). Raises CheckpointError with a clear message."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable checkpoint (torch.load: {type(e).__name__})") from None
    if not isinstance(ck, dict) or ck.get("lmz_checkpoint") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: not an lmz checkpoint (version {CHECKPOINT_VERSION})")
    model = build(ck["config"])
    try:
        model.load_state_dict(ck["state_dict"])
    except Exception as e:
        raise CheckpointError(f"{path}: weights do not match the {ck['config']['family']} config: {e}") from None
    model.eval()
    return model, ck
