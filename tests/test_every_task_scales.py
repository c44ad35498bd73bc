"""Every task under two DDP processes and under seeded determinism, on a few batches of its sample."""

from __future__ import annotations

import math

import pytest

from tests.conftest import TASKS

FEW_BATCHES = ["trainer.max_epochs=1", "+trainer.limit_train_batches=4", "+trainer.limit_val_batches=2"]
# tasks without dropout or batch statistics: two ranks of batch b take the steps one process of batch 2b takes
SAME_STEPS_UNDER_DDP = {"movielens_dot": "val/rmse", "mnist_logreg": "val/acc"}
BATCH = 16


def val_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {key: value for key, value in metrics.items() if key.startswith("val/")}


@pytest.mark.parametrize("task", TASKS)
def test_task_trains_under_ddp_on_two_cpu_processes(task, run_task, tmp_path):
    spawned = run_task(task, "trainer=ddp_cpu", f"data.batch_size={BATCH}", *FEW_BATCHES, run_dir=tmp_path / "ddp")
    single = run_task(task, f"data.batch_size={2 * BATCH}", *FEW_BATCHES, run_dir=tmp_path / "one")
    assert val_metrics(spawned).keys() == val_metrics(single).keys() != set()
    assert all(math.isfinite(value) for value in spawned.values())
    if task in SAME_STEPS_UNDER_DDP:
        key = SAME_STEPS_UNDER_DDP[task]
        assert spawned[key] == pytest.approx(single[key], abs=2e-3)


@pytest.mark.parametrize("task", TASKS)
def test_seeded_deterministic_runs_of_a_task_give_identical_metrics(task, run_task, tmp_path):
    args = [task, "seed=7", "trainer.deterministic=true", *FEW_BATCHES]
    assert run_task(*args, run_dir=tmp_path / "a") == run_task(*args, run_dir=tmp_path / "b")
