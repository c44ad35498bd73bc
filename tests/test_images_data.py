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
from datamodules.image_batches import (
    GRAYSCALE_P,
    channel_stats,
    epoch_draws,
    random_crop,
    random_flip,
    random_grayscale,
)
from datamodules.image_files import WIDE_MODES, open_rgb, read_cifar_batch, read_idx


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


def test_split_last_validates_on_the_last_training_images_in_file_order(tmp_path):
    """The ML course's mnist.pkl.gz validated on training images 50,000-59,999; split=last does the same."""
    arrays = write_mnist_files(tmp_path, 60, 10, compress=True)
    dm = MNISTDataModule(str(tmp_path), valid_pct=1 / 6, split="last", cache_dir=str(tmp_path / "cache"))
    dm.setup("fit")
    original = torch.from_numpy(arrays["train-images-idx3-ubyte"])
    assert torch.equal(dm.splits["train"][0][:, 0], original[:50])
    assert torch.equal(dm.splits["valid"][0][:, 0], original[50:])
    assert dm.splits["valid"][1].tolist() == arrays["train-labels-idx1-ubyte"][50:].tolist()


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


def write_folder(root: Path, layout: dict[str, dict[str, int]]) -> None:
    """split -> class -> number of images; each class has its own colour."""
    for split, classes in layout.items():
        for k, (name, n) in enumerate(classes.items()):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                colour = (40 + 100 * k, 120, 200 - 60 * k)
                Image.new("RGB", (40 + i, 30), colour).save(root / split / name / f"{i}.{'png' if i % 2 else 'jpg'}")


def write_cifar_tree(root: Path, layout: dict[str, dict[str, int]], size: int = 8) -> dict[str, np.ndarray]:
    """split -> class -> number of random PNG images of ``size`` pixels; the images of each split, in file order."""
    rng = np.random.default_rng(0)
    images = {}
    for split, classes in layout.items():
        pixels = []
        for name, n in classes.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels.append(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
                Image.fromarray(pixels[-1]).save(root / split / name / f"{i:03d}.png")
        images[split] = np.stack(pixels).transpose(0, 3, 1, 2)
    return images


def cache_entries(folder: Path) -> list[Path]:
    return [entry for entry in folder.iterdir() if entry.is_dir()]


def test_cifar_module_reads_the_workshops_tree_of_images_exactly_and_caches_it(tmp_path):
    written = write_cifar_tree(tmp_path / "tree", {"train": {"cat": 6, "ship": 4}, "test": {"ship": 3}})
    (tmp_path / "tree" / "train" / "cat" / "notes.txt").write_text("not an image, not read")
    dm = CIFAR10DataModule(str(tmp_path / "tree"), valid_pct=0.2, cache_dir=str(tmp_path / "cache"))
    dm.setup("fit")
    assert dm.describe() == {"n_classes": 2, "channels": 3, "image_size": 8}
    assert dm.classes == ["cat", "ship"]
    train, valid = torch.cat([dm.splits["train"][0], dm.splits["valid"][0]]), dm.splits["valid"][0]
    assert len(dm.splits["train"][0]) == 8 and len(valid) == 2
    assert sorted(map(bytes, train.numpy())) == sorted(map(bytes, written["train"]))
    assert torch.equal(dm.splits["test"][0], torch.from_numpy(written["test"]))
    assert dm.splits["test"][1].tolist() == [1, 1, 1]
    assert len(cache_entries(tmp_path / "cache" / "image_tree")) == 1
    again = CIFAR10DataModule(str(tmp_path / "tree"), valid_pct=0.2, cache_dir=str(tmp_path / "cache"))
    again.setup("fit")
    assert torch.equal(again.splits["train"][0], dm.splits["train"][0])
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).convert("RGB").save(tmp_path / "tree/test/ship/new.jpg")
    grown = CIFAR10DataModule(str(tmp_path / "tree"), cache_dir=str(tmp_path / "cache"))
    grown.setup("fit")
    assert len(grown.splits["test"][0]) == 4 and len(cache_entries(tmp_path / "cache" / "image_tree")) == 2


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


def test_random_grayscale_gives_the_luma_of_about_a_tenth_of_the_images():
    images = torch.tensor([200, 100, 50], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 2, 2)
    gray = random_grayscale(images, torch.tensor([True, False]))
    assert gray[0].unique().tolist() == [124]  # 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2
    assert torch.equal(gray[1], images[1])
    one_channel = torch.randint(0, 256, (4, 1, 3, 3), dtype=torch.uint8)
    assert torch.equal(random_grayscale(one_channel, torch.ones(4, dtype=torch.bool)), one_channel)
    torch.manual_seed(0)
    colourful = torch.randint(0, 256, (2000, 3, 2, 2), dtype=torch.uint8)
    turned = (random_grayscale(colourful) != colourful).flatten(1).any(1).float().mean().item()
    assert turned == pytest.approx(GRAYSCALE_P, abs=0.02)


def test_the_grayscale_draws_leave_the_crops_and_flips_of_a_seed_as_they_were():
    """Runs from before the grayscale augmentation existed see the same crops and flips."""
    shifts, flips, grays = epoch_draws(1000, pad=4, seed=3, epoch=2)
    rng = np.random.default_rng([3, 2])
    assert torch.equal(shifts, torch.from_numpy(rng.integers(0, 9, (1000, 2))))
    assert torch.equal(flips, torch.from_numpy(rng.random(1000) < 0.5))
    assert grays.float().mean().item() == pytest.approx(GRAYSCALE_P, abs=0.03)


def test_training_augmentation_is_a_function_of_seed_epoch_and_row(tmp_path):
    """What a resumed run, or another number of ranks, needs: an image's crop, flip and grayscale do not depend
    on its batch."""
    write_cifar_tree(tmp_path, {"train": {"a": 25, "b": 25}, "test": {"a": 2}})
    dm = CIFAR10DataModule(str(tmp_path), augment=["crop", "flip", "grayscale"], pad=3, seed=5)
    dm.setup("fit")
    images = dm.splits["train"][0]
    rows = torch.arange(len(images))
    whole = dm.augment_batch(images, rows, epoch=1)
    part = dm.augment_batch(images[[7, 3]], torch.tensor([7, 3]), epoch=1)
    assert torch.equal(part, whole[[7, 3]])
    assert not torch.equal(dm.augment_batch(images, rows, epoch=2), whole)
    again = CIFAR10DataModule(str(tmp_path), augment=["crop", "flip", "grayscale"], pad=3, seed=5)
    again.setup("fit")
    assert torch.equal(again.augment_batch(images, rows, epoch=1), whole)


def test_channel_stats_match_numpy():
    images = torch.randint(0, 256, (30, 3, 5, 5), dtype=torch.uint8)
    mean, std = channel_stats(images, chunk=7)
    values = images.numpy().transpose(1, 0, 2, 3).reshape(3, -1) / 255
    assert mean == pytest.approx(values.mean(1).tolist()) and std == pytest.approx(values.std(1).tolist())


class Exploit:
    """Unpickling this would call print: a stand-in for code hidden in a pickle."""

    def __reduce__(self):
        return (print, ("pwned",))


def mnist_with(tmp_path: Path, **replace: bytes) -> MNISTDataModule:
    """Valid MNIST files in ``tmp_path`` with some replaced by raw bytes (``None`` deletes one)."""
    write_mnist_files(tmp_path, 10, 5, compress=False)
    for name, content in replace.items():
        path = tmp_path / name.replace("_", "-")
        if content is None:
            path.unlink()
        else:
            path.write_bytes(content)
    return MNISTDataModule(str(tmp_path))


def cifar_with(tmp_path: Path, batch: object) -> CIFAR10DataModule:
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar_batch(root / name, np.zeros((2, 3072), dtype=np.uint8), [0, 1])
    (root / "data_batch_2").write_bytes(pickle.dumps(batch, protocol=2))
    return CIFAR10DataModule(str(tmp_path))


def cifar_tree_with(tmp_path: Path, name: str, image: Image.Image | None) -> CIFAR10DataModule:
    """A small tree with ``name`` added (or overwritten by text when ``image`` is None)."""
    write_cifar_tree(tmp_path, {"train": {"a": 2, "b": 2}, "test": {"a": 1}})
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    if image is None:
        (tmp_path / name).write_text("not an image")
    else:
        image.save(tmp_path / name)
    return CIFAR10DataModule(str(tmp_path), cache_dir=str(tmp_path / "cache"))


def folder_with(tmp_path: Path, layout: dict, broken: str | None = None) -> ImageFolderDataModule:
    write_folder(tmp_path, layout)
    if broken is not None:
        (tmp_path / broken).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / broken).write_text("not an image")
    return ImageFolderDataModule(str(tmp_path), image_size=16, batch_size=2)


def every_batch(dm) -> None:
    dm.setup("fit")
    for loader in (dm.train_dataloader(), dm.val_dataloader()):
        for _ in loader:
            pass


BAD_INPUTS = {
    "truncated IDX file": (
        lambda tmp: mnist_with(tmp, train_images_idx3_ubyte=idx_bytes(0x08, (10, 28, 28), bytes(100))).setup("fit"),
        r"train-images-idx3-ubyte: the IDX header gives shape \(10, 28, 28\) \(7840 bytes .*\) but the file holds 100",
    ),
    "not an IDX file": (
        lambda tmp: mnist_with(tmp, t10k_labels_idx1_ubyte=b"label\n7\n2\n").setup("fit"),
        r"t10k-labels-idx1-ubyte is not an IDX file: it starts with 6c616265",
    ),
    "damaged gzip file": (
        lambda tmp: read_idx_file(tmp / "x.gz", b"\x1f\x8b" + bytes(20)),
        r"x.gz is a damaged gzip file",
    ),
    "missing MNIST file": (
        lambda tmp: mnist_with(tmp, t10k_labels_idx1_ubyte=None).setup("fit"),
        r"MNIST files missing in .*: t10k-labels-idx1-ubyte\[\.gz\]; expected the four IDX files",
    ),
    "fewer labels than images": (
        lambda tmp: mnist_with(tmp, train_labels_idx1_ubyte=idx_bytes(0x08, (9,), bytes(9))).setup("fit"),
        r"train-images-idx3-ubyte holds 10 images but .*train-labels-idx1-ubyte holds 9 labels",
    ),
    "images file as labels": (
        lambda tmp: mnist_with(tmp, train_labels_idx1_ubyte=idx_bytes(0x08, (10, 2), bytes(20))).setup("fit"),
        r"train-labels-idx1-ubyte: expected one label per image \(shape \(N,\)\), got shape \(10, 2\)",
    ),
    "CIFAR batch that would run code": (
        lambda tmp: cifar_with(tmp, {b"data": Exploit(), b"labels": []}).setup("fit"),
        r"data_batch_2 is not a CIFAR-10 python batch \(refusing to load .*print\)",
    ),
    "CIFAR batch without labels": (
        lambda tmp: cifar_with(tmp, {b"data": np.zeros((2, 3072), dtype=np.uint8)}).setup("fit"),
        r"data_batch_2: a CIFAR-10 batch needs the keys 'data' and 'labels', found \['data'\]",
    ),
    "no CIFAR batches": (
        lambda tmp: CIFAR10DataModule(str(tmp)).setup("fit"),
        r"no CIFAR-10 batches in .*: expected data_batch_1, .* \(unpack cifar-10-python.tar.gz\)",
    ),
    "image tree of mixed sizes": (
        lambda tmp: cifar_tree_with(tmp, "test/a/big.png", Image.new("RGB", (9, 8))).setup("fit"),
        r"big.png is 9 x 8 pixels but .*000.png is 8 x 8: .* data=image_folder resizes them",
    ),
    "image tree test class unknown to train/": (
        lambda tmp: cifar_tree_with(tmp, "test/zebra/0.png", Image.new("RGB", (8, 8))).setup("fit"),
        r"test has class folder\(s\) zebra that train/ lacks; the training classes are a, b",
    ),
    "image tree with an unreadable image": (
        lambda tmp: cifar_tree_with(tmp, "train/b/000.png", None).setup("fit"),
        r"000.png cannot be read as an image .*; remove or replace the file",
    ),
    "image folder without train/": (
        lambda tmp: folder_with(tmp, {"valid": {"cat": 1}}).setup("fit"),
        r"no train/ folder in .*: expected train/<class>/<image>.jpg",
    ),
    "train/ without class folders": (
        lambda tmp: folder_with(tmp, {"train": {}}, broken="train/cat.png").setup("fit"),
        r"train has no class subfolders: expected .*train/<class>/<image>.jpg",
    ),
    "validation class unknown to train/": (
        lambda tmp: folder_with(tmp, {"train": {"cat": 2, "dog": 2}, "valid": {"cat": 1, "zebra": 1}}).setup("fit"),
        r"valid has class folder\(s\) zebra that train/ lacks; the training classes are cat, dog",
    ),
    "an empty class folder": (
        lambda tmp: folder_with(tmp, {"train": {"cat": 2, "dog": 0, "emu": 2}}).setup("fit"),
        r"train: 1 of the 3 classes have no training images \(dog\); remove the empty class folders",
    ),
    "one class folder": (
        lambda tmp: folder_with(tmp, {"train": {"cat": 3}}).setup("fit"),
        r"train: a classifier needs at least 2 classes, found 1: cat",
    ),
    "a label far outside the others": (
        lambda tmp: mnist_with(tmp, train_labels_idx1_ubyte=idx_bytes(0x08, (10,), bytes([*range(9), 200]))).setup(
            "fit"
        ),
        r"train-labels-idx1-ubyte and .*t10k-labels-idx1-ubyte: 191 of the 201 classes have no training images",
    ),
    "unreadable image file": (
        lambda tmp: every_batch(folder_with(tmp, {"train": {"cat": 4, "dog": 2}}, broken="train/cat/0.jpg")),
        r"0.jpg cannot be read as an image .*; remove or replace the file",
    ),
    "unknown augmentation": (
        lambda tmp: MNISTDataModule(augment=["rotate"]),
        r"unknown augmentation\(s\) \['rotate'\]: choose from crop, flip, grayscale",
    ),
    "unknown split": (
        lambda tmp: MNISTDataModule(split="first"),
        r"unknown split 'first': choose one of random, last",
    ),
}
REFUSED_SETTINGS = ("unknown augmentation", "unknown split")


def test_16_bit_images_keep_their_levels_and_float_pixels_are_refused(tmp_path):
    """PIL's RGB conversion clips 16-bit grey to white; the readers scale it to 8 bits instead."""
    levels = (np.arange(64, dtype=np.uint16) * 1000).reshape(8, 8)
    Image.fromarray(levels).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode in WIDE_MODES
    pixels = np.asarray(open_rgb(tmp_path / "deep.png"))
    assert pixels.shape == (8, 8, 3) and (pixels == (levels >> 8)[..., None]).all()
    Image.fromarray(levels.astype(np.float32)).save(tmp_path / "float.tiff")
    with pytest.raises(DataError, match=r"float.tiff holds floating-point pixels \(mode F\)"):
        open_rgb(tmp_path / "float.tiff")


def test_an_image_past_the_decoders_pixel_limit_is_named(tmp_path, monkeypatch):
    Image.new("RGB", (40, 30)).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(DataError, match=r"huge.png is too large to decode .*; it may be a decompression bomb"):
        open_rgb(tmp_path / "huge.png")


def read_idx_file(path: Path, content: bytes) -> np.ndarray:
    path.write_bytes(content)
    return read_idx(path)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_names_the_file_and_what_was_expected(tmp_path, case):
    trigger, message = BAD_INPUTS[case]
    with pytest.raises(ValueError if case in REFUSED_SETTINGS else DataError, match=message):
        trigger(tmp_path)
