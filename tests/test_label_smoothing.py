"""loss=label_smoothing: every classifier trains on smoothed targets; other tasks refuse it by name."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fastlightning.config import ConfigError, check_arguments
from lightning_models.losses import check_smoothing, smoothed_bce, smoothed_nll
from tests.conftest import compose_config

CLASSIFIERS = ["mnist_cnn", "cifar10_workshop", "images", "imdb_clas", "sentences", "tabular_clas", "credit_default"]


def test_smoothed_losses_are_the_smoothed_targets_cross_entropy():
    logits = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 3, 1, 0])
    expected = F.cross_entropy(logits, target, label_smoothing=0.1)
    torch.testing.assert_close(smoothed_nll(logits.log_softmax(1), target, 0.1), expected)
    by_hand = -(logits.log_softmax(1) * (F.one_hot(target, 4) * 0.9 + 0.1 / 4)).sum(1).mean()
    torch.testing.assert_close(expected, by_hand)
    torch.testing.assert_close(smoothed_nll(logits.log_softmax(1), target), F.nll_loss(logits.log_softmax(1), target))
    binary, labels = logits[:, 0], torch.tensor([0.0, 1, 1, 0, 1, 0])
    # label 1 -> 0.95, label 0 -> 0.05
    moved = torch.tensor([0.05, 0.95, 0.95, 0.05, 0.95, 0.05])
    torch.testing.assert_close(smoothed_bce(binary, labels, 0.1), F.binary_cross_entropy_with_logits(binary, moved))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\), got 1.0"):
        check_smoothing(1.0)


@pytest.mark.parametrize("task", CLASSIFIERS)
def test_every_classifier_takes_label_smoothing(task, tmp_path, cache_dir):
    cfg = compose_config(task, tmp_path, cache_dir, ["loss=label_smoothing"])
    assert cfg.model.label_smoothing == 0.1
    check_arguments(cfg)


def test_a_regression_refuses_label_smoothing_by_name(tmp_path, cache_dir):
    cfg = compose_config("rossmann", tmp_path, cache_dir, ["loss=label_smoothing"])
    with pytest.raises(ConfigError, match="label_smoothing"):
        check_arguments(cfg)


def test_a_smoothed_classifier_still_learns(run_task, tmp_path):
    metrics = run_task("mnist_logreg", "loss=label_smoothing", "trainer.max_epochs=2", run_dir=tmp_path / "run")
    assert metrics["test/acc"] > 0.7  # chance: 0.1
