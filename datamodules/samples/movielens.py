"""The built-in MovieLens sample: ratings from known user and movie factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import write_once


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

    return write_once(folder, write)
