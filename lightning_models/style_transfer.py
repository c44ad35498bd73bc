"""Style transfer (Gatys et al.; workshop activity 5.01): an image optimized to have one image's content in
another's style, as seen by VGG-19's convolutional layers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pytorch_lightning.utilities import rank_zero_warn
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.checkpoints import CheckpointError, read_weights

# VGG-19's layers up to conv5_1, as torchvision's ``vgg19().features`` numbers them: a number is a 3x3
# convolution with that many channels (each followed by a ReLU), "M" a 2x2 max-pooling
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
STYLE_WEIGHTS = {"conv1_1": 1.0, "conv2_1": 0.8, "conv3_1": 0.6, "conv4_1": 0.4, "conv5_1": 0.2}
VGG19_WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"
VGG19_WEIGHTS_URL = f"https://download.pytorch.org/models/{VGG19_WEIGHTS_FILE}"


def vgg19_layers(seed: int = 0) -> tuple[nn.Sequential, dict[str, int]]:
    """VGG-19's layers up to conv5_1's ReLU with torchvision's initialization, seeded, and each convolution's
    name (``conv4_2``: block 4, convolution 2) with its index in ``torchvision.models.vgg19().features``."""
    generator = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    names: dict[str, int] = {}
    channels, block, conv = 3, 1, 0
    for width in VGG19_LAYOUT:
        if width == "M":
            layers.append(nn.MaxPool2d(2, 2))
            block, conv = block + 1, 0
            continue
        conv += 1
        names[f"conv{block}_{conv}"] = len(layers)
        layer = nn.Conv2d(channels, width, 3, padding=1)
        nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu", generator=generator)
        nn.init.zeros_(layer.bias)
        layers += [layer, nn.ReLU(inplace=True)]
        channels = width
    return nn.Sequential(*layers), names


def load_vgg19_weights(layers: nn.Sequential, path: str | Path) -> None:
    """Copy the ``features.N.weight/bias`` tensors of a torchvision VGG-19 state-dict file into ``layers``
    (its ``classifier.*`` tensors are not needed)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"model.weights_path={path}: no such file; give torchvision's VGG-19 weights ({VGG19_WEIGHTS_URL}), "
            f"or leave model.weights_path unset for random weights"
        )
    state = read_weights(path, what="VGG-19 weights file")
    expected = {f"features.{name}": tensor for name, tensor in layers.state_dict().items()}
    found = state if isinstance(state, Mapping) else {}
    missing = [name for name in expected if not isinstance(found.get(name), torch.Tensor)]
    wrong = [
        f"{name} is {tuple(found[name].shape)}, expected {tuple(tensor.shape)}"
        for name, tensor in expected.items()
        if name not in missing and found[name].shape != tensor.shape
    ]
    if missing or wrong:
        problems = [f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"] if missing else []
        problems += wrong[:3]
        raise CheckpointError(
            f"{path} does not hold torchvision's VGG-19 weights ({'; '.join(problems)}); give the state dict "
            f"torchvision downloads for vgg19 ({VGG19_WEIGHTS_FILE})"
        )
    layers.load_state_dict({name.removeprefix("features."): found[name] for name in expected})


def as_constants(module: nn.Module) -> nn.Module:
    """``module`` with its parameters turned into non-persistent buffers: they move with the model, get no
    gradients, are not trained, and stay out of its checkpoints (which hold only what is learned)."""
    for layer in module.modules():
        for name, parameter in list(layer.named_parameters(recurse=False)):
            delattr(layer, name)
            layer.register_buffer(name, parameter.detach(), persistent=False)
    return module.eval()


class VGG19Features(nn.Module):
    """The activations (after the ReLU) of named convolutions of VGG-19, a fixed network.

    The weights come from a torchvision VGG-19 state-dict file (``weights_path``), else they are random,
    drawn from ``seed``: the same in every run and on every rank, so a resumed run sees the same network.
    A loop that keeps each convolution's output, as the workshop's does, gets the ReLU's output too:
    torchvision's ReLU works in place.
    """

    def __init__(self, weights_path: str | Path | None = None, seed: int = 0) -> None:
        super().__init__()
        layers, self.names = vgg19_layers(seed)
        if weights_path is not None:
            load_vgg19_weights(layers, weights_path)
        self.layers = as_constants(layers)
        self.eval()

    def check(self, names: Sequence[str]) -> None:
        """A ValueError unless every one of ``names`` is a convolution of these layers."""
        unknown = [name for name in names if name not in self.names]
        if unknown:
            raise ValueError(f"VGG-19 has no layer {', '.join(unknown)}: choose from {', '.join(self.names)}")

    def forward(self, image: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """``{name: activation}`` for each of ``names``; the layers past the deepest of them are not run."""
        self.check(names)
        wanted = {self.names[name] + 1: name for name in names}  # the ReLU after the convolution
        found = {}
        x = image
        for index, layer in enumerate(self.layers[: max(wanted) + 1]):
            x = layer(x)
            if index in wanted:
                found[wanted[index]] = x
        return found


def vgg19_features(weights_path: str | Path | None = None, seed: int = 0) -> VGG19Features:
    """VGG-19's layers up to conv5_1, frozen; with random weights (and a warning) when there is no file."""
    if weights_path is None:
        rank_zero_warn(
            "model.weights_path is not set: VGG-19 has random weights, so the loss falls but the picture will not "
            f"take on the style; give torchvision's weights with model.weights_path=/path/to/{VGG19_WEIGHTS_FILE} "
            f"({VGG19_WEIGHTS_URL})"
        )
    return VGG19Features(weights_path, seed)


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices F F^T of (batch, d, h, w) activations, with F the (d, h*w) channels by positions."""
    flat = features.flatten(2)
    return flat @ flat.transpose(1, 2)


def save_image(image: torch.Tensor, path: str | Path) -> Path:
    """A (3, h, w) image of values in [0, 1] as a PNG file, written atomically (DDP ranks may all write it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        Image.fromarray(np.ascontiguousarray(pixels.permute(1, 2, 0).numpy())).save(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class StyleTransfer(RecipeModule):
    """Optimizes one image, started from the content image, towards the content image's conv4_2 activations
    and the style image's Gram matrices at conv1_1..conv5_1 (workshop activity 5.01).

    Batches are (content, style) pairs of normalized images; the first batch's pair is the one transferred.
    The loss is ``alpha * content + beta * style``: content the mean squared difference of the activations
    at ``content_layer``, style the sum over ``style_weights`` of weight * mean squared difference of the
    Gram matrices / (d * h * w). ``val/content_loss`` and ``val/style_loss`` are the two weighted terms of
    ``val/loss``. The image (``image_shape``, normalized by ``mean`` and ``std``) is the only parameter;
    ``result()`` gives it in [0, 1] and ``export(out_dir)`` writes it as ``result.png``. The VGG-19 network
    is rebuilt from ``weights_path`` (or ``vgg_seed``) and is not part of the checkpoints.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        mean: Sequence[float],
        std: Sequence[float],
        weights_path: str | None = None,
        content_layer: str = "conv4_2",
        style_weights: Mapping[str, float] | None = None,
        alpha: float = 1.0,
        beta: float = 1e5,
        vgg_seed: int = 0,
        **optim,
    ) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        self.content_layer = content_layer
        self.style_weights = dict(STYLE_WEIGHTS if style_weights is None else style_weights)
        self.alpha = alpha
        self.beta = beta
        self.vgg = vgg19_features(weights_path, vgg_seed)
        self.vgg.check([content_layer, *self.style_weights])
        self.image = nn.Parameter(torch.zeros(1, *image_shape))
        self.register_buffer("started", torch.tensor(False))
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        self._targets: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None

    def start_from(self, content: torch.Tensor) -> None:
        """The image starts as the content image (once: ``started`` travels in checkpoints)."""
        if not self.started:
            with torch.no_grad():
                self.image.copy_(content[:1])
                self.started.fill_(True)

    def targets(self, content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The content image's activations at ``content_layer`` and the style image's Gram matrices, computed once."""
        if self._targets is None:
            with torch.no_grad():
                content_features = self.vgg(content[:1], [self.content_layer])[self.content_layer]
                style_features = self.vgg(style[:1], list(self.style_weights))
                self._targets = content_features, {name: gram(f) for name, f in style_features.items()}
        return self._targets

    def losses(self, content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The weighted content and style terms of the loss of the image as it is now."""
        content_target, style_grams = self.targets(content, style)
        features = self.vgg(self.image, [self.content_layer, *self.style_weights])
        content_loss = torch.mean((features[self.content_layer] - content_target) ** 2)
        style_loss = content_loss.new_zeros(())
        for name, weight in self.style_weights.items():
            _, d, h, w = features[name].shape
            style_loss = style_loss + weight * torch.mean((gram(features[name]) - style_grams[name]) ** 2) / (d * h * w)
        return self.alpha * content_loss, self.beta * style_loss

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        content, style = batch
        self.start_from(content)
        content_loss, style_loss = self.losses(content, style)
        loss = content_loss + style_loss
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        content, style = batch
        self.start_from(content)
        content_loss, style_loss = self.losses(content, style)
        self.log("val/loss", content_loss + style_loss, prog_bar=True, sync_dist=True)
        self.log("val/content_loss", content_loss, sync_dist=True)
        self.log("val/style_loss", style_loss, sync_dist=True)

    def predict_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.start_from(batch[0])
        return self.result()

    def result(self) -> torch.Tensor:
        """The image in [0, 1], (3, h, w), on the CPU."""
        return (self.image.detach() * self.std + self.mean).clamp(0, 1)[0].cpu()

    def export(self, out_dir: str | Path) -> Path:
        """``result.png``, the image as it is now."""
        return save_image(self.result(), Path(out_dir) / "result.png")
