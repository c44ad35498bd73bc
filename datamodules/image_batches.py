"""The shared half of the image data modules: augmentation and normalization of whole batches on their device.

Every batch is ``(uint8 images, labels, index)``; ``on_after_batch_transfer`` augments the training
batches on tensors (random crop with padding, horizontal flip, grayscale) and normalizes all of them. A
training image's crop, flip and grayscale are a function of (seed, epoch, its row), so a run resumed mid-epoch,
or run on any number of ranks, augments every image as one uninterrupted process does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from datamodules.preprocessing.images import ImagePreprocessing
from datamodules.source import DataSource

AUGMENTATIONS = ("crop", "flip", "grayscale")
GRAYSCALE_P = 0.1
"""The share of training images turned gray by ``grayscale`` (the workshop's ``RandomGrayscale(0.1)``)."""
# ITU-R BT.601 luma weights of red, green and blue (what PIL's and torchvision's grayscale use)
LUMA = (0.299, 0.587, 0.114)


def random_crop(images: torch.Tensor, pad: int, shifts: torch.Tensor | None = None) -> torch.Tensor:
    """Each image shifted by its own offset of up to ``pad`` pixels, zeros filling in (a crop of a padded copy).

    ``shifts`` (N, 2) are the crops' corners (dy, dx) in the padded image, 0..2*pad (pad, pad: no
    shift); without them each image's are drawn from torch's global generator.
    """
    if pad <= 0:
        return images
    n, _, height, width = images.shape
    if shifts is None:
        shifts = torch.randint(0, 2 * pad + 1, (n, 2), device=images.device)
    padded = F.pad(images, (pad, pad, pad, pad))
    rows = (shifts[:, :1] + torch.arange(height, device=images.device))[:, :, None]
    cols = (shifts[:, 1:] + torch.arange(width, device=images.device))[:, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def random_flip(images: torch.Tensor, flips: torch.Tensor | None = None) -> torch.Tensor:
    """Each image mirrored left-right where ``flips`` (N,) is true; without it, with probability one half."""
    if flips is None:
        flips = torch.rand(len(images), device=images.device) < 0.5
    return torch.where(flips[:, None, None, None], images.flip(-1), images)


def random_grayscale(images: torch.Tensor, grays: torch.Tensor | None = None) -> torch.Tensor:
    """Each RGB image replaced by its luma in all three channels where ``grays`` (N,) is true; without it,
    with probability ``GRAYSCALE_P``. Images of one channel are returned as they are."""
    if images.shape[1] != 3:
        return images
    if grays is None:
        grays = torch.rand(len(images), device=images.device) < GRAYSCALE_P
    weights = torch.tensor(LUMA, device=images.device).view(1, 3, 1, 1)
    luma = (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(images.dtype)
    return torch.where(grays[:, None, None, None], luma.expand_as(images), images)


def epoch_draws(n_rows: int, pad: int, seed: int, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every training row's crop corner (N, 2), flip (N,) and grayscale (N,) in ``epoch``, seeded by
    (seed, epoch) alone: no generator state to save, and the same draws on every rank."""
    rng = np.random.default_rng([seed, epoch])
    shifts = torch.from_numpy(rng.integers(0, 2 * pad + 1, (n_rows, 2)))
    flips = torch.from_numpy(rng.random(n_rows) < 0.5)
    grays = torch.from_numpy(rng.random(n_rows) < GRAYSCALE_P)
    return shifts, flips, grays


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation of uint8 images, on the 0..1 scale."""
    total = torch.zeros(images.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for part in images.split(chunk):
        values = part.double().transpose(0, 1).reshape(images.shape[1], -1) / 255
        total += values.sum(1)
        squares += (values**2).sum(1)
    count = images.numel() / images.shape[1]
    mean = total / count
    std = (squares / count - mean**2).clamp_min(1e-12).sqrt()
    return mean.tolist(), std.tolist()


def check_augment(augment: Sequence[str]) -> list[str]:
    """The augmentations asked for, refused when one is unknown (before any data is read)."""
    unknown = [a for a in augment if a not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}: choose from {', '.join(AUGMENTATIONS)}")
    return list(augment)


class ImageBatches(pl.LightningDataModule):
    """Base of the image data modules: where the files are, batch augmentation and normalization,
    ``describe``, predictions.

    Subclasses name their built-in sample (``sample_name``, ``write_sample``), set ``classes``,
    ``mean``/``std`` (per channel, 0..1 scale), ``channels``, ``image_size`` and ``n_train`` (the
    training rows) in ``setup`` and provide the loaders, whose batches are ``(uint8 images, labels, index)``.
    """

    sample_name = ""
    write_sample: Callable[[Path], Path]  # a staticmethod: writes the built-in sample into a folder

    def __init__(
        self, source: DataSource, augment: Sequence[str], pad: int, batch_size: int, num_workers: int, seed: int
    ) -> None:
        super().__init__()
        self.augment = check_augment(augment)
        self.source = source
        self.pad = pad
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.classes: list[str] = []
        self.mean: list[float] = []
        self.std: list[float] = []
        self.channels = 0
        self.image_size = 0
        self.n_train = 0
        self._draws: tuple[tuple[int, torch.device], torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    @property
    def folder(self) -> Path:
        """The folder read: ``data_dir``; else the downloaded dataset (``download``); else the built-in sample."""
        return self.source.resolve(self.sample_name, self.write_sample)

    def prepare_data(self) -> None:
        """Downloads the dataset or writes the sample (once), before any rank reads it."""
        self.source.resolve(self.sample_name, self.write_sample)

    def describe(self) -> dict:
        """Constructor arguments only the data knows: number of classes, channels and image size."""
        if not self.classes:
            self.setup("fit")
        return {"n_classes": len(self.classes), "channels": self.channels, "image_size": self.image_size}

    def augment_batch(self, images: torch.Tensor, rows: torch.Tensor | None = None, epoch: int = 0) -> torch.Tensor:
        """The configured augmentations of a uint8 batch: those of its training ``rows`` in ``epoch``
        (``epoch_draws``), or without rows fresh draws from torch's global generator."""
        if not self.augment:
            return images
        shifts = flips = grays = None
        if rows is not None:
            shifts, flips, grays = (draws[rows] for draws in self._epoch_draws(epoch, images.device))
        if "crop" in self.augment:
            images = random_crop(images, self.pad, shifts)
        if "flip" in self.augment:
            images = random_flip(images, flips)
        if "grayscale" in self.augment:
            images = random_grayscale(images, grays)
        return images

    def _epoch_draws(self, epoch: int, device: torch.device) -> tuple[torch.Tensor, ...]:
        """``epoch_draws`` of every training row, on ``device``, made once an epoch."""
        key = (epoch, device)
        if self._draws is None or self._draws[0] != key:
            self._draws = (key, *(d.to(device) for d in epoch_draws(self.n_train, self.pad, self.seed, epoch)))
        return self._draws[1:]

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float, centred and scaled per channel."""
        mean = torch.tensor(self.mean, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, -1, 1, 1)
        return (images.float() / 255 - mean) / std

    def on_after_batch_transfer(self, batch: Sequence[torch.Tensor], dataloader_idx: int) -> tuple:
        images, *rest = batch
        if self.trainer is not None and self.trainer.training:
            images = self.augment_batch(images, batch[2], self.trainer.current_epoch)
        return (self.normalize(images), *rest)

    @property
    def class_names(self) -> list[str]:
        """The class of each label code (the reports' names for them)."""
        return self.classes

    def predict_items(self) -> list[str]:
        """What each predicted row is (a file, or a row of the test set)."""
        raise NotImplementedError

    def predict_labels(self) -> list[int]:
        """The known label of each predicted row (-1 when unknown)."""
        raise NotImplementedError

    def preprocessing(self) -> ImagePreprocessing:
        """The class names, size and normalization a model trained here needs to classify new images."""
        if not self.classes:
            self.setup("fit")
        return ImagePreprocessing(self.classes, self.mean, self.std, self.channels, self.image_size)

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``predictions.csv``: item, label, prediction (class names), its probability and every class's."""
        labels = self.predict_labels()
        frame = pd.DataFrame(
            {
                "item": self.predict_items(),
                "label": [self.classes[i] if i >= 0 else "" for i in labels],
                **self.preprocessing().prediction_columns(predictions),
            }
        )
        path = Path(out_dir) / "predictions.csv"
        frame.to_csv(path, index=False)
        return path
