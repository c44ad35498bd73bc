"""MixUp as a callback: ``callbacks=mixup`` for the image and tabular classifiers."""

from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from lightning_models.contracts import Mixable
from lightning_models.mixup import MixPlan


class MixUp(Callback):
    """Train on mixed pairs of rows (see ``lightning_models.mixup``); validation and testing see plain rows.

    ``alpha`` is Beta's parameter (fastai's default 0.4: most batches stay close to unmixed).
    """

    def __init__(self, alpha: float = 0.4) -> None:
        if alpha <= 0:
            raise ValueError(f"MixUp alpha must be positive, got {alpha}")
        self.alpha = alpha

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(pl_module, Mixable):
            raise ValueError(
                f"callbacks.mixup: {type(pl_module).__name__} does not train on mixed rows; MixUp is for the "
                f"image and tabular classifiers"
            )

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        pl_module.mix_plan = MixPlan.draw(len(batch[0]), self.alpha, pl_module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        pl_module.mix_plan = None
