"""Image files for a trained image classifier: its size, channels, normalization and class names."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

from datamodules.files import DataError
from datamodules.image_files import IMAGE_SUFFIXES, as_rgb
from datamodules.preprocessing.base import InputError, Preprocessing, as_list, class_columns


def open_image(item: str | Path | bytes | Image.Image, what: str) -> Image.Image:
    """A path, a file's bytes or a PIL image, decoded as 8-bit RGB (as the training images were); anything
    unreadable is an InputError naming it."""
    try:
        if isinstance(item, Image.Image):
            return as_rgb(item, what)
        with Image.open(io.BytesIO(item) if isinstance(item, bytes) else item) as image:
            return as_rgb(image, what)
    except FileNotFoundError:
        raise InputError(f"{what}: no such file {item}") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise InputError(f"{what} cannot be read as an image ({e})") from None
    except DataError as e:
        raise InputError(str(e)) from None


@dataclasses.dataclass
class ImagePreprocessing(Preprocessing):
    """Images -> resized (shorter side, then centre crop), in the model's channels, normalized -> classes.

    The training images' per-channel ``mean``/``std`` normalize a new image exactly as they did the
    training batches; a one-channel model (MNIST) sees the image in grayscale.
    """

    kind = "images"

    classes: list[str]
    mean: list[float]
    std: list[float]
    channels: int
    image_size: int

    def rows(self, inputs: Any) -> list:
        if isinstance(inputs, (str, Path)) and Path(inputs).is_dir():
            files = sorted(p for p in Path(inputs).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if not files:
                raise InputError(f"{inputs} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            return [str(p) for p in files]
        return as_list(inputs, (str, Path, bytes, Image.Image), "images to predict")

    def pixels(self, image: Image.Image) -> torch.Tensor:
        """One image as (channels, image_size, image_size) uint8, resized as the image-folder data was."""
        from torchvision.transforms import v2

        resize = v2.Compose(
            [v2.PILToTensor(), v2.Resize(self.image_size, antialias=True), v2.CenterCrop(self.image_size)]
        )
        return resize(image.convert("L" if self.channels == 1 else "RGB"))

    def encode(self, rows: list) -> tuple[torch.Tensor, ...]:
        names = [
            f"image {item}" if isinstance(item, (str, Path)) else f"image {i} of its batch of {len(rows)}"
            for i, item in enumerate(rows)
        ]
        images = torch.stack([self.pixels(open_image(item, name)) for item, name in zip(rows, names, strict=True)])
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return ((images.float() / 255 - mean) / std,)

    def example(self) -> tuple[torch.Tensor, ...]:
        return (torch.zeros(2, self.channels, self.image_size, self.image_size),)

    def prediction_columns(self, outputs: list[torch.Tensor]) -> dict[str, Any]:
        """The likeliest class, its probability and every class's, from the model's log-probabilities."""
        return class_columns(torch.cat(outputs).float().exp(), self.classes)

    def table(self, rows: list, outputs: list[torch.Tensor]) -> pd.DataFrame:
        items = [str(r) if isinstance(r, (str, Path)) else f"image {i}" for i, r in enumerate(rows)]
        return pd.DataFrame({"item": items, **self.prediction_columns(outputs)})
