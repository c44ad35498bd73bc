"""The config groups Lightning users reach for: trainer=overfit|limit|profiler, callbacks=early_stopping."""

from __future__ import annotations

import pandas as pd

from datamodules import MovieLensDataModule
from fastlightning.config import metric_mode
from lightning_models.checkpoints import read_weights
from tests.conftest import compose_config


def epochs_run(run_dir) -> int:
    return int(pd.read_csv(run_dir / "metrics.csv")["epoch"].max()) + 1


def test_early_stopping_watches_the_tasks_metric_the_right_way_and_stops(run_task, tmp_path, cache_dir):
    movielens = compose_config("movielens", tmp_path / "m", cache_dir, ["callbacks=early_stopping"])
    assert (movielens.callbacks.early_stopping.monitor, movielens.callbacks.early_stopping.mode) == ("val/rmse", "min")
    assert "checkpoint" in movielens.callbacks  # the default callbacks stay
    mnist = compose_config("mnist_cnn", tmp_path / "c", cache_dir, ["callbacks=early_stopping"])
    assert (mnist.callbacks.early_stopping.monitor, mnist.callbacks.early_stopping.mode) == ("val/acc", "max")
    assert [metric_mode(m) for m in ("val/auroc", "val/loss", "test/acc", "val/rmspe")] == ["max", "min", "max", "min"]
    # no validation improves by 10 stars: the run stops after its first two epochs of ten
    stop = ["callbacks=early_stopping", "callbacks.early_stopping.min_delta=10", "callbacks.early_stopping.patience=1"]
    run_task("movielens", *stop, "trainer.max_epochs=10", "~callbacks/schedule", run_dir=tmp_path / "stopped")
    assert epochs_run(tmp_path / "stopped") == 2


def test_overfitting_one_batch_drives_its_loss_down(run_task, tmp_path):
    run_task("tabular", "trainer=overfit", "trainer.max_epochs=40", "test=false", run_dir=tmp_path / "run")
    losses = pd.read_csv(tmp_path / "run" / "metrics.csv")["train/loss"].dropna()
    assert len(losses) == 40  # one batch an epoch
    assert losses.iloc[-1] < 0.2 * losses.iloc[0] and losses.is_monotonic_decreasing  # (the smoothed loss)


def test_limit_runs_a_tenth_of_each_epoch_at_least_one_batch_and_the_profiler_reports(
    run_task, tmp_path, cache_dir, caplog
):
    limited = compose_config("movielens_tutorial", tmp_path / "l", cache_dir, ["trainer=limit"])
    assert limited.trainer.limit_train_batches == limited.trainer.limit_val_batches == 0.1
    run_task("movielens_tutorial", "trainer=limit", "trainer.max_epochs=1", run_dir=tmp_path / "limit")
    full = compose_config("movielens_tutorial", tmp_path / "f", cache_dir)
    steps = read_weights(tmp_path / "limit" / "checkpoints" / "last.ckpt")["global_step"]
    dm = MovieLensDataModule(cache_dir=str(cache_dir), batch_size=full.data.batch_size)
    dm.setup("fit")
    assert steps == int(0.1 * len(dm.train_dataloader()))
    # the new recipe's batches of 1024 make fewer than ten batches of the sample: a tenth of them is one
    run_task("movielens", "trainer=limit", "trainer.max_epochs=1", run_dir=tmp_path / "one batch")
    assert read_weights(tmp_path / "one batch" / "checkpoints" / "last.ckpt")["global_step"] == 1
    with caplog.at_level("INFO"):
        run_task("movielens", "trainer=profiler", *LIMITS, run_dir=tmp_path / "profiled")
    assert "Profiler Report" in caplog.text or "FIT Profiler Report" in caplog.text


LIMITS = ["trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2"]
