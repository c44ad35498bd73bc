"""The lr finder's suggestion: the rule on curves with a known answer, and what the callback trains at."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_lightning.tuner.lr_finder import _LRFinder
from toy import RecordLR, ToyRegressor, toy_loader, toy_trainer

from lightning_models.callbacks import LRFinder, OneCycle
from lightning_models.callbacks.lr_finder import suggest_lr, undo_warmup_bias

LOG_LRS = np.linspace(-8, 0, 100)  # Lightning's default sweep: 100 lrs from 1e-8 to 1
LRS = 10**LOG_LRS
STEEPEST = 1e-2  # where the descent of ``u_curve`` is steepest against log lr


def u_curve(log_lrs: np.ndarray = LOG_LRS) -> np.ndarray:
    """Flat at 1, a logistic descent to 0.5 centred on ``STEEPEST``, then a divergence past 0.1."""
    descent = 0.5 / (1 + np.exp(-(log_lrs - np.log10(STEEPEST)) / 0.3))
    return 1 - descent + 0.5 * np.exp((log_lrs + 0.3) / 0.15)


def lightnings_rule(lrs: np.ndarray, losses: np.ndarray) -> float:
    finder = _LRFinder("exponential", lrs[0], lrs[-1], len(lrs))
    finder.results = {"lr": list(lrs), "loss": list(losses)}
    return finder.suggestion()


def test_the_suggestion_is_the_steepest_descent_of_a_clean_curve():
    suggestion = suggest_lr(LRS, u_curve())
    assert suggestion.lr == pytest.approx(STEEPEST, rel=0.1)
    assert "steepest descent" in suggestion.reason


@pytest.mark.parametrize("seed", range(5))
def test_noise_in_the_flat_start_does_not_move_the_suggestion(seed):
    rng = np.random.default_rng(seed)
    losses = u_curve()
    spikes = 0.5 * rng.choice([-1, 1], 25) * (rng.random(25) < 0.1)  # as deep as the whole descent
    losses[:25] += rng.normal(0, 0.1, 25) + spikes
    assert lightnings_rule(LRS, losses) < 1e-6  # the movielens failure: Lightning picks the noise
    suggestion = suggest_lr(LRS, losses)
    assert STEEPEST / 3 < suggestion.lr < STEEPEST * 3


def test_a_sweep_too_coarse_to_show_the_descent_suggests_a_tenth_of_the_lr_at_the_minimum():
    log_lrs = np.linspace(-8, -1, 7)  # over a decade between points: two in the decades before the minimum
    suggestion = suggest_lr(10**log_lrs, u_curve(log_lrs))
    assert suggestion.lr == pytest.approx(1e-1 / 10)
    assert "a tenth" in suggestion.reason


@pytest.mark.parametrize(
    ("losses", "reason"),
    [
        (np.ones(100), "never falls"),
        (1 + np.random.default_rng(0).normal(0, 0.02, 100), "never falls"),
        (np.exp(LOG_LRS / 4 + 2), "never falls below its start"),
        (1 + np.exp(LOG_LRS + 8) + np.random.default_rng(0).normal(0, 0.01, 100), "never falls below its start"),
        (1 - 0.5 * (1 - np.exp(-(LOG_LRS + 8) / 0.5)) + np.exp(LOG_LRS + 1), "very start of the sweep"),
        (np.full(100, np.nan), "only 0 finite losses"),
    ],
    ids=["flat", "flat-noisy", "rises", "diverges", "falls-from-the-first-point", "no-losses"],
)
def test_no_suggestion_from_a_curve_that_does_not_show_one(losses, reason):
    suggestion = suggest_lr(LRS, losses)
    assert suggestion.lr is None
    assert reason in suggestion.reason


def test_undo_warmup_bias_gives_the_debiased_moving_average():
    beta, raw = 0.98, np.random.default_rng(0).uniform(1, 2, 30)
    averages = np.array([(1 - beta) * beta ** np.arange(k, -1, -1) @ raw[: k + 1] for k in range(30)])
    lightnings = averages / (1 - beta ** (np.arange(30) + 2))  # Lightning's step count is one ahead
    debiased = averages / (1 - beta ** (np.arange(30) + 1))
    assert undo_warmup_bias(lightnings) == pytest.approx(debiased)
    assert undo_warmup_bias(lightnings)[0] == pytest.approx(raw[0])


def test_a_sweep_without_a_suggestion_keeps_the_configured_lr_and_warns(tmp_path):
    torch.manual_seed(0)
    recorder, finder = RecordLR(), LRFinder(num_training_steps=30, min_lr=1e-9, max_lr=1e-7)  # too small to train
    trainer = toy_trainer([finder, OneCycle(), recorder], max_epochs=1, default_root_dir=tmp_path)
    model = ToyRegressor(lr=0.1, lr_div=2.0)
    with pytest.warns(UserWarning, match=r"no usable suggestion: the loss never falls.*lr=0\.1.*lr_find\.png"):
        trainer.fit(model, toy_loader(n_batches=30))
    assert finder.suggestion.lr is None
    assert model.lr == 0.1
    assert recorder.lrs[0] == pytest.approx([0.1 / 4 / 25, 0.1 / 2 / 25, 0.1 / 25])
    assert (tmp_path / "lr_find.csv").is_file()
