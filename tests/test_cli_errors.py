"""A setting that cannot work ends ``python train.py`` with exit status 1 and one line naming the key or file,
never a traceback: the checks before a run, and the constructors' refusals that Hydra's instantiate wraps."""

from __future__ import annotations

import re
import sys

import pytest

from fastlightning.cli import entry
from fastlightning.setting_ranges import check_setting_ranges
from tests.conftest import NO_REPORTS, QUIET, TASKS, compose_config

BAD_SETTINGS = {
    "seed that is not a number": (["task=tabular", "seed=abc"], r"seed='abc' is not a whole number"),
    "no epochs": (["task=tabular", "trainer.max_epochs=0"], r"trainer.max_epochs=0: the epochs to train must be"),
    "endless epochs": (["task=tabular", "trainer.max_epochs=-1"], r"trainer.max_epochs=-1: the epochs to train"),
    "a weights file that is not there": (
        ["task=images", "model.weights_path=nothing.pth"],
        r"weights_path nothing.pth: no such file; give the path of torchvision's resnet34 weights",
    ),
    "an unknown backbone": (
        ["task=images", "model.arch=resnet19"],
        r"unknown backbone .resnet19.* \(lightning_models.vision.modules.BackboneModule, from the settings of model\)$",
    ),
    "a negative learning rate (it trained, away from the answer)": (
        ["task=movielens_dot", "model.lr=-1"],
        r"model.lr=-1: it must be a number above 0 \(got -1\)",
    ),
    "a batch of none": (
        ["task=tabular", "data.batch_size=0"],
        r"data.batch_size=0: it must be a whole number, 1 or more",
    ),
    "zero-width embeddings (failed in the embeddings' PCA plot)": (
        ["task=movielens_nn", "model.n_factors=0"],
        r"model.n_factors=0: it must be a whole number, 1 or more \(got 0\)",
    ),
    "a dropout of 1.5": (
        ["task=rossmann", "model.ps=[0.001,1.5]"],
        r"model.ps=\[0.001, 1.5\]: each item must be a probabil",
    ),
    "a y_range upside down": (
        ["task=movielens", "model.y_range=[5,0]"],
        r"model.y_range=\[5, 0\]: it must be \[low, high\]",
    ),
    "devices that are not a count": (["task=tabular", "trainer.devices=abc"], r"trainer.devices='abc': give a number"),
    "device indices on a CPU (Lightning's TypeError)": (
        ["task=tabular", "trainer.devices=[0]"],
        r"should be an int > 0. \(pytorch_lightning.trainer.trainer.Trainer, from the settings of trainer\)$",
    ),
    "validation more batches apart than an epoch has (checked by Lightning's loop, against the data)": (
        ["task=movielens", "trainer.val_check_interval=1000"],
        r"\(pytorch_lightning.Trainer, from the settings of trainer.val_check_interval, trainer.limit_val_batches",
    ),
}


def test_every_tasks_own_settings_are_in_range(tmp_path, cache_dir) -> None:
    for task in TASKS:
        check_setting_ranges(compose_config(task, tmp_path / task, cache_dir))


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_a_bad_setting_exits_1_with_a_message(case, tmp_path, cache_dir, monkeypatch, capsys) -> None:
    overrides, expected = BAD_SETTINGS[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py", *overrides, f"paths.cache_dir={cache_dir}", *QUIET, *NO_REPORTS])
    with pytest.raises(SystemExit) as stop:
        entry()
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith("error: ")]
    assert re.search(expected, line), line
