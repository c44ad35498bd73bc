"""The fused optimizer step (the default): the same update as the foreach optimizers, in one kernel per param group."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightning_models.optim import make_optimizer, param_groups


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_fused_step_equals_the_foreach_step(name):
    torch.manual_seed(0)
    # no bias right before the BatchNorm: its true gradient is 0, and Adam would turn the float rounding
    # left in it into full-size steps that differ from kernel to kernel
    nets = [nn.Sequential(nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [
        make_optimizer(name, param_groups([net[0], net[1:]], [1e-2, 1e-1], weight_decay=0.1), fused=fused)
        for net, fused in zip(nets, (False, True), strict=True)
    ]
    x = torch.randn(16, 4)
    for _ in range(3):
        for net, optimizer in zip(nets, optimizers, strict=True):
            optimizer.zero_grad()
            net(x).square().mean().backward()
            optimizer.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert optimizers[1].defaults["fused"] and not optimizers[0].defaults["fused"]
