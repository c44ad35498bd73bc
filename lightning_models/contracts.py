"""What the training entry point needs of a data module, and what the recipe callbacks need of a model.

The Protocols are structural: a data module or a model meets one by having its methods, without
inheriting anything (``RecipeModule`` meets ``RecipeModel``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
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
class SelfContainedData(DescribedData, Protocol):
    """A data module whose trained model can be used on new inputs without the training data (``load_run``)."""

    def preprocessing(self) -> Any:
        """What reading new inputs needs (codes, vocabulary, normalization...), as a ``Preprocessing``
        whose ``to_dict()`` is plain JSON; the run writes it as ``preprocessing.json``."""
        ...


@runtime_checkable
class Mixable(Protocol):
    """A model that trains on MixUp's mixed rows: it mixes its inputs and targets by ``mix_plan`` when the
    ``MixUp`` callback has set one (a ``lightning_models.mixup.MixPlan``; None for plain batches)."""

    mix_plan: Any


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


class ItemScores(NamedTuple):
    """What a model made of each item of a batch, for the reports: tensors with one row per item."""

    prediction: torch.Tensor
    """The likeliest class's code, or the predicted value(s) in the target's own units."""
    target: torch.Tensor
    """The label's code, or the true value(s)."""
    loss: torch.Tensor
    """The item's loss, as training counts it (1-D)."""


@runtime_checkable
class ScoresItems(Protocol):
    """A model whose validation items the reports (``lightning_models/callbacks/reports.py``) can look at one by one."""

    def score_items(self, batch: Any) -> ItemScores:
        """Each item's prediction, target and loss in an evaluation batch (already on the model's device)."""
        ...


@runtime_checkable
class ReportedData(Protocol):
    """A data module whose validation rows the reports can read in order."""

    def report_dataloader(self) -> Iterable[Any]:
        """The validation batches, rows in order, in this process alone (not dealt out to DDP ranks)."""
        ...


@runtime_checkable
class ClassifiedData(ReportedData, Protocol):
    """A data module whose target is a class: the names of the classes and of the validation items."""

    @property
    def class_names(self) -> list[str]:
        """The class of each label code; empty when the target is a number."""
        ...

    def valid_items(self, rows: Sequence[int]) -> list[str]:
        """What validation rows ``rows`` are, for a reader: a file, a text, a row number."""
        ...


@runtime_checkable
class ImageData(ClassifiedData, Protocol):
    """A classified data module of images, which the reports can show."""

    def valid_images(self, rows: Sequence[int]) -> torch.Tensor:
        """Validation rows ``rows`` as they are shown: uint8, (N, channels, height, width)."""
        ...
