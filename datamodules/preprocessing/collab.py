"""(user, item) pairs for a trained collaborative-filtering model: the training ratings' id maps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from datamodules.preprocessing.base import InputError, Preprocessing, as_frame, plain

USER, ITEM = "userId", "movieId"


def whole_ids(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column of ids as int64, or an InputError naming the first rows that are not whole numbers."""
    numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy("float64", na_value=np.nan)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers)) | (np.abs(numbers) >= 2.0**63)
    if bad.any():
        rows = np.flatnonzero(bad)[:3]
        shown = ", ".join(f"row {r}: {plain(frame[column].iloc[r])!r}" for r in rows)
        raise InputError(f"{column} must hold whole numbers (ids); {int(bad.sum())} value(s) are not ({shown})")
    return numbers.astype(np.int64)


@dataclasses.dataclass
class RatingsPreprocessing(Preprocessing):
    """``userId``/``movieId`` pairs -> embedding rows -> predicted ratings, with the movie's title.

    The model has an embedding only for the users and movies of its training ratings: any other id
    is an error that names the row (there is no "unknown user" row to fall back on).
    """

    kind = "ratings"

    user_ids: list[int]
    item_ids: list[int]
    titles: list[str]

    def rows(self, inputs: Any) -> pd.DataFrame:
        if isinstance(inputs, Sequence) and inputs and all(isinstance(p, (list, tuple)) for p in inputs):
            if any(len(p) != 2 for p in inputs):
                raise InputError("pairs to predict: every pair must be (userId, movieId)")
            inputs = pd.DataFrame(list(inputs), columns=[USER, ITEM])
        frame = as_frame(inputs, "pairs to predict")
        missing = [c for c in (USER, ITEM) if c not in frame.columns]
        if missing:
            raise InputError(
                f"pairs to predict have no column {', '.join(map(repr, missing))}; expected {USER}, {ITEM}"
            )
        return frame.assign(**{c: whole_ids(frame, c) for c in (USER, ITEM)})

    def encode(self, rows: pd.DataFrame) -> tuple[torch.Tensor, ...]:
        return tuple(
            torch.from_numpy(self.indices(rows, c, ids)) for c, ids in ((USER, self.user_ids), (ITEM, self.item_ids))
        )

    def example(self) -> tuple[torch.Tensor, ...]:
        return torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long)

    @staticmethod
    def indices(rows: pd.DataFrame, column: str, known: list[int]) -> np.ndarray:
        """Each id's embedding row; an id the training ratings lacked is an InputError naming its row."""
        known = np.asarray(known, dtype=np.int64)
        ids = rows[column].to_numpy(np.int64)
        where = np.searchsorted(known, ids).clip(max=len(known) - 1)
        unknown = known[where] != ids
        if unknown.any():
            first = np.flatnonzero(unknown)[:3]
            shown = ", ".join(f"row {rows.index[r]}: {ids[r]}" for r in first)
            raise InputError(
                f"{int(unknown.sum())} {column} value(s) never seen in the training ratings ({shown}); "
                f"the model has no embedding for them"
            )
        return where

    def table(self, rows: pd.DataFrame, outputs: list[torch.Tensor]) -> pd.DataFrame:
        items = np.searchsorted(np.asarray(self.item_ids, dtype=np.int64), rows[ITEM].to_numpy(np.int64))
        return rows.assign(title=np.asarray(self.titles)[items], prediction=torch.cat(outputs).float().numpy())
