"""The validation split every data module uses: one seeded rule, at least one row on each side."""

from __future__ import annotations

import numpy as np

from datamodules.files import DataError


def check_valid_pct(valid_pct: float, allow_zero: bool = False, name: str = "valid_pct") -> None:
    """Refuse a held-out share outside (0, 1), or [0, 1) where 0 means "use another split" (or none)."""
    low_ok = valid_pct >= 0 if allow_zero else valid_pct > 0
    if not (low_ok and valid_pct < 1):
        interval = "[0, 1)" if allow_zero else "strictly between 0 and 1"
        raise ValueError(f"{name} must lie {'in ' if allow_zero else ''}{interval}, got {valid_pct}")


def n_valid_rows(n_rows: int, valid_pct: float, what: str = "rows") -> int:
    """``valid_pct`` of ``n_rows``, rounded, but at least one; an error when no training row would be left."""
    n_valid = max(1, int(round(valid_pct * n_rows)))
    if n_valid >= n_rows:
        raise DataError(
            f"valid_pct={valid_pct} of {n_rows} {what} leaves no {what} to train on; "
            f"use more data or a smaller valid_pct"
        )
    return n_valid


def random_split(
    rows: int | np.ndarray, valid_pct: float, seed: int | np.random.Generator, what: str = "rows"
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation rows: a seeded random ``valid_pct`` of ``rows`` (a count or the row numbers)."""
    rows = np.arange(rows) if isinstance(rows, (int, np.integer)) else np.asarray(rows)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    shuffled = rng.permutation(rows)
    n_valid = n_valid_rows(len(rows), valid_pct, what)
    return np.sort(shuffled[n_valid:]), np.sort(shuffled[:n_valid])


def latest_split(times: np.ndarray, valid_pct: float, what: str = "rows") -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation rows: the latest ``valid_pct`` of the rows by ``times`` for validation."""
    order = np.argsort(times, kind="stable")
    n_valid = n_valid_rows(len(times), valid_pct, what)
    return np.sort(order[: len(times) - n_valid]), np.sort(order[len(times) - n_valid :])


def check_split(is_valid: np.ndarray, where: str, rule: str) -> np.ndarray:
    """``is_valid`` when both sides have rows; else a DataError naming the rule that left one empty (a run
    would train on nothing, or train in full and have no validation to report)."""
    n_valid = int(is_valid.sum())
    if 0 < n_valid < len(is_valid):
        return is_valid
    side = "no validation rows" if n_valid == 0 else "no training rows"
    raise DataError(f"{where}: {rule} leaves {side} among the {len(is_valid)} rows; change it or the data")


def valid_mask(n_rows: int, valid_rows: np.ndarray) -> np.ndarray:
    """A boolean mask of ``n_rows`` that is true at ``valid_rows``."""
    mask = np.zeros(n_rows, dtype=bool)
    mask[valid_rows] = True
    return mask
