"""Lightning's learning-rate sweep before training, our suggestion from it, its result kept in the run directory."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytorch_lightning as pl
from numpy.lib.stride_tricks import sliding_window_view
from pytorch_lightning.callbacks import LearningRateFinder
from pytorch_lightning.tuner.lr_finder import _determine_lr_attr_name
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn
from pytorch_lightning.utilities.parsing import lightning_getattr, lightning_setattr

from lightning_models.callbacks.pyplot import pyplot
from lightning_models.contracts import LAYER_GROUP, PEAK_LR, RecipeModel

SEARCH_DECADES = 2.0  # how far below the loss minimum (in decades of lr) the steepest descent is looked for
MIN_DROP = 0.02  # the fraction of the loss the curve must fall by, from its plateau, to count as falling
NOISE_MULTIPLE = 3.0  # ... and by this many times the curve's noise
EDGE_FRACTION = 0.04  # the share of the sweep's first points where a suggestion is "at the edge" (see below)
MIN_POINTS = 5
LIGHTNING_LOSS_BETA = 0.98  # the moving average of Lightning's sweep losses (``_LRCallback``'s default)


@dataclass(frozen=True)
class LRSuggestion:
    """An lr to train at, or ``lr=None`` when the sweep gave none worth using; ``reason`` says which."""

    lr: float | None
    reason: str


def suggest_lr(lrs: Sequence[float], losses: Sequence[float]) -> LRSuggestion:
    """The lr of steepest loss descent within ``SEARCH_DECADES`` below the loss minimum.

    Lightning's own rule (steepest slope against the lr itself, over the whole curve) lands on the
    noise of the flat low-lr start; here the curve is smoothed, slopes are taken against log lr,
    and only the descent into the minimum counts. Where the sweep is too coarse to show that
    descent, a tenth of the lr at the minimum is suggested. A curve that never falls, rises from
    the start, or whose suggestion is at the very start of the sweep gives no suggestion.
    """
    lrs_kept, losses_kept = _finite_points(lrs, losses)
    if len(losses_kept) < MIN_POINTS:
        return LRSuggestion(None, f"the sweep has only {len(losses_kept)} finite losses, {MIN_POINTS} are needed")
    log_lrs = np.log10(lrs_kept)
    window = _window(len(losses_kept))
    smooth = smooth_curve(losses_kept, window)
    edge = max(2, round(EDGE_FRACTION * len(smooth))) + window // 2  # the smoothing flattens the first points
    lowest = int(np.argmin(smooth))
    if lowest < edge:
        return LRSuggestion(None, "the loss never falls below its start (min_lr may already be too high)")
    if not _falls_meaningfully(log_lrs, losses_kept, smooth, lowest):
        return LRSuggestion(None, "the loss never falls meaningfully over the sweep")
    steepest = _steepest_descent_before(log_lrs, smooth, lowest)
    if steepest is None:
        suggestion = LRSuggestion(float(lrs_kept[lowest]) / 10, "a tenth of the lr at the loss minimum")
    else:
        suggestion = LRSuggestion(float(lrs_kept[steepest]), "the steepest descent before the loss minimum")
    if suggestion.lr <= lrs_kept[edge - 1]:
        return LRSuggestion(
            None, f"the suggestion ({suggestion.lr:.3g}) is at the very start of the sweep (lower min_lr)"
        )
    return suggestion


def undo_warmup_bias(losses: Sequence[float], start_step: int = 0, beta: float = LIGHTNING_LOSS_BETA) -> list[float]:
    """Lightning's sweep losses as a correctly debiased moving average.

    Lightning divides its average by ``1 - beta ** (global_step + 1)`` with the step already
    counted, so the first losses come out up to half too low and the curve seems to rise from the
    start; this divides by ``1 - beta ** n_averaged`` instead (nan entries, batches without a
    loss, are not in the average).
    """
    values = np.asarray(losses, dtype=float)
    averaged = np.maximum(np.cumsum(np.isfinite(values)), 1)
    return list(values * (1 - beta ** (start_step + averaged + 1)) / (1 - beta**averaged))


def smooth_curve(losses: np.ndarray, window: int) -> np.ndarray:
    """A centred running median (drops spikes) followed by a centred running mean (evens out the rest)."""
    return _running(np.mean, _running(np.median, losses, window), window)


def _running(statistic, values: np.ndarray, window: int) -> np.ndarray:
    padded = np.pad(values, window // 2, mode="edge")
    return statistic(sliding_window_view(padded, window), axis=1)


def _window(n_points: int) -> int:
    """An odd window of about a twentieth of the sweep, at least 3 points."""
    return max(3, (n_points // 20) | 1)


def _finite_points(lrs: Sequence[float], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    lrs_array, losses_array = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    kept = np.isfinite(losses_array) & np.isfinite(lrs_array) & (lrs_array > 0)
    return lrs_array[kept], losses_array[kept]


def _falls_meaningfully(log_lrs: np.ndarray, losses: np.ndarray, smooth: np.ndarray, lowest: int) -> bool:
    """The minimum lies clearly below the plateau before the descent: by a share of the loss and
    beyond the noise, the larger of the plateau's spread and the curve's scatter about its smoothing.
    """
    plateau = losses[log_lrs < log_lrs[lowest] - SEARCH_DECADES]
    if len(plateau) < MIN_POINTS:
        plateau = losses[: max(MIN_POINTS, len(losses) // 10)]
    level = float(np.median(plateau))
    noise = max(_spread(plateau), _spread(losses - smooth))
    return level - smooth[lowest] > max(MIN_DROP * abs(level), NOISE_MULTIPLE * noise)


def _spread(values: np.ndarray) -> float:
    """A standard deviation that ignores outliers: the scaled median absolute deviation."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _steepest_descent_before(log_lrs: np.ndarray, smooth: np.ndarray, lowest: int) -> int | None:
    """The index of the most negative slope (against log lr) in the decades before ``lowest``; ``None``
    when the sweep is too coarse to show the descent there (under 3 points) or nothing descends.
    """
    slopes = np.gradient(smooth, log_lrs)
    window = np.flatnonzero(log_lrs[: lowest + 1] >= log_lrs[lowest] - SEARCH_DECADES)
    steepest = int(window[np.argmin(slopes[window])])
    return steepest if len(window) >= 3 and slopes[steepest] < 0 else None


class LRFinder(LearningRateFinder):
    """Sweeps the lr before ``fit``, trains from ``suggest_lr``'s suggestion, and writes ``lr_find.csv``
    (and ``lr_find.png`` when matplotlib is installed) to the run directory.

    The sweep's losses are Lightning's, with their warm-up bias undone (``undo_warmup_bias``).
    Lightning is kept from applying its own suggestion. Ours becomes the module's lr; a ``RecipeModel``
    (see ``lightning_models.contracts``) gets its discriminative lrs back, scaled from it, and
    every group's ``peak_lr`` is set so that the schedules start from it. With no usable suggestion
    the configured lr is kept, with a warning. ``update_attr=False`` sweeps without changing the lr.
    """

    def __init__(self, *, update_attr: bool = True, **kwargs: Any) -> None:
        super().__init__(update_attr=False, **kwargs)
        self.apply_suggestion = update_attr
        self.suggestion: LRSuggestion | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        attr_name = _determine_lr_attr_name(pl_module, self._attr_name) if self.apply_suggestion else None
        start_step = trainer.global_step
        self.lr_find(trainer, pl_module)
        if self.optimal_lr is not None:
            results = self.optimal_lr.results
            results["loss"] = undo_warmup_bias(results["loss"], start_step)
            self.suggestion = suggest_lr(results["lr"], results["loss"])
            if attr_name is not None and self.suggestion.lr is not None:
                self._apply_lr(trainer, pl_module, attr_name, self.suggestion.lr)
        self._set_peaks(trainer, pl_module)
        if self.suggestion is not None and trainer.is_global_zero:
            self._report(trainer, pl_module, attr_name)

    @staticmethod
    def _apply_lr(trainer: pl.Trainer, pl_module: pl.LightningModule, attr_name: str, lr: float) -> None:
        lightning_setattr(pl_module, attr_name, lr)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr

    @staticmethod
    def _set_peaks(trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        lrs = pl_module.group_lrs() if isinstance(pl_module, RecipeModel) else None
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                if lrs is not None and LAYER_GROUP in group:
                    group["lr"] = lrs[group[LAYER_GROUP]]
                group[PEAK_LR] = group["lr"]

    def _report(self, trainer: pl.Trainer, pl_module: pl.LightningModule, attr_name: str | None) -> None:
        """Write the sweep and its plot; log the suggestion, or warn that there is none."""
        out = Path(trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        self._write_csv(out / "lr_find.csv")
        if (plt := pyplot()) is not None:
            self._write_plot(plt, out / "lr_find.png")
        lr, reason = self.suggestion.lr, self.suggestion.reason
        if lr is None:
            configured = f"lr={lightning_getattr(pl_module, attr_name)}" if attr_name else "the configured lr"
            rank_zero_warn(
                f"the lr finder gave no usable suggestion: {reason}; training at {configured}. "
                f"Look at the sweep in {out / 'lr_find.png'} (or {out / 'lr_find.csv'}) and set the lr "
                "yourself, or widen the sweep (min_lr, max_lr, num_training_steps)."
            )
            return
        if trainer.logger is not None:
            trainer.logger.log_metrics({"lr_find/suggestion": lr})
        applied = "training from it" if self.apply_suggestion else "not applied (update_attr=False)"
        rank_zero_info(f"lr finder suggests lr={lr:.3g}, {reason}; {applied} (sweep in {out / 'lr_find.csv'})")

    def _write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["lr", "loss"])
            writer.writerows(zip(self.optimal_lr.results["lr"], self.optimal_lr.results["loss"], strict=True))

    def _write_plot(self, plt: ModuleType, path: Path) -> None:
        fig = self.optimal_lr.plot(suggest=False)
        ax = fig.axes[0]
        if self.suggestion.lr is None:
            ax.set_title(f"no suggestion: {self.suggestion.reason}", fontsize="small")
        else:
            ax.axvline(self.suggestion.lr, color="red", linestyle="--", label=f"suggestion {self.suggestion.lr:.3g}")
            ax.legend()
        fig.savefig(path)
        plt.close(fig)
