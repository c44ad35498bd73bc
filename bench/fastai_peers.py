"""fastai v2's documented recipes, the peers of bench/time_to_quality.py (run in an interpreter that has fastai).

python -m bench.fastai_peers movielens DATA_DIR RESULT.json
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path


def movielens(data_dir: Path) -> float:
    """The collab tutorial's model (docs.fast.ai, "Collaborative filtering tutorial"): 50 factors, y_range
    (0, 5.5), fit_one_cycle(5, 5e-3, wd=0.1), batch 64, a random 20% validation; its validation RMSE."""
    import pandas as pd
    from fastai.collab import CollabDataLoaders, collab_learner

    ratings = pd.read_csv(data_dir / "ratings.csv")
    dls = CollabDataLoaders.from_df(
        ratings, user_name="userId", item_name="movieId", rating_name="rating", valid_pct=0.2, seed=42, bs=64
    )
    learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5))
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(5, 5e-3, wd=0.1)
        return math.sqrt(learn.validate()[0])


PEERS = {"movielens": movielens}

if __name__ == "__main__":
    task, data_dir, result = sys.argv[1:]
    Path(result).write_text(json.dumps({"metric": PEERS[task](Path(data_dir))}))
