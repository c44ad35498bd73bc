"""A tiny regression model and data for testing recipes without any real task."""

from __future__ import annotations

import time
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.utilities.exceptions import SIGTERMException
from torch import nn

from datamodules.batching import TensorBatches, tensor_loader
from lightning_models import RecipeModule


class ToyRegressor(RecipeModule):
    """Three layer groups: a linear+batch-norm body, a hidden layer and an output layer."""

    def __init__(self, n_in: int = 4, **optim) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        self.body = nn.Sequential(nn.Linear(n_in, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.hidden = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
        self.out = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(self.body(x))).squeeze(1)

    def layer_groups(self) -> list[nn.Module]:
        return [self.body, self.hidden, self.out]

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self(x), y)
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val/loss", F.mse_loss(self(x), y))


def toy_loader(n_batches: int = 5, batch_size: int = 8, shuffle: bool = True, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n_batches * batch_size, 4, generator=generator)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 0.0])
    return tensor_loader(TensorBatches(x, y), batch_size, shuffle=shuffle, seed=seed)


def toy_trainer(callbacks: list, max_epochs: int | None = 4, **kwargs) -> pl.Trainer:
    return pl.Trainer(
        max_epochs=max_epochs,
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        **kwargs,
    )


class RecordLR(pl.Callback):
    """The lr (and momentum) of every optimizer param group just before each optimizer step."""

    def __init__(self) -> None:
        self.lrs: list[list[float]] = []
        self.moms: list[float] = []
        self.trainable: dict[int, list[bool]] = {}

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.lrs.append([g["lr"] for g in optimizer.param_groups])
        group = optimizer.param_groups[0]
        self.moms.append(group["betas"][0] if "betas" in group else group.get("momentum", 0.0))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            self.trainable[trainer.current_epoch] = [
                all(p.requires_grad for p in g.parameters()) for g in pl_module.layer_groups()
            ]


class StopAfterEpoch(pl.Callback):
    """Ends training after the given epoch, as if the run had been stopped there."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            trainer.should_stop = True


class StopBeforeStep(pl.Callback):
    """Stops training before step ``step`` as a SIGTERM does: InterruptCheckpoint saves last.ckpt."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step == self.step:
            raise SIGTERMException


def val_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The validation figures of a run's metrics."""
    return {key: value for key, value in metrics.items() if key.startswith("val/")}


class SlowAfterStep(pl.Callback):
    """From step ``step`` on, marks ``marker`` and slows training, so a test can signal the run mid-epoch."""

    def __init__(self, step: int, marker: str, delay: float = 0.2) -> None:
        self.step = step
        self.marker = marker
        self.delay = delay

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            Path(self.marker).touch()
            time.sleep(self.delay)
