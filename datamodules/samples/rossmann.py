"""The built-in Rossmann sample: the Kaggle tables and the lesson's extra tables, sales from known effects."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import write_once

ROSSMANN_STATES = {
    "NW": "NordrheinWestfalen", "BY": "Bayern", "HE": "Hessen", "BW": "BadenWuerttemberg", "BE": "Berlin",
    "SH": "SchleswigHolstein", "HB,NI": "Niedersachsen", "SN": "Sachsen", "RP": "RheinlandPfalz",
    "ST": "SachsenAnhalt", "TH": "Thueringen", "HH": "Hamburg",
}  # fmt: skip
ROSSMANN_WEATHER_COLUMNS = [
    "Date", "Max_TemperatureC", "Mean_TemperatureC", "Min_TemperatureC", "Dew_PointC", "MeanDew_PointC",
    "Min_DewpointC", "Max_Humidity", "Mean_Humidity", "Min_Humidity", "Max_Sea_Level_PressurehPa",
    "Mean_Sea_Level_PressurehPa", "Min_Sea_Level_PressurehPa", "Max_VisibilityKm", "Mean_VisibilityKm",
    "Min_VisibilitykM", "Max_Wind_SpeedKm_h", "Mean_Wind_SpeedKm_h", "Max_Gust_SpeedKm_h", "Precipitationmm",
    "CloudCover", "Events", "WindDirDegrees",
]  # fmt: skip
_EASTER = {2013: "2013-03-31", 2014: "2014-04-20", 2015: "2015-04-05"}


def _days(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.to_numpy().astype("datetime64[D]").astype(np.int64)


def rossmann_holidays(dates: pd.DatetimeIndex, state: str) -> np.ndarray:
    """German public holidays of ``state`` as Kaggle's StateHoliday codes: a public, b Easter, c Christmas."""
    codes = np.full(len(dates), "0", dtype=object)
    month_day = dates.strftime("%m-%d")
    fixed = {"01-01": "a", "05-01": "a", "10-03": "a", "12-25": "c", "12-26": "c"}
    if state in ("BW", "BY", "ST"):
        fixed["01-06"] = "a"
    if state in ("BW", "BY", "NW", "RP"):
        fixed["11-01"] = "a"
    if state in ("SN", "ST", "TH"):
        fixed["10-31"] = "a"
    for day, code in fixed.items():
        codes[month_day == day] = code
    moving = {-2: "b", 1: "b", 39: "a", 50: "a"}
    if state in ("BW", "BY", "HE", "NW", "RP"):
        moving[60] = "a"
    for easter in _EASTER.values():
        for offset, code in moving.items():
            codes[dates == pd.Timestamp(easter) + pd.Timedelta(days=offset)] = code
    return codes


def rossmann_school_holidays(dates: pd.DatetimeIndex, state_index: int) -> np.ndarray:
    """Summer (six weeks, staggered by state), autumn, Christmas and Easter school holidays."""
    day_of_year = dates.day_of_year.to_numpy()
    summer_start = 172 + 7 * (state_index % 6)
    autumn_start = 280 + 7 * (state_index % 3)
    holiday = (day_of_year >= summer_start) & (day_of_year < summer_start + 42)
    holiday |= (day_of_year >= autumn_start) & (day_of_year < autumn_start + 12)
    holiday |= (day_of_year >= 356) | (day_of_year <= 5)
    for easter in _EASTER.values():
        offset = (dates - pd.Timestamp(easter)).days.to_numpy()
        holiday |= (offset >= -8) & (offset <= 6)
    return holiday.astype(int)


@dataclass
class _Stores:
    """The drawn store model: what each store's sales depend on."""

    state_index: np.ndarray
    store_type: np.ndarray
    level: np.ndarray
    promo_uplift: np.ndarray
    has_competition_date: np.ndarray
    competition_year: np.ndarray
    competition_month: np.ndarray
    competition_strength: np.ndarray


@dataclass
class _Calendar:
    """Every day of the sample (train, test and a margin for the trend weeks) and what each adds to sales."""

    dates: pd.DatetimeIndex
    weeks: np.ndarray
    weekly_demand: np.ndarray
    season: np.ndarray

    @property
    def day_of_week(self) -> np.ndarray:
        return self.dates.day_of_week.to_numpy() + 1


@dataclass
class _StateDays:
    """Per day, what a state adds to its stores' sales: holidays, school holidays, rain, temperature."""

    holiday: np.ndarray
    days_to_holiday: np.ndarray
    days_from_holiday: np.ndarray
    school: np.ndarray
    rain: np.ndarray
    temperature: np.ndarray


def _draw_stores(rng: np.random.Generator, n_stores: int) -> tuple[_Stores, pd.DataFrame]:
    """The store model and store.csv: type, assortment, competition (some without a date), Promo2."""
    state_index = rng.integers(0, len(ROSSMANN_STATES), n_stores)
    store_type = rng.choice(np.array(["a", "b", "c", "d"]), n_stores, p=[0.5, 0.06, 0.14, 0.3])
    assortment = np.where(store_type == "b", "b", rng.choice(np.array(["a", "c"]), n_stores))
    level = np.log(5500) + rng.normal(0, 0.3, n_stores)
    level += pd.Series(store_type).map({"a": 0.0, "b": 0.5, "c": 0.05, "d": -0.05}).to_numpy()
    level += 0.1 * (assortment == "c")
    promo_uplift = rng.normal(0.25, 0.05, n_stores)
    distance = np.round(rng.lognormal(np.log(2300), 1.0, n_stores), -1)
    has_competition_date = rng.random(n_stores) < 0.7
    competition_year = np.where(has_competition_date, rng.integers(2005, 2016, n_stores), np.nan)
    competition_month = np.where(has_competition_date, rng.integers(1, 13, n_stores), np.nan)
    promo2 = rng.random(n_stores) < 0.5
    intervals = np.array(["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"])
    store = pd.DataFrame(
        {
            "Store": np.arange(1, n_stores + 1),
            "StoreType": store_type,
            "Assortment": assortment,
            "CompetitionDistance": distance,
            "CompetitionOpenSinceMonth": competition_month,
            "CompetitionOpenSinceYear": competition_year,
            "Promo2": promo2.astype(int),
            "Promo2SinceWeek": np.where(promo2, rng.integers(1, 53, n_stores), np.nan),
            "Promo2SinceYear": np.where(promo2, rng.integers(2009, 2016, n_stores), np.nan),
            "PromoInterval": np.where(promo2, intervals[rng.integers(0, 3, n_stores)], None),
        }
    )
    store.loc[store.index[:2], "CompetitionDistance"] = np.nan
    competition_strength = 0.2 * np.exp(-distance / 3000)
    model = _Stores(
        state_index, store_type, level, promo_uplift, has_competition_date, competition_year, competition_month,
        competition_strength,
    )  # fmt: skip
    return model, store


def _season(dates: pd.DatetimeIndex) -> np.ndarray:
    """A yearly sine and the rise in the two weeks before Christmas."""
    season = 0.06 * np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 80) / 365.25)
    month_day = dates.month.to_numpy() * 100 + dates.day.to_numpy()
    return season + np.where((month_day >= 1210) & (month_day <= 1223), 0.12 + 0.02 * (month_day - 1210), 0.0)


def _draw_calendar(rng: np.random.Generator) -> _Calendar:
    """The days from the Sunday before the first training day, with a weekly demand drawn per week."""
    dates = pd.date_range("2012-12-02", "2015-10-03")
    weeks = (_days(dates) - _days(dates[:1])) // 7
    return _Calendar(dates, weeks, rng.normal(0, 0.03, weeks.max() + 1), _season(dates))


def _trend_frame(weeks: list[str], values: np.ndarray) -> pd.DataFrame:
    """A Google trend file's rows: the week ('YYYY-MM-DD - YYYY-MM-DD') and a value in 0..100."""
    return pd.DataFrame({"week": weeks, "trend": np.clip(np.round(values), 0, 100).astype(int)})


def _draw_weather(rng: np.random.Generator, dates: pd.DatetimeIndex, i: int) -> pd.DataFrame:
    """One state's weather file: a yearly temperature curve, rain (more in winter), fog, snow on cold days."""
    n = len(dates)
    yearly = np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 110) / 365.25)
    mean_t = np.round(10 + 10 * yearly + rng.normal(0, 3, n) + (i % 4 - 1.5)).astype(int)
    rain_p = 0.35 - 0.1 * yearly
    event = np.where(rng.random(n) < rain_p, "Rain", None).astype(object)
    event[(event == "Rain") & (rng.random(n) < 0.2)] = "Rain-Thunderstorm"
    event[(event == None) & (rng.random(n) < 0.1)] = "Fog"  # noqa: E711
    event[(mean_t < 1) & (rng.random(n) < 0.5)] = "Snow"
    cloud = rng.integers(0, 9, n).astype(float)
    cloud[rng.random(n) < 0.08] = np.nan
    return pd.DataFrame(
        {
            "Date": dates.strftime("%Y-%m-%d"),
            "Max_TemperatureC": mean_t + 4 + rng.integers(0, 4, n),
            "Mean_TemperatureC": mean_t,
            "Min_TemperatureC": mean_t - 4 - rng.integers(0, 4, n),
            "Dew_PointC": mean_t - 3,
            "MeanDew_PointC": mean_t - 5,
            "Min_DewpointC": mean_t - 8,
            "Max_Humidity": rng.integers(80, 101, n),
            "Mean_Humidity": rng.integers(60, 90, n),
            "Min_Humidity": rng.integers(30, 70, n),
            "Max_Sea_Level_PressurehPa": rng.integers(1015, 1040, n),
            "Mean_Sea_Level_PressurehPa": rng.integers(1005, 1025, n),
            "Min_Sea_Level_PressurehPa": rng.integers(990, 1010, n),
            "Max_VisibilityKm": 31,
            "Mean_VisibilityKm": rng.integers(5, 20, n),
            "Min_VisibilitykM": rng.integers(1, 10, n),
            "Max_Wind_SpeedKm_h": rng.integers(15, 45, n),
            "Mean_Wind_SpeedKm_h": rng.integers(5, 20, n),
            "Max_Gust_SpeedKm_h": np.where(rng.random(n) < 0.7, np.nan, rng.integers(40, 80, n)),
            "Precipitationmm": np.round(np.where(event == None, 0, rng.exponential(3, n)), 2),  # noqa: E711
            "CloudCover": cloud,
            "Events": event,
            "WindDirDegrees": rng.integers(0, 360, n),
        }
    )


def _holiday_distances(holiday: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days to the next and from the last state holiday (99 where there is none): shopping around closed days."""
    position = np.arange(len(day))
    holiday_index = np.flatnonzero(holiday != "0")
    next_holiday = holiday_index[np.minimum(np.searchsorted(holiday_index, position), len(holiday_index) - 1)]
    last_holiday = holiday_index[np.maximum(np.searchsorted(holiday_index, position, "right") - 1, 0)]
    days_to_holiday = np.where(next_holiday >= position, day[next_holiday] - day, 99)
    days_from_holiday = np.where(last_holiday <= position, day - day[last_holiday], 99)
    return days_to_holiday, days_from_holiday


def _state_days(calendar: _Calendar, weather: pd.DataFrame, code: str, i: int) -> _StateDays:
    """A state's holidays and, from its weather file, its rain and temperature (10 C outside the file's days)."""
    dates = calendar.dates
    in_weather = (dates >= weather["Date"].iloc[0]) & (dates <= weather["Date"].iloc[-1])
    rain = np.zeros(len(dates))
    rain[in_weather] = pd.Series(weather["Events"].to_numpy()).str.contains("Rain", na=False).to_numpy()
    temperature = np.full(len(dates), 10.0)
    temperature[in_weather] = weather["Mean_TemperatureC"].to_numpy()
    holiday = rossmann_holidays(dates, code)
    days_to_holiday, days_from_holiday = _holiday_distances(holiday, _days(dates))
    school = rossmann_school_holidays(dates, i)
    return _StateDays(holiday, days_to_holiday, days_from_holiday, school, rain, temperature)


def _state_tables(
    rng: np.random.Generator, calendar: _Calendar
) -> tuple[dict[str, pd.DataFrame], dict[str, _StateDays]]:
    """The Google trends (Germany's, then each state's around it) and each state's weather and days."""
    week_starts = calendar.dates[::7]
    national = 65 + 250 * calendar.weekly_demand + 120 * calendar.season[::7] + rng.normal(0, 1.5, len(week_starts))
    weeks = [f"{d:%Y-%m-%d} - {d + pd.Timedelta(days=6):%Y-%m-%d}" for d in week_starts]
    tables = {"trend/DE": _trend_frame(weeks, national)}
    weather_dates = pd.date_range("2013-01-01", "2015-09-17")
    states = {}
    for i, code in enumerate(ROSSMANN_STATES):
        local = national + rng.normal(0, 4, len(week_starts)) + rng.normal(0, 5)
        tables[f"trend/{code}"] = _trend_frame(weeks, local)
        tables[f"weather/{code}"] = _draw_weather(rng, weather_dates, i)
        states[code] = _state_days(calendar, tables[f"weather/{code}"], code, i)
    return tables, states


def _competition_effect(stores: _Stores, s: int, dates: pd.DatetimeIndex) -> np.ndarray | float:
    """The sales a competitor takes: rising over its first six months open; none without an opening date."""
    if not stores.has_competition_date[s]:
        return 0.0
    opened = pd.Timestamp(int(stores.competition_year[s]), int(stores.competition_month[s]), 15)
    months_open = np.clip((dates - opened).days.to_numpy() / 30, 0, 6)
    return stores.competition_strength[s] * months_open / 6


def _store_days(
    rng: np.random.Generator, stores: _Stores, s: int, calendar: _Calendar, state: _StateDays
) -> pd.DataFrame:
    """Every day of store ``s`` with its sales from the model, and whether it is a train, test or gap day."""
    dates, weeks, day_of_week = calendar.dates, calendar.weeks, calendar.day_of_week
    promo = ((weeks % 2 == 0) & (day_of_week <= 5)).astype(int)
    dow_effect = np.array([0.0, 0.12, 0.03, 0.0, 0.0, 0.05, -0.12, -0.3])[day_of_week]
    growth = 0.03 * (dates.year.to_numpy() - 2013)
    closed_day = (state.holiday != "0") | ((day_of_week == 7) & (stores.store_type[s] != "b"))
    competition = _competition_effect(stores, s, dates)
    log_sales = (
        stores.level[s] + dow_effect + promo * stores.promo_uplift[s] + calendar.weekly_demand[weeks]
        + calendar.season + growth + 0.25 * (state.days_to_holiday == 1) + 0.12 * (state.days_to_holiday == 2)
        + 0.1 * (state.days_from_holiday == 1) + 0.04 * state.school - competition - 0.04 * state.rain
        - 0.004 * np.abs(state.temperature - 15) + rng.normal(0, 0.05, len(dates))
    )  # fmt: skip
    open_ = (~closed_day & (rng.random(len(dates)) > 0.003)).astype(int)
    sales = np.where(open_ == 1, np.round(np.exp(log_sales)), 0).astype(int)
    return pd.DataFrame(
        {
            "Store": s + 1,
            "DayOfWeek": day_of_week,
            "Date": dates.strftime("%Y-%m-%d"),
            "Sales": sales,
            "Customers": np.round(sales / rng.lognormal(np.log(9), 0.1, len(dates))).astype(int),
            "Open": open_,
            "Promo": promo,
            "StateHoliday": state.holiday,
            "SchoolHoliday": state.school,
            "train": (dates >= "2013-01-01") & (dates <= "2015-07-31"),
            "test": (dates >= "2015-08-01") & (dates <= "2015-09-17"),
            "gap": (dates >= "2014-07-01") & (dates <= "2014-12-31") & (s % 10 == 9),
        }
    )


def _train_and_test(days: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """train.csv (without the gap days) and test.csv (Id, no sales, a few stores left out, three empty Open),
    newest day first as Kaggle's files are."""
    train = days[days.train & ~days.gap].sort_values(["Date", "Store"], ascending=[False, True])
    in_test = days.test & (days.Store % 5 != 4)
    test = days[in_test].sort_values(["Date", "Store"], ascending=[False, True]).reset_index(drop=True)
    test = test[["Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]].astype(
        {"Open": float}
    )
    test.loc[test.index[-3:], "Open"] = np.nan
    test.insert(0, "Id", np.arange(1, len(test) + 1))
    return train.drop(columns=["train", "test", "gap"]), test


def rossmann_sample(n_stores: int = 60, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Kaggle-format Rossmann tables generated from a known model of log sales.

    log(Sales) = store level (type, assortment) + day of week + store's promo uplift (weekdays of
    alternating weeks) + shopping before (+0.25, +0.12) and after (+0.1) closed holidays + school
    holidays + yearly season and a pre-Christmas rise + weekly demand (seen only in the Google
    trend) + growth per year - competition once it has opened - rain + 6% noise. Stores close on
    Sundays (type b excepted) and state holidays; some stores lack the second half of 2014, as in
    the real data. Returns train, test, store, store_states, and per state code its weather and
    trend frames (keys ``weather/<code>``, ``trend/<code>``) plus ``trend/DE``.
    """
    rng = np.random.default_rng(seed)
    stores, store = _draw_stores(rng, n_stores)
    codes = list(ROSSMANN_STATES)
    calendar = _draw_calendar(rng)
    tables, states = _state_tables(rng, calendar)
    days = pd.concat(
        [_store_days(rng, stores, s, calendar, states[codes[stores.state_index[s]]]) for s in range(n_stores)],
        ignore_index=True,
    )
    tables["train"], tables["test"] = _train_and_test(days)
    tables["store"] = store
    tables["store_states"] = pd.DataFrame(
        {"Store": np.arange(1, n_stores + 1), "State": np.array(codes)[stores.state_index]}
    )
    return tables


def write_rossmann_tables(folder: str | Path, tables: dict[str, pd.DataFrame], layout: str = "per_state") -> Path:
    """Write ``rossmann_sample``-style tables into ``folder``: the Kaggle files, store_states.csv, and the
    weather and trends either per state as in the real folder (``weather/<State>.csv``, ``;``-separated;
    ``googletrend/Rossmann_DE[_<XX>].csv``) or combined as fast.ai shipped them (``weather.csv``,
    ``googletrend.csv``, ``state_names.csv``). Tables missing from ``tables`` are not written."""
    if layout not in ("per_state", "combined"):
        raise ValueError(f"unknown layout {layout!r}: choose 'per_state' or 'combined'")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("train", "test", "store", "store_states"):
        if name in tables:
            tables[name].to_csv(folder / f"{name}.csv", index=False)
    weather = {code: frame for key, frame in tables.items() if key.startswith("weather/") for code in [key[8:]]}
    trends = {code: frame for key, frame in tables.items() if key.startswith("trend/") for code in [key[6:]]}
    trend_names = {code: "Rossmann_DE" if code == "DE" else f"Rossmann_DE_{code.split(',')[-1]}" for code in trends}
    if layout == "per_state":
        for subfolder, frames in (("weather", weather), ("googletrend", trends)):
            if frames:
                (folder / subfolder).mkdir(exist_ok=True)
        for code, frame in weather.items():
            frame.to_csv(folder / "weather" / f"{ROSSMANN_STATES[code]}.csv", sep=";", index=False, na_rep="NA")
        for code, frame in trends.items():
            header = ["Woche", "Dez. 2012 - Sep. 2015"]
            frame.to_csv(folder / "googletrend" / f"{trend_names[code]}.csv", index=False, header=header)
        return folder
    if weather:
        parts = [frame.assign(file=ROSSMANN_STATES[code]) for code, frame in weather.items()]
        pd.concat(parts)[["file", *ROSSMANN_WEATHER_COLUMNS]].to_csv(folder / "weather.csv", index=False)
        names = pd.DataFrame({"StateName": list(ROSSMANN_STATES.values()), "State": list(ROSSMANN_STATES)})
        names.to_csv(folder / "state_names.csv", index=False)
    if trends:
        parts = [frame.assign(file=trend_names[code]) for code, frame in trends.items()]
        pd.concat(parts)[["file", "week", "trend"]].to_csv(folder / "googletrend.csv", index=False)
    return folder


def write_rossmann_sample(folder: str | Path) -> Path:
    """The built-in Rossmann sample, in the layout of the real folder."""
    return write_once(folder, lambda tmp: write_rossmann_tables(tmp, rossmann_sample()))
