"""The LightningModule base that the recipe callbacks drive: layer groups, per-group lrs, freezing."""

from __future__ import annotations

from collections.abc import Sequence

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.precision import MixedPrecision
from pytorch_lightning.trainer.states import TrainerFn
from torch import nn

from lightning_models.optim import OPTIMIZERS, discriminative_lrs, make_optimizer, param_groups
from lightning_models.rng import restore_rank_rng_state, rng_states_of_all_ranks


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
        lrs: Sequence[float] | None = None,
        weight_decay: float = 0.0,
        optimizer: str = "adamw",
        betas: Sequence[float] = (0.9, 0.99),
        momentum: float = 0.9,
        eps: float = 1e-8,
        fused: bool = True,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        self.lr = lr
        self.lr_div = lr_div
        self.lrs = list(lrs) if lrs else None
        self.weight_decay = weight_decay
        self.optimizer_name = optimizer
        self.betas = tuple(betas)
        self.momentum = momentum
        self.eps = eps
        self.fused = fused
        self.n_frozen = 0
        self._smooth_loss: torch.Tensor | None = None

    def __setattr__(self, name: str, value) -> None:
        # Lightning sets bookkeeping attributes (``_current_fx_name``...) around every hook call, a few
        # dozen times per step; ``nn.Module.__setattr__`` costs microseconds each, which is a large
        # share of a small model's step. An attribute already in ``__dict__`` is a plain one, so a
        # plain value can be stored directly with the same result.
        if name in self.__dict__ and isinstance(value, (str, bool, int, float, type(None))):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def log_train_loss(self, loss: torch.Tensor, beta: float = 0.98) -> None:
        """Log ``train/loss`` as fastai's smoothed loss (a debiased moving average).

        ``self.log`` costs far more than a small model's step, so the average is kept in a tensor and
        logged only on the steps the trainer writes out (every ``log_every_n_steps``) and at an
        epoch's last batch.
        """
        loss = loss.detach().float()
        if self._smooth_loss is None or self.global_step == 0:
            self._smooth_loss = loss.new_zeros(())
        self._smooth_loss.lerp_(loss, 1 - beta)
        step = self.global_step + 1
        if step % self.trainer.log_every_n_steps == 0 or self.trainer.is_last_batch:
            self.log("train/loss", self._smooth_loss / (1 - beta**step), prog_bar=True)

    def layer_groups(self) -> list[nn.Module]:
        """The model split for discriminative lrs and freezing, input side first."""
        return [self]

    def group_lrs(self) -> list[float]:
        """The peak lr of each layer group: ``lr / lr_div ** (n - 1 - i)``, or ``lrs`` given one per group
        from the input side (fastai 0.7's array of lrs); a shorter list gives its first lr to the first groups."""
        n_groups = len(self.layer_groups())
        if self.lrs is None:
            return discriminative_lrs(self.lr, n_groups, self.lr_div)
        if len(self.lrs) > n_groups:
            raise ValueError(
                f"lrs={self.lrs} gives {len(self.lrs)} lrs for the {n_groups} layer groups of {type(self).__name__}"
            )
        return [self.lrs[0]] * (n_groups - len(self.lrs)) + self.lrs

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return make_optimizer(
            self.optimizer_name,
            param_groups(self.layer_groups(), self.group_lrs(), self.weight_decay),
            betas=self.betas,
            momentum=self.momentum,
            eps=self.eps,
            fused=self.fused and not self._clips_mixed_precision(),
        )

    def _clips_mixed_precision(self) -> bool:
        """Lightning refuses to clip the gradients of a fused optimizer under mixed precision (even bf16)."""
        trainer = self._trainer
        return bool(trainer and trainer.gradient_clip_val and isinstance(trainer.precision_plugin, MixedPrecision))

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
        checkpoint["rng_states"] = rng_states_of_all_ranks()
        checkpoint["smooth_loss"] = self._smooth_loss

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Freeze as the run was and put every rank's random generators where they were (dropout masks and
        augmentations then continue as in an uninterrupted run)."""
        self.freeze_to(checkpoint.get("n_frozen", 0))
        self._smooth_loss = checkpoint.get("smooth_loss")
        if "rng_states" in checkpoint and self._trainer is not None and self.trainer.state.fn == TrainerFn.FITTING:
            restore_rank_rng_state(checkpoint["rng_states"], self.global_rank, self.trainer.world_size)

    def _distributed(self) -> bool:
        return self._trainer is not None and self.trainer.world_size > 1
