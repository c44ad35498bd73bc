"""Every family's Optuna search: its keys are arguments of the task's classes, its direction follows the metric."""

from __future__ import annotations

import re

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig

from fastlightning.config import CONF_DIR, check_arguments, metric_mode
from tests.conftest import compose_config

# choice(a, b), interval(low, high) or tag(log, interval(low, high)) -> a or low
FIRST_VALUE = re.compile(r"(?:tag\([^,]+,\s*)?\w+\(\s*([^,)]+)")
SEARCHES = {
    "movielens_optuna": ["movielens"],
    "rossmann_optuna": ["rossmann"],
    "tabular_clas_optuna": ["tabular_clas", "credit_default"],
    "mnist_optuna": ["mnist_cnn", "cifar10_cnn"],
    "imdb_clas_optuna": ["imdb_clas"],
    "imdb_lm_optuna": ["imdb_lm", "arxiv_lm"],
    "weekly_sales_optuna": ["weekly_sales"],
}


def test_every_search_config_is_listed():
    assert sorted(SEARCHES) == sorted(p.stem for p in (CONF_DIR / "hparams_search").glob("*.yaml"))


@pytest.mark.parametrize(("search", "task"), [(s, t) for s, tasks in SEARCHES.items() for t in tasks])
def test_a_search_sweeps_arguments_of_its_task_in_the_direction_of_its_metric(search, task, tmp_path, cache_dir):
    chosen = [f"task={task}", f"hparams_search={search}"]
    cfg = compose_raw(chosen)
    sweeper = cfg.hydra.sweeper
    assert {"minimize": "min", "maximize": "max"}[sweeper.direction] == metric_mode(cfg.optimized_metric)
    # one point of the space: the first value of each choice or interval; the sweeper passes it on as
    # plain Hydra overrides (without train.py's ++ for constructor arguments), so it must compose so
    point = [f"{key}={FIRST_VALUE.match(space).group(1)}" for key, space in sweeper.params.items()]
    compose_raw([*chosen, *point])
    check_arguments(compose_config(task, tmp_path, cache_dir, [f"hparams_search={search}", *point]))


def compose_raw(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    GlobalHydra.instance().clear()
    return cfg
