"""What a trained model needs to read new inputs, kept in its run directory as ``preprocessing.json``.

A data module that can be used after training has ``preprocessing()``; the run writes what it returns
beside the checkpoints, so ``load_run`` predicts without the training files or their cache. The file
is plain JSON (no pickles), one ``kind`` per family of inputs.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from datamodules.preprocessing.base import InputError, Preprocessing
from datamodules.preprocessing.collab import RatingsPreprocessing
from datamodules.preprocessing.images import ImagePreprocessing
from datamodules.preprocessing.series import SeriesPreprocessing
from datamodules.preprocessing.tabular import TablePreprocessing
from datamodules.preprocessing.text import PromptPreprocessing, TextPreprocessing

PREPROCESSING_FILE = "preprocessing.json"
KINDS: dict[str, type[Preprocessing]] = {
    kind.kind: kind
    for kind in (
        TablePreprocessing,
        RatingsPreprocessing,
        ImagePreprocessing,
        TextPreprocessing,
        PromptPreprocessing,
        SeriesPreprocessing,
    )
}

__all__ = [
    "KINDS",
    "PREPROCESSING_FILE",
    "ImagePreprocessing",
    "InputError",
    "Preprocessing",
    "PromptPreprocessing",
    "RatingsPreprocessing",
    "SeriesPreprocessing",
    "TablePreprocessing",
    "TextPreprocessing",
    "read_preprocessing",
    "write_preprocessing",
]


def write_preprocessing(preprocessing: Preprocessing, out_dir: str | Path) -> Path:
    """``preprocessing.json`` in ``out_dir``, written whole or not at all."""
    path = Path(out_dir) / PREPROCESSING_FILE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{PREPROCESSING_FILE}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(preprocessing.to_dict(), handle, ensure_ascii=False)
    os.replace(tmp, path)
    return path


def read_preprocessing(path: str | Path) -> Preprocessing:
    """The preprocessing a run wrote; a missing, unreadable or unknown file is an InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no {PREPROCESSING_FILE} at {path}: is this a run directory of a task that predicts?")
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path} is not valid JSON ({e}); it was not written by a run, or was damaged") from None
    kind = state.get("kind") if isinstance(state, dict) else None
    if kind not in KINDS:
        raise InputError(f"{path}: unknown preprocessing kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        return KINDS[kind].from_dict(state)
    except TypeError as e:
        raise InputError(f"{path} lacks what a {kind} preprocessing needs ({e})") from None
