"""A setting that cannot work ends ``python train.py`` with exit status 1 and one line naming the key or file,
never a traceback: the checks before a run, and the constructors' refusals that Hydra's instantiate wraps."""

from __future__ import annotations

import re
import sys

import pytest

from fastlightning.cli import entry
from tests.conftest import NO_REPORTS, QUIET

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
        r"unknown backbone 'resnet19'.* \(lightning_models.vision.modules.BackboneModule\)$",
    ),
}


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
