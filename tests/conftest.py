"""Shared fixtures: compose a task's config as `python train.py task=...` would, and run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# Tests run small models, and the DDP tests run two processes on two cores: one thread each is
# fastest and never oversubscribes the machine (subprocesses inherit the setting).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.core.global_hydra import GlobalHydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402

import train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
TASKS = sorted(p.stem for p in (CONF_DIR / "task").glob("*.yaml"))

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole session, so each built-in sample is written once."""
    return tmp_path_factory.mktemp("cache")


def compose_config(task: str, run_dir: Path, cache_dir: Path, overrides: list[str] = ()) -> DictConfig:
    """The config `python train.py task=<task> <overrides>` would get, writing into ``run_dir``."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=train.open_overrides(
                [
                    f"task={task}",
                    f"paths.root_dir={run_dir.parent}",
                    f"paths.output_dir={run_dir}",
                    f"paths.cache_dir={cache_dir}",
                    "trainer.enable_progress_bar=false",
                    "+trainer.enable_model_summary=false",
                    *overrides,
                ]
            ),
            return_hydra_config=True,
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.task_name = task
        del cfg.hydra
    GlobalHydra.instance().clear()
    return cfg


@pytest.fixture
def run_task(tmp_path: Path, cache_dir: Path) -> Callable[..., dict[str, float]]:
    """``run_task("movielens", "trainer.max_epochs=1")`` -> the metrics train.py writes to metrics.json."""

    def run(task: str, *overrides: str, run_dir: Path | None = None) -> dict[str, float]:
        cfg = compose_config(task, run_dir or tmp_path / "run", cache_dir, list(overrides))
        return train.run(cfg)

    return run


def run_python(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python *args`` in the project folder (e.g. ``"train.py", "task=movielens"``); fails the test on an error."""
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result
