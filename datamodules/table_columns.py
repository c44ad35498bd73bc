"""Which file a table module reads and each column's role: as given, or a known table's (its layout and sample)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import DataError, check_domain
from datamodules.samples.tabular import (
    TABULAR_CLASSIFICATION_SAMPLE_COLUMNS,
    TABULAR_SAMPLE_COLUMNS,
    write_tabular_sample,
)
from datamodules.samples.workshop_tables import (
    CREDIT_AMOUNTS,
    CREDIT_COLUMNS,
    CREDIT_PAY,
    CREDIT_TARGET,
    SOMERVILLE_COLUMNS,
    write_credit_sample,
    write_somerville_sample,
)

SAMPLE_NAME = "tabular-v1"


@dataclass(frozen=True)
class CsvColumns:
    """The CSV to read and its columns' roles: as given, or a known table's where none were given (None)."""

    csv: str | None
    cat_names: list[str] | None
    cont_names: list[str] | None
    y_name: str | list[str] | None
    predict_csv: str | None

    @property
    def targets(self) -> list[str]:
        """The target columns: one, or several numbers predicted together (``y_name=[a, b]``)."""
        if self.y_name is None:
            return []
        return [self.y_name] if isinstance(self.y_name, str) else list(self.y_name)

    def check_roles(self) -> None:
        """Each column has one role: a target among the inputs, or a column both categorical and continuous,
        would train on the answer or on one column twice without a word."""
        if isinstance(self.y_name, list) and not self.y_name:
            raise DataError("data.y_name=[] names no target: give the target column (or a list of them)")
        repeated_targets = sorted({n for n in self.targets if self.targets.count(n) > 1})
        if repeated_targets:
            raise DataError(
                f"data.y_name names {', '.join(map(repr, repeated_targets))} more than once; list each once"
            )
        for names, key in ((self.cat_names, "cat_names"), (self.cont_names, "cont_names")):
            for target in self.targets:
                if target in names:
                    raise DataError(
                        f"data.y_name={target!r} is also in data.{key}: the model would see the target it "
                        f"predicts; remove {target!r} from data.{key}"
                    )
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise DataError(f"data.{key} names {', '.join(map(repr, repeated))} more than once; list each once")
        both = sorted(set(self.cat_names) & set(self.cont_names))
        if both:
            raise DataError(
                f"{', '.join(map(repr, both))} in both data.cat_names and data.cont_names: give each column one "
                f"role (categories for codes, continuous for numbers)"
            )

    def filled_from(self, known: CsvColumns) -> CsvColumns:
        """A known table's file and columns in place of those not given (None; an empty list is given)."""
        return CsvColumns(
            csv=self.csv or known.csv,
            cat_names=known.cat_names if self.cat_names is None else self.cat_names,
            cont_names=known.cont_names if self.cont_names is None else self.cont_names,
            y_name=known.y_name if self.y_name is None else self.y_name,
            predict_csv=self.predict_csv or known.predict_csv,
        )


@dataclass(frozen=True)
class KnownTable:
    """A table whose layout the module knows: its file and column roles, its built-in sample, and the
    documented range of each column that has one (values outside it are a damaged or different file)."""

    columns: CsvColumns
    sample_name: str
    write_sample: Callable[[Path], Path]
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    def check_ranges(self, frame: pd.DataFrame, path: Path) -> None:
        """A DataError naming the first lines where a column with a documented range is outside it."""
        for column, (low, high) in self.ranges.items():
            if column in frame.columns:
                values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
                ok = (values >= low) & (values <= high)
                check_domain(frame, column, path, ok, f"numbers from {low:g} to {high:g}")


def known_table(
    columns: dict,
    sample_name: str,
    write_sample: Callable[[Path], Path],
    ranges: dict[str, tuple[float, float]] | None = None,
) -> KnownTable:
    roles = {"cat_names": [], "cont_names": [], "predict_csv": None, **columns}
    return KnownTable(CsvColumns(**roles), sample_name, write_sample, ranges or {})


# The UCI documentation's codes, widened to the codes the distributed file holds (EDUCATION 0, 5, 6 and
# MARRIAGE 0 are undocumented; PAY_* -2 means no consumption); amounts paid are never negative.
CREDIT_RANGES = {
    CREDIT_TARGET: (0, 1),
    "SEX": (1, 2),
    "EDUCATION": (0, 6),
    "MARRIAGE": (0, 3),
    "AGE": (18, 120),
    "LIMIT_BAL": (0, np.inf),
    **{pay: (-2, 9) for pay in CREDIT_PAY},
    **{paid: (0, np.inf) for paid in CREDIT_AMOUNTS if paid.startswith("PAY_AMT")},
}
# Answers on the survey's scale of 1 to 5; D is happy (1) or not (0).
SOMERVILLE_RANGES = {"D": (0, 1), **{f"X{i}": (1, 5) for i in range(1, 7)}}


NO_KNOWN_TABLE = CsvColumns(csv=None, cat_names=[], cont_names=[], y_name=None, predict_csv=None)
# data.dataset=<name>: the workshop's files, read as distributed; the houses are the sample of any CSV
KNOWN_TABLES = {
    "houses": known_table(TABULAR_SAMPLE_COLUMNS, SAMPLE_NAME, write_tabular_sample),
    "house_types": known_table(TABULAR_CLASSIFICATION_SAMPLE_COLUMNS, SAMPLE_NAME, write_tabular_sample),
    "somerville": known_table(SOMERVILLE_COLUMNS, "somerville-v1", write_somerville_sample, SOMERVILLE_RANGES),
    "credit_default": known_table(CREDIT_COLUMNS, "credit-default-v1", write_credit_sample, CREDIT_RANGES),
}
