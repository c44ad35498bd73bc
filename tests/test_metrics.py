"""exp_rmspe / ExpRMSPE: Rossmann's RMSPE of exponentiated log predictions, exact over batches and ranks."""

from __future__ import annotations

import math

import pytest
import torch

from lightning_models.metrics import ExpRMSPE, exp_rmspe


def logs(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).log().float()


def test_exp_rmspe_on_hand_values():
    # errors of -10%, +10%, +20% and 0%: sqrt((0.01 + 0.01 + 0.04 + 0) / 4)
    preds, target = logs(90, 110, 240, 50), logs(100, 100, 200, 50)
    expected = math.sqrt(0.06 / 4)
    assert exp_rmspe(preds, target).item() == pytest.approx(expected, rel=1e-6)
    metric = ExpRMSPE()
    metric.update(preds, target)
    assert metric.compute().item() == pytest.approx(expected, rel=1e-6)


def test_accumulated_over_batches_equals_all_rows_at_once():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(1000, generator=generator) * 3 + 7
    preds = target + torch.randn(1000, generator=generator) * 0.1
    metric = ExpRMSPE()
    sizes = [1, 128, 300, 571]
    for p, t in zip(preds.split(sizes), target.split(sizes), strict=True):
        metric.update(p, t)
    whole = exp_rmspe(preds, target).item()
    assert metric.compute().item() == pytest.approx(whole, rel=1e-9)
    batch_mean = sum(exp_rmspe(p, t).item() for p, t in zip(preds.split(sizes), target.split(sizes), strict=True)) / 4
    assert abs(batch_mean - whole) > 1e-4  # a mean of batch RMSPEs would be wrong


def test_states_sum_across_processes():
    """What DDP's sum reduction does: each rank's sums merged give the RMSPE of all rows."""
    preds, target = logs(90, 110, 240, 50, 75), logs(100, 100, 200, 50, 100)
    rank0, rank1 = ExpRMSPE(), ExpRMSPE()
    rank0.update(preds[:2], target[:2])
    rank1.update(preds[2:], target[2:])
    rank0.merge_state(rank1)
    assert rank0.compute().item() == pytest.approx(exp_rmspe(preds, target).item(), rel=1e-9)
    assert rank0.compute().item() == pytest.approx(math.sqrt((0.01 + 0.01 + 0.04 + 0 + 0.0625) / 5), rel=1e-6)


def test_reset_and_shape_check():
    metric = ExpRMSPE()
    metric.update(logs(90), logs(100))
    metric.reset()
    metric.update(logs(120), logs(100))
    assert metric.compute().item() == pytest.approx(0.2, rel=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        metric.update(logs(1, 2), logs(1))
