"""Shared fixtures: compose a task's config as `python train.py task=...` would, and run it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

# Tests run small models, and the DDP tests run two processes on two cores: one thread each is
# fastest and never oversubscribes the machine (subprocesses inherit the setting).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from fastlightning import compose_task, runner  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
TASKS = sorted(p.stem for p in (CONF_DIR / "task").glob("*.yaml"))
QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
NO_REPORTS = ["callbacks.loss_curves=null", "callbacks.validation_report=null"]

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One cache for the whole session, shared by the xdist workers, so each built-in sample is written
    once (the cache's lock and write-and-rename make that safe)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if worker_id != "master" else base) / "cache"
    folder.mkdir(exist_ok=True)
    return folder


def compose_config(
    task: str, run_dir: Path, cache_dir: Path, overrides: list[str] = (), reports: bool = False
) -> DictConfig:
    """The config `python train.py task=<task> <overrides>` would get, writing into ``run_dir``, quietly and,
    unless ``reports``, without the pictures of the run (tests/test_reports.py tries those; drawn after every
    test's run they would cost more than a minute of the suite)."""
    quiet = QUIET if reports else [*QUIET, *NO_REPORTS]
    return compose_task(task, [*quiet, *overrides], run_dir=run_dir, cache_dir=cache_dir)


@pytest.fixture
def run_task(tmp_path: Path, cache_dir: Path) -> Callable[..., dict[str, float]]:
    """``run_task("movielens", "trainer.max_epochs=1")`` -> the metrics train.py writes to metrics.json
    (``reports=True``: with the run's pictures and tables)."""

    def run(task: str, *overrides: str, run_dir: Path | None = None, reports: bool = False) -> dict[str, float]:
        cfg = compose_config(task, run_dir or tmp_path / "run", cache_dir, list(overrides), reports)
        return runner.run(cfg)

    return run


def run_python(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python *args`` in the project folder (e.g. ``"train.py", "task=movielens"``); fails the test on an error."""
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with the most slow tests first: xdist (``--dist loadfile``) hands out whole files in this order,
    so the long ones start at once and the short ones fill the gaps at the end."""
    slow = Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[item.path])
