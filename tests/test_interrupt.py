"""A real train.py process stopped by a signal mid-epoch resumes with ``ckpt_path=last`` to the same result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import NO_REPORTS

ROOT = Path(__file__).resolve().parents[1]
MOVIELENS = ["trainer.max_epochs=2", "data.batch_size=256"]  # 75 steps per epoch
LANGUAGE_MODEL = [  # 80 steps per epoch
    "trainer.max_epochs=2",
    "model.emb_sz=32",
    "model.n_hid=64",
    "model.n_layers=2",
    "data.batch_size=32",
    "data.bptt=20",
    "+data.max_docs=1000",
    "data.n_workers=1",
    "test=false",
]


def start_and_signal(args: list[str], marker: Path, signum: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    process = subprocess.Popen(
        [sys.executable, "train.py", *args, *NO_REPORTS],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signalled_movielens_run_resumes_to_the_uninterrupted_result(run_task, tmp_path, cache_dir, signum):
    full = run_task("movielens", *MOVIELENS, run_dir=tmp_path / "full")

    run_dir, marker = tmp_path / "stopped", tmp_path / "marker"
    result = start_and_signal(
        [
            "task=movielens",
            *MOVIELENS,
            "trainer.enable_progress_bar=false",
            f"paths.root_dir={tmp_path}",
            f"paths.cache_dir={cache_dir}",
            f"hydra.run.dir={run_dir}",
            "+callbacks.slow._target_=toy.SlowAfterStep",
            "+callbacks.slow.step=90",
            f"+callbacks.slow.marker={marker}",
        ],
        marker,
        signum,
    )
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert 90 <= checkpoint["global_step"] < 150, result.stderr[-2000:]
    assert not (run_dir / "metrics.json").exists()
    # a stopped run does not look finished: 128 + 15, as a shell reports a SIGTERM (a first Ctrl-C is one)
    assert result.returncode == 143

    resumed = run_task("movielens", *MOVIELENS, "ckpt_path=last", run_dir=run_dir)
    assert resumed["val/rmse"] == pytest.approx(full["val/rmse"], rel=1e-5)
    # metrics.csv holds the rows logged before the stop and after the resume, as the uninterrupted run's
    logged = pd.read_csv(run_dir / "metrics.csv")
    pd.testing.assert_frame_equal(logged, pd.read_csv(tmp_path / "full" / "metrics.csv"), rtol=1e-5)


@pytest.mark.slow
def test_signalled_language_model_resumes_to_the_uninterrupted_result(run_task, tmp_path, cache_dir):
    """The loader's position, the carried hidden state and the dropout masks' generator all resume."""
    full = run_task("imdb_lm", *LANGUAGE_MODEL, run_dir=tmp_path / "full")

    run_dir, marker = tmp_path / "stopped", tmp_path / "marker"
    result = start_and_signal(
        [
            "task=imdb_lm",
            *LANGUAGE_MODEL,
            "trainer.enable_progress_bar=false",
            f"paths.root_dir={tmp_path}",
            f"paths.cache_dir={cache_dir}",
            f"hydra.run.dir={run_dir}",
            "+callbacks.slow._target_=toy.SlowAfterStep",
            "+callbacks.slow.step=100",
            f"+callbacks.slow.marker={marker}",
        ],
        marker,
        signal.SIGTERM,
    )
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert 100 <= checkpoint["global_step"] < 160, result.stderr[-2000:]
    assert "lm_state" in checkpoint and not (run_dir / "encoder.pt").exists()
    assert result.returncode == 143

    resumed = run_task("imdb_lm", *LANGUAGE_MODEL, "ckpt_path=last", run_dir=run_dir)
    assert resumed["val/loss"] == pytest.approx(full["val/loss"], rel=1e-5)
