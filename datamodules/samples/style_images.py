"""The built-in style-transfer pair: a content picture of flat shapes and a style image of coloured stripes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from datamodules.files import write_once

CONTENT_FILE = "content.png"
STYLE_FILE = "style.png"


def shapes_picture(width: int = 40, height: int = 32) -> np.ndarray:
    """A disk and a square on a sky-to-ground gradient, uint8 (height, width, 3): smooth regions and sharp edges."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    t = (y / height)[..., None]
    picture = (1 - t) * np.array([90, 150, 230]) + t * np.array([200, 190, 150])
    disk = np.hypot(x - 0.3 * width, y - 0.45 * height) < 0.22 * height
    square = (np.abs(x - 0.72 * width) < 0.17 * height) & (np.abs(y - 0.6 * height) < 0.17 * height)
    picture[disk] = [240, 200, 40]
    picture[square] = [60, 120, 60]
    return picture.round().astype(np.uint8)


def stripes(size: int = 36, period: int = 6) -> np.ndarray:
    """Diagonal stripes of three saturated colours, uint8 (size, size, 3): a texture with strong, regular statistics."""
    y, x = np.mgrid[0:size, 0:size]
    colours = np.array([[200, 30, 40], [250, 230, 60], [30, 40, 160]], dtype=np.uint8)
    return colours[((x + y) // period) % len(colours)]


def write_style_images_sample(folder: str | Path) -> Path:
    """``content.png`` (40 x 32, landscape) and ``style.png`` (36 x 36): of other sizes, as a user's pair would be."""

    def write(tmp: Path) -> None:
        Image.fromarray(shapes_picture()).save(tmp / CONTENT_FILE)
        Image.fromarray(stripes()).save(tmp / STYLE_FILE)

    return write_once(folder, write)
