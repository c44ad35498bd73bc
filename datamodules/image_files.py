"""Reading the image datasets' own file formats: MNIST's IDX files, CIFAR-10's pickled python batches, and
a ``train/<class>/``, ``test/<class>/`` tree of equal-size images (CIFAR-10 as the workshop's JPEGs).

Pure file reading (numpy arrays out, no torch or Lightning), so the formats can be checked on their
own; every malformed file raises a ``DataError`` that names it and says what was expected.
"""

from __future__ import annotations

import codecs
import gzip
import math
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from datamodules.files import DataError, require_file

# ---------------------------------------------------------------- IDX files (MNIST)

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_idx(path: str | Path) -> np.ndarray:
    """The array in an IDX file (LeCun's format), gzipped or not, in native byte order.

    The header is two zero bytes, a type code, the number of dimensions, then each dimension as a
    big-endian uint32; the values follow, big-endian, in row-major order.
    """
    path = require_file(path, "IDX file")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path} is a damaged gzip file ({e}); download it again") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in IDX_TYPES:
        raise DataError(
            f"{path} is not an IDX file: it starts with {raw[:4].hex() or 'nothing'}, expected 0000 followed by "
            f"a type code ({', '.join(f'{t:02x}' for t in IDX_TYPES)}) and the number of dimensions"
        )
    n_dims = raw[3]
    offset = 4 + 4 * n_dims
    if len(raw) < offset:
        raise DataError(f"{path}: the IDX header announces {n_dims} dimensions but the file ends inside the header")
    shape = struct.unpack(f">{n_dims}I", raw[4:offset])
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DataError(
            f"{path}: the IDX header gives shape {shape} ({expected} bytes of values) but the file holds "
            f"{len(raw) - offset}; the file is truncated or damaged, download it again"
        )
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def find_mnist(folder: Path) -> dict[str, Path]:
    """The four IDX files of an MNIST folder, each gzipped or not (also the ``.idx`` spelling)."""
    found, missing = {}, []
    for key, name in MNIST_FILES.items():
        names = [name, name.replace("-idx", ".idx")]
        candidates = [folder / f"{n}{ext}" for n in names for ext in (".gz", "")]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(f"{name}[.gz]")
        else:
            found[key] = path
    if missing:
        raise DataError(
            f"MNIST files missing in {folder}: {', '.join(missing)}; expected the four IDX files as LeCun "
            f"distributes them ({', '.join(MNIST_FILES.values())}, gzipped or not); set data.data_dir to their folder"
        )
    return found


def read_mnist_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, H, W) uint8 and labels (N,) int64 from an images and a labels IDX file."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected unsigned bytes of shape (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1:
        raise DataError(f"{labels_path}: expected one label per image (shape (N,)), got shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels")
    return images[:, None], labels.astype(np.int64)


# ---------------------------------------------------------------- CIFAR-10 python batches

CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST_BATCH = "test_batch"


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays only: a batch file cannot run code."""

    ALLOWED = {
        ("_codecs", "encode"): codecs.encode,
        ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
        ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path: Path) -> dict:
    path = require_file(path, "CIFAR-10 batch")
    try:
        with open(path, "rb") as handle:
            content = _ArrayUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
        raise DataError(
            f"{path} is not a CIFAR-10 python batch ({e}); expected the files of cifar-10-python.tar.gz"
        ) from None
    if not isinstance(content, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(content).__name__}")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in content.items()}


def read_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 of one batch (rows: 1024 red, green, blue values)."""
    content = _unpickle(Path(path))
    if "data" not in content or "labels" not in content:
        raise DataError(f"{path}: a CIFAR-10 batch needs the keys 'data' and 'labels', found {sorted(content)}")
    data, labels = np.asarray(content["data"]), np.asarray(content["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DataError(
            f"{path}: expected 'data' as uint8 rows of 3072 values and one label per row, "
            f"got {data.dtype} {data.shape} and {len(labels)} labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


def find_cifar10(data_dir: Path) -> Path:
    """The folder holding the batches: ``data_dir`` itself or its ``cifar-10-batches-py``."""
    for folder in (data_dir, data_dir / "cifar-10-batches-py"):
        if (folder / CIFAR_TRAIN_BATCHES[0]).is_file():
            return folder
    raise DataError(
        f"no CIFAR-10 batches in {data_dir}: expected {', '.join(CIFAR_TRAIN_BATCHES)}, {CIFAR_TEST_BATCH} and "
        f"batches.meta there or in its cifar-10-batches-py/ (unpack cifar-10-python.tar.gz), or the images as "
        f"train/<class>/*.jpg and test/<class>/*.jpg"
    )


def read_cifar10(folder: Path) -> dict[str, np.ndarray | list[str]]:
    """Train and test images and labels, and the class names of ``batches.meta``."""
    train = [read_cifar_batch(folder / name) for name in CIFAR_TRAIN_BATCHES]
    test_x, test_y = read_cifar_batch(folder / CIFAR_TEST_BATCH)
    names = _unpickle(folder / "batches.meta").get("label_names", [])
    return {
        "train_x": np.concatenate([x for x, _ in train]),
        "train_y": np.concatenate([y for _, y in train]),
        "test_x": test_x,
        "test_y": test_y,
        "classes": [n.decode() if isinstance(n, bytes) else str(n) for n in names],
    }


# ---------------------------------------------------------------- a tree of equal-size images

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def is_image_tree(folder: Path) -> bool:
    """True when ``folder`` has the ``train/`` and ``test/`` folders of ``read_image_tree``."""
    return (folder / "train").is_dir() and (folder / "test").is_dir()


def tree_files(folder: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]]]:
    """The class names (the sorted class folders of ``train/``) and (file, label) of every image under
    ``train/`` and ``test/``, sorted; ``test/`` may hold only the training classes."""
    classes = sorted(p.name for p in (folder / "train").iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{folder / 'train'} has no class subfolders: expected train/<class>/<image>.jpg")
    files = {}
    for split in ("train", "test"):
        unknown = sorted({p.name for p in (folder / split).iterdir() if p.is_dir()} - set(classes))
        if unknown:
            raise DataError(
                f"{folder / split} has class folder(s) {', '.join(unknown)} that train/ lacks; "
                f"the training classes are {', '.join(classes)}"
            )
        files[split] = [
            (path, label)
            for label, name in enumerate(classes)
            for path in sorted((folder / split / name).glob("*"))
            if path.suffix.lower() in IMAGE_SUFFIXES
        ]
        if not files[split]:
            raise DataError(f"{folder / split} holds no images ({', '.join(IMAGE_SUFFIXES)}) in its class folders")
    return classes, files


def check_classes(train_labels: np.ndarray, classes: list[str], where: str) -> None:
    """At least two classes, each with training images: an empty class folder, or a label far from the
    others, would otherwise become a class the model can never learn."""
    if len(classes) < 2:
        raise DataError(f"{where}: a classifier needs at least 2 classes, found {len(classes)}: {', '.join(classes)}")
    counts = np.bincount(np.asarray(train_labels, dtype=np.int64), minlength=len(classes))
    empty = [classes[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        shown = ", ".join(empty[:5]) + (", ..." if len(empty) > 5 else "")
        raise DataError(
            f"{where}: {len(empty)} of the {len(classes)} classes have no training images ({shown}); "
            f"remove the empty class folders, or check the labels"
        )


def numbered_classes(train_y: np.ndarray, test_y: np.ndarray, where: str, names: list[str] = ()) -> list[str]:
    """The classes of integer labels: the ``names`` the files give, where they cover every label, else
    0..K-1 for the largest label, checked as above."""
    if min(train_y.min(), test_y.min()) < 0:
        raise DataError(f"{where} holds negative labels")
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    if len(names) >= n_classes:
        return list(names)
    classes = [str(i) for i in range(n_classes)]
    check_classes(train_y, classes, where)
    return classes


# PIL's modes of 16-bit (and 32-bit integer) grey pixels, which its RGB conversion clips to white
WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


def open_rgb(path: str | Path) -> Image.Image:
    """One image file, decoded as RGB (16-bit grey scaled to 8 bits); a file that is not an image, one
    past PIL's size limit or of floating-point pixels is a DataError naming it."""
    try:
        with Image.open(path) as image:
            return as_rgb(image, path)
    except Image.DecompressionBombError as e:
        raise DataError(f"{path} is too large to decode ({e}); it may be a decompression bomb") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path} cannot be read as an image ({e}); remove or replace the file") from None


def as_rgb(image: Image.Image, path: str | Path) -> Image.Image:
    """``image`` as 8-bit RGB, its levels kept: 16-bit grey becomes its top 8 bits."""
    if image.mode in WIDE_MODES:
        values = np.asarray(image).astype(np.int64)
        if values.min() < 0 or values.max() > 65535:
            raise DataError(f"{path}: mode {image.mode} pixels outside 0..65535; save it as an 8- or 16-bit image")
        return Image.fromarray((values >> 8).astype(np.uint8), "L").convert("RGB")
    if image.mode == "F":
        raise DataError(f"{path} holds floating-point pixels (mode F); save it as an 8- or 16-bit image")
    return image.convert("RGB")


def read_image(path: Path) -> np.ndarray:
    """One image file as RGB, (3, H, W) uint8."""
    return np.asarray(open_rgb(path)).transpose(2, 0, 1)


def read_image_tree(classes: list[str], files: dict[str, list[tuple[Path, int]]]) -> dict[str, np.ndarray | list[str]]:
    """Train and test images (N, 3, H, W) uint8 and labels of what ``tree_files`` found, and the class names.

    Every image must have the first one's size: this reader keeps the pixels as they are (CIFAR-10's
    32 x 32); ``ImageFolderDataModule`` resizes a tree of mixed sizes.
    """
    first = files["train"][0][0]
    shape = read_image(first).shape
    arrays: dict[str, np.ndarray | list[str]] = {"classes": classes}
    for split, items in files.items():
        images = [read_image(path) for path, _ in items]
        for (path, _), image in zip(items, images, strict=True):
            if image.shape != shape:
                raise DataError(
                    f"{path} is {image.shape[2]} x {image.shape[1]} pixels but {first} is {shape[2]} x {shape[1]}: "
                    f"this data module keeps the images as they are; data=image_folder resizes them"
                )
        arrays[f"{split}_x"] = np.stack(images)
        arrays[f"{split}_y"] = np.array([label for _, label in items], dtype=np.int64)
    return arrays
