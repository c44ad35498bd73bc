"""fastai v2's documented recipes, the peers of bench/time_to_quality.py (run in an interpreter that has fastai).

python -m bench.fastai_peers movielens DATA_DIR RESULT.json
python -m bench.fastai_peers mnist_cnn DATA_DIR RESULT.json
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


def mnist_cnn(data_dir: Path) -> float:
    """``task=mnist_cnn``'s net, batches, augmentation and one-cycle recipe under fastai's Learner
    (bench/mnist.py's peer), from the same prepared-data cache as ours; its test accuracy."""
    import tempfile

    from hydra.utils import instantiate

    from bench.mnist import fastai_peer
    from fastlightning import compose_task

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_task("mnist_cnn", [f"data.data_dir={data_dir}"], run_dir=run_dir, cache_dir=root / ".cache")
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")
    return fastai_peer(cfg, datamodule, seed=cfg.seed)["test_acc"]


PEERS = {"movielens": movielens, "mnist_cnn": mnist_cnn}

if __name__ == "__main__":
    task, data_dir, result = sys.argv[1:]
    Path(result).write_text(json.dumps({"metric": PEERS[task](Path(data_dir))}))
