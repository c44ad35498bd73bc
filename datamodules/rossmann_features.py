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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import DataError, check_domain, numeric_column, read_csv, require_file

log = logging.getLogger(__name__)

CAT_NAMES = [
    "Store", "DayOfWeek", "Year", "Month", "Day", "StateHoliday", "CompetitionMonthsOpen", "Promo2Weeks",
    "StoreType", "Assortment", "PromoInterval", "CompetitionOpenSinceYear", "Promo2SinceYear", "State", "Week",
    "Events", "Promo_fw", "Promo_bw", "StateHoliday_fw", "StateHoliday_bw", "SchoolHoliday_fw", "SchoolHoliday_bw",
]  # fmt: skip
WEATHER_NAMES = [
    "Max_TemperatureC", "Mean_TemperatureC", "Min_TemperatureC", "Max_Humidity", "Mean_Humidity", "Min_Humidity",
    "Max_Wind_SpeedKm_h", "Mean_Wind_SpeedKm_h", "CloudCover",
]  # fmt: skip
CONT_NAMES = [
    "CompetitionDistance", *WEATHER_NAMES, "trend", "trend_DE",
    "AfterStateHoliday", "BeforeStateHoliday", "Promo", "SchoolHoliday",
]  # fmt: skip

TRAIN_COLUMNS = ["Store", "DayOfWeek", "Date", "Sales", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
TEST_COLUMNS = ["Id", "Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
STORE_COLUMNS = [
    "Store", "StoreType", "Assortment", "CompetitionDistance", "CompetitionOpenSinceMonth",
    "CompetitionOpenSinceYear", "Promo2SinceWeek", "Promo2SinceYear", "PromoInterval",
]  # fmt: skip
EVENT_FLAGS = ["Promo", "StateHoliday", "SchoolHoliday"]

# weather file name (fast.ai's state_names.csv) -> the state code of store_states.csv; Lower Saxony's
# stores are listed as "HB,NI" (Bremen and Lower Saxony), and the lesson gave them Niedersachsen's weather.
STATE_CODES = {
    "BadenWuerttemberg": "BW", "Bayern": "BY", "Berlin": "BE", "Brandenburg": "BB", "Bremen": "HB",
    "Hamburg": "HH", "Hessen": "HE", "MecklenburgVorpommern": "MV", "Niedersachsen": "HB,NI",
    "NordrheinWestfalen": "NW", "RheinlandPfalz": "RP", "Saarland": "SL", "Sachsen": "SN",
    "SachsenAnhalt": "ST", "SchleswigHolstein": "SH", "Thueringen": "TH",
}  # fmt: skip
FEATURES_VERSION = 1  # part of the feature frame's cache key: bump when the features change


# ----- reading the files


@dataclass
class RossmannFiles:
    """The files of a Rossmann folder; the extras are None (or empty) when absent."""

    train: Path
    store: Path
    test: Path | None = None
    store_states: Path | None = None
    weather: list[Path] = field(default_factory=list)
    googletrend: list[Path] = field(default_factory=list)
    state_names: Path | None = None

    @classmethod
    def find(cls, folder: str | Path) -> RossmannFiles:
        """The files found in ``folder``: train.csv and store.csv are required, the rest add features."""
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(
                f"Rossmann data folder {folder} does not exist; set data.data_dir to the unpacked Kaggle files"
            )
        optional = {name: folder / f"{name}.csv" for name in ("test", "store_states", "state_names")}
        files = cls(
            train=require_file(folder / "train.csv", "Rossmann train.csv"),
            store=require_file(folder / "store.csv", "Rossmann store.csv"),
            **{name: path if path.is_file() else None for name, path in optional.items()},
        )
        for name in ("weather", "googletrend"):
            combined = folder / f"{name}.csv"
            per_state = sorted((folder / name).glob("*.csv")) if (folder / name).is_dir() else []
            setattr(files, name, [combined] if combined.is_file() else per_state)
        return files

    def all(self) -> list[Path]:
        """Every file found: their fingerprints are the feature frame's cache key."""
        singles = [self.train, self.store, self.test, self.store_states, self.state_names]
        return [p for p in singles if p is not None] + self.weather + self.googletrend


def parse_dates(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``column`` as dates (YYYY-MM-DD), or a DataError naming the lines that are not."""
    dates = pd.to_datetime(frame[column], format="%Y-%m-%d", errors="coerce")
    bad = dates.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)[:3]
        examples = ", ".join(f"line {r + 2}: {frame[column].iloc[r]!r}" for r in rows)
        raise DataError(
            f"{path}: column {column!r} must hold dates as YYYY-MM-DD; {int(bad.sum())} do not ({examples})"
        )
    return dates


def holiday_flags(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """StateHoliday as the lesson used it: True for a/b/c, False for 0."""
    values = frame["StateHoliday"]
    if values.isna().any():
        line = int(np.flatnonzero(values.isna().to_numpy())[0]) + 2
        raise DataError(f"{path}: column 'StateHoliday' is empty at line {line}; expected 0, a, b or c")
    return (values.astype(str) != "0").to_numpy()


def read_days(path: Path, columns: list[str], what: str) -> pd.DataFrame:
    """train.csv or test.csv, checked: dates parsed, numbers numeric, StateHoliday as a flag."""
    frame = read_csv(path, required=columns, what=what, dtype={"StateHoliday": str}, low_memory=False)
    frame = frame[columns].copy()
    frame["Date"] = parse_dates(frame, "Date", path)
    frame["StateHoliday"] = holiday_flags(frame, path)
    for column in ("Store", "DayOfWeek", "Promo", "SchoolHoliday", *(c for c in ("Id", "Sales") if c in columns)):
        frame[column] = numeric_column(frame, column, path, dtype="int64")
    check_domain(frame, "DayOfWeek", path, frame["DayOfWeek"].between(1, 7), "a day of the week, 1 to 7")
    for flag in ("Promo", "SchoolHoliday"):
        check_domain(frame, flag, path, frame[flag].isin([0, 1]), "0 or 1")
    if "Sales" in columns:
        check_domain(frame, "Sales", path, frame["Sales"] >= 0, "sales of zero or more")
        frame["Open"] = numeric_column(frame, "Open", path, dtype="int64")
        check_domain(frame, "Open", path, frame["Open"].isin([0, 1]), "0 or 1")
    else:
        # test.csv leaves Open empty for a few days; those stores are taken to be open.
        frame["Open"] = pd.to_numeric(frame["Open"], errors="coerce").fillna(1).astype("int64")
    return frame


def read_store(path: Path) -> pd.DataFrame:
    """store.csv, checked: one row per store, the competition and Promo2 columns numeric (or empty)."""
    frame = read_csv(path, required=STORE_COLUMNS, what="Rossmann store.csv")[STORE_COLUMNS].copy()
    frame["Store"] = numeric_column(frame, "Store", path, dtype="int64")
    if frame["Store"].duplicated().any():
        dupes = frame["Store"][frame["Store"].duplicated()].unique()[:5]
        raise DataError(f"{path}: store(s) {', '.join(map(str, dupes))} are listed more than once")
    for column in ("CompetitionDistance", "CompetitionOpenSinceMonth", "CompetitionOpenSinceYear",
                   "Promo2SinceWeek", "Promo2SinceYear"):  # fmt: skip
        values = pd.to_numeric(frame[column], errors="coerce")
        if (values.isna() & frame[column].notna()).any():
            raise DataError(f"{path}: column {column!r} must hold numbers (or be empty)")
        frame[column] = values
    return frame


def read_store_states(path: Path, state_names: Path | None = None) -> pd.DataFrame:
    """store_states.csv: the state code of each store, which the weather and trends are joined by. A code
    that no weather file has (the lesson's, or those of ``state_names``) would leave its stores' weather to
    the medians: it is refused."""
    frame = read_csv(path, required=["Store", "State"], what="Rossmann store_states.csv")[["Store", "State"]].copy()
    frame["Store"] = numeric_column(frame, "Store", path, dtype="int64")
    frame["State"] = frame["State"].astype(str)
    known = set(STATE_CODES.values())
    if state_names is not None:
        known |= set(read_csv(state_names, required=["State"], what="Rossmann state_names.csv")["State"].astype(str))
    check_domain(
        frame, "State", path, frame["State"].isin(known).to_numpy(), f"a state code ({', '.join(sorted(known))})"
    )
    return frame.drop_duplicates("Store")


def read_weather(files: RossmannFiles) -> pd.DataFrame:
    """State, Date and the weather columns, from weather.csv + state_names.csv or one file per state."""
    required = ["Date", *WEATHER_NAMES, "Events"]
    if files.weather == [files.weather[0].parent / "weather.csv"]:
        path = files.weather[0]
        frame = read_csv(path, required=["file", *required], what="Rossmann weather.csv")
        if files.state_names is None:
            raise DataError(f"{path} needs state_names.csv (StateName,State) next to it to map file names to states")
        names = read_csv(files.state_names, required=["StateName", "State"], what="Rossmann state_names.csv")
        codes = dict(zip(names["StateName"].astype(str), names["State"].astype(str), strict=True))
        frame["State"] = frame["file"].astype(str).map(codes)
        parts = [(path, frame)]
    else:
        parts = []
        for path in files.weather:
            if path.stem not in STATE_CODES:
                raise DataError(f"{path}: unknown state name {path.stem!r}; weather files are named after one of "
                                f"{', '.join(STATE_CODES)}")  # fmt: skip
            part = read_csv(path, required=required, what="Rossmann weather file", sep=";")
            part["State"] = STATE_CODES[path.stem]
            parts.append((path, part))
    for path, part in parts:
        part["Date"] = parse_dates(part, "Date", path)
    frame = pd.concat([part[["State", *required]] for _, part in parts], ignore_index=True)
    return frame.dropna(subset=["State"]).drop_duplicates(["State", "Date"])


def trend_weeks(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Year and ISO Week of each trend week's first day ('YYYY-MM-DD - YYYY-MM-DD', a Sunday)."""
    start = parse_dates(pd.DataFrame({"week": frame["week"].astype(str).str[:10]}), "week", path)
    return frame.assign(
        trend=pd.to_numeric(frame["trend"], errors="coerce"),
        Year=start.dt.year.astype("int64").to_numpy(),
        Week=start.dt.isocalendar().week.astype("int64").to_numpy(),
    )


def read_trends(files: RossmannFiles) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(State, Year, Week, trend) per state and (Year, Week, trend_DE) for Germany, keyed as the lesson did:
    by the calendar year and ISO week of each trend week's first day, so a Monday..Saturday takes the
    trend of the week that starts on the following Sunday."""
    if files.googletrend == [files.googletrend[0].parent / "googletrend.csv"]:
        path = files.googletrend[0]
        frame = read_csv(path, required=["file", "week", "trend"], what="Rossmann googletrend.csv")
        frame = trend_weeks(frame.assign(name=frame["file"].astype(str)), path)
    else:
        parts = []
        for path in files.googletrend:
            part = read_csv(path, what="Rossmann Google trend file")
            if part.shape[1] < 2:
                raise DataError(f"{path}: expected two columns (week 'YYYY-MM-DD - YYYY-MM-DD', trend value)")
            part = part.iloc[:, :2].set_axis(["week", "trend"], axis=1)
            parts.append(trend_weeks(part.assign(name=path.stem), path))
        frame = pd.concat(parts, ignore_index=True)
    frame["State"] = frame["name"].str.split("_").str[2].replace("NI", "HB,NI")
    keys = ["State", "Year", "Week"]
    states = frame[frame["State"].notna()][[*keys, "trend"]].drop_duplicates(keys)
    germany = frame[frame["name"] == "Rossmann_DE"]
    if germany.empty:
        return states, None
    germany = germany[["Year", "Week", "trend"]].rename(columns={"trend": "trend_DE"}).drop_duplicates(["Year", "Week"])
    return states, germany


# ----- the features, vectorized


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


def check_stores(days: pd.DataFrame, store: pd.DataFrame, path: Path, store_path: Path) -> None:
    """Refuse days of stores that store.csv lacks: their store features would be missing."""
    unknown = np.setdiff1d(days["Store"].unique(), store["Store"].to_numpy())
    if len(unknown):
        raise DataError(
            f"{path}: {len(unknown)} store(s) not in {store_path}, e.g. {', '.join(map(str, unknown[:5]))}; "
            f"every store needs a row in store.csv"
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
