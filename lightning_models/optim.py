"""Optimizer parameter groups: one learning rate per layer group, no weight decay on biases and norms.

Every optimizer param group carries ``PEAK_LR`` (the rate a schedule scales from) and ``LAYER_GROUP``
(its index in ``layer_groups()``; both keys in ``lightning_models.contracts``), so schedules and
unfreezing can act per layer group.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lightning_models.contracts import LAYER_GROUP, PEAK_LR

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)

OPTIMIZERS = ("adamw", "adam", "sgd")


def discriminative_lrs(lr: float, n_groups: int, lr_div: float = 1.0) -> list[float]:
    """Group i of n gets ``lr / lr_div ** (n - 1 - i)``: the output side learns fastest (ULMFiT: 2.6)."""
    return [lr / lr_div ** (n_groups - 1 - i) for i in range(n_groups)]


def _no_decay_params(module: nn.Module) -> set[int]:
    """Ids of biases and of every parameter of a normalization layer."""
    ids = set()
    for sub in module.modules():
        for name, p in sub.named_parameters(recurse=False):
            if isinstance(sub, NORM_TYPES) or name.endswith("bias"):
                ids.add(id(p))
    return ids


def param_groups(
    layer_groups: Sequence[nn.Module],
    lrs: Sequence[float],
    weight_decay: float = 0.0,
) -> list[dict]:
    """Two optimizer groups per layer group (decayed, not decayed); empty ones are left out.

    Without weight decay the two would be alike, so each layer group is one optimizer group: a
    fused optimizer step costs a kernel launch and its Python bookkeeping per group.
    """
    if len(lrs) != len(layer_groups):
        raise ValueError(f"got {len(lrs)} learning rates for {len(layer_groups)} layer groups")
    seen: set[int] = set()
    groups = []
    for i, (module, lr) in enumerate(zip(layer_groups, lrs, strict=True)):
        no_decay = _no_decay_params(module) if weight_decay else set()
        decay, plain = [], []
        for p in module.parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            (plain if id(p) in no_decay else decay).append(p)
        for params, wd in ((decay, weight_decay), (plain, 0.0)):
            if params:
                groups.append({"params": params, "lr": lr, PEAK_LR: lr, "weight_decay": wd, LAYER_GROUP: i})
    return groups


def make_optimizer(
    name: str,
    groups: list[dict],
    betas: Sequence[float] = (0.9, 0.99),
    momentum: float = 0.9,
    eps: float = 1e-8,
    fused: bool = True,
) -> torch.optim.Optimizer:
    """AdamW (decoupled weight decay), Adam (L2 in the gradient) or SGD with momentum.

    ``fused`` does each step in one kernel per param group instead of a chain of foreach ops: the
    same update, several times faster on a CPU for small models, where the step is a large part.
    """
    kernel = {"fused": True} if fused else {"foreach": True}
    if name == "adamw":
        return torch.optim.AdamW(groups, betas=tuple(betas), eps=eps, **kernel)
    if name == "adam":
        return torch.optim.Adam(groups, betas=tuple(betas), eps=eps, **kernel)
    if name == "sgd":
        return torch.optim.SGD(groups, momentum=momentum, **kernel)
    raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")
