"""The image LightningModules: logistic regression, the small CNN, the workshop's CNN, a head on a torchvision backbone.

Batches are ``(images, labels, index)`` as the image data modules give them (``index`` is only used
to cache a frozen body's features).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.contracts import ItemScores
from lightning_models.losses import check_smoothing, smoothed_nll
from lightning_models.mixup import MixPlan
from lightning_models.vision.backbone import BackboneNet, FeatureCache
from lightning_models.vision.nets import HandLogisticRegression, LogisticRegression, SimpleCNN, WorkshopCNN


class VisionModule(RecipeModule):
    """Classification from log-probabilities: NLL loss, ``val/loss``, ``val/acc``, ``test/loss``, ``test/acc``.

    Subclasses set ``self.net``; ``channels_last`` stores the convolutions' weights and the batches in
    NHWC order, which oneDNN (CPU) and cuDNN run faster.
    """

    def __init__(
        self, n_classes: int, channels_last: bool = False, label_smoothing: float = 0.0, tta: bool = False, **optim
    ) -> None:
        super().__init__(**optim)
        self.channels_last = channels_last
        self.label_smoothing = check_smoothing(label_smoothing)
        self.tta = tta
        self.mix_plan: MixPlan | None = None
        self.val_loss = torchmetrics.MeanMetric()
        self.test_loss = torchmetrics.MeanMetric()
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=n_classes)
        self.test_acc = torchmetrics.Accuracy(task="multiclass", num_classes=n_classes)

    def use_channels_last(self) -> None:
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.ndim == 4 else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.prepare(x))

    def log_probs(self, batch: Sequence[torch.Tensor], split: str) -> torch.Tensor:
        """Log-probabilities for a batch of the given split (train, valid, test or predict)."""
        return self(batch[0])

    def tested_log_probs(self, batch: Sequence[torch.Tensor], split: str) -> torch.Tensor:
        """``log_probs``; with ``tta`` the log of the mean probability of each image and its mirror image
        (test-time augmentation, for the test and predict stages: validation stays comparable across runs)."""
        out = self.log_probs(batch, split)
        if not self.tta:
            return out
        return torch.logaddexp(out.float(), self(batch[0].flip(-1)).float()) - math.log(2)

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.train_loss(batch)
        self.log_train_loss(loss)
        return loss

    def train_loss(self, batch: Sequence[torch.Tensor]) -> torch.Tensor:
        """The (smoothed) NLL; on MixUp's mixed images and targets when it has set a plan."""
        plan = self.mix_plan
        if plan is None:
            return smoothed_nll(self.log_probs(batch, "train"), batch[1], self.label_smoothing)
        out = self(plan.mix(batch[0]))
        return plan.loss(lambda o, y: smoothed_nll(o, y, self.label_smoothing), out, batch[1])

    def _evaluate(
        self, batch: Sequence[torch.Tensor], split: str, loss: torchmetrics.Metric, acc: torchmetrics.Metric
    ) -> None:
        out = self.tested_log_probs(batch, split) if split == "test" else self.log_probs(batch, split)
        loss.update(F.nll_loss(out, batch[1], reduction="none"))
        acc.update(out, batch[1])
        prefix = "val" if split == "valid" else split
        self.log(f"{prefix}/loss", loss)
        self.log(f"{prefix}/acc", acc, prog_bar=True)

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "valid", self.val_loss, self.val_acc)

    def test_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_loss, self.test_acc)

    def predict_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self.tested_log_probs(batch, "predict")

    def score_items(self, batch: Sequence[torch.Tensor]) -> ItemScores:
        """Each image's likeliest class, label and NLL loss, for the reports."""
        out = self.log_probs(batch, "valid").float()
        return ItemScores(out.argmax(1), batch[1], F.nll_loss(out, batch[1], reduction="none"))


class LogisticRegressionModule(VisionModule):
    """Logistic regression on the pixels; ``hand_written`` picks the lesson's own-parameters version."""

    def __init__(self, n_classes: int, channels: int, image_size: int, hand_written: bool = False, **optim) -> None:
        super().__init__(n_classes, **optim)
        self.save_hyperparameters()
        n_in = channels * image_size * image_size
        self.net = (HandLogisticRegression if hand_written else LogisticRegression)(n_in, n_classes)


class CNNModule(VisionModule):
    """The small CNN (``SimpleCNN``). Global pooling makes it work at any ``image_size``."""

    def __init__(
        self,
        n_classes: int,
        channels: int,
        image_size: int,
        widths: Sequence[int] = (16, 32, 64, 128),
        depth: Sequence[int] | int = (2, 2, 1),
        p: float = 0.25,
        channels_last: bool = True,
        **optim,
    ) -> None:
        super().__init__(n_classes, channels_last=channels_last, **optim)
        self.save_hyperparameters()
        self.net = SimpleCNN(channels, n_classes, widths, depth, p)
        self.use_channels_last()


class WorkshopCNNModule(VisionModule):
    """The PyTorch Workshop's CIFAR-10 CNN (``WorkshopCNN``); Adam at a constant 1e-3 as the workshop trained it."""

    def __init__(
        self,
        n_classes: int,
        channels: int,
        image_size: int,
        widths: Sequence[int] = (10, 20, 40),
        hidden: int = 100,
        p: float = 0.2,
        batch_norm: bool = False,
        optimizer: str = "adam",
        betas: Sequence[float] = (0.9, 0.999),
        **optim,
    ) -> None:
        super().__init__(n_classes, optimizer=optimizer, betas=betas, **optim)
        self.save_hyperparameters()
        self.net = WorkshopCNN(channels, n_classes, image_size, widths, hidden, p, batch_norm)


class BackboneModule(VisionModule):
    """A head on a torchvision backbone (fast.ai's ConvLearner): layer groups [early body, late body, head].

    With ``weights_path`` (a torchvision state-dict file; nothing is downloaded) or ``precompute`` the body
    starts frozen, as fastai's pretrained learner; ``GradualUnfreezing`` and ``lr_div`` then unfreeze it with
    discriminative learning rates. Frozen groups stay in eval mode, so their BatchNorm statistics do
    not move either. ``precompute=True`` computes the frozen body's pooled activations once per image
    (train and validation rows, by the batch's index) and trains the head on the cached features, as
    the lesson's ``precompute=True``; the cache is used only while the body is frozen (turn the data's
    augmentation off with it: a cached image keeps the view it was first seen in).
    """

    def __init__(
        self,
        n_classes: int,
        channels: int = 3,
        image_size: int = 224,
        arch: str = "resnet34",
        weights_path: str | None = None,
        xtra_fc: Sequence[int] = (512,),
        ps: float | Sequence[float] = 0.5,
        precompute: bool = False,
        channels_last: bool = True,
        **optim,
    ) -> None:
        super().__init__(n_classes, channels_last=channels_last, **optim)
        self.save_hyperparameters()
        if channels not in (1, 3):
            raise ValueError(f"torchvision backbones take RGB (or grayscale) images, got {channels} channels")
        self.net = BackboneNet(arch, n_classes, image_size, xtra_fc, ps, weights_path)
        self.use_channels_last()
        self.precompute = precompute
        self.feature_caches: dict[str, FeatureCache] = {}
        if weights_path is not None or precompute:
            self.freeze()

    def layer_groups(self) -> list[nn.Module]:
        return [*self.net.body_groups(), self.net.head]

    @property
    def body_frozen(self) -> bool:
        return self.n_frozen >= len(self.layer_groups()) - 1

    def freeze_to(self, n: int) -> None:
        super().freeze_to(n)
        if not self.body_frozen:
            self.feature_caches.clear()
        self.train(self.training)

    def train(self, mode: bool = True) -> BackboneModule:
        """Train mode for the trainable groups only: frozen groups stay in eval mode."""
        super().train(mode)
        if mode:
            for group in self.layer_groups()[: self.n_frozen]:
                group.eval()
        return self

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if self.precompute and self._distributed():
            raise ValueError("precompute=True caches features in one process; train with devices=1 or without it")

    def log_probs(self, batch: Sequence[torch.Tensor], split: str) -> torch.Tensor:
        if not (self.precompute and self.body_frozen and split in ("train", "valid") and len(batch) > 2):
            return self(batch[0])
        x, index = self.prepare(batch[0]), batch[2]
        cache = self.feature_caches.setdefault(split, FeatureCache())
        with torch.no_grad():
            features = cache.get(index, lambda rows: self.net.features(x[rows]))
        return self.net.head(features)
