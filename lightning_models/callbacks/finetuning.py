"""Gradual unfreezing (ULMFiT): the number of trainable layer groups grows with the epochs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from lightning_models.callbacks.schedules import StepSchedule, one_cycle


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


class UnfreezingStages(StepSchedule):
    """ULMFiT's recipe in one fit: stages that each unfreeze more layer groups and run their own cycle.

    ``stages`` is a list of ``{"groups": k or "all", "epochs": n, "lr_mult": f}``: for ``n`` epochs the
    last ``k`` layer groups train, and every group's lr follows a one-cycle (``anneal="linear"``,
    ``div=32``, ``pct_start=0.1``: slanted triangular) from ``peak_lr * f / div`` up to ``peak_lr * f``
    and down to ``peak_lr * f / final_div``, with ``moms`` cycled the other way. The peaks keep the
    module's discriminative lrs (``lr / lr_div ** k``). The trainer's epoch count is the stages' total;
    the stage is recomputed from the step, so a resumed run continues where it was.
    """

    def __init__(
        self,
        stages: Sequence[Mapping],
        div: float = 25.0,
        pct_start: float = 0.25,
        final_div: float = 1e5,
        moms: Sequence[float] | None = (0.95, 0.85, 0.95),
        anneal: str = "cos",
    ) -> None:
        super().__init__()
        if not stages:
            raise ValueError("UnfreezingStages needs at least one stage such as {groups: 1, epochs: 1, lr_mult: 1}")
        self.stages = []
        for i, stage in enumerate(stages):
            groups, epochs = stage.get("groups", "all"), stage.get("epochs", 1)
            if not (groups == "all" or (isinstance(groups, int) and groups >= 1)) or int(epochs) < 1:
                raise ValueError(f"UnfreezingStages stage {i}: groups must be >= 1 or 'all', epochs >= 1; got {stage}")
            self.stages.append({"groups": groups, "epochs": int(epochs), "lr_mult": float(stage.get("lr_mult", 1.0))})
        if not 0 < pct_start < 1:
            raise ValueError(f"UnfreezingStages pct_start must lie strictly between 0 and 1, got {pct_start}")
        self.div, self.pct_start, self.final_div, self.anneal = div, pct_start, final_div, anneal
        self.moms = tuple(moms) if moms is not None else None

    @property
    def n_epochs(self) -> int:
        return sum(stage["epochs"] for stage in self.stages)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not hasattr(pl_module, "freeze_to"):
            raise TypeError(f"UnfreezingStages needs a module with freeze_to(); {type(pl_module).__name__} has none")
        if stage == "fit":
            trainer.fit_loop.max_epochs = self.n_epochs

    def stage_at_epoch(self, epoch: int) -> dict:
        end = 0
        for stage in self.stages:
            end += stage["epochs"]
            if epoch < end:
                return stage
        return self.stages[-1]

    def _position(self, step: int) -> tuple[dict, float]:
        """The stage of ``step`` and how far into it (0..1)."""
        start = 0
        for stage in self.stages:
            length = stage["epochs"] * self.steps_per_epoch
            if step < start + length:
                return stage, (step - start) / length
            start += length
        return self.stages[-1], 1.0

    def _cycle(self, pct: float, values: Sequence[float]) -> float:
        return one_cycle(pct, values, self.pct_start, self.anneal)

    def lr_factor(self, step: int) -> float:
        stage, pct = self._position(step)
        return stage["lr_mult"] * self._cycle(pct, (1 / self.div, 1.0, 1 / self.final_div))

    def momentum(self, step: int) -> float | None:
        return None if self.moms is None else self._cycle(self._position(step)[1], self.moms)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        groups = self.stage_at_epoch(trainer.current_epoch)["groups"]
        pl_module.freeze_to(0 if groups == "all" else -groups)
