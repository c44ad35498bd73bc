"""Learning-rate (and momentum) schedules that act at every optimizer step.

A schedule is a function of the position in training, built from pieces laid end to end (fastai's
idea of combining schedules): SGDR is a flat piece and cosine cycles, one-cycle a warm-up piece and
an annealing piece. Each schedule scales every optimizer param group from that group's own
``peak_lr`` (set by ``lightning_models.optim``; a plain optimizer's starting lr is taken as its
peak), so schedules compose with discriminative learning rates and with unfreezing. The position is
``trainer.global_step`` out of all the fit's steps, which a resumed run restores, so a schedule
needs no state of its own.

Schedules with a length of their own in epochs (SGDR's cycles, the unfreezing stages) set the
trainer's epoch count when it has none, and otherwise stretch or shrink to the epochs it has.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info

from lightning_models.contracts import PEAK_LR

# Lightning's max_epochs when none is given (it warns and sets this value)
LIGHTNING_DEFAULT_MAX_EPOCHS = 1000

Piece = tuple[float, Callable[[float], float]]
"""A length and the value at each point (0..1) through it."""


def anneal(start: float, end: float, pct: float, kind: str) -> float:
    """Value ``pct`` (0..1) of the way from ``start`` to ``end``, along a half cosine or a line."""
    if kind == "cos":
        return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2
    if kind == "linear":
        return start + (end - start) * pct
    raise ValueError(f"unknown annealing {kind!r}: choose 'cos' or 'linear'")


def piece_at(pieces: Sequence[Piece], position: float) -> tuple[int, float]:
    """Which piece ``position`` (in the pieces' length unit) falls in, and how far into it (0..1)."""
    start = 0.0
    for i, (length, _) in enumerate(pieces):
        if position < start + length:
            return i, (position - start) / length
        start += length
    return len(pieces) - 1, 1.0


def combine(pieces: Sequence[Piece], position: float) -> float:
    """The value of ``pieces`` laid end to end, at ``position`` (in the pieces' length unit)."""
    i, pct = piece_at(pieces, position)
    return pieces[i][1](pct)


def total_length(pieces: Sequence[Piece]) -> float:
    return sum(length for length, _ in pieces)


class StepSchedule(Callback):
    """Base: subclasses give ``lr_factor(step)`` and, optionally, ``momentum(step)``, where ``step``
    counts the optimizer steps out of ``total_steps`` (all of the fit's steps)."""

    def __init__(self) -> None:
        self.total_steps = 1

    def lr_factor(self, step: int) -> float:
        raise NotImplementedError

    def momentum(self, step: int) -> float | None:
        return None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.total_steps = max(1, int(trainer.estimated_stepping_batches))
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group.setdefault(PEAK_LR, group["lr"])

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        step = trainer.global_step
        factor = self.lr_factor(step)
        mom = self.momentum(step)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group[PEAK_LR] * factor
                if mom is None:
                    continue
                if "betas" in group:
                    group["betas"] = (mom, group["betas"][1])
                elif "momentum" in group:
                    group["momentum"] = mom


class EpochSchedule(StepSchedule):
    """A schedule of pieces measured in epochs, with a length of its own (``n_epochs``).

    When the trainer has no epoch count of its own (Lightning's unset default), the schedule sets
    it; when it has another, the schedule stretches or shrinks onto it, keeping its shape.
    """

    def pieces(self) -> list[Piece]:
        raise NotImplementedError

    @property
    def n_epochs(self) -> int:
        return math.ceil(total_length(self.pieces()))

    def pieces_in_steps(self) -> list[Piece]:
        """The pieces with their lengths in optimizer steps, so that a step at a piece boundary is exact."""
        pieces = self.pieces()
        scale = self.total_steps / total_length(pieces)
        return [(length * scale, value) for length, value in pieces]

    def lr_factor(self, step: int) -> float:
        return combine(self.pieces_in_steps(), step)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        loop = trainer.fit_loop
        if loop.max_epochs in (None, -1, LIGHTNING_DEFAULT_MAX_EPOCHS) and trainer.max_steps == -1:
            loop.max_epochs = self.n_epochs
        elif loop.max_epochs != self.n_epochs:
            rank_zero_info(
                f"{type(self).__name__}: its {self.n_epochs} epochs are scaled onto trainer.max_epochs="
                f"{loop.max_epochs}; leave max_epochs unset (null) for the schedule's own length"
            )


class SGDR(EpochSchedule):
    """Cosine annealing with warm restarts (Loshchilov & Hutter), the lesson's ``cycle_len``/``cycle_mult``.

    Cycle i lasts ``cycle_len * cycle_mult**i`` epochs and anneals from the peak lr to 0; ``cycles``
    lists the cycle lengths instead. The first ``flat_epochs`` run at the peak lr before the first
    cycle (the lesson's plain ``fit(lr, n)`` before ``cycle_len``). With ``warmup`` the first 1/20 of
    the first cycle runs at lr/100 and the cosine then goes on from that point, as fastai 0.7 did.
    With ``snapshot_name`` a checkpoint ``<name>_cyc_<i>.ckpt`` is saved at the end of each cycle.
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
        if cycles and (cycle_len, cycle_mult, n_cycles) != (1, 1, 1):
            raise ValueError(
                f"SGDR got cycles={list(cycles)} and cycle_len/cycle_mult/n_cycles="
                f"{cycle_len}/{cycle_mult}/{n_cycles}: "
                f"cycles lists the cycle lengths itself; give one or the other (cycles=null to use cycle_len)"
            )
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

    def pieces(self) -> list[Piece]:
        flat = [(self.flat_epochs, Constant().lr_at)] if self.flat_epochs else []
        cycles = [(epochs, Cosine(warmup=self.warmup and i == 0).lr_at) for i, epochs in enumerate(self.cycle_epochs)]
        return flat + cycles

    def cycle_ends(self) -> list[int]:
        """The epoch at which each cycle ends."""
        return [self.flat_epochs + sum(self.cycle_epochs[: i + 1]) for i in range(self.n_cycles)]

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        if self.snapshot_name is None:
            return
        step, steps_per_epoch = trainer.global_step, self.total_steps / self.n_epochs
        for i, end in enumerate(self.cycle_ends()):
            if step - 1 < end * steps_per_epoch <= step:
                path = Path(trainer.default_root_dir) / "checkpoints" / f"{self.snapshot_name}_cyc_{i}.ckpt"
                trainer.save_checkpoint(path, weights_only=False)


class Constant:
    """The shape of a fit at one lr (the lesson's plain ``fit(lr, n)``), for ``UnfreezingStages``."""

    def lr_at(self, pct: float) -> float:
        return 1.0

    def momentum_at(self, pct: float) -> float | None:
        return None


class Cosine:
    """The shape of one SGDR cycle: the peak annealed to 0 along a half cosine. With ``warmup`` the
    first 1/20 runs at the peak/100, and the cosine goes on from that point, as fastai 0.7 did."""

    def __init__(self, warmup: bool = False) -> None:
        self.warmup = warmup

    def lr_at(self, pct: float) -> float:
        return 0.01 if self.warmup and pct < 1 / 20 else anneal(1.0, 0.0, pct, "cos")

    def momentum_at(self, pct: float) -> float | None:
        return None


class OneCycle(StepSchedule):
    """One cycle (Smith): lr from peak/``div`` up to the peak over ``pct_start``, then down to peak/``final_div``.

    ``moms`` cycles SGD momentum or Adam's beta1 the opposite way (None leaves it alone). With
    ``anneal="linear"`` this is the lesson's triangular ``use_clr=(div, cut_div)`` (``pct_start =
    1/cut_div``, ``final_div = div``) and ULMFiT's slanted triangular rate (``div=32``,
    ``pct_start=0.1``, ``final_div=32``). ``lr_at`` and ``momentum_at`` give the shape alone, for
    schedules that run several cycles (``UnfreezingStages``).
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

    def _cycle(self, pct: float, values: Sequence[float]) -> float:
        kind = self.anneal
        pieces = [
            (self.pct_start, lambda p: anneal(values[0], values[1], p, kind)),
            (1 - self.pct_start, lambda p: anneal(values[1], values[2], p, kind)),
        ]
        return combine(pieces, pct)

    def lr_at(self, pct: float) -> float:
        """The lr factor ``pct`` (0..1) of the way through the cycle."""
        return self._cycle(pct, (1 / self.div, 1.0, 1 / self.final_div))

    def momentum_at(self, pct: float) -> float | None:
        return None if self.moms is None else self._cycle(pct, self.moms)

    def lr_factor(self, step: int) -> float:
        return self.lr_at(step / self.total_steps)

    def momentum(self, step: int) -> float | None:
        return self.momentum_at(step / self.total_steps)


class FlatCos(StepSchedule):
    """The peak lr for the first ``pct_start`` of training, then a half cosine down to 0."""

    def __init__(self, pct_start: float = 0.75) -> None:
        super().__init__()
        if not 0 <= pct_start < 1:
            raise ValueError(f"FlatCos pct_start must lie in [0, 1), got {pct_start}")
        self.pct_start = pct_start

    def lr_factor(self, step: int) -> float:
        pieces = [(self.pct_start, lambda p: 1.0), (1 - self.pct_start, lambda p: anneal(1.0, 0.0, p, "cos"))]
        return combine(pieces, step / self.total_steps)
