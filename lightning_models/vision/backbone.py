"""A new head on a torchvision classification model's body (fast.ai lessons 1-2): cutting the model,
loading its weights from a file, concat pooling, the head, and a cache of the frozen body's features."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from lightning_models.checkpoints import CheckpointError, read_weights
from lightning_models.layers import bn_drop_lin_stack

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
        raise CheckpointError(
            f"weights_path {path}: no such file; give the path of torchvision's {arch} weights "
            f"(the .pth state dict torchvision downloads), or leave weights_path unset to start from random weights"
        )
    state = read_weights(path, f"torchvision {arch} weights file")
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a state dict (a mapping of names to tensors) of torchvision's {arch}")
    own = model.state_dict()
    needed = {n for n in _tensor_names(model, body) if not n.endswith("num_batches_tracked")}
    missing = sorted(needed - state.keys())
    wrong = sorted(n for n in needed & state.keys() if state[n].shape != own[n].shape)
    if missing or wrong:
        problems = [f"missing {', '.join(missing[:3])}"] if missing else []
        problems += [f"{n} is {tuple(state[n].shape)}, expected {tuple(own[n].shape)}" for n in wrong[:3]]
        raise CheckpointError(
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
    layers = bn_drop_lin_stack(sizes, dropout_probs(ps, len(sizes) - 1))
    return nn.Sequential(*layers, nn.LogSoftmax(dim=1))


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
