"""Image classification data: MNIST (IDX files), CIFAR-10 (python batches) and any image-folder tree.

Every batch is ``(images, labels, index)``: uint8 images until the batch is on its device, where
``on_after_batch_transfer`` augments the training batches on tensors (random crop with padding,
horizontal flip) and normalizes all of them; ``index`` is each image's row in its split, which
lets a model cache per-image features (see ``BackboneModule(precompute=True)``). MNIST and
CIFAR-10 live in memory as one uint8 tensor and a batch is one indexing of it; image folders are
decoded per batch by torchvision.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import math
import pickle
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset
from torchvision.transforms import v2

from datamodules.batching import TensorBatches, tensor_loader
from datamodules.download import local_or_downloaded
from datamodules.files import DataError, require_file
from datamodules.samples import write_cifar10_sample, write_image_folder_sample, write_mnist_sample

log = logging.getLogger(__name__)

AUGMENTATIONS = ("crop", "flip")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SAMPLE_IMAGE_SIZE = 48

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
        f"batches.meta there or in its cifar-10-batches-py/ (unpack cifar-10-python.tar.gz)"
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


# ---------------------------------------------------------------- augmentation and normalization


def random_crop(images: torch.Tensor, pad: int) -> torch.Tensor:
    """Each image shifted by its own random offset of up to ``pad`` pixels, zeros filling in (crop of a padded copy)."""
    if pad <= 0:
        return images
    n, _, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n, 1), device=images.device)
    dx = torch.randint(0, 2 * pad + 1, (n, 1), device=images.device)
    rows = (dy + torch.arange(height, device=images.device))[:, :, None]
    cols = (dx + torch.arange(width, device=images.device))[:, None, :]
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def random_flip(images: torch.Tensor) -> torch.Tensor:
    """Each image mirrored left-right with probability one half."""
    flip = torch.rand(len(images), device=images.device) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


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
    unknown = [a for a in augment if a not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}: choose from {', '.join(AUGMENTATIONS)}")
    return list(augment)


class ImageBatches(pl.LightningDataModule):
    """Base of the image data modules: per-batch augmentation and normalization, ``describe``, predictions.

    Subclasses set ``classes``, ``mean``/``std`` (per channel, 0..1 scale), ``channels`` and
    ``image_size`` in ``setup`` and provide the loaders, whose batches are
    ``(uint8 images, labels, index)``.
    """

    def __init__(self, augment: Sequence[str], pad: int, batch_size: int, num_workers: int, seed: int) -> None:
        super().__init__()
        self.augment = check_augment(augment)
        self.pad = pad
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.classes: list[str] = []
        self.mean: list[float] = []
        self.std: list[float] = []
        self.channels = 0
        self.image_size = 0

    def describe(self) -> dict:
        """Constructor arguments only the data knows: number of classes, channels and image size."""
        if not self.classes:
            self.setup("fit")
        return {"n_classes": len(self.classes), "channels": self.channels, "image_size": self.image_size}

    def augment_batch(self, images: torch.Tensor) -> torch.Tensor:
        """The configured random augmentations of a uint8 batch."""
        if "crop" in self.augment:
            images = random_crop(images, self.pad)
        if "flip" in self.augment:
            images = random_flip(images)
        return images

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float, centred and scaled per channel."""
        mean = torch.tensor(self.mean, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, -1, 1, 1)
        return (images.float() / 255 - mean) / std

    def on_after_batch_transfer(self, batch: Sequence[torch.Tensor], dataloader_idx: int) -> tuple:
        images, *rest = batch
        if self.trainer is not None and self.trainer.training:
            images = self.augment_batch(images)
        return (self.normalize(images), *rest)

    def predict_items(self) -> list[str]:
        """What each predicted row is (a file, or a row of the test set)."""
        raise NotImplementedError

    def predict_labels(self) -> list[int]:
        """The known label of each predicted row (-1 when unknown)."""
        raise NotImplementedError

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``predictions.csv``: item, label, prediction (class names) and the predicted class's probability."""
        probs = torch.cat(predictions).float().exp()
        confidence, predicted = probs.max(1)
        labels = self.predict_labels()
        frame = pd.DataFrame(
            {
                "item": self.predict_items(),
                "label": [self.classes[i] if i >= 0 else "" for i in labels],
                "prediction": [self.classes[i] for i in predicted.tolist()],
                "probability": confidence.numpy(),
            }
        )
        path = Path(out_dir) / "predictions.csv"
        frame.to_csv(path, index=False)
        return path

    def export(self, out_dir: str | Path) -> Path:
        """``image_stats.json``: the class names and the normalization a model trained here expects."""
        path = Path(out_dir) / "image_stats.json"
        stats = {"classes": self.classes, "mean": self.mean, "std": self.std, "image_size": self.image_size}
        path.write_text(json.dumps(stats, indent=2) + "\n")
        return path


def split_rows(n_rows: int, valid_pct: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation row numbers: a seeded random ``valid_pct`` of the rows for validation."""
    order = np.random.default_rng(seed).permutation(n_rows)
    n_valid = int(round(valid_pct * n_rows))
    if n_valid < 1 or n_valid >= n_rows:
        raise DataError(f"valid_pct={valid_pct} of {n_rows} images leaves an empty train or validation set")
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


class InMemoryImages(ImageBatches):
    """Images that fit in memory: one uint8 tensor per split, a batch is one indexing of it.

    Subclasses implement ``read() -> (train_x, train_y, test_x, test_y, classes)`` with
    (N, C, H, W) uint8 images; the validation set is a seeded random ``valid_pct`` of the training
    images and the normalization comes from the remaining training images.
    """

    sample_name = ""
    dataset_name = ""

    def __init__(
        self,
        data_dir: str | None = None,
        valid_pct: float = 0.1,
        augment: Sequence[str] = (),
        pad: int = 4,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
        download: bool = False,
        sha256: str | None = None,
    ) -> None:
        super().__init__(augment, pad, batch_size, num_workers, seed)
        if not 0 < valid_pct < 1:
            raise ValueError(f"valid_pct must lie strictly between 0 and 1, got {valid_pct}")
        self.data_dir = data_dir
        self.valid_pct = valid_pct
        self.cache_dir = Path(cache_dir)
        self.download = download
        self.sha256 = sha256
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def folder(self) -> Path:
        """``data_dir``; else the dataset downloaded into the cache (``download``); else the built-in sample."""
        sample = self.cache_dir / "samples" / self.sample_name
        name, cache, digest = self.dataset_name, self.cache_dir, self.sha256
        return local_or_downloaded(self.data_dir, self.download, name, cache, digest, lambda: self.write_sample(sample))

    def write_sample(self, folder: Path) -> Path:
        raise NotImplementedError

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        raise NotImplementedError

    def prepare_data(self) -> None:
        self.folder()

    def setup(self, stage: str) -> None:
        if self.splits:
            return
        train_x, train_y, test_x, test_y, classes = self.read()
        if train_x.shape[1:] != test_x.shape[1:]:
            raise DataError(f"{self.folder()}: train images are {train_x.shape[1:]} but test images {test_x.shape[1:]}")
        train_rows, valid_rows = split_rows(len(train_x), self.valid_pct, self.seed)
        self.splits = {
            "train": (torch.from_numpy(train_x[train_rows]), torch.from_numpy(train_y[train_rows])),
            "valid": (torch.from_numpy(train_x[valid_rows]), torch.from_numpy(train_y[valid_rows])),
            "test": (torch.from_numpy(test_x), torch.from_numpy(test_y)),
        }
        self.classes = classes
        self.mean, self.std = channel_stats(self.splits["train"][0])
        self.channels, self.image_size = train_x.shape[1], train_x.shape[2]

    def _batches(self, split: str) -> TensorBatches:
        images, labels = self.splits[split]
        return TensorBatches(images, labels, torch.arange(len(labels)))

    def train_dataloader(self) -> DataLoader:
        train = self._batches("train")
        return tensor_loader(
            train,
            self.batch_size,
            shuffle=True,
            trainer=self.trainer,
            seed=self.seed,
            num_workers=self.num_workers,
            drop_last=len(train) > self.batch_size,
        )

    def val_dataloader(self) -> DataLoader:
        return tensor_loader(self._batches("valid"), self.batch_size * 4, shuffle=False, trainer=self.trainer)

    def test_dataloader(self) -> DataLoader:
        return tensor_loader(self._batches("test"), self.batch_size * 4, shuffle=False, trainer=self.trainer)

    def predict_dataloader(self) -> DataLoader:
        return tensor_loader(self._batches("test"), self.batch_size * 4, shuffle=False)

    def predict_items(self) -> list[str]:
        return [f"test/{i}" for i in range(len(self.splits["test"][1]))]

    def predict_labels(self) -> list[int]:
        return self.splits["test"][1].tolist()


class MNISTDataModule(InMemoryImages):
    """MNIST (or any IDX image/label pair set in LeCun's file names) from ``data_dir``, or the built-in sample.

    The 60,000 training images are split into training and validation sets; the 10,000 t10k
    images are the test set. Augmentation is off by default.
    """

    sample_name = "mnist-v1"
    dataset_name = "mnist"

    def write_sample(self, folder: Path) -> Path:
        return write_mnist_sample(folder)

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        files = find_mnist(self.folder())
        train_x, train_y = read_mnist_split(files["train_images"], files["train_labels"])
        test_x, test_y = read_mnist_split(files["test_images"], files["test_labels"])
        n_classes = int(max(train_y.max(), test_y.max())) + 1
        if min(train_y.min(), test_y.min()) < 0:
            raise DataError(f"{files['train_labels']} or {files['test_labels']} holds negative labels")
        return train_x, train_y, test_x, test_y, [str(i) for i in range(n_classes)]


class CIFAR10DataModule(InMemoryImages):
    """CIFAR-10 from its python batches (``cifar-10-batches-py/``), or the built-in sample in that format.

    The five data batches are split into training and validation sets; ``test_batch`` is the test set.
    """

    sample_name = "cifar10-v1"
    dataset_name = "cifar10"

    def write_sample(self, folder: Path) -> Path:
        return write_cifar10_sample(folder)

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        folder = find_cifar10(self.folder())
        data = read_cifar10(folder)
        n_classes = int(max(data["train_y"].max(), data["test_y"].max())) + 1
        classes = data["classes"] if len(data["classes"]) >= n_classes else [str(i) for i in range(n_classes)]
        return data["train_x"], data["train_y"], data["test_x"], data["test_y"], classes


# ---------------------------------------------------------------- image folders


def image_files(folder: Path) -> list[Path]:
    """Every image file under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)


class FolderImages(Dataset):
    """``(uint8 image, label, index)`` for a list of (file, label): decoded as RGB, resized and centre-cropped."""

    def __init__(self, items: Sequence[tuple[str, int]], image_size: int) -> None:
        self.items = list(items)
        self.transform = v2.Compose(
            [v2.PILToTensor(), v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)]
        )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        path, label = self.items[index]
        try:
            with Image.open(path) as image:
                pixels = self.transform(image.convert("RGB"))
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path} cannot be read as an image ({e}); remove or replace the file") from None
        return pixels, label, index


class ImageFolderDataModule(ImageBatches):
    """Any image-folder tree: ``train/<class>/*.jpg|png``, plus ``valid/`` (or ``val/``) and ``test/``.

    Without a validation folder a seeded random ``valid_pct`` of the training images is held out;
    without a test folder the test stage uses the validation set. Images are decoded, resized and
    centre-cropped to ``image_size`` (by default 224, what ImageNet backbones saw; 48 for the built-in
    sample) and normalized with ImageNet's statistics (what torchvision's
    pretrained backbones expect). Predict reads every image under ``predict_dir``, or the test set.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        image_size: int | None = None,
        valid_pct: float = 0.2,
        augment: Sequence[str] = ("crop", "flip"),
        pad: int = 8,
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
        predict_dir: str | None = None,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__(augment, pad, batch_size, num_workers, seed)
        if not 0 < valid_pct < 1:
            raise ValueError(f"valid_pct must lie strictly between 0 and 1, got {valid_pct}")
        self.data_dir = data_dir
        self.image_size = image_size or (SAMPLE_IMAGE_SIZE if data_dir is None else 224)
        self.valid_pct = valid_pct
        self.cache_dir = Path(cache_dir)
        self.predict_dir = predict_dir
        self.mean, self.std = list(mean), list(std)
        self.channels = 3
        self.items: dict[str, list[tuple[str, int]]] = {}

    @property
    def folder(self) -> Path:
        if self.data_dir is None:
            return self.cache_dir / "samples" / "image-folder-v1"
        return Path(self.data_dir)

    def prepare_data(self) -> None:
        if self.data_dir is None:
            write_image_folder_sample(self.folder)

    def _labelled(self, folder: Path, class_to_idx: dict[str, int]) -> list[tuple[str, int]]:
        try:
            classes, _ = find_classes(str(folder))
        except FileNotFoundError:
            raise DataError(f"{folder} has no class subfolders: expected {folder}/<class>/<image>.jpg") from None
        unknown = sorted(set(classes) - set(class_to_idx))
        if unknown:
            raise DataError(
                f"{folder} has class folder(s) {', '.join(unknown)} that train/ lacks; "
                f"the training classes are {', '.join(class_to_idx)}"
            )
        items = make_dataset(str(folder), class_to_idx, extensions=IMG_EXTENSIONS, allow_empty=True)
        if not items:
            raise DataError(f"{folder} holds no images ({', '.join(IMG_EXTENSIONS)}) in its class folders")
        return items

    def setup(self, stage: str) -> None:
        if self.items:
            return
        if self.data_dir is None:
            write_image_folder_sample(self.folder)
        train_dir = self.folder / "train"
        if not train_dir.is_dir():
            raise DataError(
                f"no train/ folder in {self.folder}: expected train/<class>/<image>.jpg, plus valid/ or test/ "
                f"in the same layout (or none, for a random validation split); set data.data_dir"
            )
        try:
            self.classes, class_to_idx = find_classes(str(train_dir))
        except FileNotFoundError:
            raise DataError(f"{train_dir} has no class subfolders: expected {train_dir}/<class>/<image>.jpg") from None
        train = self._labelled(train_dir, class_to_idx)
        valid_dir = next((self.folder / n for n in ("valid", "val") if (self.folder / n).is_dir()), None)
        if valid_dir is None:
            train_rows, valid_rows = split_rows(len(train), self.valid_pct, self.seed)
            train, valid = [train[i] for i in train_rows], [train[i] for i in valid_rows]
        else:
            valid = self._labelled(valid_dir, class_to_idx)
        test_dir = self.folder / "test"
        if test_dir.is_dir():
            test = self._labelled(test_dir, class_to_idx)
        else:
            log.info(f"{self.folder} has no test/ folder: the test stage uses the validation set")
            test = valid
        self.items = {"train": train, "valid": valid, "test": test}
        if self.predict_dir is not None:
            files = image_files(Path(self.predict_dir))
            if not files:
                raise DataError(f"predict_dir {self.predict_dir} holds no images ({', '.join(IMG_EXTENSIONS)})")
            self.items["predict"] = [(str(p), -1) for p in files]
        else:
            self.items["predict"] = test

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        images = FolderImages(self.items[split], self.image_size)
        return DataLoader(
            images,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle and len(images) > self.batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", shuffle=False)

    def predict_items(self) -> list[str]:
        return [path for path, _ in self.items["predict"]]

    def predict_labels(self) -> list[int]:
        return [label for _, label in self.items["predict"]]
