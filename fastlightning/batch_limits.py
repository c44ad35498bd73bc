"""Fractions of an epoch's batches (``trainer=limit``) that would round to no batch on a small dataset."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytorch_lightning as pl


def fit_limits_of_at_least_one_batch(trainer: pl.Trainer, datamodule: pl.LightningDataModule) -> None:
    """A ``limit_train_batches`` or ``limit_val_batches`` fraction that gives no batch of a rank's loader
    runs one batch instead.

    Lightning refuses ``limit_val_batches=0.1`` for a loader of fewer than ten batches, so ``trainer=limit``
    (a quick look at a whole run) would fail on every built-in sample whose batches are large.
    """
    stages: dict[str, Callable] = {"train": datamodule.train_dataloader, "val": datamodule.val_dataloader}
    for stage, loaders in stages.items():
        key = f"limit_{stage}_batches"
        fraction = getattr(trainer, key)
        if not isinstance(fraction, float) or not 0 < fraction < 1:
            continue
        batches = [len(loader) for loader in as_list(loaders())]
        rank_batches = min((math.ceil(n / trainer.world_size) for n in batches), default=0)
        if 0 < rank_batches * fraction < 1:
            setattr(trainer, key, 1)


def as_list(loaders) -> list:
    """A data module's loaders for one stage: one loader, or a list or dict of them."""
    if isinstance(loaders, dict):
        return list(loaders.values())
    return list(loaders) if isinstance(loaders, (list, tuple)) else [loaders]
