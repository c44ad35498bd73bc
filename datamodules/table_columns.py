"""Which file a table module reads and each column's role: as given, or a known table's (its layout and sample)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from datamodules.files import DataError
from datamodules.samples.tabular import (
    TABULAR_CLASSIFICATION_SAMPLE_COLUMNS,
    TABULAR_SAMPLE_COLUMNS,
    write_tabular_sample,
)
from datamodules.samples.workshop_tables import (
    CREDIT_COLUMNS,
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
    y_name: str | None
    predict_csv: str | None

    def check_roles(self) -> None:
        """Each column has one role: a target among the inputs, or a column both categorical and continuous,
        would train on the answer or on one column twice without a word."""
        for names, key in ((self.cat_names, "cat_names"), (self.cont_names, "cont_names")):
            if self.y_name is not None and self.y_name in names:
                raise DataError(
                    f"data.y_name={self.y_name!r} is also in data.{key}: the model would see the target it "
                    f"predicts; remove {self.y_name!r} from data.{key}"
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
            y_name=self.y_name or known.y_name,
            predict_csv=self.predict_csv or known.predict_csv,
        )


@dataclass(frozen=True)
class KnownTable:
    """A table whose layout the module knows: its file and column roles, and its built-in sample."""

    columns: CsvColumns
    sample_name: str
    write_sample: Callable[[Path], Path]


def known_table(columns: dict, sample_name: str, write_sample: Callable[[Path], Path]) -> KnownTable:
    roles = {"cat_names": [], "cont_names": [], "predict_csv": None, **columns}
    return KnownTable(CsvColumns(**roles), sample_name, write_sample)


NO_KNOWN_TABLE = CsvColumns(csv=None, cat_names=[], cont_names=[], y_name=None, predict_csv=None)
# data.dataset=<name>: the workshop's files, read as distributed; the houses are the sample of any CSV
KNOWN_TABLES = {
    "houses": known_table(TABULAR_SAMPLE_COLUMNS, SAMPLE_NAME, write_tabular_sample),
    "house_types": known_table(TABULAR_CLASSIFICATION_SAMPLE_COLUMNS, SAMPLE_NAME, write_tabular_sample),
    "somerville": known_table(SOMERVILLE_COLUMNS, "somerville-v1", write_somerville_sample),
    "credit_default": known_table(CREDIT_COLUMNS, "credit-default-v1", write_credit_sample),
}
