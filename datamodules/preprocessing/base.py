"""The shape every preprocessing shares: plain-JSON state, raw inputs -> model batches -> a table."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from datamodules.files import DataError


class InputError(DataError):
    """Inputs to predict that the trained model cannot take; the message names the item and the problem."""


@dataclasses.dataclass
class Preprocessing:
    """What a trained model needs to read new inputs and to say what its outputs mean.

    A subclass is a dataclass of plain values (lists, strings, numbers), written to the run's
    ``preprocessing.json`` by the data module that trained the model, so using the model needs
    neither the training files nor their cache. ``rows`` accepts what the task naturally takes
    (a DataFrame of raw rows, id pairs, strings, image files); ``encode`` turns a slice of those rows
    into the batch the model's ``predict_step`` takes; ``table`` turns its outputs into a DataFrame.
    """

    kind: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Preprocessing:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in state.items() if k in names})

    def rows(self, inputs: Any) -> pd.DataFrame | Sequence:
        """The inputs as rows (a DataFrame or a list), checked for what every row needs."""
        raise NotImplementedError

    def encode(self, rows: pd.DataFrame | Sequence) -> tuple[torch.Tensor, ...]:
        """One batch for the model's ``predict_step``."""
        raise NotImplementedError

    def table(self, rows: pd.DataFrame | Sequence, outputs: list[Any]) -> pd.DataFrame:
        """The predictions of every row, from the outputs of ``predict_step`` on the batches in order."""
        raise NotImplementedError

    def example(self) -> tuple[torch.Tensor, ...] | None:
        """A batch of two rows of the shapes and types ``encode`` gives (to trace the model for export), or
        None where the model's computation depends on more than its inputs' shapes (text read in chunks)."""
        return None

    def free_axes(self) -> list[tuple[int, ...]]:
        """The axes of each ``example`` tensor that may have any size in an exported model: the rows."""
        return [(0,)] * len(self.example() or ())

    def predict(
        self, step: Callable[[tuple[torch.Tensor, ...], int], Any], inputs: Any, batch_size: int
    ) -> pd.DataFrame:
        """``table`` of ``step`` (a model's ``predict_step``) on the batches of ``batch_size`` rows of ``inputs``."""
        rows = self.rows(inputs)
        if not len(rows):
            raise InputError("nothing to predict: the inputs hold no rows")
        outputs = []
        for i, start in enumerate(range(0, len(rows), batch_size)):
            chunk = (
                rows.iloc[start : start + batch_size]
                if isinstance(rows, pd.DataFrame)
                else rows[start : start + batch_size]
            )
            outputs.append(step(self.encode(chunk), i))
        return self.table(rows, outputs)


def as_frame(inputs: Any, what: str) -> pd.DataFrame:
    """A DataFrame of rows from a DataFrame, a list of dicts (JSON records) or one dict."""
    if isinstance(inputs, pd.DataFrame):
        return inputs.reset_index(drop=True)
    if isinstance(inputs, dict):
        inputs = [inputs]
    if isinstance(inputs, Sequence) and not isinstance(inputs, str) and all(isinstance(r, dict) for r in inputs):
        return pd.DataFrame.from_records(list(inputs))
    raise InputError(
        f"{what}: expected a DataFrame or a list of records (dicts of column: value), got {type(inputs).__name__}"
    )


def as_list(inputs: Any, kinds: tuple[type, ...], what: str) -> list:
    """One item or a sequence of items of the given types, as a list; anything else names its position."""
    items = [inputs] if isinstance(inputs, kinds) else inputs
    if not isinstance(items, Sequence) or isinstance(items, (str, bytes)):
        raise InputError(f"{what}: expected one item or a list, got {type(inputs).__name__}")
    names = " or ".join(k.__name__ for k in kinds)
    for i, item in enumerate(items):
        if not isinstance(item, kinds):
            raise InputError(f"{what}: item {i} is a {type(item).__name__}, expected {names}")
    return list(items)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for messages (``1.5``, not ``np.float64(1.5)``)."""
    return value.item() if isinstance(value, np.generic) else value


def class_columns(probs: torch.Tensor, classes: Sequence[str]) -> dict[str, Any]:
    """``prediction`` (the likeliest class), its ``probability``, and ``prob_<class>`` for every class."""
    probs = probs.float().cpu()
    confidence, predicted = probs.max(1)
    columns = {"prediction": [classes[i] for i in predicted.tolist()], "probability": confidence.numpy()}
    return columns | {f"prob_{label}": probs[:, i].numpy() for i, label in enumerate(classes)}
