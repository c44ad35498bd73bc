"""Checkpoints load weights-only, and a wrong, truncated or unsafe file gets an error that says so."""

from __future__ import annotations

import pytest
import torch
from toy import ToyRegressor, toy_loader, toy_trainer

from lightning_models import CollabModule
from lightning_models.checkpoints import CheckpointError, check_checkpoint, read_weights


@pytest.fixture
def checkpoint(tmp_path):
    trainer = toy_trainer([], max_epochs=1, default_root_dir=tmp_path)
    trainer.fit(ToyRegressor(), toy_loader(n_batches=2))
    path = tmp_path / "toy.ckpt"
    trainer.save_checkpoint(path, weights_only=False)
    return path


def test_a_good_checkpoint_passes_and_loads_weights_only(checkpoint):
    check_checkpoint(checkpoint, ToyRegressor())
    assert "optimizer_states" in read_weights(checkpoint)


def test_a_legacy_format_checkpoint_loads_and_a_truncated_one_is_named(checkpoint, tmp_path):
    legacy = tmp_path / "legacy.ckpt"
    torch.save(torch.load(checkpoint, weights_only=True), legacy, _use_new_zipfile_serialization=False)
    check_checkpoint(legacy, ToyRegressor())  # not refused as "truncated" (it cannot be memory-mapped)
    torch.testing.assert_close(read_weights(legacy)["state_dict"], read_weights(checkpoint)["state_dict"])
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(legacy.read_bytes()[:500])
    with pytest.raises(CheckpointError, match="cut.ckpt is not a readable checkpoint"):
        read_weights(cut)


def test_a_checkpoint_of_another_model_names_keys_and_shapes(checkpoint):
    with pytest.raises(
        CheckpointError,
        match=r"was not saved from this model \(CollabModule\): missing net.item_bias.weight, net.items.weight",
    ):
        check_checkpoint(checkpoint, CollabModule(n_users=3, n_items=4))
    with pytest.raises(CheckpointError, match=r"shape mismatch body.0.weight: file \(8, 4\) vs model \(8, 6\)"):
        check_checkpoint(checkpoint, ToyRegressor(n_in=6))


def test_truncated_missing_and_foreign_files(checkpoint, tmp_path):
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated.ckpt is not a readable checkpoint"):
        check_checkpoint(truncated, ToyRegressor())
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        check_checkpoint(tmp_path / "nothing.ckpt", ToyRegressor())
    weights = tmp_path / "weights.pt"
    torch.save(ToyRegressor().state_dict(), weights)
    with pytest.raises(CheckpointError, match="is not a Lightning checkpoint"):
        check_checkpoint(weights, ToyRegressor())


def test_a_file_with_arbitrary_objects_is_refused(tmp_path):
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save({"state_dict": {}, "payload": ToyRegressor}, unsafe)
    with pytest.raises(CheckpointError, match="weights-only loading refuses"):
        read_weights(unsafe)


def test_train_py_refuses_a_wrong_checkpoint_before_training(run_task, checkpoint):
    with pytest.raises(CheckpointError, match="was not saved from this model"):
        run_task("movielens", f"ckpt_path={checkpoint}")
