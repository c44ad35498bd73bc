"""A callback for bench/time_to_quality.py: when the first training step began, when each validation ended,
and its metric."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytorch_lightning as pl


class EpochClock(pl.Callback):
    """Writes ``epoch_clock.csv`` (epoch, seconds since ``start``, metric) and ``startup.json`` (seconds
    from ``start`` to the first training step) in the run directory; ``start`` is the time.time() at
    which the benchmark launched the process."""

    def __init__(self, start: float, metric: str) -> None:
        self.start = start
        self.metric = metric
        self.rows: list[tuple[int, float, float]] = []
        self.started = False

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:
        if not self.started:
            self.started = True
            seconds = time.time() - self.start
            (Path(trainer.log_dir) / "startup.json").write_text(json.dumps({"first_step": seconds}))

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # not on_validation_epoch_end: a callback's runs before the module's, which logs the epoch's metric
        if trainer.sanity_checking or self.metric not in trainer.callback_metrics:
            return
        value = float(trainer.callback_metrics[self.metric])
        self.rows.append((trainer.current_epoch, time.time() - self.start, value))
        with open(Path(trainer.log_dir) / "epoch_clock.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["epoch", "seconds", "metric"])
            writer.writerows(self.rows)
