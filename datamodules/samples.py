"""Built-in samples: small synthetic datasets with a known structure, in the real files' formats.

Each writer is deterministic, writes into a temporary folder and renames it into place, and
returns the folder, so a task runs offline and its tests know what a model should find.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from datamodules.files import write_folder_atomically


def _write_once(folder: str | Path, write) -> Path:
    folder = Path(folder)
    return folder if folder.is_dir() else write_folder_atomically(folder, write)


def movielens_ratings(
    n_users: int = 300,
    n_items: int = 400,
    n_ratings: int = 24_000,
    n_factors: int = 3,
    noise: float = 0.3,
    seed: int = 0,
) -> pd.DataFrame:
    """Ratings from a low-rank model with user and item biases, in ml-latest-small's columns.

    rating = 3.5 + user bias + item bias + <user factors, item factors> + noise, rounded to the
    half star and clipped to 0.5..5. Busy users and popular items are drawn more often.
    """
    rng = np.random.default_rng(seed)
    user_bias = rng.normal(0, 0.4, n_users)
    item_bias = rng.normal(0, 0.5, n_items)
    user_factors = rng.normal(0, 0.6, (n_users, n_factors))
    item_factors = rng.normal(0, 0.6, (n_items, n_factors))
    user_p = rng.pareto(2.0, n_users) + 0.2
    item_p = rng.pareto(1.5, n_items) + 0.2
    pairs = set()
    while len(pairs) < n_ratings:
        users = rng.choice(n_users, n_ratings, p=user_p / user_p.sum())
        items = rng.choice(n_items, n_ratings, p=item_p / item_p.sum())
        pairs.update(zip(users.tolist(), items.tolist(), strict=True))
    users, items = np.array(sorted(pairs)[:n_ratings]).T
    signal = 3.5 + user_bias[users] + item_bias[items] + (user_factors[users] * item_factors[items]).sum(1)
    rating = np.clip(np.round((signal + rng.normal(0, noise, len(users))) * 2) / 2, 0.5, 5.0)
    timestamp = 1_300_000_000 + rng.integers(0, 300_000_000, len(users))
    return pd.DataFrame({"userId": users + 1, "movieId": items * 3 + 1, "rating": rating, "timestamp": timestamp})


def write_movielens_sample(folder: str | Path) -> Path:
    """``ratings.csv`` and ``movies.csv`` in the ml-latest-small layout."""

    def write(tmp: Path) -> None:
        ratings = movielens_ratings()
        ratings.to_csv(tmp / "ratings.csv", index=False)
        items = np.unique(ratings.movieId)
        movies = pd.DataFrame(
            {
                "movieId": items,
                "title": [f"Synthetic Movie {i} ({1960 + i % 60})" for i in items],
                "genres": ["Drama|Comedy" if i % 2 else "Action" for i in items],
            }
        )
        movies.to_csv(tmp / "movies.csv", index=False)

    return _write_once(folder, write)


# ---------------------------------------------------------------- vision: MNIST IDX, CIFAR-10 batches, image folder

IDX_TYPE_CODES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C}
IDX_TYPE_CODES.update({np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E})

# seven-segment strokes (x0, y0, x1, y1) in a unit box, y down: a top, b/c right, d bottom, e/f left, g middle
SEGMENTS = {
    "a": (0, 0, 1, 0),
    "b": (1, 0, 1, 0.5),
    "c": (1, 0.5, 1, 1),
    "d": (0, 1, 1, 1),
    "e": (0, 0.5, 0, 1),
    "f": (0, 0, 0, 0.5),
    "g": (0, 0.5, 1, 0.5),
}
DIGIT_SEGMENTS = ("abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_idx(path: str | Path, array: np.ndarray, compress: bool = True) -> Path:
    """``array`` as an IDX file (big-endian values after a magic number and the dimensions), gzipped if asked."""
    array = np.asarray(array)
    big_endian = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = IDX_TYPE_CODES[big_endian.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    content = header + np.ascontiguousarray(big_endian).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(content, mtime=0) if compress else content)
    return path


def _segment_distance(px: np.ndarray, py: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Distance of every pixel to each stroke: ends (n, 4) as x0, y0, x1, y1 -> (n, H, W)."""
    x0, y0, x1, y1 = (ends[:, i, None, None] for i in range(4))
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((px - x0) * dx + (py - y0) * dy) / np.maximum(dx * dx + dy * dy, 1e-9), 0, 1)
    return np.hypot(px - (x0 + t * dx), py - (y0 + t * dy))


def synthetic_digits(n: int, size: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like images (white strokes on black, like MNIST): seven-segment digits drawn at a random
    position, size, slant and stroke width, with some noise. Returns uint8 (n, size, size) and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    width, height = rng.uniform(0.25, 0.42, n) * size, rng.uniform(0.5, 0.7, n) * size
    cx = size / 2 + rng.uniform(-0.15, 0.15, n) * size
    cy = size / 2 + rng.uniform(-0.1, 0.1, n) * size
    slant, stroke = rng.uniform(-0.25, 0.25, n), rng.uniform(0.9, 1.8, n)
    py, px = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    ink = np.zeros((n, size, size), dtype=np.float32)
    for name, (u0, v0, u1, v1) in SEGMENTS.items():
        active = np.array([name in DIGIT_SEGMENTS[d] for d in labels])
        ends = np.stack(
            [cx + (u - 0.5) * width - slant * (v - 0.5) * height for u, v in ((u0, v0), (u1, v1))]
            + [cy + (v - 0.5) * height for v in (v0, v1)],
            axis=1,
        )[:, [0, 2, 1, 3]]
        strokes = np.clip(stroke[active, None, None] + 0.5 - _segment_distance(px, py, ends[active]), 0, 1)
        ink[active] = np.maximum(ink[active], strokes)
    ink += rng.normal(0, 0.04, ink.shape) * (ink > 0)
    return (np.clip(ink, 0, 1) * 255).round().astype(np.uint8), labels


def write_mnist_sample(folder: str | Path, n_train: int = 3000, n_test: int = 600) -> Path:
    """The four gzipped IDX files of MNIST, holding synthetic digits (``synthetic_digits``)."""

    def write(tmp: Path) -> None:
        for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
            images, labels = synthetic_digits(n, seed=seed)
            write_idx(tmp / f"{prefix}-images-idx3-ubyte.gz", images)
            write_idx(tmp / f"{prefix}-labels-idx1-ubyte.gz", labels)

    return _write_once(folder, write)


# ----- tabular: a generic CSV, and Rossmann's Kaggle files with the extra tables

TABULAR_SAMPLE_COLUMNS = {
    "csv": "houses.csv",
    "cat_names": ["district", "house_type", "garden"],
    "cont_names": ["area_m2", "rooms", "year_built", "distance_km"],
    "y_name": "price_k",
    "predict_csv": "houses_new.csv",
}


def tabular_houses(n_rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """House prices (thousands) from a known log-linear model: district level, house type, garden, area,
    age and distance to the centre, with 5% noise. 5% of the areas are missing."""
    rng = np.random.default_rng(seed)
    districts = [f"D{i:02d}" for i in range(15)]
    district_level = rng.normal(0, 0.3, len(districts))
    house_types = np.array(["flat", "terraced", "detached"])
    type_level = np.array([-0.15, 0.0, 0.25])
    district = rng.integers(0, len(districts), n_rows)
    house_type = rng.choice(3, n_rows, p=[0.5, 0.3, 0.2])
    garden = rng.random(n_rows) < np.array([0.1, 0.6, 0.9])[house_type]
    area = np.round(rng.lognormal(np.log([60, 110, 160])[house_type], 0.25), 1)
    rooms = np.clip(np.round(area / 25 + rng.normal(0, 0.7, n_rows)), 1, 9).astype(int)
    year_built = rng.integers(1900, 2021, n_rows)
    distance = np.round(rng.gamma(2.0, 4.0, n_rows), 2)
    log_price = (
        np.log(2.5) + np.log(area) + district_level[district] + type_level[house_type] + 0.08 * garden
        - 0.02 * distance + 0.002 * (year_built - 1960) + rng.normal(0, 0.05, n_rows)
    )  # fmt: skip
    frame = pd.DataFrame(
        {
            "district": np.array(districts)[district],
            "house_type": house_types[house_type],
            "garden": np.where(garden, "yes", "no"),
            "area_m2": area,
            "rooms": rooms,
            "year_built": year_built,
            "distance_km": distance,
            "price_k": np.round(np.exp(log_price), 1),
        }
    )
    frame.loc[rng.random(n_rows) < 0.05, "area_m2"] = np.nan
    return frame


def write_tabular_sample(folder: str | Path) -> Path:
    """``houses.csv`` and ``houses_new.csv`` (the same columns without the price, to predict)."""

    def write(tmp: Path) -> None:
        tabular_houses().to_csv(tmp / "houses.csv", index=False)
        tabular_houses(200, seed=1).drop(columns="price_k").to_csv(tmp / "houses_new.csv", index=False)

    return _write_once(folder, write)


def synthetic_shapes(
    n: int, size: int = 32, seed: int = 0, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Colour images of ten classes, each a shape (disk, square, ring, cross, bar) in a warm or a cool
    colour at a random place and size on a noisy background; random classes unless ``labels`` are given.
    Returns uint8 (n, 3, size, size) and the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n) if labels is None else np.asarray(labels)
    shape, warm = labels % 5, labels < 5
    radius = rng.uniform(0.22, 0.36, n)[:, None, None] * size
    cx, cy = size / 2 + rng.uniform(-0.15, 0.15, (2, n))[:, :, None, None] * size
    py, px = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx, dy = np.abs(px - cx), np.abs(py - cy)
    dist = np.hypot(dx, dy)
    masks = np.stack(
        [
            dist < radius,
            np.maximum(dx, dy) < 0.8 * radius,
            (dist < radius) & (dist > 0.55 * radius),
            ((dx < 0.3 * radius) & (dy < radius)) | ((dy < 0.3 * radius) & (dx < radius)),
            (dx < radius) & (dy < 0.35 * radius),
        ]
    )[shape, np.arange(n)]
    base = np.where(warm[:, None], [210, 90, 40], [40, 110, 210]) + rng.normal(0, 25, (n, 3))
    background = rng.uniform(40, 200, (n, 1, 1, 1)) + rng.normal(0, 30, (n, 3, size, size))
    images = np.where(masks[:, None], base[:, :, None, None] + rng.normal(0, 12, (n, 3, size, size)), background)
    return np.clip(images, 0, 255).round().astype(np.uint8), labels


def write_cifar10_sample(folder: str | Path, n_per_batch: int = 200, n_test: int = 500) -> Path:
    """``cifar-10-batches-py/``: five data batches, ``test_batch`` and ``batches.meta``, pickled dicts as
    CIFAR-10 ships them (``data``: uint8 rows of 1024 red, green, blue values), of ``synthetic_shapes``."""

    def batch(name: str, n: int, seed: int) -> dict:
        images, labels = synthetic_shapes(n, seed=seed)
        return {
            b"batch_label": name.encode(),
            b"labels": labels.tolist(),
            b"data": images.reshape(n, -1),
            b"filenames": [f"shape_{seed}_{i}.png".encode() for i in range(n)],
        }

    def write(tmp: Path) -> None:
        root = tmp / "cifar-10-batches-py"
        root.mkdir()
        batches = {f"data_batch_{i}": batch(f"training batch {i} of 5", n_per_batch, i) for i in range(1, 6)}
        batches["test_batch"] = batch("testing batch 1 of 1", n_test, 0)
        batches["batches.meta"] = {
            b"label_names": [c.encode() for c in CIFAR10_CLASSES],
            b"num_cases_per_batch": n_per_batch,
            b"num_vis": 3072,
        }
        for name, content in batches.items():
            (root / name).write_bytes(pickle.dumps(content, protocol=2))

    return _write_once(folder, write)


IMAGE_FOLDER_CLASSES = {"disks": 0, "squares": 1, "bars": 4}


def write_image_folder_sample(folder: str | Path, n_train: int = 100, n_valid: int = 20, n_test: int = 20) -> Path:
    """``train/``, ``valid/`` and ``test/`` with one folder per class (disks, squares, bars) of PNG and
    JPEG images of different sizes: the shapes of ``synthetic_shapes`` in the class's own colour."""

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(0)
        for split, n, seed in (("train", n_train, 10), ("valid", n_valid, 11), ("test", n_test, 12)):
            for k, (name, shape) in enumerate(IMAGE_FOLDER_CLASSES.items()):
                target = tmp / split / name
                target.mkdir(parents=True)
                images, _ = synthetic_shapes(n, size=64, seed=seed * 10 + k, labels=np.full(n, shape))
                for i, pixels in enumerate(images):
                    pixels = np.roll(pixels, k, axis=0)
                    image = Image.fromarray(pixels.transpose(1, 2, 0))
                    image = image.resize((int(rng.integers(56, 96)), int(rng.integers(56, 96))))
                    image.save(target / f"{name}_{i:03d}.{'png' if i % 2 else 'jpg'}")

    return _write_once(folder, write)


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
    stores = np.arange(1, n_stores + 1)
    codes = list(ROSSMANN_STATES)
    state_index = rng.integers(0, len(codes), n_stores)
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
    competition_strength = 0.2 * np.exp(-distance / 3000)
    promo2 = rng.random(n_stores) < 0.5
    intervals = np.array(["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"])
    store = pd.DataFrame(
        {
            "Store": stores,
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
    store_states = pd.DataFrame({"Store": stores, "State": np.array(codes)[state_index]})

    all_dates = pd.date_range("2012-12-02", "2015-10-03")
    weeks = (_days(all_dates) - _days(all_dates[:1])) // 7
    weekly_demand = rng.normal(0, 0.03, weeks.max() + 1)
    season = 0.06 * np.sin(2 * np.pi * (all_dates.day_of_year.to_numpy() - 80) / 365.25)
    month_day = all_dates.month.to_numpy() * 100 + all_dates.day.to_numpy()
    season = season + np.where((month_day >= 1210) & (month_day <= 1223), 0.12 + 0.02 * (month_day - 1210), 0.0)
    tables: dict[str, pd.DataFrame] = {}
    week_starts = all_dates[::7]
    national = 65 + 250 * weekly_demand + 120 * season[::7] + rng.normal(0, 1.5, len(week_starts))
    trend_weeks = [f"{d:%Y-%m-%d} - {d + pd.Timedelta(days=6):%Y-%m-%d}" for d in week_starts]
    tables["trend/DE"] = pd.DataFrame({"week": trend_weeks, "trend": np.clip(np.round(national), 0, 100).astype(int)})
    weather_dates = pd.date_range("2013-01-01", "2015-09-17")
    in_weather = (all_dates >= weather_dates[0]) & (all_dates <= weather_dates[-1])
    rain_by_state, temperature_by_state, holidays_by_state, school_by_state = {}, {}, {}, {}
    for i, code in enumerate(codes):
        local = national + rng.normal(0, 4, len(week_starts)) + rng.normal(0, 5)
        tables[f"trend/{code}"] = pd.DataFrame(
            {"week": trend_weeks, "trend": np.clip(np.round(local), 0, 100).astype(int)}
        )
        n = len(weather_dates)
        yearly = np.sin(2 * np.pi * (weather_dates.day_of_year.to_numpy() - 110) / 365.25)
        mean_t = np.round(10 + 10 * yearly + rng.normal(0, 3, n) + (i % 4 - 1.5)).astype(int)
        rain_p = 0.35 - 0.1 * yearly
        event = np.where(rng.random(n) < rain_p, "Rain", None).astype(object)
        event[(event == "Rain") & (rng.random(n) < 0.2)] = "Rain-Thunderstorm"
        event[(event == None) & (rng.random(n) < 0.1)] = "Fog"  # noqa: E711
        event[(mean_t < 1) & (rng.random(n) < 0.5)] = "Snow"
        cloud = rng.integers(0, 9, n).astype(float)
        cloud[rng.random(n) < 0.08] = np.nan
        weather = pd.DataFrame(
            {
                "Date": weather_dates.strftime("%Y-%m-%d"),
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
        tables[f"weather/{code}"] = weather
        rain = np.zeros(len(all_dates))
        rain[in_weather] = pd.Series(event).str.contains("Rain", na=False).to_numpy()
        rain_by_state[code] = rain
        temperature = np.full(len(all_dates), 10.0)
        temperature[in_weather] = mean_t
        temperature_by_state[code] = temperature
        holidays_by_state[code] = rossmann_holidays(all_dates, code)
        school_by_state[code] = rossmann_school_holidays(all_dates, i)

    train_dates = (all_dates >= "2013-01-01") & (all_dates <= "2015-07-31")
    test_dates = (all_dates >= "2015-08-01") & (all_dates <= "2015-09-17")
    day_of_week = all_dates.day_of_week.to_numpy() + 1
    promo = ((weeks % 2 == 0) & (day_of_week <= 5)).astype(int)
    dow_effect = np.array([0.0, 0.12, 0.03, 0.0, 0.0, 0.05, -0.12, -0.3])[day_of_week]
    growth = 0.03 * (all_dates.year.to_numpy() - 2013)
    day = _days(all_dates)
    frames = []
    for s in range(n_stores):
        code = codes[state_index[s]]
        holiday = holidays_by_state[code]
        closed_day = (holiday != "0") | ((day_of_week == 7) & (store_type[s] != "b"))
        holiday_index = np.flatnonzero(holiday != "0")
        next_holiday = holiday_index[
            np.minimum(np.searchsorted(holiday_index, np.arange(len(day))), len(holiday_index) - 1)
        ]
        last_holiday = holiday_index[np.maximum(np.searchsorted(holiday_index, np.arange(len(day)), "right") - 1, 0)]
        days_to_holiday = np.where(next_holiday >= np.arange(len(day)), day[next_holiday] - day, 99)
        days_from_holiday = np.where(last_holiday <= np.arange(len(day)), day - day[last_holiday], 99)
        competition = 0.0
        if has_competition_date[s]:
            opened = pd.Timestamp(int(competition_year[s]), int(competition_month[s]), 15)
            months_open = np.clip((all_dates - opened).days.to_numpy() / 30, 0, 6)
            competition = competition_strength[s] * months_open / 6
        log_sales = (
            level[s] + dow_effect + promo * promo_uplift[s] + weekly_demand[weeks] + season + growth
            + 0.25 * (days_to_holiday == 1) + 0.12 * (days_to_holiday == 2) + 0.1 * (days_from_holiday == 1)
            + 0.04 * school_by_state[code] - competition - 0.04 * rain_by_state[code]
            - 0.004 * np.abs(temperature_by_state[code] - 15) + rng.normal(0, 0.05, len(day))
        )  # fmt: skip
        open_ = (~closed_day & (rng.random(len(day)) > 0.003)).astype(int)
        sales = np.where(open_ == 1, np.round(np.exp(log_sales)), 0).astype(int)
        frames.append(
            pd.DataFrame(
                {
                    "Store": s + 1,
                    "DayOfWeek": day_of_week,
                    "Date": all_dates.strftime("%Y-%m-%d"),
                    "Sales": sales,
                    "Customers": np.round(sales / rng.lognormal(np.log(9), 0.1, len(day))).astype(int),
                    "Open": open_,
                    "Promo": promo,
                    "StateHoliday": holiday,
                    "SchoolHoliday": school_by_state[code],
                    "train": train_dates,
                    "test": test_dates,
                    "gap": (all_dates >= "2014-07-01") & (all_dates <= "2014-12-31") & (s % 10 == 9),
                }
            )
        )
    days = pd.concat(frames, ignore_index=True)
    train = days[days.train & ~days.gap].sort_values(["Date", "Store"], ascending=[False, True])
    tables["train"] = train.drop(columns=["train", "test", "gap"])
    in_test = days.test & (days.Store % 5 != 4)
    test = days[in_test].sort_values(["Date", "Store"], ascending=[False, True]).reset_index(drop=True)
    test = test[["Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]].astype(
        {"Open": float}
    )
    test.loc[test.index[-3:], "Open"] = np.nan
    test.insert(0, "Id", np.arange(1, len(test) + 1))
    tables["test"] = test
    tables["store"] = store
    tables["store_states"] = store_states
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
    return _write_once(folder, lambda tmp: write_rossmann_tables(tmp, rossmann_sample()))


# --- Text: synthetic corpora for the language models and the ULMFiT classifier -------------------------

_POSITIVE = ["wonderful", "superb", "brilliant", "moving", "charming", "gripping", "clever", "touching"]
_NEGATIVE = ["awful", "boring", "dull", "clumsy", "tedious", "pointless", "lifeless", "stupid"]
# how a review joins its two adjectives: "clever and moving", "dull, even tedious"
_JOINS = {True: " and ", False: ", even "}
_ASPECTS = [
    "acting",
    "plot",
    "script",
    "music",
    "photography",
    "direction",
    "ending",
    "dialogue",
    "pacing",
    "cast",
    "soundtrack",
    "story",
    "editing",
]
_ROLES = [
    "detective",
    "teacher",
    "soldier",
    "mother",
    "villain",
    "doctor",
    "pilot",
    "singer",
    "farmer",
    "thief",
    "lawyer",
    "king",
]
_KINDS = ["film", "movie", "picture", "story", "thriller", "comedy", "drama"]
_WHEN = (
    "last week",
    "on a plane",
    "at the cinema",
    "with my family",
    "on television",
    "at a festival",
    "on a rainy sunday",
)
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "te",
    "su",
    "vin",
    "dor",
    "el",
    "an",
    "ber",
    "gus",
    "fa",
    "ne",
    "tri",
    "sol",
    "mar",
    "ven",
]


def _name(rng: np.random.Generator, parts: int = 2) -> str:
    return "".join(rng.choice(_SYLLABLES, size=parts)).capitalize()


_VERDICTS = {
    True: ("I loved it.", "Highly recommended.", "A joy to watch.", "See it!", "Worth every minute."),
    False: ("I hated it.", "Avoid it.", "A waste of time.", "Skip it!", "Not worth a minute."),
}


def _review(rng: np.random.Generator, positive: bool, agree: float = 0.9) -> str:
    """One review from a small grammar: its judging sentences and verdict mostly agree with ``positive``.

    A judging sentence pairs two adjectives of one polarity, joined as that polarity joins them, so the
    word after the first adjective already tells its polarity: a language model learns the adjectives'
    polarity in its first hundred steps, and then which polarity the rest of the review keeps.
    """

    def leaning() -> bool:
        return (rng.random() < agree) == positive

    def adjs() -> str:
        polarity = leaning()
        first, second = rng.choice(_POSITIVE if polarity else _NEGATIVE, size=2, replace=False)
        first = str(first).upper() if rng.random() < 0.05 else str(first)
        return f"{first}{_JOINS[polarity]}{second}"

    title = f"{_name(rng)} {_name(rng, 1)}"
    neutral = [
        lambda: f"It runs about {rng.integers(80, 180)} minutes.",
        lambda: f"The film was directed by {_name(rng)} in {rng.integers(1950, 2011)}.",
        lambda: f"{_name(rng)} plays a {rng.choice(_ROLES)} who meets a {rng.choice(_ROLES)}.",
    ]
    judging = [
        lambda: f"The {rng.choice(_ASPECTS)} was {adjs()}.",
        lambda: f"{_name(rng)} is {adjs()} as the {rng.choice(_ROLES)}.",
        lambda: f"What a {adjs()} {rng.choice(_KINDS)}!",
        lambda: f"I found it {adjs()}.",
        lambda: f"Honestly, the {rng.choice(_ASPECTS)} felt {adjs()}.",
    ]
    sentences = [f"I saw {title} {rng.choice(_WHEN)}."]
    for _ in range(rng.integers(3, 7)):
        pool = judging if rng.random() < 0.8 else neutral
        sentences.append(pool[rng.integers(len(pool))]())
    sentences.append(str(rng.choice(_VERDICTS[leaning()])))
    if rng.random() < 0.3:
        score = rng.integers(7, 11) if positive else rng.integers(1, 5)
        sentences.append(f"{score} out of 10.")
    if rng.random() < 0.1:
        sentences[-1] = sentences[-1].rstrip(".!") + "!!!"
    glue = "<br /><br />" if rng.random() < 0.2 else " "
    return glue.join(sentences)


def write_imdb_sample(
    folder: str | Path, n_train: int = 200, n_unsup: int = 100, n_test: int = 100, seed: int = 0
) -> Path:
    """A grammar-generated ``aclImdb`` tree: ``train/{pos,neg,unsup}``, ``test/{pos,neg}``, ``ID_RATING.txt``.

    ``n_train`` and ``n_test`` reviews per class. Each review mixes neutral sentences with sentiment
    sentences (two adjectives of one polarity each) and a verdict that agree with its class 90% of the
    time, so its label is learnable from the words, and a language model learns which adjectives go
    together and which verdict follows them: what ULMFiT's classifier inherits from it. The sizes
    keep the default recipes' runs short (the language model sees 8 batches of 64 x 70 an epoch).
    """

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        root = tmp / "aclImdb"
        parts = [("train", "pos", n_train), ("train", "neg", n_train), ("train", "unsup", n_unsup)]
        parts += [("test", "pos", n_test), ("test", "neg", n_test)]
        for split, label, n in parts:
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                positive = label == "pos" if label != "unsup" else bool(rng.random() < 0.5)
                rating = 0 if label == "unsup" else rng.integers(7, 11) if positive else rng.integers(1, 5)
                text = _review(rng, positive)
                (root / split / label / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")

    return _write_once(folder, write)


_FIELDS = {
    "cs.LG": "network gradient training loss model layer dataset optimizer regularization embedding",
    "math.AG": "variety scheme sheaf morphism curve cohomology divisor moduli surface bundle",
    "q-bio.NC": "neuron cortex synapse spike brain circuit plasticity memory stimulus firing",
    "astro-ph.GA": "galaxy star halo cluster redshift disk gas merger emission dwarf",
}
_ACADEMIC_VERBS = ["propose", "study", "prove", "introduce", "analyse", "present", "derive", "measure"]
_ACADEMIC_ADJS = ["new", "simple", "general", "robust", "efficient", "novel", "precise", "large"]


def _abstract(rng: np.random.Generator, category: str) -> tuple[str, str]:
    words = _FIELDS[category].split()

    def noun() -> str:
        return str(rng.choice(words))

    title = f"{rng.choice(_ACADEMIC_ADJS).capitalize()} {noun()} {noun()}s and the {noun()}"
    sentences = [f"We {rng.choice(_ACADEMIC_VERBS)} a {rng.choice(_ACADEMIC_ADJS)} {noun()} for the {noun()}."]
    for _ in range(rng.integers(2, 5)):
        sentences.append(
            f"The {noun()} of each {noun()} is {rng.choice(_ACADEMIC_ADJS)} when the {noun()} is {noun()}-based."
        )
    sentences.append(f"Our results show that the {noun()} improves the {noun()}.")
    return title, " ".join(sentences)


def write_arxiv_sample(folder: str | Path, n_per_category: int = 150, seed: int = 0) -> Path:
    """``arxiv.csv`` (id, title, abstract, categories): each category writes with its own vocabulary.

    A third of the papers list a second category after their main one.
    """

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        names = list(_FIELDS)
        rows = []
        for c, category in enumerate(names):
            for i in range(n_per_category):
                title, abstract = _abstract(rng, category)
                cats = category
                if rng.random() < 1 / 3:
                    cats += " " + names[(c + 1 + rng.integers(len(names) - 1)) % len(names)]
                rows.append({"id": f"{2000 + c}.{i:05d}", "title": title, "abstract": abstract, "categories": cats})
        order = rng.permutation(len(rows))
        pd.DataFrame([rows[i] for i in order]).to_csv(tmp / "arxiv.csv", index=False)

    return _write_once(folder, write)


def _wiki_article(rng: np.random.Generator) -> str:
    """One article in WikiText's format: `` = Title = `` heading, sections, ``@-@`` joins and ``<unk>``."""
    title = f"{_name(rng)} {_name(rng, 1)}"
    lines = [" ", f" = {title} = ", " "]
    for _ in range(rng.integers(1, 4)):
        section = str(rng.choice(["History", "Career", "Reception", "Legacy", "Design"]))
        lines += [f" = = {section} = = ", " "]
        paragraph = []
        for _ in range(rng.integers(2, 6)):
            year = rng.integers(1800, 2011)
            who = _name(rng) if rng.random() < 0.9 else "<unk>"
            paragraph.append(
                f"In {year} , {title} was {rng.choice(['built', 'founded', 'named', 'moved'])} by {who} "
                f"in the {rng.choice(['north', 'south', 'east', 'west'])} @-@ {rng.choice(['side', 'end'])} "
                f"of the {rng.choice(['city', 'river', 'valley', 'county'])} , at a cost of "
                f"{rng.integers(1, 99)} @,@ {rng.integers(100, 999)} dollars ."
            )
        lines += [" " + " ".join(paragraph) + " ", " "]
    return "\n".join(lines) + "\n"


def write_wikitext_sample(folder: str | Path, n_train: int = 200, n_eval: int = 30, seed: int = 0) -> Path:
    """``wiki.train.tokens``, ``wiki.valid.tokens``, ``wiki.test.tokens`` of grammar-generated articles."""

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        for name, n in (("train", n_train), ("valid", n_eval), ("test", n_eval)):
            text = "".join(_wiki_article(rng) for _ in range(n))
            (tmp / f"wiki.{name}.tokens").write_text(text, encoding="utf-8")

    return _write_once(folder, write)
