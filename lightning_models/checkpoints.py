"""Loading checkpoints and weight files safely (``weights_only=True``), with errors that say what is wrong."""

from __future__ import annotations

import pickle
import re
import struct
import zipfile
from pathlib import Path

import torch
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint or weight file that cannot be used; the message names the file and the reason."""


# torch's legacy (non-zip) format is a series of pickles, each opening with the PROTO opcode
PICKLE_START = b"\x80"


def read_weights(
    path: str | Path, what: str = "checkpoint", unsafe_hint: str = "only load files you trust, and save plain tensors"
) -> dict:
    """``torch.load(path, weights_only=True)``, memory-mapped where torch's zip format allows it (a file in
    the legacy format of ``_use_new_zipfile_serialization=False`` loads whole), with a clear error for a
    missing, truncated, corrupted or unsafe (arbitrary-object) file; ``unsafe_hint`` says what to do with
    the last."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}")
    is_zip = zipfile.is_zipfile(path)
    with open(path, "rb") as handle:
        if not is_zip and handle.read(1) != PICKLE_START:
            raise CheckpointError(f"{path} is not a readable {what}: not a file torch.save writes (zip or legacy)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as e:
        refused = re.search(r"GLOBAL (\S+)", str(e))
        raise CheckpointError(
            f"{path} holds Python objects that weights-only loading refuses "
            f"({refused.group(1) if refused else str(e).splitlines()[0]}); {unsafe_hint}"
        ) from None
    except (RuntimeError, zipfile.BadZipFile, EOFError, OSError, IndexError, struct.error) as e:
        # (a truncated legacy-format file ends the unpickler's reads early: IndexError, struct.error)
        raise CheckpointError(f"{path} is not a readable {what} (truncated or corrupted?): {e}") from None


def check_state_dict(state_dict: dict[str, torch.Tensor], model: nn.Module, source: str) -> None:
    """Raise a CheckpointError naming the keys and shapes if ``state_dict`` was not saved from ``model``."""
    expected = model.state_dict()
    missing = sorted(expected.keys() - state_dict.keys())
    unexpected = sorted(state_dict.keys() - expected.keys())
    shapes = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}")
    if shapes:
        problems.append("shape mismatch " + "; ".join(shapes[:5]))
    if problems:
        raise CheckpointError(f"{source} was not saved from this model ({type(model).__name__}): {'; '.join(problems)}")


def check_checkpoint(path: str | Path, model: nn.Module) -> dict:
    """The Lightning checkpoint of ``model`` at ``path``; fails early, with the reason, if it is not one."""
    checkpoint = read_weights(path)
    if "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (it has no state_dict)")
    check_state_dict(checkpoint["state_dict"], model, str(path))
    return checkpoint
