"""Image classifiers on the pixels: logistic regression (with ``nn.Linear`` and written out by hand, the
machine-learning course's MNIST lessons) and a small CNN. Each returns log-probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class LogisticRegression(nn.Module):
    """Flattened pixels -> ``nn.Linear`` -> log-softmax."""

    def __init__(self, n_in: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.linear(x.flatten(1)), dim=-1)


def log_softmax(x: torch.Tensor) -> torch.Tensor:
    """log(exp(x) / sum(exp(x))) over the last dimension, shifted by the maximum so exp cannot overflow."""
    shifted = x - x.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


class HandLogisticRegression(nn.Module):
    """The same model written out as the lesson does: its own weight (n_in, n_classes) and bias, ``x @ w + b``,
    its own log-softmax, both initialised as its ``get_weights(*dims)``: ``randn(dims) / dims[0]``. With
    ``weight = linear.weight.T`` it gives ``LogisticRegression``'s outputs."""

    def __init__(self, n_in: int, n_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_classes) / n_in)
        self.bias = nn.Parameter(torch.randn(n_classes) / n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return log_softmax(x.flatten(1) @ self.weight + self.bias)


def conv_bn_relu(n_in: int, n_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (no bias: the BatchNorm has one) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU(inplace=True)
    )


class SimpleCNN(nn.Module):
    """conv-BN-ReLU at full resolution, then one stage per further width: a stride-2 conv-BN-ReLU that halves
    the resolution and ``depth - 1`` more at that resolution; global average pooling, dropout, linear."""

    def __init__(
        self, channels: int, n_classes: int, widths: Sequence[int], depth: Sequence[int] | int, p: float
    ) -> None:
        super().__init__()
        if len(widths) < 2:
            raise ValueError(f"SimpleCNN needs at least two widths (stem and one stage), got {list(widths)}")
        depths = [depth] * (len(widths) - 1) if isinstance(depth, int) else list(depth)
        if len(depths) != len(widths) - 1 or min(depths) < 1:
            raise ValueError(f"depth must be one number >= 1 or one per stage ({len(widths) - 1}), got {depth}")
        layers = [conv_bn_relu(channels, widths[0])]
        for n_in, n_out, n_convs in zip(widths[:-1], widths[1:], depths, strict=True):
            layers.append(conv_bn_relu(n_in, n_out, stride=2))
            layers += [conv_bn_relu(n_out, n_out) for _ in range(n_convs - 1)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(p), nn.Linear(widths[-1], n_classes), nn.LogSoftmax(1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class WorkshopCNN(nn.Module):
    """The PyTorch Workshop's CIFAR-10 net (activities 4.01-4.03): per width a 3x3 convolution, ReLU,
    (BatchNorm with ``batch_norm``, activity 4.03) and a 2x2 max-pool; then dropout, a hidden linear
    layer with ReLU (and BatchNorm), dropout and the linear output. The defaults are the workshop's:
    3 -> 10 -> 20 -> 40 channels, 640 -> 100 -> 10 on 32 x 32 images."""

    def __init__(
        self,
        channels: int,
        n_classes: int,
        image_size: int,
        widths: Sequence[int] = (10, 20, 40),
        hidden: int = 100,
        p: float = 0.2,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        side = image_size >> len(widths)
        if side < 1:
            raise ValueError(f"{len(widths)} max-pools halve {image_size}-pixel images to nothing: use fewer widths")
        layers: list[nn.Module] = []
        for n_in, n_out in zip([channels, *widths[:-1]], widths, strict=True):
            layers += [nn.Conv2d(n_in, n_out, 3, padding=1), nn.ReLU()]
            layers += [nn.BatchNorm2d(n_out)] if batch_norm else []
            layers.append(nn.MaxPool2d(2))
        self.body = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Flatten(), nn.Dropout(p), nn.Linear(widths[-1] * side * side, hidden), nn.ReLU()]
        head += [nn.BatchNorm1d(hidden)] if batch_norm else []
        head += [nn.Dropout(p), nn.Linear(hidden, n_classes), nn.LogSoftmax(1)]
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
