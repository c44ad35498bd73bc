"""A content and a style image for style transfer (workshop activity 5.01), as the one batch every step trains on."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from datamodules.batching import ResumableLoader, ResumableSampler, TensorBatches
from datamodules.files import DataError, require_file
from datamodules.image_files import as_rgb
from datamodules.image_folder import IMAGENET_MEAN, IMAGENET_STD
from datamodules.samples.style_images import CONTENT_FILE, STYLE_FILE, write_style_images_sample
from datamodules.source import DataSource
from lightning_models.style_transfer import save_image

SAMPLE_NAME = "style-images-v1"
# VGG-19 pools four times before conv5_1
MIN_SIDE = 16
THE_PAIR = torch.zeros(1, dtype=torch.int64)


def read_image(path: Path, what: str) -> Image.Image:
    """The file as an RGB image, turned as its EXIF orientation says (photos from phones)."""
    require_file(path, what)
    try:
        with Image.open(path) as image:
            return as_rgb(ImageOps.exif_transpose(image), path)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise DataError(f"{path} cannot be read as an image ({e}); give a JPEG or PNG file as the {what}") from None


def scaled_down(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` with its shorter side scaled down to ``max_side`` pixels, unless it is shorter already."""
    scale = max_side / min(image.size)
    if scale >= 1:
        return image
    size = tuple(max(1, round(side * scale)) for side in image.size)
    return image.resize(size, Image.Resampling.LANCZOS)


def as_tensor(image: Image.Image, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(3, h, w) float32, normalized by ``mean`` and ``std`` (of pixel values in [0, 1])."""
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)
    return (pixels - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


class RepeatedPair(ResumableSampler):
    """The one pair, ``steps`` times an epoch, on every rank (under DDP each rank takes the same step);
    resumable mid-epoch like every loader here."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def epoch_batches(self, epoch: int) -> list[torch.Tensor]:
        return [THE_PAIR] * self.steps


class StyleImagesDataModule(pl.LightningDataModule):
    """A content and a style image, read as RGB and normalized with ImageNet's statistics (what VGG-19's
    weights expect), as batches of one (content, style) pair.

    ``content_path`` and ``style_path`` name the files (any format PIL reads); a path left out is
    ``content.png`` or ``style.png`` in ``data_dir``, or in the built-in sample without one. The content
    image keeps its proportions, its shorter side scaled down to at most ``image_size`` pixels (never up);
    the style image is scaled to cover the content's size and centre-cropped to it, so its strokes keep
    their proportions. An epoch is ``steps_per_epoch`` optimizer steps of the generated image, each on the
    same pair; validation is one more look at it (``val/loss``). There is one pair, so ``batch_size`` is 1.
    Predict gives the model's image, which ``write_predictions`` writes as ``result.png``.
    """

    def __init__(
        self,
        content_path: str | None = None,
        style_path: str | None = None,
        data_dir: str | None = None,
        image_size: int = 224,
        steps_per_epoch: int = 100,
        batch_size: int = 1,
        num_workers: int = 0,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        cache_dir: str = ".cache/fastlightning",
    ) -> None:
        super().__init__()
        if batch_size != 1:
            raise ValueError(
                f"batch_size={batch_size}: style transfer optimizes one image on one (content, style) pair, so a "
                f"batch is that pair and batch_size must be 1; set the number of steps with data.steps_per_epoch "
                f"and trainer.max_epochs"
            )
        if image_size < MIN_SIDE:
            raise ValueError(f"image_size={image_size}: VGG-19 needs images of at least {MIN_SIDE} pixels a side")
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be at least 1, got {steps_per_epoch}")
        self.source = DataSource(data_dir=data_dir, cache_dir=cache_dir)
        self.content_path = content_path
        self.style_path = style_path
        self.image_size = image_size
        self.steps_per_epoch = steps_per_epoch
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.pair: TensorBatches | None = None

    def image_file(self, given: str | None, name: str) -> Path:
        """The path as given, else ``name`` in data_dir or in the built-in sample."""
        if given is not None:
            return Path(given)
        return self.source.resolve(SAMPLE_NAME, write_style_images_sample) / name

    def prepare_data(self) -> None:
        self.load()

    def setup(self, stage: str) -> None:
        self.load()

    def load(self) -> TensorBatches:
        """The (content, style) pair as normalized tensors of one row each, read on the first call."""
        if self.pair is None:
            content_file = self.image_file(self.content_path, CONTENT_FILE)
            content = scaled_down(read_image(content_file, "content image (data.content_path)"), self.image_size)
            if min(content.size) < MIN_SIDE:
                raise DataError(
                    f"{content_file} is {content.size[0]} x {content.size[1]} pixels; VGG-19 needs at least "
                    f"{MIN_SIDE} a side: give a larger content image"
                )
            style = read_image(self.image_file(self.style_path, STYLE_FILE), "style image (data.style_path)")
            style = ImageOps.fit(style, content.size, Image.Resampling.LANCZOS)
            tensors = [as_tensor(image, self.mean, self.std)[None] for image in (content, style)]
            self.pair = TensorBatches(*tensors)
        return self.pair

    def describe(self) -> dict:
        """The image's shape (3, h, w) and the normalization, for the model's image and its ``result()``."""
        content, _ = self.load().tensors
        return {"image_shape": list(content.shape[1:]), "mean": list(self.mean), "std": list(self.std)}

    def loader(self, steps: int) -> ResumableLoader:
        return ResumableLoader(
            self.load(),
            sampler=RepeatedPair(steps),
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> ResumableLoader:
        loader = self.loader(self.steps_per_epoch)
        loader.trainer = self.trainer  # its position in checkpoints: the trainer's
        return loader

    def val_dataloader(self) -> ResumableLoader:
        return self.loader(1)

    def predict_dataloader(self) -> ResumableLoader:
        return self.loader(1)

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``result.png``: the generated image that predict gave (in [0, 1])."""
        return save_image(predictions[0], Path(out_dir) / "result.png")
