"""Every task (a lesson variant through its parent task) under two DDP processes and under seeded determinism
(two seeded runs of one process give identical metrics)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from toy import val_metrics

from tests.conftest import TASKS, run_python

FEW_BATCHES = ["trainer.max_epochs=1", "trainer.limit_train_batches=4", "trainer.limit_val_batches=2"]
SEEDED = ["seed=7", "trainer.deterministic=true"]
# tasks without dropout or batch statistics: two ranks of batch b take the steps one process of batch 2b takes
# (style transfer: every rank takes the one process's step on the one image)
SAME_STEPS_UNDER_DDP = {"movielens_dot": "val/rmse", "mnist_logreg": "val/acc", "style_transfer": "val/loss"}
BATCH = 16
# the AWD-LSTM tasks at a size that trains a few batches in seconds
SMALL_AWD_LSTM = ["model.emb_sz=16", "model.n_hid=32", "model.n_layers=2"]
TEXT_TASKS = {"imdb_lm", "arxiv_lm", "wikitext_lm", "imdb_clas", "arxiv_clas", "ulmfit_imdb", "sentences_ulmfit"}
# tasks whose batch is one fixed item (style transfer's image pair): no batch size to scale
ONE_ITEM_BATCHES = {"style_transfer"}


# tasks whose own tests already train them under ddp_cpu against one process
DDP_TESTED_ELSEWHERE = {
    "movielens": "test_training_modes.py::test_ddp_spawn_and_torchrun_on_two_cpu_processes_match_one_process",
    "rossmann": "test_rossmann.py::test_val_rmspe_under_ddp_is_the_rmspe_of_all_validation_rows",
    "imdb_lm": "test_text_lm_train.py::test_language_model_under_ddp_on_cpu_agrees_with_one_process",
    "imdb_clas": "test_text_classifier.py::test_classifier_under_ddp_on_cpu_agrees_with_one_process",
}


def few_batches(task: str) -> list[str]:
    return [*FEW_BATCHES, *(SMALL_AWD_LSTM if task in TEXT_TASKS else [])]


def batch_size(task: str, size: int) -> list[str]:
    return [] if task in ONE_ITEM_BATCHES else [f"data.batch_size={size}"]


# a lesson (or tutorial) task is its parent task with the lesson's settings (the same data module and model
# classes), and the parent scales here
SCALED_TASKS = [task for task in TASKS if not task.endswith(("_lesson", "_tutorial"))]
DDP_TASKS = [task for task in SCALED_TASKS if task not in DDP_TESTED_ELSEWHERE]


@pytest.fixture(scope="module")
def ddp_metrics(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> dict[str, dict]:
    """Each task's metrics under DDP (batch 16 a rank), from one launch of two processes for all of them."""
    folder = tmp_path_factory.mktemp("ddp")
    spec = {
        task: {
            "task": task,
            "overrides": [*SEEDED, *few_batches(task), *batch_size(task, BATCH)],
            "run_dir": str(folder / task),
        }
        for task in DDP_TASKS
    }
    (folder / "spec.json").write_text(json.dumps(spec))
    run_python(
        "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "tests/ddp_tasks.py", str(folder / "spec.json"), str(cache_dir), timeout=1200,
    )  # fmt: skip
    return json.loads((folder / "metrics.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("task", DDP_TASKS)
def test_task_trains_under_ddp_on_two_cpu_processes_and_seeded_runs_repeat(task, ddp_metrics, run_task, tmp_path):
    spawned = ddp_metrics[task]
    args = [task, *SEEDED, *few_batches(task), *batch_size(task, 2 * BATCH)]
    single = run_task(*args, run_dir=tmp_path / "one")
    assert run_task(*args, run_dir=tmp_path / "again") == single
    assert val_metrics(spawned).keys() == val_metrics(single).keys() != set()
    assert all(math.isfinite(value) for value in spawned.values())
    if task in SAME_STEPS_UNDER_DDP:
        key = SAME_STEPS_UNDER_DDP[task]
        assert spawned[key] == pytest.approx(single[key], abs=2e-3)


@pytest.mark.parametrize("task", list(DDP_TESTED_ELSEWHERE))
def test_seeded_deterministic_runs_of_a_task_give_identical_metrics(task, run_task, tmp_path):
    """The tasks whose DDP tests are elsewhere; the others repeat beside their DDP run above."""
    args = [task, *SEEDED, *few_batches(task)]
    assert run_task(*args, run_dir=tmp_path / "a") == run_task(*args, run_dir=tmp_path / "b")


def test_the_ddp_tests_of_the_other_tasks_exist():
    for task, test in DDP_TESTED_ELSEWHERE.items():
        file, name = test.split("::")
        assert task in TASKS and f"def {name}(" in (Path(__file__).parent / file).read_text(), test
