"""Entity-embedding nets for tables (lesson 3, Rossmann): embeddings + continuous inputs -> MLP -> y_range."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.collab import sigmoid_range
from lightning_models.metrics import ExpRMSPE


class TabularNet(nn.Module):
    """One embedding per categorical column, BatchNorm on the continuous ones, then Linear-ReLU-dropout layers.

    As the lesson's model: embeddings drawn uniform in +-2/(dim+1), dropout on the concatenated
    embeddings, Kaiming-normal linear weights, no BatchNorm between hidden layers unless ``use_bn``,
    and the single output squashed into ``y_range`` by a sigmoid.
    """

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        n_cont: int,
        y_range: Sequence[float] | None = None,
        layers: Sequence[int] = (1000, 500),
        ps: Sequence[float] = (0.001, 0.01),
        emb_drop: float = 0.04,
        use_bn: bool = False,
        bn_cont: bool = True,
    ) -> None:
        super().__init__()
        if len(ps) != len(layers):
            raise ValueError(f"need one dropout per hidden layer: got {len(ps)} ps for {len(layers)} layers")
        if not emb_szs and not n_cont:
            raise ValueError("a tabular net needs at least one categorical or continuous input column")
        self.embeds = nn.ModuleList(nn.Embedding(int(card), int(dim)) for card, dim in emb_szs)
        for emb in self.embeds:
            bound = 2 / (emb.embedding_dim + 1)
            nn.init.uniform_(emb.weight, -bound, bound)
        self.emb_drop = nn.Dropout(emb_drop)
        self.n_cont = n_cont
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont and bn_cont else nn.Identity()
        hidden: list[nn.Module] = []
        n_in = sum(int(dim) for _, dim in emb_szs) + n_cont
        for n_out, p in zip(layers, ps, strict=True):
            linear = nn.Linear(n_in, n_out)
            nn.init.kaiming_normal_(linear.weight)
            hidden += [linear, nn.ReLU(inplace=True)]
            hidden += [nn.BatchNorm1d(n_out)] if use_bn else []
            hidden += [nn.Dropout(p)]
            n_in = n_out
        self.hidden = nn.Sequential(*hidden)
        self.out = nn.Linear(n_in, 1)
        nn.init.kaiming_normal_(self.out.weight)
        self.y_range = tuple(y_range) if y_range is not None else None

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        """``x_cat``: codes of any integer type (data modules keep them small), ``x_cont``: floats."""
        parts = []
        if len(self.embeds):
            x_cat = x_cat.long()
            parts.append(self.emb_drop(torch.cat([emb(x_cat[:, i]) for i, emb in enumerate(self.embeds)], 1)))
        if self.n_cont:
            parts.append(self.bn_cont(x_cont))
        x = self.out(self.hidden(torch.cat(parts, 1) if len(parts) > 1 else parts[0])).squeeze(1)
        return sigmoid_range(x, *self.y_range) if self.y_range is not None else x


class TabularModule(RecipeModule):
    """Regression on a table with ``TabularNet``, trained with MSE (on log targets for Rossmann).

    ``emb_szs`` ([cardinality, dim] per categorical column), ``n_cont``, ``y_range`` and
    ``log_target`` come from the data module's ``describe()``. With a log target the validation
    RMSPE of the exponentiated predictions is logged as ``val/rmspe``; otherwise ``val/rmse``.
    Layer groups: the inputs (embeddings, BatchNorm of the continuous columns), the hidden layers,
    the output layer. The lesson's optimizer is the default: Adam, lr 1e-3, betas (0.9, 0.999),
    with the fused step (for a net this small the optimizer step is a large part of the time).
    """

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        n_cont: int,
        y_range: Sequence[float] | None = None,
        log_target: bool = True,
        layers: Sequence[int] = (1000, 500),
        ps: Sequence[float] = (0.001, 0.01),
        emb_drop: float = 0.04,
        use_bn: bool = False,
        bn_cont: bool = True,
        lr: float = 1e-3,
        optimizer: str = "adam",
        betas: Sequence[float] = (0.9, 0.999),
        fused: bool = True,
        **optim,
    ) -> None:
        super().__init__(lr=lr, optimizer=optimizer, betas=betas, fused=fused, **optim)
        self.save_hyperparameters()
        self.net = TabularNet(emb_szs, n_cont, y_range, layers, ps, emb_drop, use_bn, bn_cont)
        self.log_target = log_target
        self.val_mse = torchmetrics.MeanSquaredError()
        self.val_score = ExpRMSPE() if log_target else torchmetrics.MeanSquaredError(squared=False)
        self.score_name = "val/rmspe" if log_target else "val/rmse"

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        return self.net(x_cat, x_cont)

    def layer_groups(self) -> list[nn.Module]:
        return [nn.ModuleList([self.net.embeds, self.net.bn_cont]), self.net.hidden, self.net.out]

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x_cat, x_cont, y = batch
        loss = F.mse_loss(self(x_cat, x_cont), y)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        x_cat, x_cont, y = batch
        preds = self(x_cat, x_cont)
        self.val_mse(preds, y)
        self.val_score(preds, y)
        self.log("val/loss", self.val_mse)
        self.log(self.score_name, self.val_score, prog_bar=True)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x_cat, x_cont = batch[:2]
        return self(x_cat, x_cont)
