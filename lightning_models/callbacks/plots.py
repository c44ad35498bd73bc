"""Reports written to the run directory after training."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_info, rank_zero_only

from lightning_models.callbacks.pyplot import pyplot


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
        if (plt := pyplot()) is not None:
            self._plot_pca(plt, pl_module.item_factors().float().cpu(), items, out / "item_pca.png")

    def _plot_pca(self, plt: ModuleType, factors: torch.Tensor, items: pd.DataFrame, path: Path) -> None:
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


class LossCurve(Callback):
    """Every training step's loss, written after ``fit`` as ``loss_curve.csv`` and (with matplotlib)
    ``loss_curve.png``, as the workshop plotted its losses. The losses so far travel in checkpoints."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss.detach()))

    def state_dict(self) -> dict:
        return {"losses": list(self.losses)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.losses = list(state_dict["losses"])

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        out = Path(trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        rows = "".join(f"{step},{loss}\n" for step, loss in enumerate(self.losses, start=1))
        (out / "loss_curve.csv").write_text("step,loss\n" + rows)
        if (plt := pyplot()) is not None and self.losses:
            fig, ax = plt.subplots(figsize=(8, 5))
            ax.plot(range(1, len(self.losses) + 1), self.losses)
            ax.set_xlabel("step")
            ax.set_ylabel("training loss")
            fig.savefig(out / "loss_curve.png", dpi=100)
            plt.close(fig)


class ForecastPlot(Callback):
    """``forecast.png`` after ``fit`` (with matplotlib): ``n_series`` validation series and the model's
    next-step forecasts. The data module gives ``valid_series(n) -> (names, inputs, targets)``; the model
    ``forecast(inputs)`` in the data's units."""

    def __init__(self, n_series: int = 5) -> None:
        self.n_series = n_series

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if (plt := pyplot()) is None:
            return
        names, inputs, targets = trainer.datamodule.valid_series(self.n_series)
        with torch.no_grad():
            forecast = pl_module.forecast(inputs.to(pl_module.device)).float().cpu()
        fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.2 * len(names)), sharex=True, squeeze=False)
        steps = range(inputs.shape[1] + 1)
        for ax, name, x, y, f in zip(axes[:, 0], names, inputs, targets, forecast, strict=True):
            ax.plot(steps, torch.cat([x[:1], y]).numpy(), label="actual")
            ax.plot(steps[1:], f.numpy(), label="forecast")
            ax.set_ylabel(name)
        axes[0, 0].legend(loc="upper right")
        axes[-1, 0].set_xlabel("week")
        out = Path(trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        fig.savefig(out / "forecast.png", dpi=100)
        plt.close(fig)
