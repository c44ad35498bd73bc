"""callbacks=mixup: image and tabular classifiers train on mixed rows and mixed targets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lightning_models.mixup import MixPlan
from lightning_models.vision.modules import LogisticRegressionModule


def test_mixed_targets_sum_to_one_and_the_loss_is_the_mixed_targets_cross_entropy():
    plan = MixPlan(0.7, torch.tensor([2, 0, 1, 3]))
    y = torch.tensor([0, 1, 2, 2])
    targets = plan.targets(y, 3)
    torch.testing.assert_close(targets.sum(1), torch.ones(4))
    torch.testing.assert_close(targets[0], torch.tensor([0.7, 0.0, 0.3]))  # row 0 (label 0) with row 2 (label 2)
    torch.testing.assert_close(targets[3], torch.tensor([0.0, 0.0, 1.0]))  # row 3 with itself
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(plan.loss(F.cross_entropy, logits, y), F.cross_entropy(logits, targets))
    x = torch.arange(8.0).view(4, 2)
    torch.testing.assert_close(plan.mix(x)[0], 0.7 * x[0] + 0.3 * x[2])
    torch.manual_seed(0)
    drawn = [MixPlan.draw(16, 0.4, torch.device("cpu")) for _ in range(50)]
    assert all(0.5 <= p.lam <= 1 for p in drawn) and sorted(drawn[0].perm.tolist()) == list(range(16))


def test_an_image_model_trains_on_the_mixed_images():
    torch.manual_seed(0)
    model = LogisticRegressionModule(n_classes=3, channels=1, image_size=4)
    images, labels = torch.randn(6, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    model.mix_plan = plan = MixPlan(0.6, torch.tensor([5, 4, 3, 2, 1, 0]))
    mixed = model(0.6 * images + 0.4 * images[plan.perm])
    expected = 0.6 * F.nll_loss(mixed, labels) + 0.4 * F.nll_loss(mixed, labels[plan.perm])
    torch.testing.assert_close(model.train_loss((images, labels)), expected)
    model.mix_plan = None
    torch.testing.assert_close(model.train_loss((images, labels)), F.nll_loss(model(images), labels))


@pytest.mark.parametrize("task", ["tabular_clas", "mnist_logreg"])
def test_mixup_runs_learn_and_a_regression_refuses_it(run_task, tmp_path, task):
    metrics = run_task(task, "callbacks=mixup", "trainer.max_epochs=2", "test=false", run_dir=tmp_path / "run")
    assert metrics["val/acc"] > {"tabular_clas": 0.6, "mnist_logreg": 0.5}[task]  # chance: 1/3 and 1/10
    if task == "tabular_clas":
        with pytest.raises(ValueError, match="TabularModule does not train on mixed rows"):
            run_task("tabular", "callbacks=mixup", "trainer.max_epochs=1", run_dir=tmp_path / "regression")
