"""A cache of prepared arrays, keyed by the input files and the preparation settings.

Entries are written to a temporary folder and renamed into place under a file lock, so
concurrent jobs never see or leave a half-written entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datamodules.files import locked, write_folder_atomically

Arrays = dict[str, np.ndarray]


def file_fingerprint(path: str | Path) -> list:
    """What identifies a file's content cheaply: absolute path, size and modification time."""
    stat = Path(path).stat()
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]


def cache_key(settings: dict) -> str:
    """A short stable hash of plain settings (numbers, strings, lists, dicts, fingerprints)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _load(entry: Path) -> tuple[Arrays, dict]:
    with np.load(entry / "arrays.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads((entry / "meta.json").read_text())
    return arrays, meta


def _save(entry: Path, arrays: Arrays, meta: dict) -> None:
    def write(tmp: Path) -> None:
        np.savez(tmp / "arrays.npz", **arrays)
        (tmp / "meta.json").write_text(json.dumps(meta))

    write_folder_atomically(entry, write)


def cached(
    cache_dir: str | Path,
    name: str,
    settings: dict,
    build: Callable[[], tuple[Arrays, dict]],
) -> tuple[Arrays, dict]:
    """The arrays and metadata for ``settings``: read from the cache, or built once and stored.

    ``build`` returns (arrays, meta): numpy arrays without Python objects, and JSON-able metadata.
    If ``build`` raises, nothing is stored.
    """
    entry = Path(cache_dir) / name / cache_key(settings)
    if entry.is_dir():
        return _load(entry)
    with locked(entry.with_suffix(".lock")):
        if entry.is_dir():
            return _load(entry)
        arrays, meta = build()
        _save(entry, arrays, meta)
    return arrays, meta
