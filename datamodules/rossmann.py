"""Rossmann Store Sales as a data module: the lesson's features (``datamodules/rossmann_features.py``) -> tensors.

The target is log(Sales); validation is a window of days of train.csv; predict writes Kaggle's
submission for test.csv.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from datamodules.cache import file_fingerprint
from datamodules.files import DataError
from datamodules.rossmann_features import FEATURES_VERSION, available_features, build_features
from datamodules.rossmann_files import RossmannFiles
from datamodules.samples.rossmann import write_rossmann_sample
from datamodules.source import DataSource
from datamodules.splits import check_split
from datamodules.tabular import EncodedTableDataModule
from datamodules.tabular_encoding import ENCODING_VERSION, Table, cached_frame

SAMPLE_NAME = "rossmann-v1"


class RossmannDataModule(EncodedTableDataModule):
    """The Rossmann Kaggle folder as the lesson's features; with no ``data_dir``, fast.ai's archive
    (``download=True`` and its ``sha256``) or the built-in sample.

    Validation is the window ``val_start``..``val_end`` (the lesson: 2014-08-01..2014-09-17) or,
    without ``val_start``, the last ``val_days`` days of train.csv (48 = the test period). The
    validation days are left out of training. ``max_rows`` keeps a seeded random sample of that many
    training-file rows before the split, as the lesson first fitted on 150,000 of them. Predict writes
    ``submission.csv`` (Id, Sales) for test.csv, with Sales 0 for closed stores. The feature frame is
    cached by the input files, the encoded arrays by the files, the validation days and the sample, so a
    re-run reads them back at once.
    """

    cache_name = "rossmann"
    closed_column = "Open"

    def __init__(
        self,
        data_dir: str | None = None,
        val_start: str | None = None,
        val_end: str | None = None,
        val_days: int = 48,
        max_rows: int | None = None,
        emb_rule: str = "lesson",
        emb_szs: dict[str, int] | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
        download: bool = False,
        sha256: str | None = None,
    ) -> None:
        super().__init__(
            DataSource(data_dir=data_dir, download=download, dataset="rossmann", sha256=sha256, cache_dir=cache_dir),
            log_target=True,
            y_range="auto",
            emb_rule=emb_rule,
            emb_szs=emb_szs,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )
        if val_start is None and val_days < 1:
            raise ValueError(f"val_days must be at least 1, got {val_days}")
        self.val_start = pd.Timestamp(val_start) if val_start is not None else None
        self.val_end = pd.Timestamp(val_end) if val_end is not None else None
        self.val_days = val_days
        self.max_rows = max_rows

    @property
    def folder(self) -> Path:
        """``data_dir``, else fast.ai's archive (with ``download``; its sha256 must be given), else the sample."""
        return self.source.resolve(SAMPLE_NAME, write_rossmann_sample)

    @property
    def files(self) -> RossmannFiles:
        """The Kaggle files and the extra tables found in ``folder``."""
        return RossmannFiles.find(self.folder)

    def feature_settings(self) -> dict:
        """The feature frame's cache key: the input files' fingerprints and the features' version."""
        return {"inputs": [file_fingerprint(p) for p in self.files.all()], "version": FEATURES_VERSION}

    def settings(self) -> dict:
        window = [str(self.val_start), str(self.val_end)] if self.val_start is not None else self.val_days
        return {
            **self.feature_settings(),
            "valid": window,
            "max_rows": self.max_rows,
            "seed": self.seed,
            "encoding": ENCODING_VERSION,
        }

    def features(self) -> pd.DataFrame:
        """The feature frame (training and test days), built once per set of input files."""
        files = self.files
        return cached_frame(
            self.source.cache_dir, "rossmann-features", self.feature_settings(), lambda: build_features(files)
        )

    def valid_rows(self, dates: pd.Series) -> np.ndarray:
        """The validation mask of the training days: the ``val_start``..``val_end`` window or the last ``val_days``."""
        if self.val_start is not None:
            end = self.val_end if self.val_end is not None else dates.max()
            mask = ((dates >= self.val_start) & (dates <= end)).to_numpy()
            covered = f"train.csv covers {dates.min().date()}..{dates.max().date()}"
            return check_split(
                mask, str(self.folder / "train.csv"), f"the window {self.val_start.date()}..{end.date()} ({covered})"
            )
        mask = (dates > dates.max() - pd.Timedelta(days=self.val_days)).to_numpy()
        return check_split(mask, str(self.folder / "train.csv"), f"val_days={self.val_days}")

    def table(self) -> Table:
        """The training days with their validation rows; the test days (and their Id and Open) to predict."""
        frame = self.features()
        cats, conts = available_features(frame)
        test_rows = frame["is_test"].to_numpy()
        train = frame[~test_rows]
        if self.max_rows is not None and self.max_rows < len(train):
            train = train.sample(n=self.max_rows, random_state=self.seed).sort_index()
        train = train.reset_index(drop=True)
        test = frame[test_rows].reset_index(drop=True) if test_rows.any() else None
        extra = {}
        if test is not None:
            extra = {"predict_id": test["Id"].to_numpy(np.int64), "predict_open": test["Open"].to_numpy(np.int64)}
        return Table(
            train, self.valid_rows(train["Date"]), cats, conts, "Sales", test, extra, what=str(self.files.train)
        )

    def setup(self, stage: str) -> None:
        if stage == "predict" and "predict_cat" not in self.load():
            raise DataError(f"nothing to predict: {self.folder / 'test.csv'} does not exist")
        super().setup(stage)

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``submission.csv`` in Kaggle's format: Id, Sales (0 where the store is closed), sorted by Id."""
        sales = self.preprocessing().values(predictions)
        sales[self.arrays["predict_open"] == 0] = 0
        frame = pd.DataFrame({"Id": self.arrays["predict_id"], "Sales": sales}).sort_values("Id")
        path = Path(out_dir) / "submission.csv"
        frame.to_csv(path, index=False)
        return path
