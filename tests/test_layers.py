"""The shared small layers: sparse dropout, the BatchNorm -> Dropout -> Linear block."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_models.layers import SparseDropout, bn_drop_lin_stack


def test_sparse_dropout_drops_at_rate_p_and_scales_the_rest():
    torch.manual_seed(0)
    dropout = SparseDropout(0.01)
    x = torch.ones(1000, 1000, requires_grad=True)
    y = dropout(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - 0.01) < 5 * (0.01 * 0.99 / 1e6) ** 0.5
    assert torch.allclose(y[y != 0], torch.tensor(1 / 0.99))
    first_half = (y[:500] == 0).float().mean().item()  # spread over the whole tensor
    assert abs(first_half - 0.01) < 0.001
    y.sum().backward()
    assert torch.equal(x.grad, y.detach())
    assert torch.equal(dropout.eval()(x), x)
    assert torch.equal(SparseDropout(0.0)(x), x)
    with pytest.raises(ValueError, match="in \\[0, 1\\)"):
        SparseDropout(1.0)


def test_bn_drop_lin_stack_leaves_zero_dropouts_out():
    layers = bn_drop_lin_stack([8, 4, 2], [0.0, 0.3])
    assert [type(m) for m in layers] == [nn.BatchNorm1d, nn.Linear, nn.ReLU, nn.BatchNorm1d, nn.Dropout, nn.Linear]
    assert [type(m) for m in bn_drop_lin_stack([8, 2], [0.1])] == [nn.BatchNorm1d, nn.Dropout, nn.Linear]
    with pytest.raises(ValueError, match="the head has 2 linear layers but 1 dropouts"):
        bn_drop_lin_stack([8, 4, 2], [0.1])
