"""What a finished run looks like as pictures and tables, written to the run directory after ``fit``.

The callbacks ask nothing of a family but the contracts of ``lightning_models/contracts.py``: a model
that scores items (``ScoresItems``), data that gives its validation rows in order (``ReportedData``),
with class and item names (``ClassifiedData``) and images (``ImageData``). A run whose model or data
lacks them is skipped without a word (language models, style transfer). They run on rank zero only
and evaluate the plain module, so under DDP no rank waits on a collective that the others never join.
Under ``fast_dev_run`` (a check that the code runs, on a batch or two) they write nothing, as Lightning's
own checkpoints and loggers do.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.trainer.states import RunningStage
from pytorch_lightning.utilities import rank_zero_only

from lightning_models.callbacks.pyplot import pyplot
from lightning_models.callbacks.report_files import (
    confusion_matrix,
    plot_confusion_matrix,
    plot_epoch_metrics,
    plot_images,
    plot_pred_vs_true,
    top_losses,
)
from lightning_models.contracts import ClassifiedData, ImageData, ItemScores, ReportedData, ScoresItems

MAX_ROWS = 10_000
"""The validation rows a report evaluates at most: enough for its tables and plots, cheap on any dataset."""


@torch.no_grad()
def score_validation(
    trainer: pl.Trainer, module: pl.LightningModule, data: ReportedData, max_rows: int
) -> ItemScores | None:
    """A ``ScoresItems`` module's scores of the first ``max_rows`` validation rows, in row order (None when none).

    The module is evaluated as itself (not its DDP wrapper), in eval mode, on the trainer's device and
    under its precision, with the batches prepared as validation prepares them (no augmentation); its
    mode and device (after ``fit`` Lightning has moved it to the CPU) and the trainer's stage are put back
    afterwards.
    """
    was_training, home, device = module.training, module.device, trainer.strategy.root_device
    stage = trainer.state.stage
    module.eval().to(device)
    # the stage that batch hooks read: after fit it is still "train", which augments image batches
    trainer.state.stage = RunningStage.VALIDATING
    parts, n_rows = [], 0
    try:
        with trainer.precision_plugin.val_step_context():
            for batch in data.report_dataloader():
                batch = module._on_before_batch_transfer(trainer.precision_plugin.convert_input(batch))
                scores = module.score_items(module._apply_batch_transfer_handler(batch, device))
                parts.append(ItemScores(*(t.detach().cpu() for t in scores)))
                n_rows += len(scores.loss)
                if n_rows >= max_rows:
                    break
    finally:
        trainer.state.stage = stage
        module.to(home).train(was_training)
    if not n_rows:
        return None
    return ItemScores(*(torch.cat(column)[:max_rows] for column in zip(*parts, strict=True)))


def reporting(trainer: pl.Trainer) -> bool:
    """A report is worth drawing: the run trained for real (not ``fast_dev_run``)."""
    return not trainer.fast_dev_run


def run_dir(trainer: pl.Trainer) -> Path:
    out = Path(trainer.default_root_dir)
    out.mkdir(parents=True, exist_ok=True)
    return out


class EpochCurves(Callback):
    """``loss_curves.png`` after ``fit`` (with matplotlib): every ``train/`` and ``val/`` metric by epoch,
    losses on one panel and the other metrics on another.

    The values are the trainer's at each epoch's end (a step-logged metric: its last value), kept by the
    callback rather than read from ``metrics.csv``, which has no training rows when an epoch is shorter
    than ``log_every_n_steps``; they travel in checkpoints, so a resumed run draws every epoch.
    """

    def __init__(self) -> None:
        self.history: dict[int, dict[str, float]] = {}

    def _record(self, trainer: pl.Trainer, prefix: str) -> None:
        values = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(prefix)}
        self.history.setdefault(trainer.current_epoch, {}).update(values)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            self._record(trainer, "val/")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._record(trainer, "train/")

    def state_dict(self) -> dict:
        return {"history": {epoch: dict(values) for epoch, values in self.history.items()}}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = {int(epoch): dict(values) for epoch, values in state_dict["history"].items()}

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epochs = pd.DataFrame.from_dict(self.history, orient="index").sort_index()
        if reporting(trainer) and not epochs.empty and (plt := pyplot()) is not None:
            plot_epoch_metrics(plt, epochs, run_dir(trainer) / "loss_curves.png")


class ValidationReport(Callback):
    """After ``fit``, how the model does on the first ``max_rows`` validation rows (``MAX_ROWS``, 10,000, so
    that the report stays cheap on a large validation set).

    A classifier's run gets ``confusion_matrix.csv`` (rows the true class, columns the predicted one) and
    ``.png``, and ``top_losses.csv``: the ``n_top`` items with the largest loss, with their row, what they
    are, label, prediction and loss (and for images ``top_losses.png``, their grid). A regression's run gets
    ``pred_vs_true.png``. The PNGs need matplotlib.
    """

    def __init__(self, max_rows: int = MAX_ROWS, n_top: int = 16) -> None:
        if max_rows < 1 or n_top < 1:
            raise ValueError(f"max_rows and n_top must be at least 1, got {max_rows} and {n_top}")
        self.max_rows = max_rows
        self.n_top = n_top

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        if not (reporting(trainer) and isinstance(pl_module, ScoresItems) and isinstance(data, ReportedData)):
            return
        scores = score_validation(trainer, pl_module, data, self.max_rows)
        if scores is None:
            return
        classes = data.class_names if isinstance(data, ClassifiedData) else []
        if classes:
            self.write_classification(data, classes, scores, run_dir(trainer))
        elif (plt := pyplot()) is not None:
            plot_pred_vs_true(plt, scores.prediction, scores.target, run_dir(trainer) / "pred_vs_true.png")

    def write_classification(self, data: ClassifiedData, classes: list[str], scores: ItemScores, out: Path) -> None:
        matrix = confusion_matrix(scores.prediction, scores.target, classes)
        matrix.to_csv(out / "confusion_matrix.csv")
        worst = scores.loss.float().argsort(descending=True, stable=True)[: self.n_top]
        table = top_losses(
            worst,
            data.valid_items(worst.tolist()),
            [classes[i] for i in scores.target[worst].tolist()],
            [classes[i] for i in scores.prediction[worst].tolist()],
            scores.loss[worst],
        )
        table.to_csv(out / "top_losses.csv", index=False)
        if (plt := pyplot()) is None:
            return
        plot_confusion_matrix(plt, matrix, out / "confusion_matrix.png")
        if isinstance(data, ImageData):
            titles = [f"{r.label}/{r.prediction}\n{r.loss:.2f}" for r in table.itertuples()]
            plot_images(plt, data.valid_images(table.row.tolist()), titles, out / "top_losses.png")


class PredictionGrid(Callback):
    """``digits.png`` (``filename``) after ``fit``, with matplotlib: the first ``n`` validation images, each
    titled with the class the model predicts (lesson 1's grid of digits)."""

    def __init__(self, n: int = 16, filename: str = "digits.png") -> None:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self.n = n
        self.filename = filename

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        if not (reporting(trainer) and isinstance(pl_module, ScoresItems) and isinstance(data, ImageData)):
            return
        if (plt := pyplot()) is None:
            return
        scores = score_validation(trainer, pl_module, data, self.n)
        if scores is None:
            return
        titles = [data.class_names[i] for i in scores.prediction.tolist()]
        images = data.valid_images(list(range(len(titles))))
        plot_images(plt, images, titles, run_dir(trainer) / self.filename)
