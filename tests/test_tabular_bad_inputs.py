"""Bad CSVs given to `task=tabular` (and so to every tabular data module): clear errors, no cache left behind."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.files import DataError
from datamodules.tabular import TabularDataModule

GOOD = "shop,x,y\na,1.0,2.0\nb,2.0,3.0\na,3.0,4.0\nb,4.0,5.0\na,5.0,6.0\n"


def module(tmp_path, csv, **kwargs) -> TabularDataModule:
    columns = {"cat_names": ["shop"], "cont_names": ["x"], "y_name": "y"}
    return TabularDataModule(csv=str(csv), valid_pct=0.4, cache_dir=str(tmp_path / "cache"), **columns, **kwargs)


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param("", r"is empty: expected a header row with shop, x, y", id="empty file"),
        pytest.param("shop,x,y\n", "has a header but no rows", id="header only"),
        pytest.param(GOOD.replace(",", ";"), r"has no column .*\(is the separator right\?\)", id="wrong separator"),
        pytest.param("shop,x\na,1\n", r"has no column 'y'; expected shop, x, y, found: shop, x", id="missing column"),
        pytest.param(GOOD.encode("utf-16"), r"is not valid utf-8 text", id="utf-16 file"),
        pytest.param(
            "shop,x,y,x\na,1,2,9\nb,2,3,9\nc,3,4,9\n",
            r"data.csv: the header names column 'x' twice \(columns 2 and 4\); give each column its own name",
            id="a column named twice",
        ),
        pytest.param(
            GOOD.replace("3.0,4.0", "3.0,nan"), r"target column 'y' has 1 missing .*e.g. nan", id="NaN target"
        ),
        pytest.param(GOOD.replace("3.0,4.0", "3.0,inf"), r"target column 'y' .*e.g. inf", id="inf target"),
        pytest.param(
            GOOD.replace("2.0,3.0", "two,3.0"),
            r"continuous column 'x' must hold finite numbers .*e.g. 'two'. Fix the values or list the column",
            id="text in a continuous column",
        ),
        pytest.param(GOOD.replace("2.0,3.0", "inf,3.0"), r"column 'x' must hold finite .*e.g. inf", id="inf feature"),
    ],
)
def test_bad_csv_names_the_file_and_leaves_no_cache(tmp_path, content, message):
    csv = tmp_path / "data.csv"
    csv.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message) as error:
        module(tmp_path, csv).prepare_data()
    assert str(csv) in str(error.value)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.suffix != ".lock" and p.is_file()]


# the first four rows train (median x 2.5), the last validates
SPLIT = "shop,x,y,v\na,1.0,2.0,0\nb,2.0,3.0,0\na,3.0,4.0,0\nb,10.0,5.0,0\na,5.0,6.0,1\n"


def predict_arrays(tmp_path, rows: str) -> tuple[np.ndarray, np.ndarray]:
    (tmp_path / "data.csv").write_text(SPLIT)
    (tmp_path / "new.csv").write_text(rows)
    data = module(tmp_path, tmp_path / "data.csv", valid_col="v", predict_csv=str(tmp_path / "new.csv"))
    data.prepare_data()
    data.setup("predict")
    x_cat, x_cont = data.datasets["predict"].tensors
    return x_cat.numpy(), x_cont.numpy()


def test_unknown_category_at_predict_time_gets_the_unknown_code(tmp_path):
    x_cat, _ = predict_arrays(tmp_path, "shop,x\nzzz,1.0\na,1.0\nb,1.0\n")
    assert x_cat[:, 0].tolist() == [0, 1, 2]


def test_missing_value_at_predict_time_is_filled_with_the_training_median_and_a_warning(tmp_path, caplog):
    _, x_cont = predict_arrays(tmp_path, "shop,x\na,\na,2.5\n")
    assert x_cont[0, 0] == x_cont[1, 0]
    assert "1 missing value(s) in continuous column 'x', which had none in the training rows" in caplog.text


def test_predict_csv_without_a_feature_column(tmp_path):
    with pytest.raises(DataError, match=r"new.csv has no column 'x'"):
        predict_arrays(tmp_path, "shop\na\n")


@pytest.mark.parametrize(
    "columns, message",
    [
        pytest.param(
            {"cat_names": ["shop"], "cont_names": ["x", "y"], "y_name": "y"},
            r"data.y_name='y' is also in data.cont_names: the model would see the target",
            id="target among the continuous columns",
        ),
        pytest.param(
            {"cat_names": ["shop", "y"], "cont_names": ["x"], "y_name": "y"},
            r"data.y_name='y' is also in data.cat_names",
            id="target among the categorical columns",
        ),
        pytest.param(
            {"cat_names": ["shop", "x"], "cont_names": ["x"], "y_name": "y"},
            r"'x' in both data.cat_names and data.cont_names: give each column one role",
            id="a column in both lists",
        ),
        pytest.param(
            {"cat_names": ["shop", "shop"], "cont_names": ["x"], "y_name": "y"},
            r"data.cat_names names 'shop' more than once",
            id="a column listed twice",
        ),
    ],
)
def test_a_column_with_two_roles_is_refused_before_reading(tmp_path, columns, message):
    with pytest.raises(DataError, match=message):
        TabularDataModule(csv=str(tmp_path / "data.csv"), cache_dir=str(tmp_path / "cache"), **columns)
