"""The small layers the model families share (fastai's ``layers.py`` idea): one home for each."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def sigmoid_range(x: torch.Tensor, low: float | torch.Tensor, high: float | torch.Tensor) -> torch.Tensor:
    """Squash ``x`` into (low, high) with a sigmoid (tensors of bounds: one range per last-axis column)."""
    return torch.sigmoid(x) * (high - low) + low


class SparseDropout(nn.Module):
    """Dropout that draws only the positions it drops, as the gaps of a Bernoulli process.

    The mask has the distribution of ``nn.Dropout``'s (each element dropped independently with
    probability ``p``, the rest scaled by 1/(1-p)), but a CPU draws ``n*p`` geometric gaps instead
    of ``n`` Bernoulli numbers: several times cheaper at the lesson's rates (0.001 to 0.04). The
    gaps drawn cover the tensor unless they fall over 10 standard deviations short (chance below
    1e-20). Off the CPU it is ``nn.functional.dropout``.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must lie in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        n = x.numel()
        mean = n * self.p
        gaps = torch.empty(int(mean + 10 * (mean * (1 - self.p)) ** 0.5 + 32), dtype=torch.float64)
        gaps.geometric_(self.p)
        dropped = gaps.cumsum_(0).sub_(1).clamp_(max=n).long()
        mask = torch.full((n + 1,), 1 / (1 - self.p), dtype=x.dtype)
        mask.index_fill_(0, dropped, 0)
        return x * mask[:n].view_as(x)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def bn_drop_lin(n_in: int, n_out: int, p: float = 0.0) -> list[nn.Module]:
    """BatchNorm -> Dropout -> Linear (fastai's ``LinBnDrop``); at ``p=0`` the Dropout is left out.

    A list rather than a module, so that a head of several stays one flat Sequential.
    """
    return [nn.BatchNorm1d(n_in), *([nn.Dropout(p)] if p > 0 else []), nn.Linear(n_in, n_out)]


def bn_drop_lin_stack(sizes: Sequence[int], ps: Sequence[float]) -> list[nn.Module]:
    """A ``bn_drop_lin`` from each of ``sizes`` to the next, with dropout ``ps[i]``, a ReLU between them."""
    if len(ps) != len(sizes) - 1:
        raise ValueError(f"the head has {len(sizes) - 1} linear layers but {len(ps)} dropouts (ps={list(ps)})")
    layers: list[nn.Module] = []
    for i, (n_in, n_out, p) in enumerate(zip(sizes[:-1], sizes[1:], ps, strict=True)):
        if i > 0:
            layers.append(nn.ReLU(inplace=True))
        layers += bn_drop_lin(n_in, n_out, p)
    return layers
