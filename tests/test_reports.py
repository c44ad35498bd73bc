"""The reports after fit: hand-made models whose every prediction and loss is known, then real tasks."""

from __future__ import annotations

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image
from torch import nn

from datamodules.batching import TensorBatches, tensor_loader
from lightning_models.callbacks import EpochCurves, PredictionGrid, ValidationReport
from lightning_models.callbacks.pyplot import pyplot
from lightning_models.contracts import ItemScores

HAS_PLOTS = pyplot() is not None
CLASSES = ["cat", "dog", "emu"]
# row i: its label, the class the model predicts and its loss
LABELS = [0, 0, 1, 1, 1, 2, 2, 0, 2, 1]
PREDICTED = [0, 1, 1, 2, 1, 2, 0, 0, 2, 0]
LOSSES = [0.1, 2.0, 0.2, 3.0, 0.3, 0.4, 5.0, 0.5, 0.6, 1.0]


class PlainModel(pl.LightningModule):
    """Learns nothing; validation logs the mean loss its batches say (as a language model, no reports' contract)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))

    def training_step(self, batch, batch_idx):
        loss = (self.w**2).sum()
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", batch[0][:, 1].mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class ScriptedModel(PlainModel):
    """Scores each row as its batch says (columns: prediction, loss), and notes how it was evaluated."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool]] = []  # (module in train mode, trainer in its training stage)

    def score_items(self, batch) -> ItemScores:
        x, y = batch
        self.seen.append((self.training, self.trainer.training))
        return ItemScores(x[:, 0].long(), y, x[:, 1])


class ScriptedData(pl.LightningDataModule):
    """Rows (prediction, loss) with labels; named classes and items and 8x8 images (row i's gray level i)."""

    def __init__(self, classes: list[str] = CLASSES) -> None:
        super().__init__()
        self.rows = TensorBatches(torch.tensor([PREDICTED, LOSSES]).T, torch.tensor(LABELS))
        self.classes = classes

    def train_dataloader(self):
        return tensor_loader(self.rows, 5, shuffle=False)

    def val_dataloader(self):
        return tensor_loader(self.rows, 5, shuffle=False)

    def report_dataloader(self):
        return tensor_loader(self.rows, 4, shuffle=False)

    @property
    def class_names(self) -> list[str]:
        return self.classes

    def valid_items(self, rows):
        return [f"item {i}" for i in rows]

    def valid_images(self, rows):
        return torch.tensor(list(rows), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 8, 8) * 20


def fit(tmp_path, callbacks, model=None, data=None, epochs: int = 2) -> PlainModel:
    model = model or ScriptedModel()
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=callbacks,
        default_root_dir=tmp_path,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=data or ScriptedData())
    return model


def test_a_classifier_gets_its_confusion_matrix_and_its_worst_items_in_order(tmp_path):
    model = fit(tmp_path, [ValidationReport(n_top=3)])
    matrix = pd.read_csv(tmp_path / "confusion_matrix.csv", index_col=0)
    assert list(matrix.index) == CLASSES and list(matrix.columns) == CLASSES
    assert matrix.to_numpy().tolist() == [[2, 1, 0], [1, 2, 1], [1, 0, 2]]  # rows true, columns predicted
    worst = pd.read_csv(tmp_path / "top_losses.csv")
    assert worst.to_dict("list") == {
        "row": [6, 3, 1],
        "item": ["item 6", "item 3", "item 1"],
        "label": ["emu", "dog", "cat"],
        "prediction": ["cat", "emu", "dog"],
        "loss": [5.0, 3.0, 2.0],
    }
    for name in ("confusion_matrix.png", "top_losses.png"):
        assert (tmp_path / name).is_file() == HAS_PLOTS
    # evaluated in eval mode and outside the training stage (no augmentation), then put back
    assert model.seen and all(state == (False, False) for state in model.seen)
    assert model.training


def test_the_report_evaluates_at_most_max_rows(tmp_path):
    fit(tmp_path, [ValidationReport(max_rows=6, n_top=100)])
    assert pd.read_csv(tmp_path / "confusion_matrix.csv", index_col=0).to_numpy().sum() == 6
    assert sorted(pd.read_csv(tmp_path / "top_losses.csv").row) == list(range(6))


def test_regression_gets_pred_vs_true_and_no_class_tables(tmp_path):
    fit(tmp_path, [ValidationReport()], data=ScriptedData(classes=[]))
    assert (tmp_path / "pred_vs_true.png").is_file() == HAS_PLOTS
    assert not (tmp_path / "confusion_matrix.csv").exists() and not (tmp_path / "top_losses.csv").exists()


def test_a_model_without_the_contract_is_skipped(tmp_path):
    fit(tmp_path, [ValidationReport(), PredictionGrid()], model=PlainModel())
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob("*.png"))


@pytest.mark.skipif(not HAS_PLOTS, reason="matplotlib is not installed")
def test_the_grid_shows_the_first_images_and_the_curves_every_epoch(tmp_path):
    curves = EpochCurves()
    fit(tmp_path, [PredictionGrid(n=4, filename="grid.png"), curves], epochs=3)
    assert Image.open(tmp_path / "grid.png").size[0] > 0
    assert Image.open(tmp_path / "loss_curves.png").size[0] > 0
    assert sorted(curves.history) == [0, 1, 2]
    assert all(set(values) == {"train/loss", "val/loss"} for values in curves.history.values())
    assert curves.history[2]["val/loss"] == pytest.approx(sum(LOSSES) / len(LOSSES))
    resumed = EpochCurves()
    resumed.load_state_dict(curves.state_dict())
    assert resumed.history == curves.history


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: ValidationReport(max_rows=0), "max_rows and n_top must be at least 1, got 0 and 16", id="no rows"
        ),
        pytest.param(lambda: PredictionGrid(n=0), "n must be at least 1, got 0", id="no images"),
    ],
)
def test_report_settings_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_real_runs_write_their_reports(run_task, tmp_path):
    plots = {"loss_curves.png", "confusion_matrix.png", "top_losses.png", "digits.png"}
    run_task("mnist_logreg", "trainer.max_epochs=1", "test=false", run_dir=tmp_path / "mnist", reports=True)
    written = {p.name for p in (tmp_path / "mnist").iterdir()}
    assert {"confusion_matrix.csv", "top_losses.csv"} <= written
    assert (plots <= written) == HAS_PLOTS
    matrix = pd.read_csv(tmp_path / "mnist" / "confusion_matrix.csv", index_col=0)
    assert list(matrix.columns) == [str(i) for i in range(10)] and matrix.to_numpy().sum() == 300  # the sample's
    worst = pd.read_csv(tmp_path / "mnist" / "top_losses.csv")
    assert worst.loss.is_monotonic_decreasing and worst.item.str.startswith("valid/").all()

    run_task("movielens", "trainer.max_epochs=1", "test=false", run_dir=tmp_path / "movielens", reports=True)
    written = {p.name for p in (tmp_path / "movielens").iterdir()}
    assert not {"confusion_matrix.csv", "top_losses.csv"} & written
    assert ({"pred_vs_true.png", "loss_curves.png"} <= written) == HAS_PLOTS
