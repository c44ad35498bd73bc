"""The LightningModule base that the recipe callbacks drive: layer groups, per-group lrs, freezing."""

from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from torch import nn

from lightning_models.optim import OPTIMIZERS, discriminative_lrs, make_optimizer, param_groups


class RecipeModule(pl.LightningModule):
    """Base of every model here.

    Subclasses build their layers and override ``layer_groups()`` (input side first); this class
    turns the groups into optimizer param groups with discriminative learning rates and implements
    ``freeze_to``. Freezing a group turns off ``requires_grad`` in a single process; under DDP
    (where the wrapped module's parameters must not change) the group's gradients are dropped
    before each optimizer step instead, which has the same effect on the weights and the
    optimizer state.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        lr_div: float = 1.0,
        weight_decay: float = 0.0,
        optimizer: str = "adamw",
        betas: Sequence[float] = (0.9, 0.99),
        momentum: float = 0.9,
        eps: float = 1e-8,
        fused: bool = False,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        self.lr = lr
        self.lr_div = lr_div
        self.weight_decay = weight_decay
        self.optimizer_name = optimizer
        self.betas = tuple(betas)
        self.momentum = momentum
        self.eps = eps
        self.fused = fused
        self.n_frozen = 0

    def layer_groups(self) -> list[nn.Module]:
        """The model split for discriminative lrs and freezing, input side first."""
        return [self]

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = self.layer_groups()
        lrs = discriminative_lrs(self.lr, len(groups), self.lr_div)
        return make_optimizer(
            self.optimizer_name,
            param_groups(groups, lrs, self.weight_decay),
            betas=self.betas,
            momentum=self.momentum,
            eps=self.eps,
            fused=self.fused,
        )

    def freeze_to(self, n: int) -> None:
        """Freeze the layer groups before index ``n``: ``freeze_to(-k)`` leaves the last k trainable."""
        n_groups = len(self.layer_groups())
        self.n_frozen = max(0, min(n if n >= 0 else n_groups + n, n_groups))
        if not self._distributed():
            for i, group in enumerate(self.layer_groups()):
                group.requires_grad_(i >= self.n_frozen)

    def freeze(self) -> None:
        """Train only the last layer group."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        self.freeze_to(0)

    def setup(self, stage: str) -> None:
        if self._distributed():
            for group in self.layer_groups()[: self.n_frozen]:
                group.requires_grad_(True)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.n_frozen and self._distributed():
            for group in self.layer_groups()[: self.n_frozen]:
                for p in group.parameters():
                    p.grad = None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["n_frozen"] = self.n_frozen

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.freeze_to(checkpoint.get("n_frozen", 0))

    def _distributed(self) -> bool:
        return self._trainer is not None and self.trainer.world_size > 1
