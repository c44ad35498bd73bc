"""Rossmann: the lesson's features on hand-made tables, both file layouts, bad input, the sample task."""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
import pytest

import datamodules.rossmann as rossmann
from datamodules.files import DataError
from datamodules.rossmann import RossmannDataModule
from datamodules.rossmann_features import (
    CAT_NAMES,
    CONT_NAMES,
    add_event_features,
    add_since_features,
    iso_week_monday,
    store_features,
)
from datamodules.samples.rossmann import ROSSMANN_WEATHER_COLUMNS, write_rossmann_sample, write_rossmann_tables


def days(store: int, start: str, n: int, **flags: list[int]) -> pd.DataFrame:
    """``n`` consecutive days of one store; ``flags`` lists the day numbers (1-based) where a flag is set."""
    frame = pd.DataFrame({"Store": store, "Date": pd.date_range(start, periods=n)})
    for name in ("Promo", "StateHoliday", "SchoolHoliday"):
        frame[name] = np.isin(np.arange(1, n + 1), flags.get(name, [])).astype(int)
    return frame


def test_elapsed_days_and_rolling_counts_stay_inside_each_store():
    rows = pd.concat([days(1, "2015-01-01", 10, Promo=[3, 4, 9]), days(2, "2015-01-01", 5, Promo=[3])])
    rows = rows.sample(frac=1, random_state=0)  # any input order
    out = add_event_features(rows)
    one, two = out[out.Store == 1], out[out.Store == 2]
    assert one.AfterPromo.tolist() == [0, 0, 0, 0, 1, 2, 3, 4, 0, 1]
    assert one.BeforePromo.tolist() == [-2, -1, 0, 0, -4, -3, -2, -1, 0, 0]  # no promo after day 10 of store 1
    assert two.AfterPromo.tolist() == [0, 0, 0, 1, 2]  # store 1's promos do not count for store 2
    assert two.BeforePromo.tolist() == [-2, -1, 0, 0, 0]
    assert one.Promo_bw.tolist() == [0, 0, 1, 2, 2, 2, 2, 2, 3, 2]
    assert one.Promo_fw.tolist() == [2, 2, 3, 2, 1, 1, 1, 1, 1, 0]
    assert two.Promo_bw.tolist() == [0, 0, 1, 1, 1]
    assert two.Promo_fw.tolist() == [1, 1, 1, 0, 0]
    assert (out.AfterStateHoliday == 0).all() and (out.StateHoliday_fw == 0).all()


def test_windows_count_rows_of_the_store_as_the_lesson_did():
    """A store's missing days do not shorten the 7-row window; elapsed days do count calendar days."""
    rows = pd.concat([days(1, "2015-01-01", 3, SchoolHoliday=[1]), days(1, "2015-03-01", 3)])
    out = add_event_features(rows)
    assert out.SchoolHoliday_bw.tolist() == [1, 1, 1, 1, 1, 1]
    assert out.AfterSchoolHoliday.tolist() == [0, 1, 2, 59, 60, 61]


def test_duplicate_days_are_refused():
    rows = pd.concat([days(1, "2015-01-01", 3), days(1, "2015-01-03", 1)])
    with pytest.raises(DataError, match="store 1 has more than one row for 2015-01-03"):
        add_event_features(rows)


def test_iso_week_monday_matches_the_calendar():
    years, weeks = np.meshgrid([1900, 2009, 2012, 2013, 2014, 2015, 2020], np.arange(1, 53))
    mondays = iso_week_monday(years.ravel(), weeks.ravel())
    expected = [
        datetime.date.fromisocalendar(int(y), int(w), 1) for y, w in zip(years.ravel(), weeks.ravel(), strict=True)
    ]
    assert mondays.astype("datetime64[D]").tolist() == expected
    assert iso_week_monday(np.array([2015]), np.array([53])).astype("datetime64[D]").tolist() == [
        datetime.date(2015, 12, 28)
    ]


def test_competition_months_and_promo2_weeks_are_capped_and_zero_before_and_without_a_date():
    store = pd.DataFrame(
        {
            "Store": [1, 2, 3],
            "CompetitionOpenSinceMonth": [3, np.nan, 6],
            "CompetitionOpenSinceYear": [2014, np.nan, 1985],
            "Promo2SinceWeek": [10, np.nan, 1],
            "Promo2SinceYear": [2014, np.nan, 1985],
        }
    )
    features = store_features(store, "store.csv")
    assert features.CompetitionOpenSinceYear.tolist() == [2014, 1900, 1985]
    assert features.Promo2SinceYear.tolist() == [2014, 1900, 1985]
    dates = ["2014-03-02", "2014-03-10", "2014-03-14", "2014-03-15", "2014-04-14", "2015-01-01", "2016-06-01"]
    rows = pd.DataFrame({"Store": 1, "Date": pd.to_datetime(dates)})
    rows = pd.concat([rows, rows.assign(Store=2), rows.assign(Store=3)]).merge(features, on="Store")
    out = add_since_features(rows)
    one = out[out.Store == 1]
    # competition since 2014-03-15: days // 30, capped at 24
    assert one.CompetitionDaysOpen.tolist() == [0, 0, 0, 0, 30, 292, 809]
    assert one.CompetitionMonthsOpen.tolist() == [0, 0, 0, 0, 1, 9, 24]
    # promo2 since the Monday of ISO week 10 of 2014 (2014-03-03): days // 7, capped at 25
    assert one.Promo2Days.tolist() == [0, 7, 11, 12, 42, 304, 821]
    assert one.Promo2Weeks.tolist() == [0, 1, 1, 1, 6, 25, 25]
    for store in (2, 3):  # no date (filled with 1900) or a date before 1990: 0
        rest = out[out.Store == store]
        assert (rest.CompetitionMonthsOpen == 0).all() and (rest.Promo2Weeks == 0).all()


def hand_tables() -> dict[str, pd.DataFrame]:
    """Two stores (Lower Saxony, Bavaria), 2015-01-05..2015-01-18, weather and weekly trends by hand."""
    dates = pd.date_range("2015-01-05", "2015-01-18")
    train = []
    for store in (1, 2):
        frame = pd.DataFrame(
            {
                "Store": store,
                "DayOfWeek": dates.day_of_week + 1,
                "Date": dates.strftime("%Y-%m-%d"),
                "Sales": 1000 * store + np.arange(len(dates)),
                "Customers": 100,
                "Open": 1,
                "Promo": (dates.day % 2).astype(int),
                "StateHoliday": np.where(dates.day == 6, "a", "0"),
                "SchoolHoliday": 0,
            }
        )
        train.append(frame)
    train = pd.concat(train, ignore_index=True)
    train.loc[(train.Store == 1) & (train.Date == "2015-01-11"), ["Open", "Sales"]] = 0  # closed
    train.loc[(train.Store == 2) & (train.Date == "2015-01-12"), "Sales"] = 0  # open, no sales
    test = pd.DataFrame(
        {
            "Id": [1, 2, 3],
            "Store": [1, 2, 2],
            "DayOfWeek": [1, 1, 2],
            "Date": ["2015-01-19", "2015-01-19", "2015-01-20"],
            "Open": [1.0, 0.0, np.nan],
            "Promo": [1, 1, 0],
            "StateHoliday": ["0", "0", "0"],
            "SchoolHoliday": [0, 0, 0],
        }
    )
    store = pd.DataFrame(
        {
            "Store": [1, 2],
            "StoreType": ["a", "c"],
            "Assortment": ["a", "c"],
            "CompetitionDistance": [500.0, np.nan],
            "CompetitionOpenSinceMonth": [9, np.nan],
            "CompetitionOpenSinceYear": [2008, np.nan],
            "Promo2": [0, 1],
            "Promo2SinceWeek": [np.nan, 13],
            "Promo2SinceYear": [np.nan, 2010],
            "PromoInterval": [None, "Jan,Apr,Jul,Oct"],
        }
    )
    weather_dates = pd.date_range("2015-01-01", "2015-01-31")
    tables = {"train": train, "test": test, "store": store}
    tables["store_states"] = pd.DataFrame({"Store": [1, 2], "State": ["HB,NI", "BY"]})
    for code, offset in (("HB,NI", 0), ("BY", 100)):
        weather = pd.DataFrame({c: 0 for c in ROSSMANN_WEATHER_COLUMNS}, index=range(len(weather_dates)))
        weather["Date"] = weather_dates.strftime("%Y-%m-%d")
        weather["Mean_TemperatureC"] = offset + weather_dates.day
        weather["Events"] = np.where(weather_dates.day == 7, "Rain", None)
        tables[f"weather/{code}"] = weather
    sundays = pd.date_range("2014-12-28", "2015-01-25", freq="7D")
    week = [f"{d:%Y-%m-%d} - {d + pd.Timedelta(days=6):%Y-%m-%d}" for d in sundays]
    for code, offset in (("HB,NI", 10), ("BY", 20), ("DE", 30)):
        tables[f"trend/{code}"] = pd.DataFrame({"week": week, "trend": offset + np.arange(len(week))})
    return tables


@pytest.fixture(params=["per_state", "combined"])
def hand_folder(request, tmp_path):
    return write_rossmann_tables(tmp_path / request.param, hand_tables(), layout=request.param)


def test_joins_by_state_date_and_week_in_both_layouts(hand_folder, tmp_path):
    module = RossmannDataModule(data_dir=str(hand_folder), cache_dir=str(tmp_path / "cache"))
    frame = module.features()
    train = frame[~frame.is_test]
    train = train.set_index(["Store", train.Date.dt.strftime("%Y-%m-%d")])
    # closed days and open days without sales are dropped; the test days are kept
    assert len(train) == 2 * 14 - 2 and frame.is_test.sum() == 3
    assert (1, "2015-01-11") not in train.index and (2, "2015-01-12") not in train.index
    # weather by state and date; "HB,NI" stores get Niedersachsen's
    assert train.loc[(1, "2015-01-07"), "Mean_TemperatureC"] == 7
    assert train.loc[(2, "2015-01-07"), "Mean_TemperatureC"] == 107
    assert train.loc[(2, "2015-01-07"), "Events"] == "Rain" and pd.isna(train.loc[(2, "2015-01-08"), "Events"])
    # trends by calendar year and ISO week of the trend week's first day (a Sunday), as the lesson joined them:
    # Wednesday 2015-01-07 is in ISO week 2, like Sunday 2015-01-11, the start of the third trend week
    assert train.loc[(1, "2015-01-07"), "trend"] == 12 and train.loc[(2, "2015-01-07"), "trend"] == 22
    assert train.loc[(1, "2015-01-07"), "trend_DE"] == 32
    assert train.loc[(1, "2015-01-12"), "trend"] == 13  # ISO week 3 -> the week from Sunday 2015-01-18
    assert train.loc[(2, "2015-01-05"), "State"] == "BY"
    assert (
        train.loc[(1, "2015-01-05"), "StateHoliday_fw"] == 1
        and train.loc[(1, "2015-01-05"), "BeforeStateHoliday"] == -1
    )
    assert train.loc[(2, "2015-01-06"), "StateHoliday"]
    assert train.loc[(2, "2015-01-05"), "Promo2Weeks"] == 25 and train.loc[(1, "2015-01-05"), "Promo2Weeks"] == 0
    assert train.loc[(1, "2015-01-05"), "CompetitionMonthsOpen"] == 24
    assert set(CAT_NAMES + CONT_NAMES) <= set(frame.columns)


def test_the_two_layouts_give_the_same_features(tmp_path):
    frames = []
    for layout in ("per_state", "combined"):
        folder = write_rossmann_tables(tmp_path / layout, hand_tables(), layout=layout)
        frames.append(RossmannDataModule(data_dir=str(folder), cache_dir=str(tmp_path / "cache")).features())
    pd.testing.assert_frame_equal(frames[0][CAT_NAMES + CONT_NAMES], frames[1][CAT_NAMES + CONT_NAMES])


def test_without_the_extra_tables_the_kaggle_columns_alone(tmp_path, caplog):
    tables = {k: v for k, v in hand_tables().items() if k in ("train", "test", "store")}
    folder = write_rossmann_tables(tmp_path / "kaggle", tables)
    module = RossmannDataModule(data_dir=str(folder), val_days=2, cache_dir=str(tmp_path / "cache"))
    module.prepare_data()
    processor = module.processor
    assert "State" not in processor.cat_names and "Events" not in processor.cat_names
    assert processor.cont_names == [
        "CompetitionDistance",
        "AfterStateHoliday",
        "BeforeStateHoliday",
        "Promo",
        "SchoolHoliday",
    ]
    assert "training without these features" in caplog.text


def test_unseen_categories_and_filled_values_in_the_encoded_arrays(tmp_path):
    folder = write_rossmann_tables(tmp_path / "hand", hand_tables())
    module = RossmannDataModule(data_dir=str(folder), val_days=2, cache_dir=str(tmp_path / "cache"))
    module.prepare_data()
    module.setup("fit")
    processor = module.processor
    names = processor.all_cat_names
    assert names[-1] == "CompetitionDistance_na"  # store 2 has no competition distance
    # the two validation days are 2015-01-17/18 (a Saturday and a Sunday); Day 17 and 18 are unseen in training
    x_cat = module.datasets["valid"].tensors[0]
    assert (x_cat[:, names.index("Day")] == 0).all()
    assert (x_cat[:, names.index("Store")] > 0).all()
    assert module.describe()["emb_szs"][names.index("Store")] == [3, 2]


def test_validation_window_or_last_days(tmp_path):
    folder = write_rossmann_tables(tmp_path / "hand", hand_tables())
    window = RossmannDataModule(
        data_dir=str(folder), val_start="2015-01-08", val_end="2015-01-09", cache_dir=str(tmp_path / "cache")
    )
    window.prepare_data()
    window.setup("fit")
    assert len(window.datasets["valid"]) == 4 and len(window.datasets["train"]) == 22
    last = RossmannDataModule(data_dir=str(folder), val_days=3, cache_dir=str(tmp_path / "cache"))
    last.prepare_data()
    last.setup("fit")
    assert len(last.datasets["valid"]) == 6  # 2015-01-16..18, both stores
    empty = RossmannDataModule(data_dir=str(folder), val_start="2016-01-01", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"train.csv: the window 2016-01-01\.\.2015-01-18 \(train.csv covers 2015-01-0"):
        empty.prepare_data()
    with pytest.raises(DataError, match=r"window .* leaves no validation rows among the 26 rows"):
        empty.prepare_data()
    everything = RossmannDataModule(data_dir=str(folder), val_days=1000, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"train.csv: val_days=1000 leaves no training rows among the 26 rows"):
        everything.prepare_data()


def test_max_rows_keeps_a_seeded_sample_of_the_training_rows_before_the_split(tmp_path):
    folder = write_rossmann_tables(tmp_path / "hand", hand_tables())

    def sample(seed: int, max_rows: int | None = 10) -> dict[str, np.ndarray]:
        module = RossmannDataModule(
            data_dir=str(folder), val_days=3, max_rows=max_rows, seed=seed, cache_dir=str(tmp_path / "cache")
        )
        module.prepare_data()
        return module.load()

    first, again, other, everything = sample(1), sample(1), sample(2), sample(1, None)
    assert len(first["y"]) == 10 and len(everything["y"]) == 26
    assert np.array_equal(first["y"], again["y"]) and np.array_equal(first["x_cat"], again["x_cat"])
    assert not np.array_equal(first["x_cat"], other["x_cat"])
    # the sampled rows are rows of the whole table (their targets; the codes are the sample's own), and the
    # last 3 days among them validate
    assert set(first["y"].ravel().tolist()) < set(everything["y"].ravel().tolist())
    assert 0 < first["is_valid"].sum() < everything["is_valid"].sum() == 6


def write_hand(tmp_path, change) -> RossmannDataModule:
    tables = hand_tables()
    change(tables)
    folder = write_rossmann_tables(tmp_path / "bad", tables)
    return RossmannDataModule(data_dir=str(folder), cache_dir=str(tmp_path / "cache"))


def test_missing_required_column(tmp_path):
    module = write_hand(tmp_path, lambda t: t.__setitem__("train", t["train"].drop(columns="Promo")))
    with pytest.raises(DataError, match=r"train.csv has no column 'Promo'"):
        module.prepare_data()


def test_unparseable_date(tmp_path):
    def change(tables):
        tables["train"].loc[3, "Date"] = "2015-13-01"

    with pytest.raises(DataError, match=r"train.csv: column 'Date' must hold dates as YYYY-MM-DD; 1 do not \(line 5"):
        write_hand(tmp_path, change).prepare_data()


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        pytest.param("Sales", -5, "sales of zero or more", id="negative sales"),
        pytest.param("Open", 2, "0 or 1", id="Open other than 0 or 1"),
        pytest.param("Promo", 3, "0 or 1", id="Promo other than 0 or 1"),
        pytest.param("DayOfWeek", 8, "a day of the week, 1 to 7", id="a ninth weekday"),
    ],
)
def test_values_outside_their_domain_are_refused(tmp_path, column, value, expected):
    def change(tables):
        tables["train"].loc[3, column] = value

    message = rf"train.csv: column '{column}' must hold {expected}; 1 value\(s\) do not \(line 5: {value}\)"
    with pytest.raises(DataError, match=message):
        write_hand(tmp_path, change).prepare_data()


def test_an_unknown_state_code_is_refused(tmp_path):
    def change(tables):
        tables["store_states"].loc[1, "State"] = "XX"

    with pytest.raises(
        DataError, match=r"store_states.csv: column 'State' must hold a state code \(BB, BE, .*\(line 3: 'XX'\)"
    ):
        write_hand(tmp_path, change).prepare_data()


def test_the_days_the_lesson_drops_are_counted_in_the_log(tmp_path, caplog):
    folder = write_rossmann_tables(tmp_path / "hand", hand_tables())
    module = RossmannDataModule(data_dir=str(folder), val_days=3, cache_dir=str(tmp_path / "cache"))
    with caplog.at_level("INFO", logger="datamodules.rossmann_features"):
        module.prepare_data()
    assert re.search(r"\d+ of \d+ training days dropped, as the lesson did: closed, or no sales", caplog.text)


def test_store_in_test_csv_not_in_store_csv(tmp_path):
    def change(tables):
        tables["test"].loc[0, "Store"] = 99

    with pytest.raises(DataError, match=r"test.csv: 1 store\(s\) not in .*store.csv, e.g. 99"):
        write_hand(tmp_path, change).prepare_data()


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(DataError, match="does not exist; set data.data_dir"):
        RossmannDataModule(data_dir=str(tmp_path / "nowhere")).prepare_data()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="Rossmann train.csv not found"):
        RossmannDataModule(data_dir=str(tmp_path / "empty")).prepare_data()


def test_the_cache_keeps_features_and_encoded_arrays(tmp_path, monkeypatch):
    folder = write_rossmann_tables(tmp_path / "hand", hand_tables())
    first = RossmannDataModule(data_dir=str(folder), val_days=2, cache_dir=str(tmp_path / "cache"))
    first.prepare_data()

    def fail(*args):
        raise AssertionError("the features were built again")

    monkeypatch.setattr(rossmann, "build_features", fail)
    again = RossmannDataModule(data_dir=str(folder), val_days=2, cache_dir=str(tmp_path / "cache"))
    again.prepare_data()
    for name, values in first.arrays.items():
        np.testing.assert_array_equal(again.arrays[name], values)
    other_window = RossmannDataModule(data_dir=str(folder), val_days=4, cache_dir=str(tmp_path / "cache"))
    other_window.prepare_data()  # new split, same cached features
    assert other_window.arrays["is_valid"].sum() == 8


def per_store_weekday_baseline(folder, val_days: int = 48) -> float:
    train = pd.read_csv(folder / "train.csv", parse_dates=["Date"])
    train = train[(train.Open != 0) & (train.Sales > 0)]
    valid = train.Date > train.Date.max() - pd.Timedelta(days=val_days)
    means = train[~valid].groupby(["Store", "DayOfWeek"]).Sales.mean().rename("mean")
    rows = train[valid].join(means, on=["Store", "DayOfWeek"])
    return float(np.sqrt((((rows.Sales - rows["mean"]) / rows.Sales) ** 2).mean()))


def test_the_sample_task_beats_the_per_store_weekday_baseline_and_writes_a_submission(run_task, tmp_path, cache_dir):
    folder = write_rossmann_sample(cache_dir / "samples" / "rossmann-v1")
    baseline = per_store_weekday_baseline(folder)
    run_dir = tmp_path / "run"
    metrics = run_task(
        "rossmann", "callbacks.schedule.flat_epochs=3", "callbacks.schedule.cycles=[1]", "predict=true", run_dir=run_dir
    )
    assert baseline > 0.12
    assert metrics["val/rmspe"] < 0.75 * baseline
    submission = pd.read_csv(run_dir / "submission.csv")
    test = pd.read_csv(folder / "test.csv")
    assert list(submission.columns) == ["Id", "Sales"]
    assert submission.Id.tolist() == sorted(test.Id)
    merged = submission.merge(test, on="Id")
    assert (merged.Sales[merged.Open == 0] == 0).all()
    open_sales = merged.Sales[merged.Open != 0]  # an empty Open counts as open
    assert open_sales.between(1000, 30000).all() and (merged.Sales[merged.Open.isna()] > 0).all()


@pytest.mark.slow
def test_val_rmspe_under_ddp_is_the_rmspe_of_all_validation_rows(run_task, tmp_path, cache_dir):
    """Two processes each see half the validation rows; the logged RMSPE must be that of all rows."""
    import torch

    from lightning_models.metrics import exp_rmspe
    from lightning_models.tabular import TabularModule

    run_dir = tmp_path / "ddp"
    metrics = run_task(
        "rossmann",
        "trainer=ddp_cpu",
        "callbacks.schedule.flat_epochs=0",
        "callbacks.schedule.cycles=[1]",
        "+trainer.limit_train_batches=4",
        run_dir=run_dir,
    )
    model = TabularModule.load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt", weights_only=True).eval()
    module = RossmannDataModule(cache_dir=str(cache_dir))
    module.prepare_data()
    module.setup("fit")
    x_cat, x_cont, y = module.datasets["valid"].tensors
    with torch.no_grad():
        expected = exp_rmspe(model(x_cat, x_cont), y).item()
    assert metrics["val/rmspe"] == pytest.approx(expected, rel=1e-5)
