"""Every command line in the README's code blocks runs as typed, in a folder holding the data it names.

Only overrides that shrink the work are added (one epoch of two batches, two Optuna trials, a small
AWD-LSTM, 64-pixel images); commands that need GPUs or a SLURM cluster are composed as ``train.py`` would, which checks
every key they set. The others run in turn in one Python process (``tests/readme_commands.py``), each through
the entry point its script calls.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from datamodules.samples import (
    write_image_folder_sample,
    write_imdb_sample,
    write_movielens_sample,
    write_rossmann_sample,
    write_tabular_sample,
)
from fastlightning import config
from tests.conftest import run_python

ROOT = Path(__file__).resolve().parents[1]
# serve.py too is a README command, but a server runs until stopped: tests/test_serve.py starts one
ENTRY_POINTS = ("train.py", "generate.py", "predict.py", "export.py")
SHRINK = [
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.enable_progress_bar=false",
    "callbacks.loss_curves=null",  # the pictures of a run are tests/test_reports.py's
    "callbacks.validation_report=null",
]
# the AWD-LSTM tasks at a size that runs a few batches in seconds (the LM and the classifier alike, so
# the classifier can load the LM's encoder)
SMALL_AWD_LSTM = ["model.emb_sz=32", "model.n_hid=64", "model.n_layers=2"]
AWD_LSTM_TASKS = ("task=imdb_lm", "task=imdb_clas")
# a real image folder is read at ImageNet's 224 pixels; the backbone runs the same at 64
SMALL_IMAGES = "data.image_size=64"
NEEDS_A_CLUSTER = ("trainer=ddp", "trainer=gpu", "trainer=mixed", "launcher=submitit_slurm")


def readme_commands() -> list[str]:
    """The command lines of the README's ``bash`` blocks that run an entry point (continuations joined)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+", " ", re.sub(r"\s+#.*$", "", line)).strip()
            words = shlex.split(line)
            if any(word in ENTRY_POINTS for word in words[:2]) or words[:1] == ["torchrun"]:
                commands.append(line)
    return commands


def entry_point(command: str) -> tuple[str, list[str]]:
    """The script a command runs and its arguments."""
    words = shlex.split(command)
    script = next(i for i, word in enumerate(words) if word in ENTRY_POINTS)
    return words[script], words[script + 1 :]


def needs_a_cluster(command: str) -> bool:
    return command.startswith("torchrun") or any(word in NEEDS_A_CLUSTER for word in shlex.split(command))


def as_run(command: str) -> list[str]:
    """The command's script and its arguments, shrunk to a few batches."""
    script, args = entry_point(command)
    if script != "train.py":
        return [script, *args]
    shrink = [*SHRINK, "hydra.sweeper.n_trials=2"] if any("hparams_search=" in a for a in args) else SHRINK
    if any(a in AWD_LSTM_TASKS for a in args):
        shrink = [*shrink, *SMALL_AWD_LSTM]
    if "task=images" in args:
        shrink = [*shrink, SMALL_IMAGES]
    return [script, *args, *shrink]


@pytest.fixture(scope="module")  # one per run of this file (xdist --dist loadfile keeps a file on one worker)
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the files the README's commands name, in their real formats."""
    folder = tmp_path_factory.mktemp("readme")
    write_rossmann_sample(folder / "rossmann")
    ratings = write_movielens_sample(folder / "ml-latest-small") / "ratings.csv"
    (folder / "pairs.csv").write_text("".join(ratings.read_text().splitlines(keepends=True)[:4]))  # three rated pairs
    shutil.copy(write_tabular_sample(folder / "tables") / "houses.csv", folder / "houses.csv")
    shutil.move(write_imdb_sample(folder / "imdb") / "aclImdb", folder / "aclImdb")
    write_image_folder_sample(folder / "dogscats")
    from torchvision.models import resnet34

    torch.save(resnet34().state_dict(), folder / "resnet34-b627a593.pth")
    return folder


def test_the_readme_shows_the_commands_of_each_section():
    commands = readme_commands()
    assert len(commands) >= 12
    expected_commands = ("task=rossmann", "hparams_search=", "launcher=joblib", "trainer=ddp_cpu", "generate.py")
    for expected in (*expected_commands, "predict.py", "export.py"):
        assert any(expected in command for command in commands), expected


@pytest.mark.parametrize("command", [c for c in readme_commands() if needs_a_cluster(c)])
def test_readme_command_for_gpus_or_a_cluster_composes(command, tmp_path):
    _, args = entry_point(command)
    overrides = config.open_overrides([a for a in args if a not in ("-m", "--multirun")])
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config.CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.root_dir={tmp_path}", *overrides])
    GlobalHydra.instance().clear()
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.accelerator == "gpu"


LOCAL_COMMANDS = [c for c in readme_commands() if not needs_a_cluster(c)]


@pytest.fixture(scope="module")
def readme_results(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """What each local command gave, from one run of all of them in their README order."""
    spec = tmp_path_factory.mktemp("readme_runs") / "spec.json"
    spec.write_text(json.dumps({"cwd": str(workspace), "commands": {c: as_run(c) for c in LOCAL_COMMANDS}}))
    run_python("tests/readme_commands.py", str(spec), timeout=1200)
    return json.loads((spec.parent / "results.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("command", LOCAL_COMMANDS)
def test_readme_command_runs_as_typed(command, readme_results):
    result = readme_results[command]
    assert result["error"] is None, f"{command}: {result['error']}\n{Path(result['log']).read_text()[-4000:]}"
