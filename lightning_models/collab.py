"""Collaborative filtering (lesson 5): dot product, dot product with biases, and an embedding net."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.contracts import ItemScores
from lightning_models.layers import sigmoid_range

ARCHS = ("dot", "dot_bias", "nn")
INITS = ("normal", "uniform")


def init_embeddings(embeddings: Sequence[nn.Embedding], init: str) -> None:
    """``normal``: N(0, 0.01), as fastai v2; ``uniform``: U(-0.01, 0.01), the lesson's ``get_emb``."""
    if init not in INITS:
        raise ValueError(f"unknown embedding init {init!r}: choose one of {', '.join(INITS)}")
    for emb in embeddings:
        if init == "normal":
            nn.init.normal_(emb.weight, std=0.01)
        else:
            nn.init.uniform_(emb.weight, -0.01, 0.01)


class EmbeddingDot(nn.Module):
    """rating = <user factors, item factors>."""

    def __init__(self, n_users: int, n_items: int, n_factors: int) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, n_factors)
        self.items = nn.Embedding(n_items, n_factors)
        for emb in (self.users, self.items):
            nn.init.uniform_(emb.weight, 0, 0.05)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return (self.users(users) * self.items(items)).sum(1)


class EmbeddingDotBias(nn.Module):
    """rating = sigmoid into ``y_range`` of (<user factors, item factors> + user bias + item bias)."""

    def __init__(
        self, n_users: int, n_items: int, n_factors: int, y_range: Sequence[float], init: str = "normal"
    ) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, n_factors)
        self.items = nn.Embedding(n_items, n_factors)
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        init_embeddings((self.users, self.items, self.user_bias, self.item_bias), init)
        self.y_range = tuple(y_range)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        dot = (self.users(users) * self.items(items)).sum(1)
        x = dot + self.user_bias(users).squeeze(1) + self.item_bias(items).squeeze(1)
        return sigmoid_range(x, *self.y_range)


class EmbeddingNet(nn.Module):
    """Concatenated user and item embeddings -> dropout -> hidden ReLU layer -> dropout -> sigmoid range."""

    def __init__(
        self,
        n_users: int,
        n_items: int,
        n_factors: int,
        y_range: Sequence[float],
        n_hidden: int = 10,
        emb_dropout: float = 0.05,
        hidden_dropout: float = 0.5,
        init: str = "normal",
    ) -> None:
        super().__init__()
        self.users = nn.Embedding(n_users, n_factors)
        self.items = nn.Embedding(n_items, n_factors)
        init_embeddings((self.users, self.items), init)
        self.emb_dropout = nn.Dropout(emb_dropout)
        self.head = nn.Sequential(
            nn.Linear(2 * n_factors, n_hidden), nn.ReLU(), nn.Dropout(hidden_dropout), nn.Linear(n_hidden, 1)
        )
        self.y_range = tuple(y_range)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        x = self.emb_dropout(torch.cat([self.users(users), self.items(items)], dim=1))
        return sigmoid_range(self.head(x).squeeze(1), *self.y_range)


class CollabModule(RecipeModule):
    """Rating prediction from (user, item) index pairs, trained with MSE.

    ``arch`` picks the net: ``"dot"``, ``"dot_bias"`` (the default) or ``"nn"``; ``init`` the
    embeddings' init for the last two (the dot product's is the lesson's U(0, 0.05)). Optimizer
    arguments (``lr``, ``weight_decay``, ...) go to ``RecipeModule``.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        arch: str = "dot_bias",
        n_factors: int = 50,
        y_range: Sequence[float] = (0.0, 5.5),
        n_hidden: int = 10,
        emb_dropout: float = 0.05,
        hidden_dropout: float = 0.5,
        init: str = "normal",
        **optim,
    ) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        if arch == "dot":
            self.net = EmbeddingDot(n_users, n_items, n_factors)
        elif arch == "dot_bias":
            self.net = EmbeddingDotBias(n_users, n_items, n_factors, y_range, init)
        elif arch == "nn":
            self.net = EmbeddingNet(n_users, n_items, n_factors, y_range, n_hidden, emb_dropout, hidden_dropout, init)
        else:
            raise ValueError(f"unknown collab arch {arch!r}: choose one of {', '.join(ARCHS)}")
        self.val_mse = torchmetrics.MeanSquaredError()
        self.val_rmse = torchmetrics.MeanSquaredError(squared=False)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.net(users, items)

    def layer_groups(self) -> list[nn.Module]:
        if isinstance(self.net, EmbeddingNet):
            return [nn.ModuleList([self.net.users, self.net.items]), self.net.head]
        return [self.net]

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        users, items, ratings = batch
        loss = F.mse_loss(self(users, items), ratings)
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        users, items, ratings = batch
        preds = self(users, items)
        self.val_mse.update(preds, ratings)
        self.val_rmse.update(preds, ratings)

    def on_validation_epoch_end(self) -> None:
        self.log("val/loss", self.val_mse)
        self.log("val/mse", self.val_mse)
        self.log("val/rmse", self.val_rmse, prog_bar=True)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        users, items = batch[:2]
        return self(users, items)

    def score_items(self, batch: tuple[torch.Tensor, ...]) -> ItemScores:
        """Each pair's predicted rating, rating and squared error, for the reports."""
        users, items, ratings = batch
        preds = self(users, items).float()
        return ItemScores(preds, ratings, (preds - ratings) ** 2)

    def item_factors(self) -> torch.Tensor:
        """The learned item embedding matrix (one row per item index)."""
        return self.net.items.weight.detach()

    def item_biases(self) -> torch.Tensor | None:
        """The learned item biases, for the archs that have them."""
        return self.net.item_bias.weight.detach().squeeze(1) if isinstance(self.net, EmbeddingDotBias) else None
