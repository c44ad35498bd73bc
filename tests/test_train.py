"""train.py and the configs, end to end through Hydra."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from fastlightning import ConfigError, config, runner
from tests.conftest import ROOT, TASKS, compose_config, run_python


@pytest.mark.parametrize("task", [task for task in TASKS if task.endswith("_lesson")])
def test_every_lesson_task_trains_one_batch(task, run_task, tmp_path):
    """The lesson tasks; every other task trains, tests and repeats in test_every_task_scales.py."""
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


@pytest.mark.slow
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
    for noise in ("LeafSpec", "log_every_n_steps", "`max_epochs` was not set", "Tip:", "TPU available"):
        assert noise not in result.stdout + result.stderr, noise
    assert "fast_dev_run" in (tmp_path / "cli_run" / "train.log").read_text()  # Lightning's own messages
    assert "val/rmse" in json.loads((tmp_path / "cli_run" / "metrics.json").read_text())


@pytest.mark.slow
def test_multirun_sweep_makes_one_run_directory_per_value(tmp_path):
    # as the README types it: no hydra.sweep.dir, the sweep goes under paths.log_dir
    run_python(
        "train.py",
        "-m",
        "task=movielens",
        "model.n_factors=4,8",
        "trainer=debug",
        "trainer.enable_progress_bar=false",
        f"paths.root_dir={tmp_path}",
    )
    (sweep,) = (tmp_path / "logs" / "movielens" / "multiruns").iterdir()
    for job, n_factors in ((0, 4), (1, 8)):
        cfg = OmegaConf.load(sweep / str(job) / "config.yaml")
        assert cfg.model.n_factors == n_factors
        assert (sweep / str(job) / "metrics.json").is_file()


def test_stable_user_keys_exist_in_every_task(cache_dir, tmp_path):
    for task in TASKS:
        cfg = compose_config(task, tmp_path / task, cache_dir)
        for key in ("data_dir", "batch_size", "num_workers"):
            assert key in cfg.data, f"task {task}: data.{key} missing"
        for key in ("max_epochs", "precision", "gradient_clip_val"):
            assert key in cfg.trainer, f"task {task}: trainer.{key} missing"


FEW_BATCHES = ["trainer.max_epochs=1", "trainer.limit_train_batches=5", "trainer.limit_val_batches=2"]


@pytest.mark.slow
def test_a_run_that_does_not_train_exits_cleanly(run_task, tmp_path):
    run_task("movielens", *FEW_BATCHES, run_dir=tmp_path / "fit")
    checkpoint = tmp_path / "fit" / "checkpoints" / "last.ckpt"
    result = run_python(
        "train.py",
        "task=movielens",
        "train=false",
        "test=true",
        "predict=true",
        f"ckpt_path={checkpoint}",
        "trainer.enable_progress_bar=false",
        f"paths.root_dir={tmp_path}",
        f"hydra.run.dir={tmp_path}/predict",
    )
    assert "was not logged" not in result.stderr
    assert (tmp_path / "predict" / "predictions.csv").is_file()
    assert runner.optimized_value({"test/rmse": 1.0}, "val/rmse", trained=False) is None
    with pytest.raises(ConfigError, match="optimized_metric='val/rmse' was not logged"):
        runner.optimized_value({"train/loss": 1.0}, "val/rmse")


def test_resuming_a_finished_run_reports_its_final_metrics(run_task, tmp_path):
    first = run_task("movielens", *FEW_BATCHES, run_dir=tmp_path / "done")
    again = run_task("movielens", *FEW_BATCHES, "ckpt_path=last", run_dir=tmp_path / "done")
    assert again["val/rmse"] == pytest.approx(first["val/rmse"], rel=1e-6)


def test_a_log_target_table_logs_rmse_in_its_own_units_and_rmspe(run_task):
    metrics = run_task("tabular", "data.log_target=true", *FEW_BATCHES)
    assert {"val/rmse", "val/rmspe", "train/loss"} <= metrics.keys()
    assert metrics["val/rmse"] > 1.0  # prices in thousands, not log units


def test_ckpt_path_last_takes_the_newest_single_run_not_a_sweep_job(cache_dir, tmp_path):
    cfg = compose_config("movielens", tmp_path / "logs" / "movielens" / "runs" / "new", cache_dir)
    logs = tmp_path / "logs" / "movielens"
    for folder in ("runs/old/checkpoints", "multiruns/sweep/0/checkpoints", "runs/old/lm/checkpoints"):
        (logs / folder).mkdir(parents=True)
        (logs / folder / "last.ckpt").touch()
    with open_dict(cfg):
        cfg.paths.log_dir = str(tmp_path / "logs")
    assert runner.find_checkpoint("last", cfg) == str(logs / "runs/old/checkpoints/last.ckpt")
    assert runner.find_checkpoint("last", cfg, stage="lm") == str(logs / "runs/old/lm/checkpoints/last.ckpt")


def test_schedules_with_a_length_of_their_own_follow_trainer_max_epochs(run_task, tmp_path, cache_dir):
    run_task("rossmann", "trainer.max_epochs=1", "trainer.limit_train_batches=3", run_dir=tmp_path / "one")
    epochs = pd.read_csv(tmp_path / "one" / "metrics.csv")["epoch"].dropna()
    assert epochs.max() == 0
    default = compose_config("rossmann", tmp_path / "default", cache_dir)
    callbacks = runner.instantiate_group(default.callbacks)
    runner.epochs_from_schedules(default, callbacks)
    assert default.trainer.max_epochs == 8
    ulmfit = compose_config("ulmfit_imdb", tmp_path / "ulmfit", cache_dir, ["trainer.max_epochs=1"])
    assert runner.stage_config(ulmfit, "lm").trainer.max_epochs == 1
    assert compose_config("ulmfit_imdb", tmp_path / "u2", cache_dir).stages.lm.trainer.max_epochs == 15


def test_any_constructor_argument_is_a_key_and_a_wrong_one_is_named(cache_dir, tmp_path):
    cfg = compose_config("movielens", tmp_path, cache_dir, ["trainer.limit_train_batches=3", "data.split=time"])
    assert cfg.trainer.limit_train_batches == 3 and cfg.data.split == "time"
    config.check_arguments(cfg)
    typo = compose_config("movielens", tmp_path, cache_dir, ["model.n_factor=3"])
    with pytest.raises(ConfigError, match="model.n_factor is not an argument of .*did you mean model.n_factors"):
        config.check_arguments(typo)
    trainer_typo = compose_config("movielens", tmp_path, cache_dir, ["trainer.max_epoch=3"])
    with pytest.raises(ConfigError, match="trainer.max_epoch is not an argument of pytorch_lightning.Trainer"):
        config.check_arguments(trainer_typo)
    overrides = ["~callbacks/schedule", "callbacks.schedule.cycle_len=2"]
    no_schedule = compose_config("tabular", tmp_path, cache_dir, overrides)
    with pytest.raises(ConfigError, match="callbacks.schedule sets cycle_len but names no class"):
        config.check_arguments(no_schedule)


def test_a_gpu_setting_on_a_cpu_machine_says_it_needs_a_gpu(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = compose_config("movielens", tmp_path, cache_dir, ["trainer=mixed"])
    with pytest.raises(ConfigError, match="needs a GPU.*bf16-mixed"):
        config.check_devices(cfg.trainer)


def test_the_best_checkpoint_holds_weights_only_and_last_can_resume(run_task, tmp_path):
    run_task("movielens", *FEW_BATCHES)
    files = {p.name: torch.load(p, weights_only=True) for p in (tmp_path / "run" / "checkpoints").iterdir()}
    assert sorted(files) == ["epoch000.ckpt", "last.ckpt"]
    assert "optimizer_states" not in files["epoch000.ckpt"] and "optimizer_states" in files["last.ckpt"]


@pytest.mark.slow
def test_two_runs_started_in_the_same_second_get_two_run_directories(tmp_path, cache_dir):
    """The default run directory is named by the time and the process id, not by the second alone."""
    args = [
        "task=movielens_dot",
        "trainer=debug",
        "test=false",
        f"paths.root_dir={tmp_path}",
        f"paths.cache_dir={cache_dir}",
    ]
    runs = [
        subprocess.Popen([sys.executable, "train.py", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    folders = {re.search(r"run directory: (\S+)", out).group(1) for out in outputs}
    assert len(folders) == 2
    for folder in map(Path, folders):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+", folder.name), folder.name  # ..._<pid>
        assert (folder / "metrics.json").is_file()
