"""Image classification data: MNIST (IDX files), CIFAR-10 (python batches or a JPEG tree) and any image-folder tree.

Every batch is ``(images, labels, index)``: uint8 images until the batch is on its device, where
``on_after_batch_transfer`` augments the training batches on tensors (random crop with padding,
horizontal flip, grayscale) and normalizes all of them (``datamodules.image_batches``); ``index`` is each
image's row in its split, which lets a model cache per-image features (see
``BackboneModule(precompute=True)``). MNIST and CIFAR-10 live in memory as one uint8 tensor and a
batch is one indexing of it (their files are read by ``datamodules.image_files``); image folders are
decoded per batch by torchvision (``datamodules.image_folder``). Every loader is resumable mid-epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from datamodules.batching import TensorBatches, tensor_loader
from datamodules.cache import cached, file_fingerprint
from datamodules.files import DataError
from datamodules.image_batches import ImageBatches, channel_stats
from datamodules.image_files import (
    check_classes,
    find_cifar10,
    find_mnist,
    is_image_tree,
    numbered_classes,
    read_cifar10,
    read_image_tree,
    read_mnist_split,
    tree_files,
)
from datamodules.image_folder import ImageFolderDataModule
from datamodules.samples.images import write_cifar10_sample, write_mnist_sample
from datamodules.source import DataSource
from datamodules.splits import check_valid_pct, latest_split, random_split

__all__ = ["CIFAR10DataModule", "ImageFolderDataModule", "InMemoryImages", "MNISTDataModule"]

SPLITS = ("random", "last")


class InMemoryImages(ImageBatches):
    """Images that fit in memory: one uint8 tensor per split, a batch is one indexing of it.

    Subclasses implement ``read() -> (train_x, train_y, test_x, test_y, classes)`` with
    (N, C, H, W) uint8 images; the validation set is a seeded random ``valid_pct`` of the training
    images (``split="last"``: the last ``valid_pct`` in the file's order, as the ML course's mnist.pkl.gz
    held out images 50,000-59,999) and the normalization comes from the remaining training images.
    """

    dataset_name = ""

    def __init__(
        self,
        data_dir: str | None = None,
        valid_pct: float = 0.1,
        split: str = "random",
        augment: Sequence[str] = (),
        pad: int = 4,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
        download: bool = False,
        sha256: str | None = None,
    ) -> None:
        source = DataSource(data_dir, download, self.dataset_name, sha256, cache_dir)
        super().__init__(source, augment, pad, batch_size, num_workers, seed)
        check_valid_pct(valid_pct)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        self.valid_pct = valid_pct
        self.split = split
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        raise NotImplementedError

    def setup(self, stage: str) -> None:
        if self.splits:
            return
        train_x, train_y, test_x, test_y, classes = self.read()
        if train_x.shape[1:] != test_x.shape[1:]:
            raise DataError(f"{self.folder}: train images are {train_x.shape[1:]} but test images {test_x.shape[1:]}")
        if self.split == "last":
            train_rows, valid_rows = latest_split(np.arange(len(train_x)), self.valid_pct, what="images")
        else:
            train_rows, valid_rows = random_split(len(train_x), self.valid_pct, self.seed, what="images")
        self.splits = {
            "train": (torch.from_numpy(train_x[train_rows]), torch.from_numpy(train_y[train_rows])),
            "valid": (torch.from_numpy(train_x[valid_rows]), torch.from_numpy(train_y[valid_rows])),
            "test": (torch.from_numpy(test_x), torch.from_numpy(test_y)),
        }
        self.classes = classes
        self.mean, self.std = channel_stats(self.splits["train"][0])
        self.channels, self.image_size = train_x.shape[1], train_x.shape[2]
        self.n_train = len(train_rows)

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

    def report_dataloader(self) -> DataLoader:
        """The validation images in order, in one process: what the reports evaluate."""
        return tensor_loader(self._batches("valid"), self.batch_size * 4, shuffle=False)

    def valid_items(self, rows: Sequence[int]) -> list[str]:
        """``valid/<row>``: the validation images are drawn from the training files, not files of their own."""
        return [f"valid/{i}" for i in rows]

    def valid_images(self, rows: Sequence[int]) -> torch.Tensor:
        return self.splits["valid"][0][torch.as_tensor(list(rows), dtype=torch.long)]

    def predict_labels(self) -> list[int]:
        return self.splits["test"][1].tolist()


class MNISTDataModule(InMemoryImages):
    """MNIST (or any IDX image/label pair set in LeCun's file names) from ``data_dir``, or the built-in sample.

    The 60,000 training images are split into training and validation sets; the 10,000 t10k
    images are the test set. Augmentation is off by default.
    """

    sample_name = "mnist-v1"
    dataset_name = "mnist"
    write_sample = staticmethod(write_mnist_sample)

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        files = find_mnist(self.folder)
        train_x, train_y = read_mnist_split(files["train_images"], files["train_labels"])
        test_x, test_y = read_mnist_split(files["test_images"], files["test_labels"])
        classes = numbered_classes(train_y, test_y, f"{files['train_labels']} and {files['test_labels']}")
        return train_x, train_y, test_x, test_y, classes


class CIFAR10DataModule(InMemoryImages):
    """CIFAR-10 from its python batches (``cifar-10-batches-py/``), or the built-in sample in that format;
    or the same images as files, ``train/<class>/*.jpg`` and ``test/<class>/*.jpg`` (the workshop's copy).

    The five data batches (or ``train/``) are split into training and validation sets; ``test_batch``
    (or ``test/``) is the test set. A tree's decoded pixels are cached, keyed by its files.
    """

    sample_name = "cifar10-v1"
    dataset_name = "cifar10"
    write_sample = staticmethod(write_cifar10_sample)

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
        folder = self.folder
        if is_image_tree(folder):
            data = self._read_tree(folder)
            classes = data["classes"]
            check_classes(data["train_y"], classes, str(folder / "train"))
        else:
            data = read_cifar10(find_cifar10(folder))
            classes = numbered_classes(data["train_y"], data["test_y"], str(folder), names=data["classes"])
        return data["train_x"], data["train_y"], data["test_x"], data["test_y"], classes

    def _read_tree(self, folder: Path) -> dict:
        classes, files = tree_files(folder)
        settings = {"files": [file_fingerprint(path) for items in files.values() for path, _ in items]}

        def build() -> tuple[dict[str, np.ndarray], dict]:
            data = read_image_tree(classes, files)
            return {k: v for k, v in data.items() if k != "classes"}, {"classes": data["classes"]}

        arrays, meta = cached(self.source.cache_dir, "image_tree", settings, build)
        return {**arrays, **meta}
