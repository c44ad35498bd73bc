"""Schedules give the exact lr (and momentum) at every step, and SGDR sets the epochs and snapshots."""

from __future__ import annotations

import math

import pytest
import torch
from toy import RecordLR, ToyRegressor, toy_loader, toy_trainer

from lightning_models.callbacks import SGDR, FlatCos, LRFinder, OneCycle

PEAKS = [0.1 / 4, 0.1 / 2, 0.1]  # lr 0.1, lr_div 2: one optimizer group per layer group (no weight decay)


def fit_and_record(schedule, n_batches: int, max_epochs: int | None = 4, **module_args):
    recorder = RecordLR()
    model = ToyRegressor(lr=0.1, lr_div=2.0, **module_args)
    trainer = toy_trainer([schedule, recorder], max_epochs=max_epochs)
    trainer.fit(model, toy_loader(n_batches=n_batches))
    return trainer, recorder


def test_one_cycle_lrs_and_momentum_at_chosen_steps():
    schedule = OneCycle(div=10, pct_start=0.25, final_div=100, moms=(0.95, 0.85, 0.95))
    _, rec = fit_and_record(schedule, n_batches=5)  # 4 epochs x 5 = 20 steps
    assert len(rec.lrs) == 20
    factors = {0: 0.1, 5: 1.0, 10: 0.01 + 0.99 * 0.75, 2: 0.1 + 0.9 * (1 - math.cos(math.pi * 0.4)) / 2}
    for step, factor in factors.items():
        assert rec.lrs[step] == pytest.approx([p * factor for p in PEAKS], rel=1e-9), step
    assert rec.moms[0] == pytest.approx(0.95)
    assert rec.moms[5] == pytest.approx(0.85)
    assert rec.moms[10] == pytest.approx(0.95 - 0.1 * 0.75)


def test_linear_one_cycle_is_the_lessons_triangle():
    schedule = OneCycle(div=10, pct_start=0.25, final_div=10, anneal="linear", moms=None)
    _, rec = fit_and_record(schedule, n_batches=5)
    top = PEAKS[-1]
    assert [lrs[-1] for lrs in rec.lrs[:6]] == pytest.approx([top * f for f in (0.1, 0.28, 0.46, 0.64, 0.82, 1.0)])
    assert rec.lrs[10][-1] == pytest.approx(top * (1 - 0.9 / 3))
    assert rec.moms == pytest.approx([0.9] * 20)  # AdamW's beta1 left alone


def test_sgdr_restarts_and_sets_the_epochs_with_cycle_mult_2():
    trainer, rec = fit_and_record(SGDR(cycle_len=1, cycle_mult=2, n_cycles=3), n_batches=4, max_epochs=None)
    assert trainer.current_epoch == 7  # 1 + 2 + 4
    assert len(rec.lrs) == 28
    top = [lrs[-1] / 0.1 for lrs in rec.lrs]
    expected = {0: 1.0, 2: 0.5, 4: 1.0, 6: (1 + math.cos(math.pi / 4)) / 2, 8: 0.5, 12: 1.0, 20: 0.5}
    for step, factor in expected.items():
        assert top[step] == pytest.approx(factor), step
    assert top[27] == pytest.approx((1 + math.cos(math.pi * 15 / 16)) / 2)


def test_sgdr_with_cycle_mult_1():
    trainer, rec = fit_and_record(SGDR(cycle_len=2, n_cycles=3), n_batches=4, max_epochs=None)
    assert trainer.current_epoch == 6
    top = [lrs[-1] / 0.1 for lrs in rec.lrs]
    assert [top[s] for s in (0, 4, 8, 12, 16, 20)] == pytest.approx([1.0, 0.5, 1.0, 0.5, 1.0, 0.5])


def test_sgdr_warmup_runs_the_first_twentieth_of_the_first_cycle_at_lr_over_100():
    _, rec = fit_and_record(SGDR(cycle_len=1, n_cycles=2, warmup=True), n_batches=40, max_epochs=None)
    top = [lrs[-1] / 0.1 for lrs in rec.lrs]
    assert top[:2] == pytest.approx([0.01, 0.01])
    assert top[2] == pytest.approx((1 + math.cos(math.pi * 2 / 40)) / 2)
    assert top[40] == pytest.approx(1.0)  # the second cycle has no warm-up


def test_sgdr_saves_a_loadable_snapshot_at_each_cycle_end(tmp_path):
    model = ToyRegressor(lr=0.1)
    trainer = toy_trainer(
        [SGDR(cycle_len=1, cycle_mult=2, n_cycles=2, snapshot_name="snap")], max_epochs=None, default_root_dir=tmp_path
    )
    trainer.fit(model, toy_loader(n_batches=4))
    first, last = tmp_path / "checkpoints" / "snap_cyc_0.ckpt", tmp_path / "checkpoints" / "snap_cyc_1.ckpt"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["snap_cyc_0.ckpt", "snap_cyc_1.ckpt"]
    assert torch.load(first, weights_only=True)["global_step"] == 4
    assert torch.load(last, weights_only=True)["global_step"] == 12
    restored = ToyRegressor.load_from_checkpoint(last, weights_only=True)
    for name, value in model.state_dict().items():
        assert torch.equal(value, restored.state_dict()[name]), name
    early = ToyRegressor.load_from_checkpoint(first, weights_only=True)
    assert not torch.equal(early.out.weight, model.out.weight)


def test_flat_cos_holds_then_anneals():
    _, rec = fit_and_record(FlatCos(pct_start=0.5), n_batches=5)
    top = [lrs[-1] / 0.1 for lrs in rec.lrs]
    assert top[:11] == pytest.approx([1.0] * 11)
    assert top[15] == pytest.approx(0.5)
    assert top[19] == pytest.approx((1 + math.cos(math.pi * 9 / 10)) / 2)


@pytest.mark.parametrize(
    "make",
    [lambda: SGDR(cycle_len=0), lambda: OneCycle(pct_start=1.0), lambda: FlatCos(pct_start=1.0)],
)
def test_bad_schedule_settings_are_refused(make):
    with pytest.raises(ValueError, match="must|needs"):
        make()


def test_lr_finder_suggestion_keeps_the_discriminative_ratios(tmp_path):
    torch.manual_seed(0)
    recorder, finder = RecordLR(), LRFinder(num_training_steps=60, min_lr=1e-5, max_lr=10)
    trainer = toy_trainer([finder, OneCycle(), recorder], max_epochs=1, default_root_dir=tmp_path)
    model = ToyRegressor(lr=0.1, lr_div=2.0)
    trainer.fit(model, toy_loader(n_batches=60))
    top = finder.suggestion.lr
    assert top is not None and top != 0.1 and model.lr == top
    assert top != pytest.approx(finder.optimal_lr.suggestion(), rel=0.5)  # ours, not Lightning's
    peaks = [top / 4, top / 2, top]
    assert recorder.lrs[0] == pytest.approx([p / 25 for p in peaks])
    assert (tmp_path / "lr_find.csv").is_file()


def test_sgdr_stretches_onto_the_epochs_the_trainer_is_given():
    # three one-epoch cycles on a trainer of six epochs: each cycle takes two
    trainer, rec = fit_and_record(SGDR(cycle_len=1, n_cycles=3), n_batches=4, max_epochs=6)
    assert trainer.current_epoch == 6 and len(rec.lrs) == 24
    top = [lrs[-1] / 0.1 for lrs in rec.lrs]
    assert [top[s] for s in (0, 4, 8, 12, 16, 20)] == pytest.approx([1.0, 0.5, 1.0, 0.5, 1.0, 0.5])


def test_sgdr_shrinks_onto_one_epoch_keeping_its_shape():
    # the Rossmann schedule's 8 epochs (3 flat, cycles of 1 and 4) on one epoch of 16 steps: 2 steps an epoch
    trainer, rec = fit_and_record(SGDR(flat_epochs=3, cycles=[1, 4]), n_batches=16, max_epochs=1)
    assert trainer.current_epoch == 1 and len(rec.lrs) == 16
    top = [lrs[-1] / 0.1 for lrs in rec.lrs]
    assert top[:7] == pytest.approx([1.0] * 7)
    assert top[7] == pytest.approx(0.5)
    assert top[8] == pytest.approx(1.0) and top[12] == pytest.approx(0.5)
