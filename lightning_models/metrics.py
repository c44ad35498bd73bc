"""Metrics the course used that torchmetrics lacks, as torchmetrics Metrics (sum states: exact under DDP)."""

from __future__ import annotations

import torch
from torchmetrics import Metric


def exp_rmspe(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean squared percentage error of ``exp(preds)`` against ``exp(target)`` (Rossmann's metric)."""
    actual = target.double().exp()
    return (((actual - preds.double().exp()) / actual) ** 2).mean().sqrt()


class ExpRMSPE(Metric):
    """Rossmann's RMSPE for a model that predicts log sales: ``sqrt(mean(((y - y_hat) / y) ** 2))`` with
    ``y = exp(target)``, ``y_hat = exp(preds)``.

    The state is the sum of squared percentage errors and the row count (float64), summed over
    batches and over DDP ranks, so the result is the RMSPE of all rows, not a mean of batch RMSPEs.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("sum_squared", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("total", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        if preds.shape != target.shape:
            raise ValueError(
                f"ExpRMSPE: preds and target must have the same shape, got {preds.shape} and {target.shape}"
            )
        actual = target.double().exp()
        self.sum_squared += (((actual - preds.double().exp()) / actual) ** 2).sum()
        self.total += target.numel()

    def compute(self) -> torch.Tensor:
        return (self.sum_squared / self.total).sqrt()
