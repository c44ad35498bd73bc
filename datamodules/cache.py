"""A cache of prepared arrays, keyed by the input files and the preparation settings.

Entries are written to a temporary folder and renamed into place under a file lock, so
concurrent jobs never see or leave a half-written entry. An entry that cannot be read (a disk that
filled up, a file edited by hand) is discarded and built again, and the temporary folders of a job
killed while writing are removed by the next one that takes the lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from datamodules.files import locked, write_folder_atomically

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]

# files up to this size are keyed by their content; larger ones (WikiText-103, a full Rossmann table with
# its joins) by size and modification time, which an edit that restores the mtime would fool
HASHED_BYTES = 64 * 2**20


def file_fingerprint(path: str | Path) -> list:
    """What identifies a file's content: absolute path, size, and a hash of the bytes (the modification
    time for a file above ``HASHED_BYTES``)."""
    path = Path(path)
    stat = path.stat()
    if stat.st_size > HASHED_BYTES:
        return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(2**20):
            digest.update(chunk)
    return [str(path.resolve()), stat.st_size, digest.hexdigest()]


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
    if entry.is_dir() and (found := readable(entry)) is not None:
        return found
    with locked(entry.with_suffix(".lock")):
        for leftover in entry.parent.glob(f".{entry.name}-*"):
            shutil.rmtree(leftover, ignore_errors=True)  # a killed writer's (a live one would hold the lock)
        if entry.is_dir():
            if (found := readable(entry)) is not None:
                return found
            log.warning(f"cache entry {entry} cannot be read (damaged or half-written); building it again")
            shutil.rmtree(entry)
        arrays, meta = build()
        _save(entry, arrays, meta)
    return arrays, meta


def readable(entry: Path) -> tuple[Arrays, dict] | None:
    """The entry's arrays and metadata, or None where a file is missing, truncated or not what was written."""
    try:
        return _load(entry)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):
        return None
