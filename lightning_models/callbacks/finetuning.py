"""Gradual unfreezing (ULMFiT): the number of trainable layer groups grows with the epochs."""

from __future__ import annotations

from collections.abc import Mapping

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback


class GradualUnfreezing(Callback):
    """Train the last ``k`` layer groups from a given epoch on: ``schedule`` maps epoch -> k.

    ``k`` is a number of groups counted from the output side or ``"all"``; epochs before the first
    key train every group. The stage is recomputed from the epoch at every epoch start, so a resumed
    run is in the right stage. Works with any module that has ``freeze_to`` (see ``RecipeModule``),
    also under DDP.
    """

    def __init__(self, schedule: Mapping[int | str, int | str]) -> None:
        if not schedule:
            raise ValueError("GradualUnfreezing needs a schedule such as {0: 1, 1: 2, 2: 'all'}")
        self.schedule = {}
        for epoch, k in schedule.items():
            if not (k == "all" or (isinstance(k, int) and k >= 1)):
                raise ValueError(f"GradualUnfreezing: epoch {epoch} maps to {k!r}; use a count of groups >= 1 or 'all'")
            self.schedule[int(epoch)] = k

    def trainable_at(self, epoch: int) -> int | str:
        """Number of trainable groups (or 'all') in ``epoch``."""
        started = [e for e in self.schedule if e <= epoch]
        return self.schedule[max(started)] if started else "all"

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not hasattr(pl_module, "freeze_to"):
            raise TypeError(
                f"GradualUnfreezing needs a module with layer groups and freeze_to(); "
                f"{type(pl_module).__name__} has none (subclass lightning_models.RecipeModule)"
            )

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        k = self.trainable_at(trainer.current_epoch)
        pl_module.freeze_to(0 if k == "all" else -k)
