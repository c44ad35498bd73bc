"""Every reader, fed seeded random corruptions of its own sample files (truncation, flipped bytes, swapped
header columns, a value of the wrong type), either reads them or raises the project's DataError naming the
file or its folder: never another library's exception, never a message without the file."""

from __future__ import annotations

import random
import shutil
import zlib
from collections.abc import Callable

import pytest

from datamodules import (
    CIFAR10DataModule,
    DataError,
    ImageFolderDataModule,
    MNISTDataModule,
    MovieLensDataModule,
    RossmannDataModule,
    TabularDataModule,
)
from datamodules.samples import images, movielens, rossmann, tabular, text, weekly_sales, workshop_tables
from datamodules.samples.tabular import TABULAR_SAMPLE_COLUMNS
from datamodules.text.characters import CharacterDataModule
from datamodules.text.lm import LanguageModelDataModule
from datamodules.text.sentences import SentenceDataModule
from datamodules.weekly_sales import WeeklySalesDataModule

CORRUPTIONS_PER_FILE = 8

# name: (sample writer, the file corrupted, the data module reading the folder (data_dir, cache_dir))
READERS: dict[str, tuple[Callable, str, Callable]] = {
    "movielens ratings": (
        movielens.write_movielens_sample,
        "ratings.csv",
        lambda d, c: MovieLensDataModule(data_dir=d, cache_dir=c),
    ),
    "movielens titles": (
        movielens.write_movielens_sample,
        "movies.csv",
        lambda d, c: MovieLensDataModule(data_dir=d, cache_dir=c),
    ),
    "tabular table": (
        tabular.write_tabular_sample,
        "houses.csv",
        lambda d, c: TabularDataModule(data_dir=d, cache_dir=c, **TABULAR_SAMPLE_COLUMNS),
    ),
    "workshop survey": (
        workshop_tables.write_somerville_sample,
        "SomervilleHappinessSurvey2015.csv",
        lambda d, c: TabularDataModule(data_dir=d, dataset="somerville", cache_dir=c),
    ),
    "rossmann days": (
        rossmann.write_rossmann_sample,
        "train.csv",
        lambda d, c: RossmannDataModule(data_dir=d, cache_dir=c),
    ),
    "rossmann stores": (
        rossmann.write_rossmann_sample,
        "store.csv",
        lambda d, c: RossmannDataModule(data_dir=d, cache_dir=c),
    ),
    "weekly sales": (
        weekly_sales.write_weekly_sales_sample,
        "Sales_Transactions_Dataset_Weekly.csv",
        lambda d, c: WeeklySalesDataModule(data_dir=d, cache_dir=c),
    ),
    "labelled sentences": (
        text.write_sentences_sample,
        "amazon_cells_labelled.txt",
        lambda d, c: SentenceDataModule(data_dir=d, cache_dir=c),
    ),
    "characters": (text.write_story_sample, "story.txt", lambda d, c: CharacterDataModule(data_dir=d, cache_dir=c)),
    "wikitext": (
        text.write_wikitext_sample,
        "wiki.train.tokens",
        lambda d, c: LanguageModelDataModule(corpus="wikitext", data_dir=d, cache_dir=c, n_workers=1),
    ),
    "mnist images": (
        images.write_mnist_sample,
        "train-images-idx3-ubyte.gz",
        lambda d, c: MNISTDataModule(data_dir=d, cache_dir=c),
    ),
    "mnist labels": (
        images.write_mnist_sample,
        "t10k-labels-idx1-ubyte.gz",
        lambda d, c: MNISTDataModule(data_dir=d, cache_dir=c),
    ),
    "cifar batch": (
        images.write_cifar10_sample,
        "cifar-10-batches-py/data_batch_1",
        lambda d, c: CIFAR10DataModule(data_dir=d, cache_dir=c),
    ),
    "image folder": (
        images.write_image_folder_sample,
        "train/bars/bars_000.jpg",
        lambda d, c: ImageFolderDataModule(data_dir=d, cache_dir=c, batch_size=256),
    ),
}


def truncated(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def flipped(data: bytes, rng: random.Random) -> bytes:
    changed = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        changed[rng.randrange(len(changed))] ^= 1 << rng.randrange(8)
    return bytes(changed)


def header_swapped(data: bytes, rng: random.Random) -> bytes:
    """Two names of the first line swapped (a table's columns read in another order)."""
    head, _, rest = data.partition(b"\n")
    sep = b"\t" if b"\t" in head else b","
    names = head.split(sep)
    if len(names) > 1:
        i, j = rng.sample(range(len(names)), 2)
        names[i], names[j] = names[j], names[i]
    return sep.join(names) + b"\n" + rest


def wrong_type(data: bytes, rng: random.Random) -> bytes:
    """One field of a later line replaced by text, an empty value, a huge or a fractional number."""
    lines = data.split(b"\n")
    row = rng.randrange(1, len(lines)) if len(lines) > 1 else 0
    sep = b"\t" if b"\t" in lines[row] else b","
    fields = lines[row].split(sep)
    fields[rng.randrange(len(fields))] = rng.choice([b"abc", b"", b"1e999", b"-7.5", b"99999999999999999999"])
    lines[row] = sep.join(fields)
    return b"\n".join(lines)


def corruptions(data: bytes, is_text: bool, seed: int) -> list[tuple[str, bytes]]:
    """``CORRUPTIONS_PER_FILE`` seeded corruptions of ``data`` (with their kinds): byte-level ones for any
    file, plus the table- and text-level ones for text."""
    rng = random.Random(seed)
    kinds = [truncated, flipped] + ([header_swapped, wrong_type] if is_text else [])
    chosen = [kinds[i % len(kinds)] for i in range(CORRUPTIONS_PER_FILE)]
    return [(kind.__name__, kind(data, rng)) for kind in chosen]


def read_everything(module) -> None:
    """Prepare and set up the module, then draw its first training batch and every validation batch."""
    module.prepare_data()
    module.setup("fit")
    next(iter(module.train_dataloader()))
    for _ in module.val_dataloader():
        pass


@pytest.mark.parametrize("reader", list(READERS))
def test_a_corrupted_file_is_read_or_refused_by_name(tmp_path, reader) -> None:
    write_sample, name, make = READERS[reader]
    sample = write_sample(tmp_path / "sample")
    original = (sample / name).read_bytes()
    is_text = not name.endswith((".gz", ".jpg")) and "batches" not in name
    for number, (kind, damaged) in enumerate(corruptions(original, is_text, seed=zlib.crc32(reader.encode()))):
        folder = tmp_path / f"copy{number}"
        shutil.copytree(sample, folder)
        (folder / name).write_bytes(damaged)
        case = f"corruption {number} ({kind}) of {folder / name}"
        try:
            read_everything(make(str(folder), str(tmp_path / f"cache{number}")))
        except DataError as e:
            assert str(folder) in str(e), f"{case}: the message names no file: {e}"
        except Exception as e:
            pytest.fail(f"{case}: {type(e).__module__}.{type(e).__name__}: {e}")
        shutil.rmtree(folder)
