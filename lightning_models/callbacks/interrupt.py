"""Stopping a run with Ctrl-C or SIGTERM leaves a checkpoint that ``ckpt_path=last`` resumes from."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info
from pytorch_lightning.utilities.exceptions import SIGTERMException


class InterruptCheckpoint(Callback):
    """Saves ``last.ckpt`` when training is interrupted, between two training steps.

    Lightning stops at the end of the current step on SIGTERM. The first Ctrl-C is turned into a
    SIGTERM, so it stops at the same point (the second one stops at once): the step in flight finishes,
    with its lr-schedule step and counters, then the checkpoint holds the weights, the optimizer, the
    step count and the data position, so that a resumed run goes on exactly where this one stopped.
    """

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath
        self._previous_handler = None

    def _on_sigint(self, signum, frame) -> None:
        signal.signal(signal.SIGINT, self._previous_handler)
        os.kill(os.getpid(), signal.SIGTERM)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._restore_handler()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._restore_handler()
        if not isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or not trainer.training:
            return
        folder = self.dirpath or (trainer.checkpoint_callback.dirpath if trainer.checkpoint_callback else None)
        path = Path(folder or Path(trainer.default_root_dir) / "checkpoints") / "last.ckpt"
        trainer.save_checkpoint(path, weights_only=False)
        rank_zero_info(f"interrupted at step {trainer.global_step}; saved {path}; resume with ckpt_path=last")

    def _restore_handler(self) -> None:
        if self._previous_handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous_handler)
            self._previous_handler = None
