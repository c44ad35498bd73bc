"""Style transfer (workshop activity 5.01): Gram matrices, the VGG-19 cut and its weight file, reading the
two images, bad inputs, and the image's loss falling on the sample with random weights."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
import torchvision
from PIL import Image

from datamodules import DataError, StyleImagesDataModule
from lightning_models import StyleTransfer
from lightning_models.callbacks.pyplot import pyplot
from lightning_models.checkpoints import CheckpointError
from lightning_models.style_transfer import gram, vgg19_features

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
# the indices of VGG-19's convolutions up to conv5_1 in torchvision's vgg19().features
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28)
pytestmark = pytest.mark.filterwarnings("ignore:model.weights_path is not set")


def write_image(path, width: int, height: int, colour=(255, 0, 0)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), colour).save(path)
    return path


def truncated_png() -> bytes:
    """The first half of a PNG of noise: its header reads, its pixels do not."""
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def test_gram_matrix_is_channels_by_positions_times_its_transpose():
    features = torch.tensor([[1.0, 2.0], [3.0, 4.0], [0.0, -1.0]]).view(1, 3, 1, 2)  # d=3 channels, h*w=2
    assert torch.equal(gram(features), torch.tensor([[[5.0, 11.0, -2.0], [11.0, 25.0, -4.0], [-2.0, -4.0, 1.0]]]))


def test_a_torchvision_weight_file_gives_torchvisions_activations(tmp_path):
    vgg = torchvision.models.vgg19().eval()
    # torchvision's keys, the classifier's too (its tensors cut to two rows: they are not read)
    state = {name: t[:2] if name.startswith("classifier.") else t for name, t in vgg.state_dict().items()}
    torch.save(state, tmp_path / "vgg19.pth")
    features = vgg19_features(tmp_path / "vgg19.pth")
    image = torch.randn(1, 3, 32, 32)
    ours = features(image, ["conv1_1", "conv4_2", "conv5_1"])
    with torch.no_grad():
        assert torch.equal(ours["conv1_1"], vgg.features[:2](image))  # the ReLU after each convolution
        assert torch.equal(ours["conv4_2"], vgg.features[:23](image))
        assert torch.equal(ours["conv5_1"], vgg.features[:30](image))
    assert not list(features.parameters()) and not features.state_dict()  # fixed, and not in checkpoints


@pytest.mark.parametrize(
    "state, message",
    [
        pytest.param({"conv.weight": torch.zeros(1)}, "missing features.0.weight", id="wrong keys"),
        pytest.param(
            {f"features.{i}.{k}": torch.zeros(2) for i in VGG19_CONVS for k in ("weight", "bias")},
            r"features.0.weight is \(2,\), expected \(64, 3, 3, 3\)",
            id="wrong shapes",
        ),
        pytest.param(b"not a torch file", "is not a readable VGG-19 weights file", id="not a weights file"),
    ],
)
def test_a_weight_file_that_is_not_vgg19s_is_named(tmp_path, state, message):
    path = tmp_path / "weights.pth"
    path.write_bytes(state) if isinstance(state, bytes) else torch.save(state, path)
    with pytest.raises(CheckpointError, match=message) as error:
        vgg19_features(path)
    assert str(path) in str(error.value)
    with pytest.raises(CheckpointError, match="no such file; give torchvision's VGG-19 weights"):
        vgg19_features(tmp_path / "missing.pth")


def test_without_weights_the_network_is_random_the_same_each_time_and_says_so():
    with pytest.warns(UserWarning, match="random weights, so the loss falls but the picture will not take on"):
        first = vgg19_features()
    image = torch.randn(1, 3, 16, 16)
    assert torch.equal(first(image, ["conv5_1"])["conv5_1"], vgg19_features()(image, ["conv5_1"])["conv5_1"])
    with pytest.raises(ValueError, match="VGG-19 has no layer conv6_1: choose from conv1_1, conv1_2"):
        first(image, ["conv6_1"])


def test_content_is_scaled_down_never_up_and_style_is_fit_to_it_both_normalized(tmp_path):
    content = write_image(tmp_path / "photo.jpg", 64, 48, colour=(255, 0, 0))
    style = write_image(tmp_path / "painting.png", 20, 100, colour=(0, 0, 255))
    small = StyleImagesDataModule(str(content), str(style), image_size=24, cache_dir=str(tmp_path / "cache"))
    assert small.describe()["image_shape"] == [3, 24, 32]
    large = StyleImagesDataModule(str(content), str(style), image_size=512, cache_dir=str(tmp_path / "cache"))
    assert large.describe()["image_shape"] == [3, 48, 64]
    pixels, paint = large.load().tensors
    assert paint.shape == (1, 3, 48, 64)
    red, blue = torch.tensor([1.0, 0, 0]).view(3, 1, 1), torch.tensor([0, 0, 1.0]).view(3, 1, 1)
    assert torch.allclose(pixels[0], ((red - IMAGENET_MEAN) / IMAGENET_STD).expand(3, 48, 64), atol=0.02)
    assert torch.allclose(paint[0], ((blue - IMAGENET_MEAN) / IMAGENET_STD).expand(3, 48, 64), atol=0.02)
    batches = list(StyleImagesDataModule(str(content), str(style), steps_per_epoch=3).train_dataloader())
    assert len(batches) == 3 and all(torch.equal(b[0], pixels) for b in batches)


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param(None, r"content image \(data.content_path\) not found: .*missing.png", id="missing image"),
        pytest.param(b"GIF89a but not really", "cannot be read as an image", id="not an image"),
        pytest.param(truncated_png(), r"cannot be read as an image \(image file is truncated", id="truncated png"),
        pytest.param((10, 40), "is 10 x 40 pixels; VGG-19 needs at least 16 a side", id="too small"),
    ],
)
def test_a_bad_content_image_is_named_with_what_to_do(tmp_path, content, message):
    path = tmp_path / "missing.png"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        write_image(path, *content)
    style = write_image(tmp_path / "style.png", 32, 32)
    with pytest.raises(DataError, match=message) as error:
        StyleImagesDataModule(str(path), str(style), cache_dir=str(tmp_path)).setup("fit")
    assert str(path) in str(error.value)


def test_a_bad_style_image_is_named_and_batch_size_must_be_one(tmp_path):
    content = write_image(tmp_path / "content.png", 32, 32)
    (tmp_path / "style.jpg").write_text("a text file")
    with pytest.raises(DataError, match=r"style.jpg cannot be read as an image .*as the style image"):
        StyleImagesDataModule(str(content), str(tmp_path / "style.jpg"), cache_dir=str(tmp_path)).setup("fit")
    with pytest.raises(ValueError, match="batch_size=16: style transfer optimizes one image"):
        StyleImagesDataModule(batch_size=16)


def step_zero_loss(cache_dir) -> float:
    """The loss of the image before any step (the content image itself), with the run's random network."""
    dm = StyleImagesDataModule(cache_dir=str(cache_dir))
    model = StyleTransfer(**dm.describe())
    content, style = dm.load().tensors
    model.start_from(content)
    with torch.no_grad():
        return float(sum(model.losses(content, style)))


def test_the_loss_falls_on_the_sample_and_the_run_writes_the_image_and_its_loss_curve(run_task, tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    steps = ["trainer.max_epochs=2", "data.steps_per_epoch=10", "model.lr=3e-2"]
    metrics = run_task("style_transfer", *steps, run_dir=run_dir)
    assert metrics["val/loss"] < 0.5 * step_zero_loss(cache_dir)
    assert metrics["val/loss"] == pytest.approx(metrics["val/content_loss"] + metrics["val/style_loss"])
    assert Image.open(run_dir / "result.png").size == (40, 32)  # the sample's content image
    assert list(pd.read_csv(run_dir / "loss_curve.csv").step) == list(range(1, 21))
    assert (run_dir / "loss_curve.png").is_file() == (pyplot() is not None)


def test_predict_writes_the_checkpoints_image(run_task, tmp_path):
    run_task("style_transfer", "trainer.max_epochs=1", "data.steps_per_epoch=2", run_dir=tmp_path / "fit")
    checkpoint = tmp_path / "fit" / "checkpoints" / "last.ckpt"
    run_task("style_transfer", "train=false", "predict=true", f"ckpt_path={checkpoint}", run_dir=tmp_path / "predict")
    exported, predicted = (Image.open(tmp_path / d / "result.png") for d in ("fit", "predict"))
    assert np.array_equal(np.asarray(exported), np.asarray(predicted))
    image = torch.load(checkpoint, weights_only=True)["state_dict"]["image"]
    assert image.shape == (1, 3, 32, 40)


def test_modules_work_in_a_plain_lightning_project(tmp_path):
    dm = StyleImagesDataModule(steps_per_epoch=5, cache_dir=str(tmp_path))
    model = StyleTransfer(**dm.describe(), lr=3e-2, optimizer="adam")
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    content, _ = dm.load().tensors
    assert not torch.equal(model.image.detach(), content)  # started from the content, then moved
    assert model.export(tmp_path).name == "result.png" and Image.open(tmp_path / "result.png").size == (40, 32)
