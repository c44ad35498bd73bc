"""The files the reports write, from plain tensors and tables: no trainer, no model (so each is tested alone).

Every ``plot_*`` takes ``plt`` (``lightning_models.callbacks.pyplot``) and writes one PNG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pandas as pd
import torch

ANNOTATED_CLASSES = 20
"""A confusion matrix with more classes than this is drawn without its counts written in."""


def confusion_matrix(predicted: torch.Tensor, target: torch.Tensor, classes: Sequence[str]) -> pd.DataFrame:
    """The counts of each (true class, predicted class), rows true, columns predicted, named by class."""
    n = len(classes)
    counts = torch.bincount(target.long() * n + predicted.long(), minlength=n * n).reshape(n, n)
    frame = pd.DataFrame(counts.numpy(), index=list(classes), columns=list(classes))
    frame.index.name = "true/predicted"
    return frame


def top_losses(
    rows: torch.Tensor, items: Sequence[str], labels: Sequence[str], predictions: Sequence[str], loss: torch.Tensor
) -> pd.DataFrame:
    """The items by decreasing loss: validation row, what it is, label, prediction, loss."""
    frame = pd.DataFrame(
        {"row": rows.numpy(), "item": list(items), "label": list(labels), "prediction": list(predictions)}
    )
    frame["loss"] = loss.double().numpy()
    return frame.sort_values("loss", ascending=False, kind="stable").reset_index(drop=True)


def plot_epoch_metrics(plt: ModuleType, epochs: pd.DataFrame, path: Path) -> None:
    """Losses (train and validation) on the left, the other metrics on the right; ``epochs`` has a row per
    epoch (indexed from 0, drawn from 1) and a column per metric."""
    losses = [c for c in epochs.columns if c.endswith("/loss")]
    others = [c for c in epochs.columns if c not in losses]
    panels = [p for p in (losses, others) if p]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, names in zip(axes[0], panels, strict=True):
        for name in names:
            values = epochs[name].dropna()
            ax.plot(values.index + 1, values.to_numpy(), marker="o", label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        ax.legend()
    axes[0, 0].set_ylabel("loss" if losses else "metric")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_confusion_matrix(plt: ModuleType, matrix: pd.DataFrame, path: Path) -> None:
    """The counts as a heat map, true classes down, predicted across (counts written in for few classes)."""
    n = len(matrix)
    size = min(4 + 0.4 * n, 30)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix.to_numpy(), cmap="Blues")
    ax.set_xticks(range(n), matrix.columns, rotation=90)
    ax.set_yticks(range(n), matrix.index)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= ANNOTATED_CLASSES:
        top = matrix.to_numpy().max()
        for (i, j), count in pd.DataFrame(matrix.to_numpy()).stack().items():
            ax.text(j, i, str(count), ha="center", va="center", color="white" if count > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_images(plt: ModuleType, images: torch.Tensor, titles: Sequence[str], path: Path) -> None:
    """uint8 images (N, channels, height, width) in a square-ish grid, each with its title."""
    n_cols = math.ceil(math.sqrt(len(images)))
    n_rows = math.ceil(len(images) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.2 * n_cols, 2.4 * n_rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, images, titles, strict=False):
        pixels = image.permute(1, 2, 0).numpy()
        if pixels.shape[2] == 1:
            ax.imshow(pixels[:, :, 0], cmap="gray", vmin=0, vmax=255)
        else:
            ax.imshow(pixels)
        ax.set_title(title, fontsize=8)
    # not tight_layout, which takes longer than the drawing on a grid of 16
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.94, wspace=0.1, hspace=0.35)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_pred_vs_true(plt: ModuleType, predicted: torch.Tensor, target: torch.Tensor, path: Path) -> None:
    """A scatter of every predicted value against its true value, with the line where they are equal."""
    x, y = target.double().flatten().numpy(), predicted.double().flatten().numpy()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.scatter(x, y, s=6, alpha=0.3 if len(x) > 1000 else 0.7)
    low, high = min(x.min(), y.min()), max(x.max(), y.max())
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    ax.set_title(f"validation: {len(x)} values")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
