"""What the training entry point needs of a data module, and what the recipe callbacks need of a model.

The Protocols are structural: a data module or a model meets one by having its methods, without
inheriting anything (``RecipeModule`` meets ``RecipeModel``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torch import nn

PEAK_LR = "peak_lr"
"""Optimizer param-group key: the lr a schedule scales the group's lr from at every step."""

LAYER_GROUP = "layer_group"
"""Optimizer param-group key: the index in ``layer_groups()`` of the group's layer group."""


@runtime_checkable
class DescribedData(Protocol):
    """Every data module: the model's constructor arguments that only the data knows."""

    def describe(self) -> dict[str, Any]:
        """E.g. cardinalities and embedding sizes, vocabulary size and pad index, number of classes."""
        ...


@runtime_checkable
class PredictingData(DescribedData, Protocol):
    """A data module whose task can predict (``predict=true``)."""

    def write_predictions(self, predictions: Sequence[Any], out_dir: str | Path) -> Path:
        """Write what ``Trainer.predict`` returned as the task's file (``predictions.csv``); its path."""
        ...


@runtime_checkable
class OptionalTestSet(Protocol):
    """A data module whose ``test_dataloader`` has rows only with some settings (a table's ``test_pct``)."""

    @property
    def has_test_set(self) -> bool:
        """True when there are test rows to evaluate."""
        ...


@runtime_checkable
class Exporting(Protocol):
    """A data module or a model that leaves artifacts of a finished run (``encoder.pt``, ``vocab.json``)."""

    def export(self, out_dir: str | Path) -> Path | None:
        """Write the artifacts into the run directory ``out_dir``."""
        ...


@runtime_checkable
class RecipeModel(Protocol):
    """A model that the schedules, unfreezing and the lr finder can drive by layer groups."""

    def layer_groups(self) -> list[nn.Module]:
        """The model split for discriminative lrs and freezing, input side first."""
        ...

    def freeze_to(self, n: int) -> None:
        """Freeze the layer groups before index ``n``: ``freeze_to(-k)`` leaves the last k trainable."""
        ...

    def group_lrs(self) -> list[float]:
        """The peak lr of each layer group."""
        ...
