"""Gradual unfreezing changes the trainable layer groups at the right epochs, in one process and under DDP."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from toy import RecordLR, ToyRegressor, toy_loader, toy_trainer

from lightning_models.callbacks import GradualUnfreezing, UnfreezingStages


def test_unfreezing_schedule_sets_trainable_groups_per_epoch_with_discriminative_lrs():
    recorder = RecordLR()
    model = ToyRegressor(lr=0.1, lr_div=2.6)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    frozen_after_epoch0 = {}

    class Snapshot(pl.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            if trainer.current_epoch == 0:
                frozen_after_epoch0.update({k: v.clone() for k, v in pl_module.state_dict().items()})

    trainer = toy_trainer([GradualUnfreezing({0: 1, 1: 2, 2: "all"}), recorder, Snapshot()], max_epochs=3)
    trainer.fit(model, toy_loader(n_batches=3))
    assert recorder.trainable == {0: [False, False, True], 1: [False, True, True], 2: [True, True, True]}
    assert recorder.lrs[0] == pytest.approx([0.1 / 2.6**2, 0.1 / 2.6, 0.1])
    for name in ("body.0.weight", "body.1.weight", "hidden.0.weight"):
        assert torch.equal(frozen_after_epoch0[name], start[name]), name
    assert not torch.equal(frozen_after_epoch0["out.weight"], start["out.weight"])
    assert not torch.equal(model.body[0].weight, start["body.0.weight"])


def test_trainable_count_before_the_first_key_is_everything():
    schedule = GradualUnfreezing({2: 1, 4: 3})
    assert [schedule.trainable_at(e) for e in range(6)] == ["all", "all", 1, 1, 3, 3]
    with pytest.raises(ValueError, match="epoch 1 maps to 0"):
        GradualUnfreezing({1: 0})


@pytest.mark.slow
def test_freezing_under_ddp_keeps_frozen_groups_unchanged():
    model = ToyRegressor(lr=0.05, weight_decay=0.1)
    start = {k: v.clone() for k, v in model.named_parameters()}
    trainer = toy_trainer([GradualUnfreezing({0: 1})], max_epochs=2, accelerator="cpu", devices=2, strategy="ddp_spawn")
    trainer.fit(model, toy_loader(n_batches=4))
    for name, value in model.named_parameters():
        changed = not torch.equal(value, start[name])
        assert changed == name.startswith("out."), name


def test_unfreezing_stages_shrunk_onto_one_epoch_unfreeze_within_it():
    stages = [{"groups": 1, "epochs": 1}, {"groups": 2, "epochs": 1}, {"groups": "all", "epochs": 1}]
    trainable = []

    class Record(pl.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            trainable.append([all(p.requires_grad for p in g.parameters()) for g in pl_module.layer_groups()])

    trainer = toy_trainer([UnfreezingStages(stages), Record()], max_epochs=1)
    trainer.fit(ToyRegressor(lr=0.1), toy_loader(n_batches=6))
    assert trainer.current_epoch == 1
    head, two, everything = [False, False, True], [False, True, True], [True, True, True]
    assert trainable == [head, head, two, two, everything, everything]
