"""The composed config printed as a tree when a run starts, and the run's tags."""

from __future__ import annotations

import yaml
from omegaconf import OmegaConf

FEW_BATCHES = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=2"]


def test_a_run_prints_its_config_as_a_tree_and_keeps_its_tags(run_task, tmp_path, capsys):
    run_task("movielens", *FEW_BATCHES, "tags=[baseline,small]", run_dir=tmp_path / "run")
    out = capsys.readouterr().out
    branches = [out.index(f"── {key}") for key in ("task_name", "tags", "data", "model", "callbacks", "trainer")]
    assert branches == sorted(branches)
    assert "n_factors: 50" in out and "- baseline" in out  # resolved YAML under each branch
    assert yaml.safe_load((tmp_path / "run" / "hparams.yaml").read_text())["tags"] == ["baseline", "small"]
    assert list(OmegaConf.load(tmp_path / "run" / "config.yaml").tags) == ["baseline", "small"]
    run_task("movielens", *FEW_BATCHES, "print_config=false", run_dir=tmp_path / "quiet")
    assert "n_factors: 50" not in capsys.readouterr().out
