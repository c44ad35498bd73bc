"""Image data: IDX and CIFAR-10 readers on files written here byte by byte, image folders, batch augmentation."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from datamodules import CIFAR10DataModule, DataError, ImageFolderDataModule, MNISTDataModule
from datamodules.images import channel_stats, random_crop, random_flip, read_cifar_batch, read_idx


def idx_bytes(type_code: int, shape: tuple[int, ...], values: bytes) -> bytes:
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + values


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_is_exact_for_unsigned_bytes(tmp_path, compress):
    pixels = bytes(range(24))
    content = idx_bytes(0x08, (2, 3, 4), pixels)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(gzip.compress(content) if compress else content)
    array = read_idx(path)
    assert array.dtype == np.uint8 and array.shape == (2, 3, 4)
    assert array[1, 2, 3] == 23 and array[0, 1, 0] == 4
    assert array.tobytes() == pixels


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_reads_big_endian_ints_and_floats(tmp_path, compress):
    ints = idx_bytes(0x0C, (3,), struct.pack(">3i", 1, -2, 70000))
    floats = idx_bytes(0x0D, (2,), struct.pack(">2f", 0.5, -3.25))
    for name, content in (("ints", ints), ("floats", floats)):
        (tmp_path / name).write_bytes(gzip.compress(content) if compress else content)
    assert read_idx(tmp_path / "ints").tolist() == [1, -2, 70000]
    assert read_idx(tmp_path / "floats").tolist() == [0.5, -3.25]
    assert read_idx(tmp_path / "ints").dtype == np.dtype("int32")


def test_read_idx_reports_truncated_and_foreign_files(tmp_path):
    (tmp_path / "short").write_bytes(idx_bytes(0x08, (2, 5), bytes(7)))
    with pytest.raises(DataError, match=r"short.*shape \(2, 5\) \(10 bytes.*holds 7"):
        read_idx(tmp_path / "short")
    (tmp_path / "text").write_bytes(b"label,pixel\n1,0\n")
    with pytest.raises(DataError, match="text is not an IDX file"):
        read_idx(tmp_path / "text")
    with pytest.raises(DataError, match="not found"):
        read_idx(tmp_path / "missing")


def write_mnist_files(folder: Path, n_train: int, n_test: int, compress: bool) -> dict[str, np.ndarray]:
    """Four IDX files, written here with struct, in LeCun's names."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        content = idx_bytes(0x08, array.shape, array.tobytes())
        (folder / (f"{name}.gz" if compress else name)).write_bytes(gzip.compress(content) if compress else content)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_module_splits_and_normalizes_from_the_training_rows(tmp_path, compress):
    arrays = write_mnist_files(tmp_path, 50, 20, compress)
    dm = MNISTDataModule(str(tmp_path), valid_pct=0.2, cache_dir=str(tmp_path / "cache"))
    dm.setup("fit")
    assert dm.describe() == {"n_classes": 10, "channels": 1, "image_size": 28}
    train_x, train_y = dm.splits["train"]
    valid_x, valid_y = dm.splits["valid"]
    assert len(train_x) == 40 and len(valid_x) == 10
    assert torch.equal(dm.splits["test"][0][:, 0], torch.from_numpy(arrays["t10k-images-idx3-ubyte"]))
    # every training image appears once, in either split, with its label
    images = torch.cat([train_x, valid_x])[:, 0].reshape(50, -1)
    labels = torch.cat([train_y, valid_y])
    original = torch.from_numpy(arrays["train-images-idx3-ubyte"]).reshape(50, -1)
    order = [int((original == row).all(1).nonzero()) for row in images]
    assert sorted(order) == list(range(50))
    assert labels.tolist() == arrays["train-labels-idx1-ubyte"][order].tolist()
    expected = train_x.double() / 255
    assert dm.mean == pytest.approx([expected.mean().item()])
    assert dm.std == pytest.approx([expected.std(correction=0).item()])


def test_mnist_module_names_the_missing_files(tmp_path):
    write_mnist_files(tmp_path, 10, 5, compress=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"missing in .*t10k-labels-idx1-ubyte\[\.gz\]"):
        MNISTDataModule(str(tmp_path)).setup("fit")


def write_cifar_batch(path: Path, images: np.ndarray, labels: list[int]) -> None:
    content = {b"batch_label": b"test", b"labels": labels, b"data": images.reshape(len(labels), -1)}
    path.write_bytes(pickle.dumps(content, protocol=2))


def test_cifar_batches_are_read_as_planes_of_red_green_blue(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar_batch(root / name, rng.integers(0, 256, (4, 3072), dtype=np.uint8), [0, 1, 2, 9])
    row = np.zeros(3072, dtype=np.uint8)
    row[1024 + 32 * 5 + 7] = 200  # green plane, y 5, x 7
    write_cifar_batch(root / "data_batch_3", np.stack([row] * 4), [3, 3, 3, 3])
    (root / "batches.meta").write_bytes(pickle.dumps({b"label_names": [f"c{i}".encode() for i in range(10)]}))
    images, labels = read_cifar_batch(root / "data_batch_3")
    assert images.shape == (4, 3, 32, 32) and images[0, 1, 5, 7] == 200 and images.sum() == 4 * 200
    assert labels.tolist() == [3, 3, 3, 3]
    dm = CIFAR10DataModule(str(tmp_path), valid_pct=0.25)
    dm.setup("fit")
    assert dm.describe() == {"n_classes": 10, "channels": 3, "image_size": 32}
    assert dm.classes[9] == "c9"
    assert len(dm.splits["train"][0]) == 15 and len(dm.splits["test"][0]) == 4


def test_cifar_reader_refuses_pickles_that_would_run_code(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "data_batch_1").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}, protocol=2))
    with pytest.raises(DataError, match="not a CIFAR-10 python batch.*refusing to load .*print"):
        read_cifar_batch(tmp_path / "data_batch_1")


def write_folder(root: Path, layout: dict[str, dict[str, int]]) -> None:
    """split -> class -> number of images; each class has its own colour."""
    for split, classes in layout.items():
        for k, (name, n) in enumerate(classes.items()):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                colour = (40 + 100 * k, 120, 200 - 60 * k)
                Image.new("RGB", (40 + i, 30), colour).save(root / split / name / f"{i}.{'png' if i % 2 else 'jpg'}")


def test_image_folder_with_valid_and_test_folders(tmp_path):
    write_folder(tmp_path, {"train": {"cat": 5, "dog": 4}, "valid": {"cat": 2, "dog": 2}, "test": {"dog": 3}})
    dm = ImageFolderDataModule(str(tmp_path), image_size=24, batch_size=4)
    dm.setup("fit")
    assert dm.describe() == {"n_classes": 2, "channels": 3, "image_size": 24}
    assert {k: len(v) for k, v in dm.items.items()} == {"train": 9, "valid": 4, "test": 3, "predict": 3}
    images, labels, index = next(iter(dm.val_dataloader()))
    assert images.shape == (4, 3, 24, 24) and images.dtype == torch.uint8
    assert labels.tolist() == [0, 0, 1, 1] and index.tolist() == [0, 1, 2, 3]
    assert images[0, :, 12, 12].tolist() == pytest.approx([40, 120, 200], abs=3)


def test_image_folder_without_valid_folder_splits_train_at_random(tmp_path):
    write_folder(tmp_path, {"train": {"a": 10, "b": 10}})
    dm = ImageFolderDataModule(str(tmp_path), image_size=16, valid_pct=0.25)
    dm.setup("fit")
    train, valid = dm.items["train"], dm.items["valid"]
    assert len(train) == 15 and len(valid) == 5 and not set(train) & set(valid)
    assert dm.items["test"] == valid


def test_image_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(DataError, match="no train/ folder"):
        ImageFolderDataModule(str(tmp_path)).setup("fit")
    write_folder(tmp_path, {"train": {"a": 2}, "valid": {"a": 1, "zebra": 1}})
    with pytest.raises(DataError, match="valid has class folder.*zebra.*that train/ lacks"):
        ImageFolderDataModule(str(tmp_path)).setup("fit")


def test_random_crop_shifts_each_image_within_the_padding():
    torch.manual_seed(0)
    images = torch.randint(1, 256, (64, 3, 8, 8), dtype=torch.uint8)
    cropped = random_crop(images, pad=2)
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    shifts = set()
    for original, out in zip(padded, cropped, strict=True):
        windows = {(dy, dx): original[:, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)}
        found = [shift for shift, window in windows.items() if torch.equal(window, out)]
        assert found, "a crop is not a shifted window of the padded image"
        shifts.add(found[0])
    assert len(shifts) > 10
    assert torch.equal(random_crop(images, pad=0), images)


def test_random_flip_mirrors_about_half_the_images():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (200, 1, 4, 4), dtype=torch.uint8)
    flipped = random_flip(images)
    mirrored = [bool(torch.equal(f, i.flip(-1))) for f, i in zip(flipped, images, strict=True)]
    same = [bool(torch.equal(f, i)) for f, i in zip(flipped, images, strict=True)]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert 70 < sum(mirrored) < 130


def test_channel_stats_match_numpy():
    images = torch.randint(0, 256, (30, 3, 5, 5), dtype=torch.uint8)
    mean, std = channel_stats(images, chunk=7)
    values = images.numpy().transpose(1, 0, 2, 3).reshape(3, -1) / 255
    assert mean == pytest.approx(values.mean(1).tolist()) and std == pytest.approx(values.std(1).tolist())


def test_unknown_augmentation_is_refused():
    with pytest.raises(ValueError, match="unknown augmentation.*rotate.*crop, flip"):
        MNISTDataModule(augment=["rotate"])
