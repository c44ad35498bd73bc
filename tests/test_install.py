"""The installed stack works together: torchvision matches torch, and Lightning and torchmetrics import."""

from __future__ import annotations

import torch


def test_torchvision_runs_with_the_installed_torch():
    import torchvision
    from torchvision.models import resnet18

    out = resnet18(weights=None, num_classes=3).eval()(torch.zeros(1, 3, 32, 32))
    assert out.shape == (1, 3)
    assert torchvision.ops.nms(torch.tensor([[0.0, 0, 1, 1]]), torch.tensor([1.0]), 0.5).tolist() == [0]


def test_lightning_and_torchmetrics_import_in_the_pytorch_lightning_namespace():
    import pytorch_lightning
    import torchmetrics

    assert pytorch_lightning.__version__.startswith("2.")
    assert torchmetrics.MeanSquaredError()(torch.tensor([1.0]), torch.tensor([3.0])) == 4.0
