"""MixUp's plan for one training batch (Zhang et al. 2018, as fastai's ``MixUp``): a weight and a pairing.

Each row is mixed with row ``perm[i]`` of the same batch, ``lam * x_i + (1 - lam) * x_perm[i]``, and so
are the targets; ``lam`` is drawn from Beta(alpha, alpha) and kept above 0.5, so each mixed row stays
closest to its own. The ``MixUp`` callback draws the plan and a model that can mix (``Mixable``) uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MixPlan:
    lam: float
    perm: torch.Tensor

    @classmethod
    def draw(cls, n_rows: int, alpha: float, device: torch.device) -> MixPlan:
        """A plan from torch's global generator (saved in checkpoints, so a resumed run draws the same)."""
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        return cls(max(lam, 1 - lam), torch.randperm(n_rows).to(device))

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (images, or a tabular net's embedded inputs) mixed with their partners."""
        return torch.lerp(x[self.perm], x, self.lam)

    def targets(self, y: torch.Tensor, n_classes: int) -> torch.Tensor:
        """The mixed targets as class probabilities: ``lam`` on a row's label and ``1 - lam`` on its partner's."""
        one_hot = F.one_hot(y, n_classes).float()
        return torch.lerp(one_hot[self.perm], one_hot, self.lam)

    def loss(self, loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], out: torch.Tensor, y: torch.Tensor):
        """``loss_fn`` against the mixed targets: ``lam * loss(y) + (1 - lam) * loss(y[perm])``."""
        return self.lam * loss_fn(out, y) + (1 - self.lam) * loss_fn(out, y[self.perm])
