"""Reports written to the run directory after training."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only


class EmbeddingReport(Callback):
    """The lesson's look inside a collaborative-filtering model, after ``fit``.

    Writes ``item_bias.csv`` (items by learned bias, for modules with ``item_biases()``) and, when
    matplotlib is installed, ``item_pca.png``: the first two principal components of the item
    embeddings of the ``n_plot`` most-rated items, labelled with their names. Names and rating
    counts come from the data module's ``item_names`` and ``item_counts``.
    """

    def __init__(self, n_show: int = 10, n_plot: int = 50, min_count: int = 20) -> None:
        self.n_show = n_show
        self.n_plot = n_plot
        self.min_count = min_count

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        out = Path(trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        items = pd.DataFrame({"name": data.item_names, "n_ratings": data.item_counts})
        biases = pl_module.item_biases()
        if biases is not None:
            items["bias"] = biases.float().cpu().numpy()
            items.sort_values("bias", ascending=False).to_csv(out / "item_bias.csv", index_label="item")
            frequent = items[items.n_ratings >= self.min_count].sort_values("bias")
            rank_zero_info(
                f"lowest item bias (>= {self.min_count} ratings):\n{frequent.head(self.n_show).to_string()}\n"
                f"highest item bias:\n{frequent.tail(self.n_show)[::-1].to_string()}"
            )
        if importlib.util.find_spec("matplotlib") is not None:
            self._plot_pca(pl_module.item_factors().float().cpu(), items, out / "item_pca.png")

    def _plot_pca(self, factors: torch.Tensor, items: pd.DataFrame, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        _, _, components = torch.pca_lowrank(factors, q=2)
        coords = ((factors - factors.mean(0)) @ components).numpy()
        top = items.sort_values("n_ratings", ascending=False).index[: self.n_plot]
        fig, ax = plt.subplots(figsize=(12, 12))
        ax.scatter(coords[top, 0], coords[top, 1], s=8)
        for i in top:
            ax.annotate(items.name[i], coords[i], fontsize=7)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.set_title("Item embeddings, most-rated items")
        fig.savefig(path, dpi=100)
        plt.close(fig)
