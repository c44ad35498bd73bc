"""Any image-folder tree as a data module: files decoded per batch by torchvision, batches resumable mid-epoch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset
from torchvision.transforms import v2

from datamodules.batching import TensorLoader, tensor_loader
from datamodules.files import DataError
from datamodules.image_batches import ImageBatches
from datamodules.image_files import check_classes, open_rgb
from datamodules.samples.images import write_image_folder_sample
from datamodules.source import DataSource
from datamodules.splits import check_valid_pct, random_split

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SAMPLE_IMAGE_SIZE = 48


def find_images(folder: Path) -> list[Path]:
    """Every image file under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMG_EXTENSIONS)


class FolderImages(Dataset):
    """A batch ``(uint8 images, labels, rows)`` per tensor of rows of a list of (file, label): each file
    decoded as RGB, resized and centre-cropped. Indexed like ``TensorBatches``, so the loader's workers
    decode whole batches and the sampler that picks the rows can be the resumable ``ShardedBatchSampler``."""

    def __init__(self, items: Sequence[tuple[str, int]], image_size: int) -> None:
        self.items = list(items)
        self.transform = v2.Compose(
            [v2.PILToTensor(), v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)]
        )

    def __len__(self) -> int:
        return len(self.items)

    def decode(self, row: int) -> torch.Tensor:
        return self.transform(open_rgb(self.items[row][0]))

    def __getitem__(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        images = torch.stack([self.decode(row) for row in rows.tolist()])
        labels = torch.tensor([self.items[row][1] for row in rows.tolist()], dtype=torch.int64)
        return images, labels, rows


class ImageFolderDataModule(ImageBatches):
    """Any image-folder tree: ``train/<class>/*.jpg|png``, plus ``valid/`` (or ``val/``) and ``test/``.

    Without a validation folder a seeded random ``valid_pct`` of the training images is held out;
    without a test folder the test stage uses the validation set. Images are decoded, resized and
    centre-cropped to ``image_size`` (by default 224, what ImageNet backbones saw; 48 for the built-in
    sample) and normalized with ImageNet's statistics (what torchvision's
    pretrained backbones expect). Predict reads every image under ``predict_dir``, or the test set.
    """

    sample_name = "image-folder-v1"
    write_sample = staticmethod(write_image_folder_sample)

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
        source = DataSource(data_dir=data_dir, cache_dir=cache_dir)
        super().__init__(source, augment, pad, batch_size, num_workers, seed)
        check_valid_pct(valid_pct)
        self.image_size = image_size or (SAMPLE_IMAGE_SIZE if source.is_sample else 224)
        self.valid_pct = valid_pct
        self.predict_dir = predict_dir
        self.mean, self.std = list(mean), list(std)
        self.channels = 3
        self.items: dict[str, list[tuple[str, int]]] = {}

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
        folder = self.folder
        train_dir = folder / "train"
        if not train_dir.is_dir():
            raise DataError(
                f"no train/ folder in {folder}: expected train/<class>/<image>.jpg, plus valid/ or test/ "
                f"in the same layout (or none, for a random validation split); set data.data_dir"
            )
        try:
            self.classes, class_to_idx = find_classes(str(train_dir))
        except FileNotFoundError:
            raise DataError(f"{train_dir} has no class subfolders: expected {train_dir}/<class>/<image>.jpg") from None
        train = self._labelled(train_dir, class_to_idx)
        check_classes(np.array([label for _, label in train]), self.classes, str(train_dir))
        valid_dir = next((folder / n for n in ("valid", "val") if (folder / n).is_dir()), None)
        if valid_dir is None:
            train_rows, valid_rows = random_split(len(train), self.valid_pct, self.seed, what="images")
            train, valid = [train[i] for i in train_rows], [train[i] for i in valid_rows]
        else:
            valid = self._labelled(valid_dir, class_to_idx)
        test_dir = folder / "test"
        if test_dir.is_dir():
            test = self._labelled(test_dir, class_to_idx)
        else:
            log.info(f"{folder} has no test/ folder: the test stage uses the validation set")
            test = valid
        self.items = {"train": train, "valid": valid, "test": test}
        self.n_train = len(train)
        if self.predict_dir is not None:
            files = find_images(Path(self.predict_dir))
            if not files:
                raise DataError(f"predict_dir {self.predict_dir} holds no images ({', '.join(IMG_EXTENSIONS)})")
            self.items["predict"] = [(str(p), -1) for p in files]
        else:
            self.items["predict"] = test

    def _loader(self, split: str, shuffle: bool, sharded: bool = True) -> TensorLoader:
        """Batches of ``split`` in the order of a ``ShardedBatchSampler`` seeded by ``seed``: dealt over the
        trainer's ranks (unless not ``sharded``), and saved in checkpoints to resume mid-epoch."""
        images = FolderImages(self.items[split], self.image_size)
        return tensor_loader(
            images,
            self.batch_size,
            shuffle=shuffle,
            trainer=self.trainer if sharded else None,
            seed=self.seed,
            num_workers=self.num_workers,
            drop_last=shuffle and len(images) > self.batch_size,
        )

    def train_dataloader(self) -> TensorLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> TensorLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> TensorLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> TensorLoader:
        return self._loader("predict", shuffle=False, sharded=False)

    def predict_items(self) -> list[str]:
        return [path for path, _ in self.items["predict"]]

    def report_dataloader(self) -> TensorLoader:
        """The validation images in order, in one process: what the reports evaluate."""
        return self._loader("valid", shuffle=False, sharded=False)

    def valid_items(self, rows: Sequence[int]) -> list[str]:
        """The validation images' files."""
        return [self.items["valid"][i][0] for i in rows]

    def valid_images(self, rows: Sequence[int]) -> torch.Tensor:
        """The validation images as the model sees them before normalization (resized, centre-cropped)."""
        return FolderImages(self.items["valid"], self.image_size)[torch.as_tensor(list(rows), dtype=torch.long)][0]

    def predict_labels(self) -> list[int]:
        return [label for _, label in self.items["predict"]]
