"""tta=true: image classifiers test and predict on each image and its mirror image, averaged."""

from __future__ import annotations

import pytest
import torch

from fastlightning.config import ConfigError
from lightning_models.vision.modules import CNNModule


def test_tta_averages_the_probabilities_of_an_image_and_its_mirror():
    torch.manual_seed(0)
    model = CNNModule(n_classes=3, channels=1, image_size=8, widths=(4, 8), depth=1, tta=True).eval()
    images = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        mean = (model(images).exp() + model(images.flip(-1)).exp()) / 2
        predicted = model.predict_step((images,), 0)
        torch.testing.assert_close(predicted.exp(), mean)
        assert not torch.allclose(predicted, model(images), atol=1e-4)  # the mirror images do change it
        model.tta = False
        torch.testing.assert_close(model.predict_step((images,), 0), model(images))


def test_tta_runs_on_an_image_task_and_is_refused_elsewhere(run_task, tmp_path):
    plain = run_task("mnist_logreg", "trainer.max_epochs=1", run_dir=tmp_path / "plain")
    tested = run_task("mnist_logreg", "trainer.max_epochs=1", "tta=true", run_dir=tmp_path / "tta")
    assert tested["val/acc"] == pytest.approx(plain["val/acc"])  # validation is untouched: the same training
    assert tested["test/loss"] != pytest.approx(plain["test/loss"])  # the test stage saw the mirror images
    assert tested["test/acc"] > 0.5
    with pytest.raises(ConfigError, match="tta=true averages the predictions .* is not an image classifier"):
        run_task("movielens", "tta=true", run_dir=tmp_path / "ratings")
