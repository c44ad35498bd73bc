"""Lightning's learning-rate finder, run before training, with its result kept in the run directory."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import LearningRateFinder
from pytorch_lightning.utilities import rank_zero_info


class LRFinder(LearningRateFinder):
    """Sweeps the lr before ``fit``, trains from the suggestion, and writes ``lr_find.csv`` (and
    ``lr_find.png`` when matplotlib is installed) to the run directory.

    Lightning gives every param group the suggested lr; a module with ``group_lrs()`` (see
    ``RecipeModule``) gets its discriminative lrs back, scaled from the suggestion, and every group's
    ``peak_lr`` is set so that the schedules start from it.
    """

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.lr_find(trainer, pl_module)
        self._set_peaks(trainer, pl_module)
        if self.optimal_lr is None or not trainer.is_global_zero:
            return
        suggestion = self.optimal_lr.suggestion()
        out = Path(trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "lr_find.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["lr", "loss"])
            writer.writerows(zip(self.optimal_lr.results["lr"], self.optimal_lr.results["loss"], strict=True))
        if importlib.util.find_spec("matplotlib") is not None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            fig = self.optimal_lr.plot(suggest=suggestion is not None)
            fig.savefig(out / "lr_find.png")
            plt.close(fig)
        if trainer.logger is not None and suggestion is not None:
            trainer.logger.log_metrics({"lr_find/suggestion": suggestion})
        rank_zero_info(f"lr finder suggests lr={suggestion} (written to {out / 'lr_find.csv'})")

    @staticmethod
    def _set_peaks(trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        lrs = pl_module.group_lrs() if hasattr(pl_module, "group_lrs") else None
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                if lrs is not None and "layer_group" in group:
                    group["lr"] = lrs[group["layer_group"]]
                group["peak_lr"] = group["lr"]
