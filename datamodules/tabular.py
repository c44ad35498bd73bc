"""Tabular data modules: a table's encoded arrays (``datamodules/tabular_encoding.py``) as tensors.

``EncodedTableDataModule`` is what every tabular data module shares: the cached arrays, the model
arguments only the data knows, the train/valid/test/predict tensors. ``TabularDataModule`` reads any CSV
(or a known table, ``datamodules/table_columns.py``); ``RossmannDataModule`` builds the lesson's features first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from datamodules.batching import InMemoryDataModule, TensorBatches
from datamodules.cache import Arrays, cached, file_fingerprint
from datamodules.files import DataError, read_csv, require_file
from datamodules.preprocessing.tabular import TablePreprocessing
from datamodules.source import DataSource
from datamodules.splits import check_split, check_valid_pct, random_split, valid_mask
from datamodules.table_columns import KNOWN_TABLES, NO_KNOWN_TABLE, CsvColumns, KnownTable
from datamodules.tabular_encoding import (
    EMB_RULES,
    ENCODING_VERSION,
    Table,
    TabularProcessor,
    auto_y_range,
    embedding_sizes,
    encode_table,
)


class EncodedTableDataModule(InMemoryDataModule):
    """The encoded arrays of a subclass's ``table()``, cached under ``cache_name``, as tensors.

    Subclasses build ``self.source`` and give ``settings()`` (what the arrays depend on: the cache
    key) and ``table()``. ``describe()`` gives the model its embedding sizes (``emb_rule``,
    per-column ``emb_szs`` overrides), ``n_cont``, and ``y_range`` (``"auto"``: see ``auto_y_range``)
    and ``log_target`` for a number to predict, or ``classes`` (the labels) with ``classify``.
    """

    cache_name = "table"
    closed_column: str | None = None

    def __init__(
        self,
        source: DataSource,
        log_target: bool,
        y_range: str | Sequence[float] | None,
        emb_rule: str,
        emb_szs: Mapping[str, int] | None,
        batch_size: int,
        num_workers: int,
        seed: int,
        classify: bool = False,
    ) -> None:
        super().__init__()
        if classify and log_target:
            raise ValueError("log_target=true takes the log of a number; a class label to predict (classify) has none")
        if emb_rule not in EMB_RULES:
            raise ValueError(f"unknown emb_rule {emb_rule!r}: choose one of {', '.join(EMB_RULES)}")
        if isinstance(y_range, str) and y_range != "auto":
            raise ValueError(f"y_range must be 'auto', null or [low, high], got {y_range!r}")
        self.source = source
        self.classify = classify
        self.log_target = log_target
        self.y_range = y_range
        self.emb_rule = emb_rule
        self.emb_szs = dict(emb_szs or {})
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.arrays: Arrays | None = None
        self.meta: dict | None = None
        self.datasets: dict[str, TensorBatches] = {}

    def settings(self) -> dict:
        """What the encoded arrays depend on (the cache key): the inputs' fingerprints and the settings."""
        raise NotImplementedError

    def table(self) -> Table:
        """The labelled table, its validation rows and the rows to predict."""
        raise NotImplementedError

    def prepare_data(self) -> None:
        self.load()

    def load(self) -> Arrays:
        """The encoded arrays, from the cache or built and stored there."""
        if self.arrays is None:
            self.arrays, self.meta = cached(
                self.source.cache_dir,
                self.cache_name,
                self.settings(),
                lambda: encode_table(self.table(), self.log_target, self.classify),
            )
        return self.arrays

    @property
    def processor(self) -> TabularProcessor:
        """What the training rows taught, as the arrays were encoded with it."""
        self.load()
        return TabularProcessor.from_dict(self.meta["processor"])

    def describe(self) -> dict:
        """The model arguments only the data knows: embedding sizes, n_cont, and y_range and log_target (and
        the ``targets`` and their training spread when there are several) or classes."""
        processor = self.processor
        inputs = {
            "emb_szs": embedding_sizes(processor.all_cat_names, processor.cardinalities, self.emb_rule, self.emb_szs),
            "n_cont": len(processor.cont_names),
        }
        if self.classify:
            return {**inputs, "classes": list(self.meta["classes"])}
        targets = self.meta.get("targets")
        if targets is not None:
            inputs |= {"targets": list(targets), "target_stds": list(self.meta["y_std"])}
        return {**inputs, "y_range": self.model_y_range(targets), "log_target": self.log_target}

    def model_y_range(self, targets: list[str] | None) -> list | None:
        """``y_range`` as the model takes it: [low, high] for every output, or one [low, high] per target
        (``auto`` gives each target its own; a given list of pairs must have one pair per target)."""
        if self.y_range is None:
            return None
        if self.y_range == "auto":
            if targets is None:
                return auto_y_range(self.meta["y_min"], self.meta["y_max"])
            return [auto_y_range(low, high) for low, high in zip(self.meta["y_min"], self.meta["y_max"], strict=True)]
        if all(isinstance(pair, Sequence) for pair in self.y_range):
            if targets is None or len(self.y_range) != len(targets):
                raise ValueError(
                    f"y_range={list(self.y_range)} gives {len(self.y_range)} ranges for the target(s) "
                    f"{targets or 'of one column'}: give one [low, high] per target, or one for all"
                )
            return [[float(v) for v in pair] for pair in self.y_range]
        return [float(v) for v in self.y_range]

    def setup(self, stage: str) -> None:
        arrays = self.load()
        if stage == "predict":
            if "predict_cat" not in arrays:
                raise DataError("nothing to predict: set data.predict_csv to a CSV with the feature columns")
            self.datasets["predict"] = TensorBatches(
                torch.from_numpy(arrays["predict_cat"]), torch.from_numpy(arrays["predict_cont"])
            )
            return
        if "train" in self.datasets:
            return
        n_valid = int(np.count_nonzero(arrays["is_valid"]))
        n_test = int(np.count_nonzero(arrays["is_test"])) if "is_test" in arrays else 0
        n_train = len(arrays["y"]) - n_valid - n_test
        tensors = [torch.from_numpy(arrays[name]) for name in ("x_cat", "x_cont", "y")]
        self.datasets["train"] = TensorBatches(*(t[:n_train] for t in tensors))
        self.datasets["valid"] = TensorBatches(*(t[n_train : n_train + n_valid] for t in tensors))
        if n_test:
            self.datasets["test"] = TensorBatches(*(t[n_train + n_valid :] for t in tensors))

    @property
    def has_test_set(self) -> bool:
        """True when rows were held out for testing (``test_pct``)."""
        return "is_test" in self.load()

    def test_dataloader(self) -> DataLoader:
        return self.evaluation_loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self.evaluation_loader("predict", sharded=False)

    @property
    def class_names(self) -> list[str]:
        """The classes with ``classify`` (in the order of their codes); none for a number to predict."""
        self.load()
        return list(self.meta["classes"]) if self.classify else []

    def valid_items(self, rows: Sequence[int]) -> list[str]:
        """Validation rows as their feature values (``column=value, ...``; ``#na`` for a missing category)."""
        self.setup("fit")
        processor = self.processor
        x_cat, x_cont, _ = self.datasets["valid"][torch.as_tensor(list(rows), dtype=torch.long)]
        items = []
        for codes, values in zip(x_cat.tolist(), x_cont.double().tolist(), strict=True):
            cats = [
                f"{c}={processor.categories[c][code - 1] if code else '#na'}"
                for c, code in zip(processor.cat_names, codes, strict=False)  # the _na flags follow
            ]
            conts = [
                f"{c}={v * processor.stds[c] + processor.means[c]:g}"
                for c, v in zip(processor.cont_names, values, strict=True)
            ]
            items.append(", ".join(cats + conts))
        return items

    def preprocessing(self) -> TablePreprocessing:
        """What the trained model needs to predict new rows: the processor, the target's scale or classes."""
        self.load()
        classes = list(self.meta["classes"]) if self.classify else None
        targets = self.meta.get("targets")
        return TablePreprocessing(self.meta["processor"], self.log_target, classes, self.closed_column, targets)


class TabularDataModule(EncodedTableDataModule):
    """A CSV (or, with no ``data_dir`` and no ``csv``, the built-in sample) as codes, continuous values and a target.

    ``cat_names``, ``cont_names`` and ``y_name`` give the column roles (``y_name=[a, b]``: several numbers
    predicted at once, each through its own output); ``dataset`` names a table whose
    layout is known (``somerville``, ``credit_default``: the workshop's files as distributed), which
    fills in the file and the roles not given and is its own built-in sample. Validation rows are a
    seeded random ``valid_pct`` or the rows where ``valid_col`` is true; ``test_pct`` of the rows
    (seeded, outside validation) is a test set (``valid_pct=0.2 test_pct=0.2``: 60/20/20). Predict reads
    ``predict_csv`` and writes ``predictions.csv`` (its columns plus ``prediction``). Relative
    paths are taken inside ``data_dir`` when one is given.
    """

    cache_name = "tabular"

    def __init__(
        self,
        data_dir: str | None = None,
        csv: str | None = None,
        cat_names: Sequence[str] | None = None,
        cont_names: Sequence[str] | None = None,
        y_name: str | Sequence[str] | None = None,
        valid_pct: float = 0.2,
        valid_col: str | None = None,
        test_pct: float = 0.0,
        predict_csv: str | None = None,
        classify: bool = False,
        log_target: bool = False,
        y_range: str | Sequence[float] | None = "auto",
        emb_rule: str = "lesson",
        emb_szs: Mapping[str, int] | None = None,
        dataset: str | None = None,
        batch_size: int = 128,
        num_workers: int = 0,
        seed: int = 42,
        cache_dir: str = ".cache/fastlightning",
    ) -> None:
        if dataset is not None and dataset not in KNOWN_TABLES:
            raise ValueError(f"unknown dataset {dataset!r}: choose one of {', '.join(KNOWN_TABLES)} (or null)")
        super().__init__(
            DataSource(data_dir=data_dir, cache_dir=cache_dir),
            log_target=log_target,
            y_range=y_range,
            emb_rule=emb_rule,
            emb_szs=emb_szs,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
            classify=classify,
        )
        check_valid_pct(valid_pct)
        check_valid_pct(test_pct, allow_zero=True, name="test_pct")
        self.csv = csv
        self.cat_names = None if cat_names is None else list(cat_names)
        self.cont_names = None if cont_names is None else list(cont_names)
        self.y_name = y_name if y_name is None or isinstance(y_name, str) else list(y_name)
        self.valid_pct = valid_pct
        self.valid_col = valid_col
        self.test_pct = test_pct
        self.predict_csv = predict_csv
        self.dataset = dataset
        self.columns.check_roles()
        if classify and len(self.columns.targets) > 1:
            raise ValueError(f"classify takes one label column; y_name={self.y_name} names several")

    @property
    def known(self) -> KnownTable | None:
        """The table whose file and columns fill in those not given: ``dataset``'s, or with neither a folder
        nor a CSV the houses sample (their price, or their type to classify)."""
        if self.dataset is not None:
            return KNOWN_TABLES[self.dataset]
        if self.source.is_sample and self.csv is None:
            return KNOWN_TABLES["house_types" if self.classify else "houses"]
        return None

    @property
    def columns(self) -> CsvColumns:
        """The file and column roles this module reads."""
        given = CsvColumns(self.csv, self.cat_names, self.cont_names, self.y_name, self.predict_csv)
        known = self.known
        return given.filled_from(known.columns if known is not None else NO_KNOWN_TABLE)

    @property
    def folder(self) -> Path | None:
        """Where relative paths are taken: ``data_dir``, a known table's built-in sample without one, or
        nowhere (a CSV given without ``data_dir`` is read as given)."""
        if self.source.data_dir is None and self.csv is not None:
            return None
        known = self.known or KNOWN_TABLES["houses"]
        return self.source.resolve(known.sample_name, known.write_sample)

    def _resolve(self, path: str | None) -> Path | None:
        """A relative path inside ``folder`` (when there is one); an absolute path as it is."""
        if path is None:
            return None
        path = Path(path)
        folder = self.folder
        return path if path.is_absolute() or folder is None else folder / path

    @property
    def csv_path(self) -> Path:
        """The table to read, or a DataError saying to set data.csv."""
        csv = self.columns.csv
        if csv is None:
            data_dir = self.source.data_dir
            raise DataError(f"no table to read: set data.csv (a CSV file{' inside ' + data_dir if data_dir else ''})")
        return self._resolve(csv)

    @property
    def predict_path(self) -> Path | None:
        """The rows to predict, if any."""
        return self._resolve(self.columns.predict_csv)

    def settings(self) -> dict:
        columns = self.columns
        return {
            "inputs": [
                file_fingerprint(require_file(path, what))
                for path, what in ((self.csv_path, "data.csv"), (self.predict_path, "data.predict_csv"))
                if path is not None
            ],
            "columns": [columns.cat_names, columns.cont_names, columns.y_name],
            "valid": [self.valid_pct, self.valid_col, self.seed] + ([self.test_pct] if self.test_pct else []),
            "log_target": self.log_target,
            "classify": self.classify,
            "encoding": ENCODING_VERSION,
        }

    def table(self) -> Table:
        """The CSV with its validation rows and the rows to predict."""
        columns, path = self.columns, self.csv_path
        if not columns.targets:
            raise DataError(f"{path}: set data.y_name to the target column")
        if not columns.cat_names and not columns.cont_names:
            raise DataError(f"{path}: set data.cat_names and/or data.cont_names to the feature columns")
        features = [*columns.cat_names, *columns.cont_names]
        required = [*features, *columns.targets] + ([self.valid_col] if self.valid_col else [])
        frame = read_csv(path, required=required, what="data.csv")
        if self.dataset is not None:
            self.known.check_ranges(frame, path)
        predict = None
        if self.predict_path is not None:
            predict = read_csv(self.predict_path, required=features, what="predict_csv")
        is_valid = self.valid_rows(frame)
        return Table(
            frame,
            is_valid,
            columns.cat_names,
            columns.cont_names,
            columns.y_name,
            predict,
            what=str(path),
            is_test=self.test_rows(is_valid) if self.test_pct else None,
        )

    def valid_rows(self, frame: pd.DataFrame) -> np.ndarray:
        """The validation mask: a seeded random ``valid_pct`` of the rows, or the true/1 rows of ``valid_col``."""
        if self.valid_col is None:
            return valid_mask(len(frame), random_split(len(frame), self.valid_pct, self.seed)[1])
        values = frame[self.valid_col]
        if pd.api.types.is_bool_dtype(values):
            return check_split(values.to_numpy(dtype=bool), str(self.csv_path), f"valid_col={self.valid_col}")
        numbers = pd.to_numeric(values, errors="coerce")
        if not numbers.isin([0, 1]).all():
            raise DataError(f"{self.csv_path}: valid_col {self.valid_col!r} must be true/false or 1/0 in every row")
        return check_split(numbers.to_numpy(dtype=bool), str(self.csv_path), f"valid_col={self.valid_col}")

    def test_rows(self, is_valid: np.ndarray) -> np.ndarray:
        """The test mask: ``test_pct`` of all the rows, drawn (seeded) from those not in validation."""
        n_test = int(round(self.test_pct * len(is_valid)))
        candidates = np.flatnonzero(~is_valid)
        if not 0 < n_test < len(candidates):
            raise DataError(
                f"{self.csv_path}: test_pct={self.test_pct} of {len(is_valid)} rows is {n_test} test rows, "
                f"with {len(candidates)} rows outside validation; use more data or change test_pct"
            )
        rows = np.random.default_rng(self.seed + 1).choice(candidates, n_test, replace=False)
        return valid_mask(len(is_valid), rows)

    def write_predictions(self, predictions: list[torch.Tensor], out_dir: str | Path) -> Path:
        """``predictions.csv``: the rows of ``predict_csv`` with a ``prediction`` column (and class probabilities)."""
        frame = read_csv(self.predict_path, what="predict_csv")
        frame = frame.assign(**self.preprocessing().prediction_columns(predictions))
        path = Path(out_dir) / "predictions.csv"
        frame.to_csv(path, index=False)
        return path
