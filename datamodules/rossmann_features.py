"""Rossmann Store Sales: the Kaggle files and the extra tables -> the lesson's features, in pandas.

The features are built the way the 2018 lesson (dl1 lesson 3) built them: date parts; joins of
the store table, the stores' states, the weather (by state and date) and the Google trends (by
state, year and ISO week of the trend week's first day, plus the Germany-wide trend); months
since the competition opened (capped at 24) and weeks since Promo2 started (capped at 25); days
after the last and before the next state holiday, school holiday and promo of each store; 7-row
backward and forward counts of them per store; closed days and zero-sales days dropped from
training. Everything is vectorized over the whole table (no per-row Python). No Lightning or torch
here: ``datamodules/rossmann.py`` turns the feature frame into tensors.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import DataError
from datamodules.rossmann_files import (
    TEST_COLUMNS,
    TRAIN_COLUMNS,
    WEATHER_NAMES,
    RossmannFiles,
    check_stores,
    read_days,
    read_store,
    read_store_states,
    read_trends,
    read_weather,
)

log = logging.getLogger(__name__)

CAT_NAMES = [
    "Store", "DayOfWeek", "Year", "Month", "Day", "StateHoliday", "CompetitionMonthsOpen", "Promo2Weeks",
    "StoreType", "Assortment", "PromoInterval", "CompetitionOpenSinceYear", "Promo2SinceYear", "State", "Week",
    "Events", "Promo_fw", "Promo_bw", "StateHoliday_fw", "StateHoliday_bw", "SchoolHoliday_fw", "SchoolHoliday_bw",
]  # fmt: skip
CONT_NAMES = [
    "CompetitionDistance", *WEATHER_NAMES, "trend", "trend_DE",
    "AfterStateHoliday", "BeforeStateHoliday", "Promo", "SchoolHoliday",
]  # fmt: skip

EVENT_FLAGS = ["Promo", "StateHoliday", "SchoolHoliday"]

FEATURES_VERSION = 1  # part of the feature frame's cache key: bump when the features change


def day_numbers(dates: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as whole days since 1970-01-01."""
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64)


def store_bounds(store: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by store: the index of the first and of the last row of each row's store."""
    n = len(store)
    new = np.ones(n, dtype=bool)
    new[1:] = store[1:] != store[:-1]
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    ends = np.r_[starts[1:], n] - 1
    return starts[group], ends[group]


def elapsed_days(
    day: np.ndarray, flag: np.ndarray, first: np.ndarray, last: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(after, before) for rows sorted by store then date: days since the store's latest flagged day
    (0 on a flagged day) and days to its next one (<= 0, as the lesson had it); 0 where there is none."""
    n = len(day)
    index = np.arange(n)
    previous = np.maximum.accumulate(np.where(flag, index, -1))
    following = np.minimum.accumulate(np.where(flag, index, n)[::-1])[::-1]
    has_previous = previous >= first
    has_following = following <= last
    after = np.where(has_previous, day - day[np.clip(previous, 0, n - 1)], 0)
    before = np.where(has_following, day - day[np.clip(following, 0, n - 1)], 0)
    return after, before


def rolling_counts(
    flag: np.ndarray, first: np.ndarray, last: np.ndarray, window: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """(backward, forward) sums of ``flag`` over the ``window`` rows of the same store ending / starting
    at each row (rows sorted by store then date; shorter windows at a store's ends)."""
    n = len(flag)
    index = np.arange(n)
    totals = np.r_[0, np.cumsum(flag.astype(np.int64))]
    backward = totals[index + 1] - totals[np.maximum(index - window + 1, first)]
    forward = totals[np.minimum(index + window, last + 1)] - totals[index]
    return backward, forward


def add_event_features(rows: pd.DataFrame) -> pd.DataFrame:
    """After<flag>, Before<flag>, <flag>_bw and <flag>_fw for Promo, StateHoliday and SchoolHoliday.

    ``rows`` holds every day of every store (training and test days, open or not), as the lesson
    computed these before dropping closed days.
    """
    rows = rows.sort_values(["Store", "Date"], kind="stable")
    store = rows["Store"].to_numpy()
    day = day_numbers(rows["Date"])
    repeated = (store[1:] == store[:-1]) & (day[1:] == day[:-1])
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        raise DataError(
            f"store {store[i]} has more than one row for {rows['Date'].iloc[i].date()} in train.csv/test.csv"
        )
    first, last = store_bounds(store)
    features = {}
    for name in EVENT_FLAGS:
        flag = rows[name].to_numpy() != 0
        features[f"After{name}"], features[f"Before{name}"] = elapsed_days(day, flag, first, last)
        features[f"{name}_bw"], features[f"{name}_fw"] = rolling_counts(flag, first, last)
    return rows.assign(**features)


def iso_week_monday(year: np.ndarray, week: np.ndarray) -> np.ndarray:
    """The Monday of ISO week ``week`` of ``year`` (weeks past the year's last run on into the next)."""
    jan4 = np.asarray(year - 1970, dtype="datetime64[Y]").astype("datetime64[D]").astype(np.int64) + 3
    weekday = (jan4 + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    return jan4 - weekday + (week - 1) * 7


def store_features(store: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Per store: the lesson's filled competition/promo2 years and the days their since-dates fall on."""
    store = store.copy()
    months = store["CompetitionOpenSinceMonth"].fillna(1)
    weeks = store["Promo2SinceWeek"].fillna(1)
    if not months.between(1, 12).all() or not weeks.between(1, 53).all():
        raise DataError(f"{path}: CompetitionOpenSinceMonth must lie in 1..12 and Promo2SinceWeek in 1..53")
    store["CompetitionOpenSinceYear"] = store["CompetitionOpenSinceYear"].fillna(1900).astype(np.int64)
    store["Promo2SinceYear"] = store["Promo2SinceYear"].fillna(1900).astype(np.int64)
    year_months = (store["CompetitionOpenSinceYear"] - 1970) * 12 + months.astype(np.int64) - 1
    store["competition_since"] = (
        np.asarray(year_months, dtype="datetime64[M]").astype("datetime64[D]").astype(np.int64) + 14
    )
    store["promo2_since"] = iso_week_monday(store["Promo2SinceYear"].to_numpy(), weeks.astype(np.int64).to_numpy())
    return store.drop(columns=["CompetitionOpenSinceMonth", "Promo2SinceWeek"])


def add_since_features(rows: pd.DataFrame) -> pd.DataFrame:
    """CompetitionMonthsOpen (days // 30, 0..24) and Promo2Weeks (days // 7, 0..25); 0 before the
    since-date and for stores without one (filled years before 1990)."""
    day = day_numbers(rows["Date"])
    competition_days = np.maximum(day - rows["competition_since"].to_numpy(), 0)
    competition_days[rows["CompetitionOpenSinceYear"].to_numpy() < 1990] = 0
    promo2_days = np.maximum(day - rows["promo2_since"].to_numpy(), 0)
    promo2_days[rows["Promo2SinceYear"].to_numpy() < 1990] = 0
    return rows.assign(
        CompetitionDaysOpen=competition_days,
        CompetitionMonthsOpen=np.minimum(competition_days // 30, 24),
        Promo2Days=promo2_days,
        Promo2Weeks=np.clip(promo2_days // 7, 0, 25),
    ).drop(columns=["competition_since", "promo2_since"])


def add_date_parts(rows: pd.DataFrame) -> pd.DataFrame:
    """Year, Month, ISO Week and Day of the row's date (the lesson's add_datepart, the parts it used)."""
    dates = rows["Date"].dt
    return rows.assign(
        Year=dates.year.astype(np.int64),
        Month=dates.month.astype(np.int64),
        Week=dates.isocalendar().week.astype(np.int64).to_numpy(),
        Day=dates.day.astype(np.int64),
    )


def build_features(files: RossmannFiles) -> pd.DataFrame:
    """Training days (open, with sales) and test days with the lesson's features; ``is_test`` tells them apart."""
    train = read_days(files.train, TRAIN_COLUMNS, "Rossmann train.csv")
    store = read_store(files.store)
    check_stores(train, store, files.train, files.store)
    parts = [train.assign(is_test=False, Id=-1)]
    if files.test is not None:
        test = read_days(files.test, TEST_COLUMNS, "Rossmann test.csv")
        check_stores(test, store, files.test, files.store)
        parts.append(test.assign(is_test=True, Sales=0))
    rows = add_event_features(pd.concat(parts, ignore_index=True))

    store = store_features(store, files.store)
    if files.store_states is not None:
        store = store.merge(read_store_states(files.store_states, files.state_names), on="Store", how="left")
        missing = store["State"].isna()
        if missing.any():
            log.warning(f"{int(missing.sum())} store(s) have no state in {files.store_states}; their State is missing")
    rows = add_since_features(add_date_parts(rows.merge(store, on="Store", how="left")))
    if "State" in rows:
        if files.googletrend:
            states, germany = read_trends(files)
            rows = rows.merge(states, on=["State", "Year", "Week"], how="left")
            if germany is not None:
                rows = rows.merge(germany, on=["Year", "Week"], how="left")
        if files.weather:
            rows = rows.merge(read_weather(files), on=["State", "Date"], how="left")
    keep = (rows["is_test"] | ((rows["Open"] != 0) & (rows["Sales"] > 0))).to_numpy()
    log.info(f"{int((~keep).sum())} of {len(keep)} training days dropped, as the lesson did: closed, or no sales")
    return rows[keep].reset_index(drop=True)


def available_features(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The lesson's categorical and continuous columns that the given files allow (no extras: Kaggle's only)."""
    cats = [c for c in CAT_NAMES if c in frame]
    conts = [c for c in CONT_NAMES if c in frame]
    left_out = [c for c in CAT_NAMES + CONT_NAMES if c not in frame]
    if left_out:
        log.warning(f"Rossmann: no extra tables for {', '.join(left_out)}; training without these features")
    return cats, conts
