"""train.py and the configs, end to end through Hydra."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from tests.conftest import TASKS, compose_config, run_python


@pytest.mark.parametrize("task", TASKS)
def test_every_task_trains_one_batch(task, run_task, tmp_path):
    metrics = run_task(task, "trainer=debug", run_dir=tmp_path / task)
    assert all(v == v for v in metrics.values())
    assert (tmp_path / task / "metrics.json").is_file()
    assert (tmp_path / task / "config.yaml").is_file()


def test_run_directory_holds_config_metrics_and_checkpoints(run_task, tmp_path):
    run_dir = tmp_path / "run"
    metrics = run_task("movielens", "trainer.max_epochs=1", run_dir=run_dir)
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == pytest.approx(metrics)
    assert {"val/rmse", "val/mse", "train/loss"} <= saved.keys()
    assert (run_dir / "metrics.csv").is_file()
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "item_bias.csv").is_file()
    assert (run_dir / "item_pca.png").is_file()


def test_cli_run_prints_its_run_directory(tmp_path):
    result = run_python(
        "train.py",
        "task=movielens",
        "trainer=debug",
        "trainer.enable_progress_bar=false",
        f"paths.root_dir={tmp_path}",
        f"hydra.run.dir={tmp_path}/cli_run",
    )
    assert f"run directory: {tmp_path}/cli_run" in result.stdout
    assert (tmp_path / "cli_run" / ".hydra" / "config.yaml").is_file()
    assert "val/rmse" in json.loads((tmp_path / "cli_run" / "metrics.json").read_text())


def test_multirun_sweep_makes_one_run_directory_per_value(tmp_path):
    run_python(
        "train.py",
        "-m",
        "task=movielens",
        "model.n_factors=4,8",
        "trainer=debug",
        "trainer.enable_progress_bar=false",
        f"paths.root_dir={tmp_path}",
        f"hydra.sweep.dir={tmp_path}/sweep",
    )
    for job, n_factors in ((0, 4), (1, 8)):
        cfg = OmegaConf.load(tmp_path / "sweep" / str(job) / "config.yaml")
        assert cfg.model.n_factors == n_factors
        assert (tmp_path / "sweep" / str(job) / "metrics.json").is_file()


def test_stable_user_keys_exist_in_every_task(cache_dir, tmp_path):
    for task in TASKS:
        cfg = compose_config(task, tmp_path / task, cache_dir)
        for key in ("data_dir", "batch_size", "num_workers"):
            assert key in cfg.data, f"task {task}: data.{key} missing"
        for key in ("max_epochs", "precision", "gradient_clip_val"):
            assert key in cfg.trainer, f"task {task}: trainer.{key} missing"
