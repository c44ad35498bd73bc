"""Learning-rate (and momentum) schedules that act at every optimizer step.

Each schedule scales every optimizer param group from that group's own ``peak_lr`` (set by
``lightning_models.optim``; a plain optimizer's starting lr is taken as its peak), so schedules
compose with discriminative learning rates and with unfreezing. The position in the schedule is
``trainer.global_step``, which a resumed run restores, so a schedule needs no state of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback


def anneal(start: float, end: float, pct: float, kind: str) -> float:
    """Value ``pct`` (0..1) of the way from ``start`` to ``end``, along a half cosine or a line."""
    if kind == "cos":
        return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
    if kind == "linear":
        return start + (end - start) * pct
    raise ValueError(f"unknown annealing {kind!r}: choose 'cos' or 'linear'")


def one_cycle(pct: float, values: Sequence[float], pct_start: float, kind: str) -> float:
    """Value ``pct`` (0..1) of the way through one cycle: ``values[0]`` up (or down) to ``values[1]`` over
    the first ``pct_start``, then on to ``values[2]``."""
    if pct < pct_start:
        return anneal(values[0], values[1], pct / pct_start, kind)
    return anneal(values[1], values[2], min(1.0, (pct - pct_start) / (1 - pct_start)), kind)


class StepSchedule(Callback):
    """Base: subclasses give ``lr_factor(step)`` and, optionally, ``momentum(step)``."""

    def __init__(self) -> None:
        self.steps_per_epoch = 1
        self.total_steps = 1

    def lr_factor(self, step: int) -> float:
        raise NotImplementedError

    def momentum(self, step: int) -> float | None:
        return None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.steps_per_epoch = max(1, math.ceil(trainer.num_training_batches / trainer.accumulate_grad_batches))
        self.total_steps = max(1, int(trainer.estimated_stepping_batches))
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group.setdefault("peak_lr", group["lr"])

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        step = trainer.global_step
        factor = self.lr_factor(step)
        mom = self.momentum(step)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group["peak_lr"] * factor
                if mom is None:
                    continue
                if "betas" in group:
                    group["betas"] = (mom, group["betas"][1])
                elif "momentum" in group:
                    group["momentum"] = mom


class SGDR(StepSchedule):
    """Cosine annealing with warm restarts (Loshchilov & Hutter), the lesson's ``cycle_len``/``cycle_mult``.

    Cycle i lasts ``cycle_len * cycle_mult**i`` epochs and anneals from the peak lr to 0; ``cycles``
    lists the cycle lengths instead (the Rossmann lesson: five of 1 epoch, then two of 4). The
    first ``flat_epochs`` run at the peak lr before the first cycle (the lesson's plain ``fit``).
    With ``warmup`` the first 1/20 of the first cycle runs at lr/100 and the cosine then goes on
    from that point, as fastai 0.7 did. The trainer's epoch count is set from the cycles. With
    ``snapshot_name`` a checkpoint ``<name>_cyc_<i>.ckpt`` is saved at the end of each cycle.
    """

    def __init__(
        self,
        cycle_len: int = 1,
        cycle_mult: int = 1,
        n_cycles: int = 1,
        warmup: bool = False,
        snapshot_name: str | None = None,
        flat_epochs: int = 0,
        cycles: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if cycle_len < 1 or cycle_mult < 1 or n_cycles < 1 or min(cycles or [1]) < 1:
            raise ValueError(
                f"SGDR needs cycle_len, cycle_mult, n_cycles and cycles of at least 1, "
                f"got {cycle_len}, {cycle_mult}, {n_cycles}, {cycles}"
            )
        if flat_epochs < 0:
            raise ValueError(f"SGDR flat_epochs must be at least 0, got {flat_epochs}")
        self.cycle_len = cycle_len
        self.cycle_mult = cycle_mult
        self.n_cycles = len(cycles) if cycles else n_cycles
        self.warmup = warmup
        self.snapshot_name = snapshot_name
        self.flat_epochs = flat_epochs
        self.cycles = list(cycles) if cycles else None

    @property
    def cycle_epochs(self) -> list[int]:
        """Length in epochs of each cycle."""
        return self.cycles or [self.cycle_len * self.cycle_mult**i for i in range(self.n_cycles)]

    @property
    def n_epochs(self) -> int:
        return self.flat_epochs + sum(self.cycle_epochs)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            trainer.fit_loop.max_epochs = self.n_epochs

    def lr_factor(self, step: int) -> float:
        flat = self.flat_epochs * self.steps_per_epoch
        if step < flat:
            return 1.0
        step -= flat
        first = self.cycle_epochs[0] * self.steps_per_epoch
        if self.warmup and step < first / 20:
            return 0.01
        start = 0
        for epochs in self.cycle_epochs:
            length = epochs * self.steps_per_epoch
            if step < start + length:
                return anneal(1.0, 0.0, (step - start) / length, "cos")
            start += length
        return 0.0

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.snapshot_name is None:
            return
        ends = [self.flat_epochs + sum(self.cycle_epochs[: i + 1]) for i in range(self.n_cycles)]
        epoch = trainer.current_epoch + 1
        if epoch in ends:
            path = Path(trainer.default_root_dir) / "checkpoints" / f"{self.snapshot_name}_cyc_{ends.index(epoch)}.ckpt"
            trainer.save_checkpoint(path, weights_only=False)


class OneCycle(StepSchedule):
    """One cycle (Smith): lr from peak/``div`` up to the peak over ``pct_start``, then down to peak/``final_div``.

    ``moms`` cycles SGD momentum or Adam's beta1 the opposite way (None leaves it alone). With
    ``anneal="linear"`` this is the lesson's triangular ``use_clr=(div, cut_div)`` (``pct_start =
    1/cut_div``, ``final_div = div``) and ULMFiT's slanted triangular rate (``div=32``,
    ``pct_start=0.1``, ``final_div=32``).
    """

    def __init__(
        self,
        div: float = 25.0,
        pct_start: float = 0.25,
        final_div: float = 1e5,
        moms: Sequence[float] | None = (0.95, 0.85, 0.95),
        anneal: str = "cos",
    ) -> None:
        super().__init__()
        if not 0 < pct_start < 1:
            raise ValueError(f"OneCycle pct_start must lie strictly between 0 and 1, got {pct_start}")
        self.div = div
        self.pct_start = pct_start
        self.final_div = final_div
        self.moms = tuple(moms) if moms is not None else None
        self.anneal = anneal

    def _phase(self, step: int, values: Sequence[float]) -> float:
        return one_cycle(step / self.total_steps, values, self.pct_start, self.anneal)

    def lr_factor(self, step: int) -> float:
        return self._phase(step, (1 / self.div, 1.0, 1 / self.final_div))

    def momentum(self, step: int) -> float | None:
        return None if self.moms is None else self._phase(step, self.moms)


class FlatCos(StepSchedule):
    """The peak lr for the first ``pct_start`` of training, then a half cosine down to 0."""

    def __init__(self, pct_start: float = 0.75) -> None:
        super().__init__()
        if not 0 <= pct_start < 1:
            raise ValueError(f"FlatCos pct_start must lie in [0, 1), got {pct_start}")
        self.pct_start = pct_start

    def lr_factor(self, step: int) -> float:
        pct = step / self.total_steps
        if pct < self.pct_start:
            return 1.0
        return anneal(1.0, 0.0, min(1.0, (pct - self.pct_start) / (1 - self.pct_start)), "cos")
