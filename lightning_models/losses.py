"""Training losses with label smoothing (fastai's ``LabelSmoothingCrossEntropy``), for every classifier.

Smoothing ``eps`` trains towards ``1 - eps`` on the label and ``eps / n_classes`` on every class, which is
``(1 - eps) * NLL + eps * mean over classes of -log p`` (what ``F.cross_entropy(label_smoothing=eps)``
computes from logits). Validation losses stay the plain cross-entropy, comparable across runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def check_smoothing(eps: float) -> float:
    if not 0 <= eps < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {eps}")
    return eps


def smoothed_nll(log_probs: torch.Tensor, target: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """The mean smoothed cross-entropy of log-probabilities (models whose output is ``log_softmax``)."""
    nll = F.nll_loss(log_probs, target)
    return nll if not eps else (1 - eps) * nll - eps * log_probs.mean(-1).mean()


def smoothed_bce(logits: torch.Tensor, target: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """Binary cross-entropy of the logits of label 1 against labels moved ``eps / 2`` towards the other class."""
    return F.binary_cross_entropy_with_logits(logits, target * (1 - eps) + eps / 2)
