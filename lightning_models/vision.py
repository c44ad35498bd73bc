"""Image classifiers: logistic regression (with nn.Linear and written out by hand), a small CNN, and a
head on a torchvision backbone (fast.ai lessons 1-2 and the machine-learning course's MNIST lessons).

Every net returns log-probabilities; batches are ``(images, labels, index)`` as the image data
modules give them (``index`` is only used to cache a frozen body's features).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
import torchmetrics
import torchvision
from torch import nn

from lightning_models.base import RecipeModule

# ---------------------------------------------------------------- logistic regression


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
    its own log-softmax. With ``weight = linear.weight.T`` it gives ``LogisticRegression``'s outputs."""

    def __init__(self, n_in: int, n_classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_classes) / math.sqrt(n_in))
        self.bias = nn.Parameter(torch.zeros(n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return log_softmax(x.flatten(1) @ self.weight + self.bias)


# ---------------------------------------------------------------- small CNN


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


# ---------------------------------------------------------------- head on a torchvision backbone

POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d)


def classification_models() -> list[str]:
    """Names of torchvision's classification models."""
    return torchvision.models.list_models(module=torchvision.models)


def cut_body(model: nn.Module) -> nn.Sequential:
    """The model's layers before its pooling and classifier, as a Sequential of its children.

    The cut is at the first pooling child (resnets, vgg, efficientnet, convnext, ...), else the model's
    ``features`` (densenet, mobilenet_v2, squeezenet), else all children but the last; auxiliary
    classifiers (googlenet, inception) are left out. A single Sequential is opened into its children.
    """
    children = [(name, m) for name, m in model.named_children() if "aux" not in name.lower()]
    cut = next((i for i, (_, m) in enumerate(children) if isinstance(m, POOLS)), None)
    if cut is not None:
        children = children[:cut]
    elif isinstance(getattr(model, "features", None), nn.Module):
        children = [("features", model.features)]
    else:
        children = children[:-1]
    if len(children) == 1 and isinstance(children[0][1], nn.Sequential):
        children = list(children[0][1].named_children())
    return nn.Sequential(OrderedDict(children))


def _tensor_names(model: nn.Module, part: nn.Module) -> set[str]:
    """State-dict names (in ``model``) of the parameters and buffers of ``part``."""
    inside = {id(m) for m in part.modules()}
    names = set()
    for prefix, module in model.named_modules():
        if id(module) in inside:
            for name, _ in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
                names.add(f"{prefix}.{name}" if prefix else name)
    return names


def load_body_weights(model: nn.Module, body: nn.Module, path: str | Path, arch: str) -> None:
    """Load the body's weights from a torchvision state-dict file (``weights_only``; classifier keys ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"weights_path {path}: no such file; give the path of torchvision's {arch} weights "
            f"(the .pth state dict torchvision downloads), or leave weights_path unset to start from random weights"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a state dict (a mapping of names to tensors) of torchvision's {arch}")
    own = model.state_dict()
    needed = {n for n in _tensor_names(model, body) if not n.endswith("num_batches_tracked")}
    missing = sorted(needed - state.keys())
    wrong = sorted(n for n in needed & state.keys() if state[n].shape != own[n].shape)
    if missing or wrong:
        problems = [f"missing {', '.join(missing[:3])}"] if missing else []
        problems += [f"{n} is {tuple(state[n].shape)}, expected {tuple(own[n].shape)}" for n in wrong[:3]]
        raise ValueError(
            f"{path} does not hold the weights of torchvision's {arch} ({len(missing)} tensors missing, "
            f"{len(wrong)} of another shape: {'; '.join(problems)}); check model.arch"
        )
    model.load_state_dict({n: state[n] for n in needed}, strict=False)


def feature_channels(body: nn.Module, image_size: int, arch: str) -> int:
    """Channels of the body's output, from one forward pass of a blank image."""
    was_training = body.training
    body.eval()
    try:
        with torch.no_grad():
            out = body(torch.zeros(1, 3, image_size, image_size))
    except RuntimeError as e:
        raise ValueError(
            f"{arch} cut before its pooling does not run on {image_size}x{image_size} images ({e}); "
            f"use larger images (data.image_size) or a convolutional backbone such as resnet34"
        ) from None
    finally:
        body.train(was_training)
    if out.ndim != 4:
        raise ValueError(f"{arch} has no spatial feature map before its pooling; use a convolutional backbone")
    return out.shape[1]


class ConcatPool(nn.Module):
    """Max pooling and average pooling over the whole feature map, side by side: (N, C, H, W) -> (N, 2C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], dim=1).flatten(1)


def dropout_probs(ps: float | Sequence[float], n_layers: int) -> list[float]:
    """One dropout probability per linear layer: a single ``p`` gives p/2 before each extra layer and p
    before the output layer (fastai's ``ps=0.5`` -> [0.25, 0.5] with one extra layer)."""
    if isinstance(ps, int | float):
        return [ps / 2] * (n_layers - 1) + [ps]
    if len(ps) != n_layers:
        raise ValueError(
            f"ps gives {len(ps)} dropout probabilities for {n_layers} linear layers (xtra_fc plus the output "
            f"layer); give one number or {n_layers}"
        )
    return list(ps)


def classifier_head(n_in: int, n_classes: int, xtra_fc: Sequence[int], ps: float | Sequence[float]) -> nn.Sequential:
    """BatchNorm -> Dropout -> Linear (-> ReLU) per layer of sizes ``xtra_fc`` and the output, then log-softmax.

    A dropout of 0 leaves the Dropout out; ``xtra_fc=[]`` gives a single linear layer.
    """
    sizes = [n_in, *xtra_fc, n_classes]
    probs = dropout_probs(ps, len(sizes) - 1)
    layers: list[nn.Module] = []
    for i, (n_from, n_to, p) in enumerate(zip(sizes[:-1], sizes[1:], probs, strict=True)):
        layers.append(nn.BatchNorm1d(n_from))
        if p > 0:
            layers.append(nn.Dropout(p))
        layers.append(nn.Linear(n_from, n_to))
        if i < len(probs) - 1:
            layers.append(nn.ReLU(inplace=True))
    layers.append(nn.LogSoftmax(dim=1))
    return nn.Sequential(*layers)


class FeatureCache:
    """Rows of features by row index, each computed once, at the first batch that holds its row."""

    def __init__(self) -> None:
        self.values: torch.Tensor | None = None
        self.known = torch.zeros(0, dtype=torch.bool)

    def get(self, index: torch.Tensor, compute: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """The features of rows ``index``; ``compute(mask)`` gives those of the batch rows in ``mask``."""
        size = int(index.max()) + 1
        if size > len(self.known):
            grown = torch.zeros(max(size, 2 * len(self.known)), dtype=torch.bool, device=index.device)
            grown[: len(self.known)] = self.known.to(index.device)
            self.known = grown
        missing = ~self.known[index]
        if missing.any():
            fresh = compute(missing)
            if self.values is None or len(self.values) < len(self.known):
                values = fresh.new_zeros(len(self.known), fresh.shape[1])
                if self.values is not None:
                    values[: len(self.values)] = self.values
                self.values = values
            self.values[index[missing]] = fresh
            self.known[index[missing]] = True
        return self.values[index]


class BackboneNet(nn.Module):
    """A torchvision classification model's body (cut before its pooling), concat pooling, and a new head."""

    def __init__(
        self,
        arch: str,
        n_classes: int,
        image_size: int,
        xtra_fc: Sequence[int],
        ps: float | Sequence[float],
        weights_path: str | None = None,
    ) -> None:
        super().__init__()
        if arch not in classification_models():
            raise ValueError(
                f"unknown backbone {arch!r}: use a torchvision classification model such as resnet18, resnet34, "
                f"resnet50, densenet121 or efficientnet_b0 (see torchvision.models.list_models())"
            )
        model = torchvision.models.get_model(arch, weights=None)
        self.body = cut_body(model)
        if weights_path is not None:
            load_body_weights(model, self.body, weights_path, arch)
        self.pool = ConcatPool()
        self.head = classifier_head(2 * feature_channels(self.body, image_size, arch), n_classes, xtra_fc, ps)

    def body_groups(self) -> list[nn.Module]:
        """The body in two layer groups, cut three quarters of the way in (resnets: after layer2, as fastai)."""
        if len(self.body) < 2:
            return [self.body]
        cut = max(1, 3 * len(self.body) // 4)
        return [self.body[:cut], self.body[cut:]]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Concat-pooled body activations; a grayscale batch is repeated over the three colour channels."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.pool(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# ---------------------------------------------------------------- LightningModules


class VisionModule(RecipeModule):
    """Classification from log-probabilities: NLL loss, ``val/loss``, ``val/acc``, ``test/loss``, ``test/acc``.

    Subclasses set ``self.net``; ``channels_last`` stores the convolutions' weights and the batches in
    NHWC order, which oneDNN (CPU) and cuDNN run faster.
    """

    def __init__(self, n_classes: int, channels_last: bool = False, **optim) -> None:
        super().__init__(**optim)
        self.channels_last = channels_last
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

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = F.nll_loss(self.log_probs(batch, "train"), batch[1])
        self.log_train_loss(loss)
        return loss

    def _evaluate(
        self, batch: Sequence[torch.Tensor], split: str, loss: torchmetrics.Metric, acc: torchmetrics.Metric
    ) -> None:
        out = self.log_probs(batch, split)
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
        return self.log_probs(batch, "predict")


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
