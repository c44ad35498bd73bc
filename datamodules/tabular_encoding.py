"""Any table -> categorical codes, filled and normalized continuous columns and a target, as arrays.

Everything is learned from the training rows only and then applied to every row (training,
validation, predict): the categories of each categorical column (code 0 is kept for missing and
for categories never seen in training), the median that fills missing continuous values (a
``<col>_na`` categorical column flags the filled rows), and the mean and standard deviation that
normalize. Plain pandas and numpy: the data modules in ``datamodules/tabular.py`` and
``datamodules/rossmann.py`` turn the arrays into tensors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.cache import Arrays, cached
from datamodules.files import DataError

log = logging.getLogger(__name__)

EMB_RULES = ("lesson", "fastai")
ENCODING_VERSION = 2  # part of the cache key: bump when the encoded arrays change


def embedding_size(cardinality: int, rule: str = "lesson") -> int:
    """Embedding width for a column with ``cardinality`` codes (missing included).

    ``"lesson"``: min(50, (c + 1) // 2), as in the 2018 course; ``"fastai"``: min(600, round(1.6 * c ** 0.56)).
    """
    if rule == "lesson":
        return min(50, (cardinality + 1) // 2)
    if rule == "fastai":
        return min(600, round(1.6 * cardinality**0.56))
    raise ValueError(f"unknown embedding size rule {rule!r}: choose one of {', '.join(EMB_RULES)}")


def embedding_sizes(
    names: Sequence[str],
    cardinalities: Sequence[int],
    rule: str = "lesson",
    overrides: Mapping[str, int] | None = None,
) -> list[list[int]]:
    """[cardinality, width] for each categorical column; ``overrides`` sets the width of named columns."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(
            f"emb_szs names {', '.join(map(repr, unknown))}, which is not a categorical column; "
            f"the categorical columns are: {', '.join(names)}"
        )
    return [
        [int(card), int(overrides.get(name, embedding_size(card, rule)))]
        for name, card in zip(names, cardinalities, strict=True)
    ]


def bad_examples(raw: pd.Series, bad: np.ndarray) -> str:
    """A few of the distinct bad values, as Python writes them (nan, not np.float64(nan))."""
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in raw[bad].unique()[:3])


def continuous_values(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    """A column as float64 with NaN for missing values, or a DataError naming values that are not numbers."""
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = (np.isnan(values) & raw.notna().to_numpy()) | np.isinf(values)
    if bad.any():
        raise DataError(
            f"{what}: continuous column {column!r} must hold finite numbers (or be empty where missing); "
            f"{int(bad.sum())} value(s) are not, e.g. {bad_examples(raw, bad)}. Fix the values or list the column "
            "in cat_names"
        )
    return values


def category_codes(values: pd.Series, categories: Sequence) -> np.ndarray:
    """Codes 1..n for the known ``categories``; 0 for missing values and for categories not in the list."""
    return pd.Index(categories).get_indexer(values).astype(np.int64) + 1


@dataclass
class TabularProcessor:
    """What the training rows teach: categories per categorical column, median/mean/std per continuous one.

    ``na_names`` are the continuous columns that had missing values in the training rows; each
    gets a ``<col>_na`` categorical flag column after the given categorical columns.
    """

    cat_names: list[str]
    cont_names: list[str]
    categories: dict[str, list]
    medians: dict[str, float]
    means: dict[str, float]
    stds: dict[str, float]
    na_names: list[str]

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        cat_names: Sequence[str],
        cont_names: Sequence[str],
        what: str = "the table",
    ) -> TabularProcessor:
        """Learn from the training rows only, so validation and predict rows are encoded as unseen data."""
        categories = {c: pd.Categorical(frame[c]).categories.tolist() for c in cat_names}
        medians, means, stds, na_names = {}, {}, {}, []
        for column in cont_names:
            values = continuous_values(frame, column, what)
            missing = np.isnan(values)
            if missing.all():
                raise DataError(
                    f"{what}: continuous column {column!r} has no values in the training rows; "
                    f"remove it from cont_names"
                )
            medians[column] = float(np.median(values[~missing]))
            if missing.any():
                na_names.append(column)
                values = np.where(missing, medians[column], values)
            means[column] = float(values.mean())
            std = float(values.std())
            stds[column] = std if std > 0 else 1.0
        return cls(list(cat_names), list(cont_names), categories, medians, means, stds, na_names)

    @property
    def all_cat_names(self) -> list[str]:
        """The categorical columns of the encoded table: the given ones, then the ``_na`` flags."""
        return self.cat_names + [f"{c}_na" for c in self.na_names]

    @property
    def cardinalities(self) -> list[int]:
        """Number of codes of each column of ``all_cat_names`` (0 = missing/unseen included)."""
        return [len(self.categories[c]) + 1 for c in self.cat_names] + [3] * len(self.na_names)

    def transform(self, frame: pd.DataFrame, what: str = "the table") -> tuple[np.ndarray, np.ndarray]:
        """(codes, continuous): int64 [rows, len(all_cat_names)] and float32 [rows, len(cont_names)].

        A missing continuous value is filled with the training median; when its column had no
        missing values in training (so the model has no ``_na`` flag for it) a warning names it.
        """
        missing_columns = [c for c in self.cat_names + self.cont_names if c not in frame.columns]
        if missing_columns:
            raise DataError(f"{what} has no column {', '.join(map(repr, missing_columns))}")
        codes = [category_codes(frame[c], self.categories[c]) for c in self.cat_names]
        flags, cont = {}, []
        for column in self.cont_names:
            values = continuous_values(frame, column, what)
            missing = np.isnan(values)
            if column in self.na_names:
                flags[column] = missing.astype(np.int64) + 1
            elif missing.any():
                log.warning(
                    f"{what}: {int(missing.sum())} missing value(s) in continuous column {column!r}, which had none "
                    f"in the training rows; filled with the training median {self.medians[column]:g}"
                )
            filled = np.where(missing, self.medians[column], values)
            cont.append(((filled - self.means[column]) / self.stds[column]).astype(np.float32))
        codes += [flags[c] for c in self.na_names]
        n = len(frame)
        x_cat = np.stack(codes, 1) if codes else np.zeros((n, 0), np.int64)
        x_cont = np.stack(cont, 1) if cont else np.zeros((n, 0), np.float32)
        return x_cat, x_cont

    def to_dict(self) -> dict:
        """Plain JSON-able values, kept in the cache's metadata next to the arrays they encoded."""
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, state: dict) -> TabularProcessor:
        """The processor back from ``to_dict``, so a cached run needs no refit."""
        return cls(**state)


@dataclass
class Table:
    """A labelled table, its validation rows and the column roles, ready to be encoded.

    ``is_test`` marks rows held out from training and validation alike (a test set), if any; ``y_name``
    is the target column, or a list of them (numbers predicted together); ``predict`` holds rows to
    predict (the same feature columns, no target needed); ``extra`` arrays are stored with the encoded
    arrays (e.g. the ids a submission is written with).
    """

    frame: pd.DataFrame
    is_valid: np.ndarray
    cat_names: list[str]
    cont_names: list[str]
    y_name: str | list[str]
    predict: pd.DataFrame | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    what: str = "the table"
    is_test: np.ndarray | None = None


def target_values(frame: pd.DataFrame, column: str, log_target: bool, what: str) -> np.ndarray:
    """The target as float32 (its log with ``log_target``), or a DataError for missing/non-numeric/<= 0 values."""
    if column not in frame.columns:
        raise DataError(f"{what} has no target column {column!r}")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise DataError(
            f"{what}: target column {column!r} has {int(bad.sum())} missing or non-numeric value(s), "
            f"e.g. {bad_examples(frame[column], bad)}"
        )
    if log_target:
        if (values <= 0).any():
            raise DataError(
                f"{what}: log_target needs a positive target, but {column!r} has {int((values <= 0).sum())} "
                f"value(s) <= 0; drop those rows or set log_target=false"
            )
        values = np.log(values)
    return values.astype(np.float32)


def class_codes(frame: pd.DataFrame, column: str, train_rows: np.ndarray, what: str) -> tuple[np.ndarray, list[str]]:
    """The target's labels as codes of the classes the training rows hold (numbers in numeric order).

    A validation label no training row has would be a class the model cannot output: an error that names it.
    """
    if column not in frame.columns:
        raise DataError(f"{what} has no target column {column!r}")
    missing = frame[column].isna().to_numpy()
    if missing.any():
        raise DataError(f"{what}: target column {column!r} has {int(missing.sum())} missing label(s); drop those rows")
    labels = frame[column].astype(str).str.strip().to_numpy()
    classes = sorted(set(labels[train_rows]), key=label_order)
    if len(classes) < 2:
        raise DataError(f"{what}: the training rows of {column!r} hold {len(classes)} class(es); a classifier needs 2")
    unseen = sorted(set(labels[~train_rows]) - set(classes), key=label_order)
    if unseen:
        n_rows = int(np.isin(labels[~train_rows], unseen).sum())
        raise DataError(
            f"{what}: {n_rows} validation row(s) have label(s) of {column!r} that no training row has: "
            f"{', '.join(map(repr, unseen[:5]))}; the classes are {', '.join(map(repr, classes[:10]))}"
        )
    index = {label: i for i, label in enumerate(classes)}
    return np.array([index[label] for label in labels], dtype=np.int64), classes


def label_order(label: str) -> tuple:
    """Numbers first, in numeric order, then text labels in alphabetical order."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, 0.0, label)


def encode_table(table: Table, log_target: bool, classify: bool = False) -> tuple[Arrays, dict]:
    """Fit a TabularProcessor on the training rows and encode all rows (and the predict rows).

    With ``classify`` the target becomes class codes (``meta["classes"]`` their labels), else a number (a
    row of numbers for several targets, ``meta["targets"]`` their names).

    The training rows come first in the arrays, then the validation rows, then the test rows (each
    in their table order), so that the splits are slices of the same tensors.
    """
    is_test = table.is_test if table.is_test is not None else np.zeros_like(table.is_valid)
    train_rows = ~table.is_valid & ~is_test
    if not train_rows.any():
        raise DataError(f"{table.what}: every row is a validation or test row; nothing is left to train on")
    processor = TabularProcessor.fit(table.frame[train_rows], table.cat_names, table.cont_names, table.what)
    x_cat, x_cont = processor.transform(table.frame, table.what)
    if classify:
        y, classes = class_codes(table.frame, table.y_name, train_rows, table.what)
        target_meta: dict = {"classes": classes}
    elif isinstance(table.y_name, str):
        y = target_values(table.frame, table.y_name, log_target, table.what)
        target_meta = {"y_min": float(y[train_rows].min()), "y_max": float(y[train_rows].max())}
    else:
        y = np.stack([target_values(table.frame, name, log_target, table.what) for name in table.y_name], 1)
        target_meta = {
            "targets": list(table.y_name),
            "y_min": y[train_rows].min(0).tolist(),
            "y_max": y[train_rows].max(0).tolist(),
            "y_std": y[train_rows].std(0).tolist(),
        }
    order = np.argsort(table.is_valid + 2 * is_test, kind="stable")
    arrays = {
        "x_cat": compact_codes(x_cat[order]),
        "x_cont": x_cont[order],
        "y": y[order],
        "is_valid": table.is_valid[order],
    }
    if table.is_test is not None:
        arrays["is_test"] = is_test[order]
    if table.predict is not None:
        p_cat, p_cont = processor.transform(table.predict, f"{table.what} (rows to predict)")
        arrays |= {"predict_cat": compact_codes(p_cat), "predict_cont": p_cont}
    arrays |= table.extra
    return arrays, {"processor": processor.to_dict(), **target_meta}


def compact_codes(codes: np.ndarray) -> np.ndarray:
    """Codes in the smallest integer type that holds them: the cache is read faster, the tensors are
    smaller, and the model takes any integer type."""
    return codes.astype(np.int16 if codes.size == 0 or codes.max() < 2**15 else np.int32)


def auto_y_range(y_min: float, y_max: float) -> list[float]:
    """The lesson's (0, 1.2 * max) for a non-negative target, widened the same way below 0."""
    return [min(0.0, 1.2 * y_min), max(0.0, 1.2 * y_max)]


def cached_frame(
    cache_dir: str | Path,
    name: str,
    settings: dict,
    build: Callable[[], pd.DataFrame],
) -> pd.DataFrame:
    """A DataFrame built once and read from the cache after: numbers, booleans and dates as they are,
    text columns as category codes (their categories in the metadata)."""

    def build_arrays() -> tuple[Arrays, dict]:
        frame = build()
        arrays, categories = {}, {}
        for column in frame.columns:
            series = frame[column]
            if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                arrays[column] = series.to_numpy()
            elif pd.api.types.is_datetime64_dtype(series):
                arrays[column] = series.to_numpy(dtype="datetime64[ns]")
            else:
                values = pd.Categorical(series)
                arrays[column] = values.codes
                categories[column] = values.categories.tolist()
        return arrays, {"columns": list(frame.columns), "categories": categories}

    arrays, meta = cached(cache_dir, name, settings, build_arrays)
    columns = {}
    for column in meta["columns"]:
        if column in meta["categories"]:
            columns[column] = pd.Categorical.from_codes(arrays[column], meta["categories"][column])
        else:
            columns[column] = arrays[column]
    return pd.DataFrame(columns)
