"""Rossmann Store Sales: reading and checking the Kaggle files and the extra tables (store states, weather,
Google trends) in either layout; ``datamodules/rossmann_features.py`` builds the lesson's features from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import DataError, check_domain, numeric_column, read_csv, require_file

WEATHER_NAMES = [
    "Max_TemperatureC", "Mean_TemperatureC", "Min_TemperatureC", "Max_Humidity", "Mean_Humidity", "Min_Humidity",
    "Max_Wind_SpeedKm_h", "Mean_Wind_SpeedKm_h", "CloudCover",
]  # fmt: skip
TRAIN_COLUMNS = ["Store", "DayOfWeek", "Date", "Sales", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
TEST_COLUMNS = ["Id", "Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
STORE_COLUMNS = [
    "Store", "StoreType", "Assortment", "CompetitionDistance", "CompetitionOpenSinceMonth",
    "CompetitionOpenSinceYear", "Promo2SinceWeek", "Promo2SinceYear", "PromoInterval",
]  # fmt: skip
# weather file name (fast.ai's state_names.csv) -> the state code of store_states.csv; Lower Saxony's
# stores are listed as "HB,NI" (Bremen and Lower Saxony), and the lesson gave them Niedersachsen's weather.
STATE_CODES = {
    "BadenWuerttemberg": "BW", "Bayern": "BY", "Berlin": "BE", "Brandenburg": "BB", "Bremen": "HB",
    "Hamburg": "HH", "Hessen": "HE", "MecklenburgVorpommern": "MV", "Niedersachsen": "HB,NI",
    "NordrheinWestfalen": "NW", "RheinlandPfalz": "RP", "Saarland": "SL", "Sachsen": "SN",
    "SachsenAnhalt": "ST", "SchleswigHolstein": "SH", "Thueringen": "TH",
}  # fmt: skip


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


def check_stores(days: pd.DataFrame, store: pd.DataFrame, path: Path, store_path: Path) -> None:
    """Refuse days of stores that store.csv lacks: their store features would be missing."""
    unknown = np.setdiff1d(days["Store"].unique(), store["Store"].to_numpy())
    if len(unknown):
        raise DataError(
            f"{path}: {len(unknown)} store(s) not in {store_path}, e.g. {', '.join(map(str, unknown[:5]))}; "
            f"every store needs a row in store.csv"
        )
