"""A built wheel, installed apart from the checkout, runs a task from an empty folder with the same configs."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import mlflow
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("datamodules", "fastlightning", "lightning_models")


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.mark.slow
def test_the_wheel_carries_every_package_and_config_and_runs_a_task_from_an_empty_folder(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp_path / "dist", ROOT)
    wheel = next((tmp_path / "dist").glob("fastlightning-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = [p.relative_to(ROOT).as_posix() for name in PACKAGES for p in (ROOT / name).rglob("__init__.py")]
    assert set(packages) <= names, sorted(set(packages) - names)
    configs = [f"fastlightning/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")]
    assert set(configs) <= names, sorted(set(configs) - names)

    # a venv that sees the installed dependencies (torch, Lightning, ...) but not the checkout
    env = tmp_path / "venv"
    venv.create(env, with_pip=False)
    (next((env / "lib").glob("python*")) / "site-packages" / "dependencies.pth").write_text(site.getsitepackages()[0])
    run(sys.executable, "-m", "pip", "--python", env / "bin" / "python", "install", "--no-deps", "-q", wheel)
    empty = tmp_path / "empty"
    empty.mkdir()
    where = run(
        env / "bin" / "python", "-c", "import fastlightning.config as c; print(c.__file__, c.CONF_DIR)", cwd=empty
    )
    module, conf = where.stdout.split()
    assert Path(module).is_relative_to(env) and Path(conf) == Path(module).parent / "conf"

    few = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.enable_progress_bar=false"]
    run(env / "bin" / "fastlightning", "task=movielens", *few, "logger=mlflow", "hydra.run.dir=runs/m", cwd=empty)
    metrics = json.loads((empty / "runs" / "m" / "metrics.json").read_text())
    client = mlflow.MlflowClient(f"sqlite:///{empty}/logs/mlflow.db")
    (mlflow_run,) = client.search_runs([client.get_experiment_by_name("movielens").experiment_id])
    assert mlflow_run.data.metrics["val/rmse"] == pytest.approx(metrics["val/rmse"])
    for command in ("predict", "export", "serve", "generate"):
        assert (env / "bin" / f"fastlightning-{command}").is_file()
