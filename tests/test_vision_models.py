"""Vision models: logistic regression by hand, the backbone head, freezing, precomputed features, learning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from datamodules import MNISTDataModule
from fastlightning import load_run
from lightning_models import BackboneModule, HandLogisticRegression, LogisticRegression
from lightning_models.checkpoints import CheckpointError
from lightning_models.vision import WorkshopCNN, classifier_head


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory) -> str:
    """A random resnet18 state dict saved as torchvision saves its weights."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return str(path)


def test_hand_written_logistic_regression_equals_the_nn_linear_one():
    torch.manual_seed(0)
    linear, hand = LogisticRegression(12, 5), HandLogisticRegression(12, 5)
    with torch.no_grad():
        hand.weight.copy_(linear.linear.weight.T)
        hand.bias.copy_(linear.linear.bias)
    x, y = torch.randn(7, 3, 2, 2) * 4, torch.randint(0, 5, (7,))
    torch.testing.assert_close(hand(x), linear(x))
    assert hand(x).exp().sum(1).tolist() == pytest.approx([1.0] * 7)
    F.nll_loss(hand(x), y).backward()
    F.nll_loss(linear(x), y).backward()
    torch.testing.assert_close(hand.weight.grad, linear.linear.weight.grad.T)
    torch.testing.assert_close(hand.bias.grad, linear.linear.bias.grad)


def layer_summary(head: nn.Sequential) -> list:
    summary = []
    for layer in head:
        if isinstance(layer, nn.BatchNorm1d):
            summary.append(("bn", layer.num_features))
        elif isinstance(layer, nn.Dropout):
            summary.append(("drop", layer.p))
        elif isinstance(layer, nn.Linear):
            summary.append(("linear", layer.in_features, layer.out_features))
        else:
            summary.append(type(layer).__name__)
    return summary


@pytest.mark.parametrize(
    ("xtra_fc", "ps", "expected"),
    [
        (
            [512],
            0.5,
            [("bn", 1024), ("drop", 0.25), ("linear", 1024, 512), "ReLU"]
            + [("bn", 512), ("drop", 0.5), ("linear", 512, 7), "LogSoftmax"],
        ),
        ([], 0.5, [("bn", 1024), ("drop", 0.5), ("linear", 1024, 7), "LogSoftmax"]),
        (
            [256, 128],
            [0.1, 0.0, 0.3],
            [("bn", 1024), ("drop", 0.1), ("linear", 1024, 256), "ReLU", ("bn", 256), ("linear", 256, 128), "ReLU"]
            + [("bn", 128), ("drop", 0.3), ("linear", 128, 7), "LogSoftmax"],
        ),
    ],
)
def test_head_layers_follow_xtra_fc_and_ps(xtra_fc, ps, expected):
    assert layer_summary(classifier_head(1024, 7, xtra_fc, ps)) == expected


def test_backbone_head_sits_on_concat_pooled_body_features():
    model = BackboneModule(7, image_size=32, arch="resnet18", xtra_fc=[64], ps=0.2)
    assert [type(m).__name__ for m in model.net.body][-2:] == ["Sequential", "Sequential"]  # layer3, layer4
    assert layer_summary(model.net.head)[:3] == [("bn", 2 * 512), ("drop", 0.1), ("linear", 1024, 64)]
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 7) and out.exp().sum(1).tolist() == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("arch", ["mobilenet_v3_small", "squeezenet1_1", "shufflenet_v2_x0_5"])
def test_other_torchvision_backbones_are_cut_before_their_pooling(arch):
    model = BackboneModule(4, channels=1, image_size=64, arch=arch)
    assert len(model.layer_groups()) == 3
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 4)


BAD_MODEL_ARGUMENTS = {
    "unknown backbone": (
        {"arch": "resnet19"},
        ValueError,
        r"unknown backbone 'resnet19': use a torchvision classification model such as resnet18",
    ),
    "weights of another backbone": (
        {"arch": "resnet34", "weights_path": "WEIGHTS"},
        ValueError,
        r"resnet18.pth does not hold the weights of torchvision's resnet34 \(\d+ tensors missing, \d+ of another shape",
    ),
    "missing weights file": (
        {"weights_path": "nothing.pth"},
        CheckpointError,
        r"weights_path .*nothing.pth: no such file; give the path of torchvision's resnet18 weights",
    ),
    "ps of the wrong length": (
        {"xtra_fc": [64], "ps": [0.1, 0.2, 0.3]},
        ValueError,
        r"ps gives 3 dropout probabilities for 2 linear layers \(xtra_fc plus the output layer\)",
    ),
    "four-channel images": ({"channels": 4}, ValueError, r"torchvision backbones take RGB .* got 4 channels"),
    "images too small for the backbone": (
        {"arch": "inception_v3", "image_size": 32},
        ValueError,
        r"inception_v3 cut before its pooling does not run on 32x32 images",
    ),
}


@pytest.mark.parametrize("case", list(BAD_MODEL_ARGUMENTS))
def test_bad_backbone_arguments_are_reported(case, resnet18_weights):
    arguments, error, message = BAD_MODEL_ARGUMENTS[case]
    arguments = {"arch": "resnet18", "image_size": 32, **arguments}
    if arguments.get("weights_path") == "WEIGHTS":
        arguments["weights_path"] = resnet18_weights
    with pytest.raises(error, match=message):
        BackboneModule(3, **arguments)


def test_pretrained_body_starts_frozen_and_stays_unchanged_while_the_head_learns(resnet18_weights):
    torch.manual_seed(0)
    model = BackboneModule(3, image_size=32, arch="resnet18", weights_path=resnet18_weights, lr=1e-2, lr_div=10)
    saved = torch.load(resnet18_weights, weights_only=True)
    assert torch.equal(model.net.body.conv1.weight, saved["conv1.weight"])
    assert torch.equal(model.net.body.layer4[1].bn2.running_var, saved["layer4.1.bn2.running_var"])
    optimizer = model.configure_optimizers()
    assert sorted({g["lr"] for g in optimizer.param_groups}) == pytest.approx([1e-4, 1e-3, 1e-2])
    model.train()
    body_norms = [m for m in model.net.body.modules() if isinstance(m, nn.BatchNorm2d)]
    assert not any(m.training for m in body_norms) and model.net.head.training
    body_before = {k: v.clone() for k, v in model.net.body.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.net.head.state_dict().items()}

    def step() -> None:
        optimizer.zero_grad()
        F.nll_loss(model(torch.randn(8, 3, 32, 32)), torch.randint(0, 3, (8,))).backward()
        optimizer.step()

    step()
    assert all(torch.equal(v, body_before[k]) for k, v in model.net.body.state_dict().items())
    assert not torch.equal(model.net.head[2].weight, head_before["2.weight"])
    model.unfreeze()
    assert all(m.training for m in body_norms)
    step()
    assert not torch.equal(model.net.body.conv1.weight, body_before["conv1.weight"])


def fit_head(precompute: bool, weights: str) -> tuple[BackboneModule, int, dict]:
    """Two epochs of the head on a frozen body; returns the model, rows the body saw, and the metrics."""
    pl.seed_everything(0)
    images, labels = torch.randn(16, 3, 32, 32), torch.randint(0, 3, (16,))
    rows = TensorDataset(images, labels, torch.arange(16))
    model = BackboneModule(3, image_size=32, arch="resnet18", weights_path=weights, precompute=precompute, xtra_fc=[16])
    seen = []
    model.net.body.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(
        model,
        DataLoader(rows, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)),
        DataLoader(rows, batch_size=8),
    )
    return model, sum(seen), dict(trainer.callback_metrics)


def test_precomputed_features_train_the_head_exactly_as_the_full_forward(resnet18_weights):
    cached, cached_rows, cached_metrics = fit_head(True, resnet18_weights)
    full, full_rows, full_metrics = fit_head(False, resnet18_weights)
    assert cached_rows == 16 + 16  # each training and validation image once
    assert full_rows == 2 * (16 + 16)
    for key, value in full.net.head.state_dict().items():
        torch.testing.assert_close(cached.net.head.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    assert cached_metrics["val/loss"].item() == pytest.approx(full_metrics["val/loss"].item(), rel=1e-4)


def test_logistic_regression_learns_the_digit_sample_and_writes_predictions(run_task, tmp_path, cache_dir):
    metrics = run_task("mnist_logreg", "trainer.max_epochs=2", "predict=true", run_dir=tmp_path / "linear")
    assert metrics["test/acc"] > 0.7  # chance: 0.1
    predictions = pd.read_csv(tmp_path / "linear" / "predictions.csv")
    assert list(predictions.columns) == ["item", "label", "prediction", "probability"] + [
        f"prob_{i}" for i in range(10)
    ]
    assert len(predictions) == 600
    assert (predictions.label == predictions.prediction).mean() == pytest.approx(metrics["test/acc"], abs=1e-6)
    stats = json.loads((tmp_path / "linear" / "preprocessing.json").read_text())
    assert stats["classes"] == [str(i) for i in range(10)] and len(stats["mean"]) == 1
    digits = MNISTDataModule(cache_dir=str(cache_dir))
    digits.setup("fit")
    images = [Image.fromarray(digits.splits["test"][0][i, 0].numpy()) for i in range(20)]
    again = load_run(tmp_path / "linear").predict(images)
    np.testing.assert_allclose(again["probability"], predictions["probability"][:20], rtol=1e-5)
    hand = run_task("mnist_logreg", "trainer.max_epochs=2", "model.hand_written=true", run_dir=tmp_path / "hand")
    assert hand["test/acc"] > 0.7


def test_cnn_learns_the_digit_sample(run_task):
    metrics = run_task("mnist_cnn", "trainer.max_epochs=2", "data.batch_size=32", "+trainer.limit_train_batches=30")
    assert metrics["test/acc"] > 0.8


def test_cnn_learns_the_cifar_format_sample(run_task):
    metrics = run_task("cifar10_cnn", "trainer.max_epochs=2", "data.batch_size=32", "+trainer.limit_train_batches=20")
    assert metrics["test/acc"] > 0.25


@pytest.mark.parametrize("batch_norm, n_params", [(False, 74450), (True, 74790)])
def test_the_workshop_cnn_has_the_workshops_layers(batch_norm, n_params):
    """conv 3->10->20->40 (280 + 1820 + 7240 weights), 640 -> 100 -> 10 (64100 + 1010); BatchNorm adds 2 per channel."""
    net = WorkshopCNN(channels=3, n_classes=10, image_size=32, batch_norm=batch_norm)
    assert sum(p.numel() for p in net.parameters()) == n_params
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(640, 100), (100, 10)]
    assert [m.p for m in net.modules() if isinstance(m, nn.Dropout)] == [0.2, 0.2]
    out = net.eval()(torch.randn(5, 3, 32, 32))
    assert out.shape == (5, 10) and torch.allclose(out.exp().sum(1), torch.ones(5))
    with pytest.raises(ValueError, match="3 max-pools halve 4-pixel images to nothing"):
        WorkshopCNN(channels=3, n_classes=10, image_size=4)


def test_the_workshop_cnn_with_its_augmentation_and_batch_norm_learns_the_cifar_format_sample(run_task):
    metrics = run_task(
        "cifar10_workshop", "trainer.max_epochs=4", "data.augment=[flip,grayscale]", "model.batch_norm=true"
    )
    assert metrics["test/acc"] > 0.3  # chance: 0.1


def test_backbone_head_learns_the_image_folder_sample_on_precomputed_features(run_task, resnet18_weights):
    metrics = run_task(
        "images",
        "model.arch=resnet18",
        f"model.weights_path={resnet18_weights}",
        "model.precompute=true",
        "data.augment=[]",
        "data.image_size=16",
        "~callbacks/finetuning",
        "callbacks.schedule.n_cycles=2",
    )
    assert metrics["test/acc"] > 0.6  # chance: 1/3


def test_images_task_unfreezes_the_body_group_by_group(run_task, resnet18_weights, tmp_path):
    run_task(
        "images",
        "model.arch=resnet18",
        f"model.weights_path={resnet18_weights}",
        "data.image_size=32",
        "callbacks.schedule.n_cycles=2",
        "+trainer.limit_train_batches=2",
        "+callbacks.checkpoint.save_top_k=-1",
        run_dir=tmp_path / "run",
    )
    trained = torch.load(tmp_path / "run" / "checkpoints" / "epoch001.ckpt", weights_only=True)["state_dict"]
    saved = torch.load(resnet18_weights, weights_only=True)
    # epoch 0 trains the head, epoch 1 also the late body (layer3, layer4); the early body stays as loaded
    for name in ("conv1.weight", "layer2.1.conv2.weight", "layer1.0.bn1.running_mean"):
        assert torch.equal(trained[f"net.body.{name}"], saved[name]), name
    for name in ("layer3.0.conv1.weight", "layer4.1.bn2.running_var"):
        assert not torch.equal(trained[f"net.body.{name}"], saved[name]), name


def test_the_hand_written_logistic_regression_starts_as_the_lesson_did():
    """``get_weights(*dims)``: randn(dims) / dims[0] for the weights and for the (random) bias."""
    torch.manual_seed(0)
    net = HandLogisticRegression(784, 10)
    assert net.weight.std().item() == pytest.approx(1 / 784, rel=0.05)
    assert net.bias.std().item() == pytest.approx(1 / 10, rel=0.6) and net.bias.abs().min() > 0
