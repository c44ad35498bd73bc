"""Gradual unfreezing (ULMFiT): the number of trainable layer groups grows with the epochs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

from lightning_models.callbacks.schedules import EpochSchedule, OneCycle, Piece, piece_at
from lightning_models.contracts import RecipeModel


class GradualUnfreezing(Callback):
    """Train the last ``k`` layer groups from a given epoch on: ``schedule`` maps epoch -> k.

    ``k`` is a number of groups counted from the output side or ``"all"``; epochs before the first
    key train every group. The stage is recomputed from the epoch at every epoch start, so a resumed
    run is in the right stage. Works with any ``RecipeModel`` (see ``lightning_models.contracts``),
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
        if not isinstance(pl_module, RecipeModel):
            raise TypeError(
                f"GradualUnfreezing needs a module with layer groups and freeze_to(); "
                f"{type(pl_module).__name__} has none (subclass lightning_models.RecipeModule)"
            )

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        k = self.trainable_at(trainer.current_epoch)
        pl_module.freeze_to(0 if k == "all" else -k)


class UnfreezingStages(EpochSchedule):
    """ULMFiT's recipe in one fit: stages that each unfreeze more layer groups and run their own cycles.

    ``stages`` is a list of ``{"groups": k or "all", "epochs": n, "lr_mult": f}``: for ``n`` epochs the
    last ``k`` layer groups train, and every group's lr follows one ``cycle`` scaled by ``f``. The
    ``cycle`` is a shape with ``lr_at``/``momentum_at`` (a ``OneCycle``, by default its own defaults:
    cosine, ``div=25``, ``pct_start=0.25``, ``final_div=1e5``, moms (0.95, 0.85, 0.95); ULMFiT's slanted
    triangular rate is ``OneCycle(div=32, pct_start=0.1, final_div=32, anneal="linear")``). A stage may
    give its own ``"cycle"`` (a ``Constant`` lr, SGDR's ``Cosine``, another triangle) and ``"cycles": c``,
    ``c`` equal cycles over its epochs (the lesson's ``fit(lrs, 7, cycle_len=2)`` is 14 epochs, 7
    cycles). The peaks keep the module's discriminative lrs (``lr / lr_div ** k``). The stages' total
    sets the trainer's epoch count when it has none (see ``EpochSchedule``); the stage is recomputed
    from the step, so a resumed run continues where it was.
    """

    def __init__(self, stages: Sequence[Mapping], cycle: OneCycle | None = None) -> None:
        super().__init__()
        if not stages:
            raise ValueError("UnfreezingStages needs at least one stage such as {groups: 1, epochs: 1, lr_mult: 1}")
        self.cycle = cycle if cycle is not None else OneCycle()
        self.stages = []
        for i, stage in enumerate(stages):
            groups, epochs, cycles = stage.get("groups", "all"), stage.get("epochs", 1), stage.get("cycles", 1)
            if not (groups == "all" or (isinstance(groups, int) and groups >= 1)) or int(epochs) < 1 or cycles < 1:
                raise ValueError(
                    f"UnfreezingStages stage {i}: groups must be >= 1 or 'all', epochs and cycles >= 1; got {stage}"
                )
            self.stages.append(
                {
                    "groups": groups,
                    "epochs": int(epochs),
                    "lr_mult": float(stage.get("lr_mult", 1.0)),
                    "cycle": stage.get("cycle") or self.cycle,
                    "cycles": int(cycles),
                }
            )
        # each stage's cycles, laid end to end: (stage index, its cycle shape) per piece
        self._cycles = [(i, s["cycle"]) for i, s in enumerate(self.stages) for _ in range(s["cycles"])]
        self._applied: int | None = None

    def pieces(self) -> list[Piece]:
        pieces = []
        for index, shape in self._cycles:
            stage = self.stages[index]
            length = stage["epochs"] / stage["cycles"]
            pieces.append((length, lambda pct, f=stage["lr_mult"], c=shape: f * c.lr_at(pct)))
        return pieces

    def stage_at(self, step: int) -> tuple[int, float]:
        """The index of the stage ``step`` is in, and how far into its current cycle (0..1)."""
        piece, pct = piece_at(self.pieces_in_steps(), step)
        return self._cycles[piece][0], pct

    def momentum(self, step: int) -> float | None:
        piece, pct = piece_at(self.pieces_in_steps(), step)
        return self._cycles[piece][1].momentum_at(pct)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if not isinstance(pl_module, RecipeModel):
            raise TypeError(f"UnfreezingStages needs a module with freeze_to(); {type(pl_module).__name__} has none")
        self._applied = None
        super().setup(trainer, pl_module, stage)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        index = self.stage_at(trainer.global_step)[0]
        if index != self._applied:
            groups = self.stages[index]["groups"]
            pl_module.freeze_to(0 if groups == "all" else -groups)
            self._applied = index
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
