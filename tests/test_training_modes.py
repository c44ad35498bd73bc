"""MovieLens under DDP, bf16 and resume: the same task, trained other ways, gives the same result."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate

from tests.conftest import NO_REPORTS, ROOT, run_python


@pytest.mark.slow
def test_ddp_spawn_and_torchrun_on_two_cpu_processes_match_one_process(run_task, tmp_path, cache_dir):
    """Two ranks with batch 32 take the same global batches as one process with batch 64."""
    few = ["trainer.max_epochs=1", "trainer.limit_train_batches=100"]
    single = run_task("movielens", *few, "data.batch_size=64", run_dir=tmp_path / "one")
    spawned = run_task("movielens", "trainer=ddp_cpu", *few, "data.batch_size=32", run_dir=tmp_path / "spawn")
    assert spawned["val/rmse"] == pytest.approx(single["val/rmse"], abs=2e-3)

    run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "train.py",
        "task=movielens",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        *few,
        "data.batch_size=32",
        "trainer.enable_progress_bar=false",
        *NO_REPORTS,
        f"paths.root_dir={tmp_path}",
        f"paths.cache_dir={cache_dir}",
    )
    (run_dir,) = (tmp_path / "logs" / "movielens" / "runs").iterdir()
    torchrun = json.loads((run_dir / "metrics.json").read_text())
    assert torchrun["val/rmse"] == pytest.approx(single["val/rmse"], abs=2e-3)


def test_bf16_mixed_precision_trains_on_cpu(run_task):
    metrics = run_task("movielens_tutorial", "trainer.max_epochs=1", "trainer.precision=bf16-mixed")
    assert metrics["val/rmse"] < 0.8


def test_resume_from_last_checkpoint_continues_where_it_stopped(run_task, tmp_path):
    """Stopped after epoch 0 of 2 (75 steps each), then ``ckpt_path=last``: same lrs, same result."""
    args = ["movielens", "trainer.max_epochs=2", "data.batch_size=256", "+trainer.log_every_n_steps=5"]
    full = run_task(*args, run_dir=tmp_path / "full")
    stopped_dir = tmp_path / "stopped"
    run_task(*args, "+callbacks.stop._target_=toy.StopAfterEpoch", "+callbacks.stop.epoch=0", run_dir=stopped_dir)
    last = torch.load(stopped_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (0, 75)

    resumed = run_task(*args, "ckpt_path=last", run_dir=stopped_dir)
    assert resumed["val/rmse"] == pytest.approx(full["val/rmse"], rel=1e-5)
    lrs = {
        name: pd.read_csv(d / "metrics.csv").dropna(subset=["lr-AdamW"]).set_index("step")["lr-AdamW"]
        for name, d in (("full", tmp_path / "full"), ("resumed", stopped_dir))
    }
    # the resumed run's metrics.csv keeps the rows logged before the stop: every step's lr, as the full run's
    assert list(lrs["resumed"].index) == list(lrs["full"].index)
    assert lrs["resumed"].to_numpy() == pytest.approx(lrs["full"].to_numpy())


def test_lr_finder_writes_its_sweep_and_trains_at_the_suggestion(run_task, tmp_path):
    run_task(
        "movielens_tutorial", "callbacks=lr_find", "trainer.max_epochs=1", "+callbacks.lr_finder.num_training_steps=40"
    )
    lines = (tmp_path / "run" / "lr_find.csv").read_text().splitlines()
    assert lines[0] == "lr,loss" and len(lines) == 41
    assert (tmp_path / "run" / "lr_find.png").is_file()
    logged = pd.read_csv(tmp_path / "run" / "metrics.csv")
    suggestion = logged["lr_find/suggestion"].dropna().item()
    assert suggestion != 5e-3
    assert logged["lr-AdamW"].max() == pytest.approx(suggestion, rel=0.05)


def test_tensorboard_logger_writes_events_next_to_metrics_csv(run_task, tmp_path):
    run_task("movielens", "logger=tensorboard", "trainer.max_epochs=1", "+trainer.limit_train_batches=5")
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    assert (tmp_path / "run" / "metrics.csv").is_file()


@pytest.mark.slow
def test_optuna_search_with_the_joblib_launcher(tmp_path):
    run_python(
        "train.py",
        "task=movielens",
        "hparams_search=movielens_optuna",
        "launcher=joblib",
        "hydra.sweeper.n_trials=2",
        "trainer=debug",
        "trainer.enable_progress_bar=false",
        f"paths.root_dir={tmp_path}",
    )
    # the workers, other processes, put their jobs in the folder the main process named by its time and pid
    (sweep,) = (tmp_path / "logs" / "movielens" / "multiruns").iterdir()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+", sweep.name), sweep.name
    best = (sweep / "optimization_results.yaml").read_text()
    assert "best_value" in best
    runs = sorted(sweep.glob("*/metrics.json"))
    assert len(runs) == 2 and all("val/rmse" in json.loads(p.read_text()) for p in runs)


def test_slurm_launcher_asks_for_one_task_per_gpu_on_every_node():
    overrides = ["task=movielens", "launcher=submitit_slurm", "trainer.devices=4", "trainer.num_nodes=2"]
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    launcher = instantiate(cfg.hydra.launcher)
    assert (launcher.params["nodes"], launcher.params["tasks_per_node"], launcher.params["gpus_per_node"]) == (2, 4, 4)
    assert (cfg.trainer.strategy, cfg.trainer.accelerator) == ("ddp", "gpu")
