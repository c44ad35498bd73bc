"""Parameter groups: discriminative lrs, no decay on biases and norms, optimizer choice."""

from __future__ import annotations

import pytest
import torch
from toy import ToyRegressor

from lightning_models.contracts import LAYER_GROUP, PEAK_LR
from lightning_models.optim import discriminative_lrs


def test_discriminative_lrs_divide_by_lr_div_per_group_from_the_output_side():
    assert discriminative_lrs(1e-2, 4, 2.6) == pytest.approx([1e-2 / 2.6**3, 1e-2 / 2.6**2, 1e-2 / 2.6, 1e-2])
    assert discriminative_lrs(1e-3, 3) == [1e-3] * 3


def test_optimizer_groups_follow_layer_groups_and_skip_decay_on_biases_and_norms():
    model = ToyRegressor(lr=0.01, lr_div=2.6, weight_decay=0.1)
    optimizer = model.configure_optimizers()
    assert isinstance(optimizer, torch.optim.AdamW)
    groups = [(g[LAYER_GROUP], g["lr"], g["weight_decay"], len(g["params"])) for g in optimizer.param_groups]
    assert groups == [
        (0, pytest.approx(0.01 / 2.6**2), 0.1, 1),  # body linear weight
        (0, pytest.approx(0.01 / 2.6**2), 0.0, 3),  # its bias, batch-norm weight and bias
        (1, pytest.approx(0.01 / 2.6), 0.1, 1),
        (1, pytest.approx(0.01 / 2.6), 0.0, 1),
        (2, pytest.approx(0.01), 0.1, 1),
        (2, pytest.approx(0.01), 0.0, 1),
    ]
    assert all(g[PEAK_LR] == g["lr"] for g in optimizer.param_groups)
    every = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert every == {id(p) for p in model.parameters()}


def test_without_weight_decay_each_layer_group_is_one_optimizer_group():
    model = ToyRegressor(lr=0.01, lr_div=2.6, weight_decay=0.0)
    optimizer = model.configure_optimizers()
    groups = [(g[LAYER_GROUP], g["lr"], g["weight_decay"], len(g["params"])) for g in optimizer.param_groups]
    assert groups == [
        (0, pytest.approx(0.01 / 2.6**2), 0.0, 4),
        (1, pytest.approx(0.01 / 2.6), 0.0, 2),
        (2, pytest.approx(0.01), 0.0, 2),
    ]


def test_sgd_and_adam_by_name():
    sgd = ToyRegressor(optimizer="sgd", momentum=0.8).configure_optimizers()
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.8
    adam = ToyRegressor(optimizer="adam", betas=(0.7, 0.99)).configure_optimizers()
    assert type(adam) is torch.optim.Adam and adam.param_groups[0]["betas"] == (0.7, 0.99)
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'"):
        ToyRegressor(optimizer="lamb")
