"""Reading the user's files with errors that name the file, the column and what was expected."""

from __future__ import annotations

import csv
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd


class DataError(ValueError):
    """Input data that cannot be used; the message says which file, what is wrong and what to do."""


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, or a DataError saying which file (``what``) was looked for."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        raise DataError(f"{what}: {path} is a folder; give the file")
    if path.is_symlink():
        raise DataError(f"{what} not found: {path} is a symbolic link to {os.readlink(path)}, which does not exist")
    raise DataError(f"{what} not found: {path} does not exist")


# the first bytes of the compressed formats a text file is most often mistaken for
COMPRESSED = {b"\x1f\x8b": "gzip", b"PK\x03\x04": "zip", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}


def not_text(path: Path, error: UnicodeDecodeError, encoding: str = "utf-8", hint: str = "") -> DataError:
    """The error for a file that does not decode (``hint``: what to do): a compressed file is named as one."""
    with open(path, "rb") as handle:
        start = handle.read(6)
    kind = next((name for magic, name in COMPRESSED.items() if start.startswith(magic)), None)
    if kind is not None:
        return DataError(f"{path} looks {kind}-compressed, not like text: decompress it (or unpack the archive) first")
    return DataError(f"{path} is not valid {encoding} text ({error.reason} at byte {error.start}){hint}")


def read_csv(
    path: str | Path,
    required: Sequence[str] = (),
    what: str = "data file",
    **kwargs,
) -> pd.DataFrame:
    """``pd.read_csv`` that reports a missing or empty file, bad encoding or missing columns clearly."""
    path = require_file(path, what)
    try:
        frame = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty: expected a header row with {', '.join(required) or 'columns'}") from None
    except UnicodeDecodeError as e:
        raise not_text(path, e, kwargs.get("encoding", "utf-8")) from None
    except (pd.errors.ParserError, csv.Error) as e:
        raise DataError(f"{path} could not be parsed as CSV: {e}") from None
    if kwargs.get("header", "infer") is not None and "names" not in kwargs:
        check_unique_header(path, kwargs)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(map(str, frame.columns[:20]))
        raise DataError(
            f"{path} has no column {', '.join(map(repr, missing))}; expected {', '.join(required)}, "
            f"found: {found} (is the separator right?)"
        )
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    return frame


def check_domain(frame: pd.DataFrame, column: str, path: str | Path, ok: np.ndarray, expected: str) -> None:
    """A DataError naming the first lines where ``column`` is outside its domain (``ok`` false)."""
    bad = ~np.asarray(ok, dtype=bool)
    if bad.any():
        raise DataError(
            f"{path}: column {column!r} must hold {expected}; {int(bad.sum())} value(s) do not "
            f"({bad_lines(frame, column, bad)})"
        )


def check_unique_header(path: Path, kwargs: dict) -> None:
    """Refuse a header that names a column twice (pandas would rename the second ``x.1`` and read the first)."""
    options = {k: v for k, v in kwargs.items() if k in ("sep", "encoding", "compression")}
    names = [str(n) for n in pd.read_csv(path, header=None, nrows=1, dtype=str, **options).iloc[0]]
    seen: dict[str, int] = {}
    for number, name in enumerate(names, start=1):
        if name in seen:
            raise DataError(
                f"{path}: the header names column {name!r} twice (columns {seen[name]} and {number}); "
                f"give each column its own name"
            )
        seen[name] = number


def numeric_column(frame: pd.DataFrame, column: str, path: str | Path, dtype: str = "float32") -> np.ndarray:
    """A column as numbers, or a DataError naming the first rows that are not numbers (or are NaN/inf).

    For an integer ``dtype`` (ids, counts, timestamps) every value must also be a whole number the dtype
    holds: 1.5 would be truncated into another id, and a value past int64 would wrap around.
    """
    values = pd.to_numeric(frame[column], errors="coerce")
    numbers = values.to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(numbers)
    if bad.any():
        raise DataError(
            f"{path}: column {column!r} must hold finite numbers; {int(bad.sum())} value(s) are not "
            f"({bad_lines(frame, column, bad)})"
        )
    if np.dtype(dtype).kind == "i":
        bits = np.iinfo(dtype).bits
        wrong = (numbers != np.round(numbers)) | (numbers < -(2.0 ** (bits - 1))) | (numbers >= 2.0 ** (bits - 1))
        if wrong.any():
            raise DataError(
                f"{path}: column {column!r} must hold whole numbers of at most {bits} bits; {int(wrong.sum())} "
                f"value(s) are not ({bad_lines(frame, column, wrong)})"
            )
    return values.to_numpy(dtype=dtype)


def bad_lines(frame: pd.DataFrame, column: str, bad: np.ndarray) -> str:
    """The first three bad values with their line in the file (the header is line 1), as plain Python values."""
    rows = np.flatnonzero(bad)[:3]
    values = [frame[column].iloc[r] for r in rows]
    plain = [v.item() if isinstance(v, np.generic) else v for v in values]
    return ", ".join(f"line {r + 2}: {v!r}" for r, v in zip(rows, plain, strict=True))


def write_folder_atomically(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Fill ``folder`` by ``write(tmp)`` on a temporary sibling renamed into place.

    Readers never see a half-written folder and a failed write leaves nothing behind; when another
    process finishes the same folder first, its result is kept.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(tmp, folder)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not folder.is_dir():
            raise
    return folder


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if needed) for as long as the block runs, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_once(folder: str | Path, write) -> Path:
    """``folder``, written by ``write(tmp)`` into a temporary folder and renamed into place unless it exists."""
    folder = Path(folder)
    return folder if folder.is_dir() else write_folder_atomically(folder, write)
