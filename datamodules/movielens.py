"""MovieLens ratings (ml-latest-small or ml-100k) as user/item index tensors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from datamodules.batching import TensorBatches, tensor_loader
from datamodules.cache import cached, file_fingerprint
from datamodules.files import DataError, bad_lines, numeric_column, read_csv, require_file
from datamodules.preprocessing.base import InputError
from datamodules.preprocessing.collab import RatingsPreprocessing
from datamodules.samples.movielens import write_movielens_sample
from datamodules.source import DataSource
from datamodules.splits import check_valid_pct, latest_split, random_split, valid_mask

SPLITS = ("random", "time")
DOWNLOADABLE = ("ml-latest-small", "ml-100k")
SAMPLE_NAME = "movielens-v1"
# the stars of both distributions: half stars 0.5-5 (ml-latest-small), whole stars 1-5 (ml-100k)
RATING_RANGE = (0.5, 5.0)


def find_ratings(data_dir: Path) -> tuple[Path, Path | None]:
    """The ratings file and the titles file of a MovieLens folder, in either distribution's layout."""
    if (data_dir / "ratings.csv").is_file():
        movies = data_dir / "movies.csv"
        return data_dir / "ratings.csv", movies if movies.is_file() else None
    if (data_dir / "u.data").is_file():
        items = data_dir / "u.item"
        return data_dir / "u.data", items if items.is_file() else None
    raise DataError(
        f"no MovieLens ratings in {data_dir}: expected ratings.csv (ml-latest-small) or u.data (ml-100k); "
        f"set data.data_dir to the unpacked dataset folder"
    )


def read_ratings(path: Path, rating_range: Sequence[float] | None = RATING_RANGE) -> pd.DataFrame:
    """Columns userId, movieId, rating, timestamp, checked (the ratings within ``rating_range``)."""
    if path.name == "u.data":
        frame = read_csv(
            path,
            sep="\t",
            header=None,
            names=["userId", "movieId", "rating", "timestamp"],
            what="MovieLens 100k ratings",
        )
        if frame["movieId"].isna().all():
            raise DataError(f"{path}: expected 4 tab-separated columns (user item rating timestamp)")
    else:
        frame = read_csv(path, required=["userId", "movieId", "rating"], what="MovieLens ratings")
    for column in ("userId", "movieId"):
        frame[column] = numeric_column(frame, column, path, dtype="int64")
    frame["rating"] = numeric_column(frame, "rating", path)
    if rating_range is not None:
        low, high = rating_range
        outside = ((frame["rating"] < low) | (frame["rating"] > high)).to_numpy()
        if outside.any():
            raise DataError(
                f"{path}: {int(outside.sum())} rating(s) outside MovieLens's scale {low}..{high} "
                f"({bad_lines(frame, 'rating', outside)}); fix them, or set data.rating_range=[low,high] for "
                f"ratings on another scale (and a model.y_range that covers it)"
            )
    # the time split sorts by it: one text value would make it sort strings
    frame["timestamp"] = numeric_column(frame, "timestamp", path, dtype="int64") if "timestamp" in frame else 0
    return frame


def read_titles(path: Path | None) -> dict[int, str]:
    """movieId -> title, from movies.csv or u.item (latin-1, ``|``-separated)."""
    if path is None:
        return {}
    if path.name == "u.item":
        frame = read_csv(path, sep="|", header=None, encoding="latin-1", what="MovieLens 100k titles")
        frame = frame.rename(columns={0: "movieId", 1: "title"})
    else:
        frame = read_csv(path, required=["movieId", "title"], what="MovieLens titles")
    ids = numeric_column(frame, "movieId", path, dtype="int64")
    return dict(zip(ids.tolist(), frame["title"].astype(str), strict=True))


def split_mask(timestamps: np.ndarray, valid_pct: float, split: str, seed: int) -> np.ndarray:
    """Boolean mask of the validation rows: a seeded random ``valid_pct`` or the latest ratings."""
    if split == "random":
        _, valid = random_split(len(timestamps), valid_pct, seed, what="ratings")
    elif split == "time":
        _, valid = latest_split(timestamps, valid_pct, what="ratings")
    else:
        raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
    return valid_mask(len(timestamps), valid)


class MovieLensDataModule(pl.LightningDataModule):
    """User/item/rating tensors from a MovieLens folder, or from the built-in synthetic sample.

    Users and movies are mapped to contiguous indices over all ratings, as the lesson did. Predict
    reads ``predict_file`` (columns userId, movieId) or, without one, the validation pairs. Without a
    ``data_dir``, ``download=True`` fetches ``dataset`` from GroupLens into ``cache_dir`` (checked against its
    published sha256, or ``sha256`` when given) and reads it; otherwise the built-in sample is used.
    """

    def __init__(
        self,
        data_dir: str | None = None,
        valid_pct: float = 0.2,
        split: str = "random",
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
        predict_file: str | None = None,
        download: bool = False,
        dataset: str = "ml-latest-small",
        sha256: str | None = None,
        rating_range: Sequence[float] | None = RATING_RANGE,
    ) -> None:
        super().__init__()
        check_valid_pct(valid_pct)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        if dataset not in DOWNLOADABLE:
            raise ValueError(f"unknown MovieLens dataset {dataset!r}: choose one of {', '.join(DOWNLOADABLE)}")
        self.source = DataSource(
            data_dir=data_dir, download=download, dataset=dataset, sha256=sha256, cache_dir=cache_dir
        )
        self.valid_pct = valid_pct
        self.split = split
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.predict_file = predict_file
        self.rating_range = None if rating_range is None else tuple(float(v) for v in rating_range)
        self.arrays: dict[str, np.ndarray] | None = None

    def prepare_data(self) -> None:
        self.load()

    def load(self) -> dict[str, np.ndarray]:
        """The indexed ratings and their split, from the cache or built and stored there (once per module)."""
        if self.arrays is not None:
            return self.arrays
        ratings_path, titles_path = find_ratings(self.source.resolve(SAMPLE_NAME, write_movielens_sample))
        inputs = [file_fingerprint(p) for p in (ratings_path, titles_path) if p is not None]
        settings = {"inputs": inputs, "valid_pct": self.valid_pct, "split": self.split, "seed": self.seed}
        settings |= {"rating_range": self.rating_range} if self.rating_range != RATING_RANGE else {}

        def build() -> tuple[dict[str, np.ndarray], dict]:
            frame = read_ratings(ratings_path, self.rating_range)
            user_ids, users = np.unique(frame["userId"].to_numpy(), return_inverse=True)
            item_ids, items = np.unique(frame["movieId"].to_numpy(), return_inverse=True)
            titles = read_titles(titles_path)
            arrays = {
                "users": users.astype(np.int64),
                "items": items.astype(np.int64),
                "ratings": frame["rating"].to_numpy(np.float32),
                "is_valid": split_mask(frame["timestamp"].to_numpy(), self.valid_pct, self.split, self.seed),
                "user_ids": user_ids.astype(np.int64),
                "item_ids": item_ids.astype(np.int64),
                "titles": np.array([titles.get(int(i), f"movie {i}") for i in item_ids], dtype=str),
            }
            return arrays, {}

        self.arrays, _ = cached(self.source.cache_dir, "movielens", settings, build)
        return self.arrays

    def setup(self, stage: str) -> None:
        self.load()

    def describe(self) -> dict:
        """Constructor arguments only the data knows: the numbers of users and items."""
        arrays = self.load()
        return {"n_users": len(arrays["user_ids"]), "n_items": len(arrays["item_ids"])}

    @property
    def item_names(self) -> list[str]:
        """Title of each item index."""
        return self.arrays["titles"].tolist()

    @property
    def item_counts(self) -> np.ndarray:
        """Number of ratings of each item index."""
        return np.bincount(self.arrays["items"], minlength=len(self.arrays["item_ids"]))

    def _rows(self, valid: bool) -> TensorBatches:
        mask = self.arrays["is_valid"] == valid
        return TensorBatches(
            torch.from_numpy(self.arrays["users"][mask]),
            torch.from_numpy(self.arrays["items"][mask]),
            torch.from_numpy(self.arrays["ratings"][mask]),
        )

    def train_dataloader(self) -> DataLoader:
        return tensor_loader(
            self._rows(valid=False),
            self.batch_size,
            shuffle=True,
            trainer=self.trainer,
            seed=self.seed,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return tensor_loader(self._rows(valid=True), self.batch_size * 4, shuffle=False, trainer=self.trainer)

    def report_dataloader(self) -> DataLoader:
        """The validation ratings in order, in one process: what the reports evaluate."""
        return tensor_loader(self._rows(valid=True), self.batch_size * 4, shuffle=False)

    def predict_pairs(self) -> pd.DataFrame:
        """userId/movieId pairs to predict, with their indices; unknown ids are an error."""
        if self.predict_file is None:
            mask = self.arrays["is_valid"]
            return pd.DataFrame(
                {
                    "userId": self.arrays["user_ids"][self.arrays["users"][mask]],
                    "movieId": self.arrays["item_ids"][self.arrays["items"][mask]],
                    "rating": self.arrays["ratings"][mask],
                }
            )
        path = require_file(self.predict_file, "predict_file")
        frame = read_csv(path, required=["userId", "movieId"], what="predict_file")
        for column in ("userId", "movieId"):
            frame[column] = numeric_column(frame, column, path, dtype="int64")
        return frame

    def preprocessing(self) -> RatingsPreprocessing:
        """The id maps and titles the trained model needs to rate new pairs."""
        arrays = self.load()
        return RatingsPreprocessing(arrays["user_ids"].tolist(), arrays["item_ids"].tolist(), arrays["titles"].tolist())

    def predict_dataloader(self) -> DataLoader:
        try:
            users, items = self.preprocessing().encode(self.predict_pairs())
        except InputError as e:
            raise DataError(f"{self.predict_file}: {e}") from None
        return tensor_loader(TensorBatches(users, items), self.batch_size * 4, shuffle=False)

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``predictions.csv``: userId, movieId (and the known rating), predicted rating."""
        frame = self.predict_pairs()
        frame["prediction"] = torch.cat(predictions).float().numpy()
        path = Path(out_dir) / "predictions.csv"
        frame.to_csv(path, index=False)
        return path
