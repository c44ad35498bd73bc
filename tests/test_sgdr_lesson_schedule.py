"""SGDR with a flat start and listed cycle lengths: the Rossmann lesson's fit(lr, 3) then cycles."""

from __future__ import annotations

import math

import pytest

from lightning_models.callbacks import SGDR


def test_flat_epochs_then_listed_cycles():
    schedule = SGDR(flat_epochs=2, cycles=[1, 2])
    schedule.total_steps = 50  # 10 steps per epoch
    assert schedule.n_epochs == 5
    assert schedule.cycle_epochs == [1, 2]
    factors = [schedule.lr_factor(step) for step in range(50)]
    assert factors[:20] == [1.0] * 20
    assert factors[20] == 1.0 and factors[25] == pytest.approx(0.5)
    assert factors[30] == 1.0 and factors[40] == pytest.approx(0.5)
    assert factors[49] == pytest.approx(0.0, abs=0.01)
    assert schedule.lr_factor(50) == 0.0


def test_warmup_starts_the_first_cycle_after_the_flat_epochs():
    schedule = SGDR(flat_epochs=1, cycles=[4], warmup=True)
    schedule.total_steps = 50
    assert schedule.lr_factor(9) == 1.0
    assert schedule.lr_factor(10) == 0.01 and schedule.lr_factor(11) == 0.01
    assert schedule.lr_factor(12) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 40)))


def test_bad_cycles_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        SGDR(cycles=[1, 0])
    with pytest.raises(ValueError, match="flat_epochs"):
        SGDR(flat_epochs=-1)
