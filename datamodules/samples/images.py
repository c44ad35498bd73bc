"""The built-in image samples: seven-segment digits (MNIST IDX files) and shapes (CIFAR-10 batches, an image folder)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from datamodules.files import write_once

IDX_TYPE_CODES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C}
IDX_TYPE_CODES.update({np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E})

# seven-segment strokes (x0, y0, x1, y1) in a unit box, y down: a top, b/c right, d bottom, e/f left, g middle
SEGMENTS = {
    "a": (0, 0, 1, 0),
    "b": (1, 0, 1, 0.5),
    "c": (1, 0.5, 1, 1),
    "d": (0, 1, 1, 1),
    "e": (0, 0.5, 0, 1),
    "f": (0, 0, 0, 0.5),
    "g": (0, 0.5, 1, 0.5),
}
DIGIT_SEGMENTS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_idx(path: str | Path, array: np.ndarray, compress: bool = True) -> Path:
    """``array`` as an IDX file (big-endian values after a magic number and the dimensions), gzipped if asked."""
    array = np.asarray(array)
    big_endian = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = IDX_TYPE_CODES[big_endian.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    content = header + np.ascontiguousarray(big_endian).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(content, mtime=0) if compress else content)
    return path


def _segment_distance(px: np.ndarray, py: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Distance of every pixel to each stroke: ends (n, 4) as x0, y0, x1, y1 -> (n, H, W)."""
    x0, y0, x1, y1 = (ends[:, i, None, None] for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((px - x0) * dx + (py - y0) * dy) / np.maximum(dx * dx + dy * dy, 1e-9), 0, 1)
    return np.hypot(px - (x0 + t * dx), py - (y0 + t * dy))


def synthetic_digits(n: int, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like images (white strokes on black, like MNIST): seven-segment digits drawn at a random
    position, size, slant and stroke width, with some noise. Returns uint8 (n, size, size) and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    width, height = rng.uniform(0.25, 0.42, n) * size, rng.uniform(0.5, 0.7, n) * size
    cx = size / 2 + rng.uniform(-0.15, 0.15, n) * size
    cy = size / 2 + rng.uniform(-0.1, 0.1, n) * size
    slant, stroke = rng.uniform(-0.25, 0.25, n), rng.uniform(0.9, 1.8, n)
    py, px = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    ink = np.zeros((n, size, size), dtype=np.float32)
    for name, (u0, v0, u1, v1) in SEGMENTS.items():
        active = np.array([name in DIGIT_SEGMENTS[d] for d in labels])
        ends = np.stack(
            [cx + (u - 0.5) * width - slant * (v - 0.5) * height for u, v in ((u0, v0), (u1, v1))]
            + [cy + (v - 0.5) * height for v in (v0, v1)],
            axis=1,
        )[:, [0, 2, 1, 3]]
        strokes = np.clip(stroke[active, None, None] + 0.5 - _segment_distance(px, py, ends[active]), 0, 1)
        ink[active] = np.maximum(ink[active], strokes)
    ink += rng.normal(0, 0.04, ink.shape) * (ink > 0)
    return (np.clip(ink, 0, 1) * 255).round().astype(np.uint8), labels


def write_mnist_sample(folder: str | Path, n_train: int = 3000, n_test: int = 600) -> Path:
    """The four gzipped IDX files of MNIST, holding synthetic digits (``synthetic_digits``)."""

    def write(tmp: Path) -> None:
        for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
            images, labels = synthetic_digits(n, seed=seed)
            write_idx(tmp / f"{prefix}-images-idx3-ubyte.gz", images)
            write_idx(tmp / f"{prefix}-labels-idx1-ubyte.gz", labels)

    return write_once(folder, write)


# ----- coloured shapes: CIFAR-10's batches and an image folder


def synthetic_shapes(
    n: int, size: int = 32, seed: int = 0, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Colour images of ten classes, each a shape (disk, square, ring, cross, bar) in a warm or a cool
    colour at a random place and size on a noisy background; random classes unless ``labels`` are given.
    Returns uint8 (n, 3, size, size) and the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n) if labels is None else np.asarray(labels)
    shape, warm = labels % 5, labels < 5
    radius = rng.uniform(0.22, 0.36, n)[:, None, None] * size
    cx, cy = size / 2 + rng.uniform(-0.15, 0.15, (2, n))[:, :, None, None] * size
    py, px = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = np.abs(px - cx), np.abs(py - cy)
    dist = np.hypot(dx, dy)
    masks = np.stack(
        [
            dist < radius,
            np.maximum(dx, dy) < 0.8 * radius,
            (dist < radius) & (dist > 0.55 * radius),
            ((dx < 0.3 * radius) & (dy < radius)) | ((dy < 0.3 * radius) & (dx < radius)),
            (dx < radius) & (dy < 0.35 * radius),
        ]
    )[shape, np.arange(n)]
    base = np.where(warm[:, None], [210, 90, 40], [40, 110, 210]) + rng.normal(0, 25, (n, 3))
    background = rng.uniform(40, 200, (n, 1, 1, 1)) + rng.normal(0, 30, (n, 3, size, size))
    images = np.where(masks[:, None], base[:, :, None, None] + rng.normal(0, 12, (n, 3, size, size)), background)
    return np.clip(images, 0, 255).round().astype(np.uint8), labels


def write_cifar10_sample(folder: str | Path, n_per_batch: int = 200, n_test: int = 500) -> Path:
    """``cifar-10-batches-py/``: five data batches, ``test_batch`` and ``batches.meta``, pickled dicts as
    CIFAR-10 ships them (``data``: uint8 rows of 1024 red, green, blue values), of ``synthetic_shapes``."""

    def batch(name: str, n: int, seed: int) -> dict:
        images, labels = synthetic_shapes(n, seed=seed)
        return {
            b"batch_label": name.encode(),
            b"labels": labels.tolist(),
            b"data": images.reshape(n, -1),
            b"filenames": [f"shape_{seed}_{i}.png".encode() for i in range(n)],
        }

    def write(tmp: Path) -> None:
        root = tmp / "cifar-10-batches-py"
        root.mkdir()
        batches = {f"data_batch_{i}": batch(f"training batch {i} of 5", n_per_batch, i) for i in range(1, 6)}
        batches["test_batch"] = batch("testing batch 1 of 1", n_test, 0)
        batches["batches.meta"] = {
            b"label_names": [c.encode() for c in CIFAR10_CLASSES],
            b"num_cases_per_batch": n_per_batch,
            b"num_vis": 3072,
        }
        for name, content in batches.items():
            (root / name).write_bytes(pickle.dumps(content, protocol=2))

    return write_once(folder, write)


IMAGE_FOLDER_CLASSES = {"disks": 0, "squares": 1, "bars": 4}


def write_image_folder_sample(folder: str | Path, n_train: int = 100, n_valid: int = 20, n_test: int = 20) -> Path:
    """``train/``, ``valid/`` and ``test/`` with one folder per class (disks, squares, bars) of PNG and
    JPEG images of different sizes: the shapes of ``synthetic_shapes`` in the class's own colour."""

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(0)
        for split, n, seed in (("train", n_train, 10), ("valid", n_valid, 11), ("test", n_test, 12)):
            for k, (name, shape) in enumerate(IMAGE_FOLDER_CLASSES.items()):
                target = tmp / split / name
                target.mkdir(parents=True)
                images, _ = synthetic_shapes(n, size=64, seed=seed * 10 + k, labels=np.full(n, shape))
                for i, pixels in enumerate(images):
                    pixels = np.roll(pixels, k, axis=0)
                    image = Image.fromarray(pixels.transpose(1, 2, 0))
                    image = image.resize((int(rng.integers(56, 96)), int(rng.integers(56, 96))))
                    image.save(target / f"{name}_{i:03d}.{'png' if i % 2 else 'jpg'}")

    return write_once(folder, write)
