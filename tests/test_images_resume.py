"""The images task stopped mid-epoch resumes with ``ckpt_path=last`` to exactly the uninterrupted run.

The image-folder loader's position comes back from the checkpoint and every training image's crop
and flip are a function of (seed, epoch, row), so the resumed run sees the same pixels in the same
order; the weights at the end are equal, not just close.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from pytorch_lightning.utilities.exceptions import SIGTERMException
from toy import val_metrics

from datamodules import ImageFolderDataModule
from datamodules.batching import ShardedBatchSampler, TensorLoader

# 300 training images of the sample in batches of 32: 9 steps an epoch, two epochs (head, then late body).
# No dropout: its masks come from torch's global generator, which a checkpoint does not hold.
IMAGES = ["model.arch=resnet18", "data.image_size=16", "callbacks.schedule.n_cycles=2"]
QUICK = ["test=false", "predict=false"]
STEPS_PER_EPOCH = 300 // 32


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random resnet18 state dict saved as torchvision saves its weights (the body starts frozen)."""
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return str(path)


def test_image_folder_loaders_are_resumable_sharded_batch_samplers(tmp_path):
    dm = ImageFolderDataModule(cache_dir=str(tmp_path), image_size=16)
    dm.prepare_data()
    dm.setup("fit")
    train = dm.train_dataloader()
    assert isinstance(train, TensorLoader) and isinstance(train.sampler, ShardedBatchSampler)
    assert len(train) == STEPS_PER_EPOCH  # the last partial batch is dropped
    assert len(dm.val_dataloader()) == -(-60 // 32)  # nothing dropped from evaluation
    first = [rows.tolist() for _, _, rows in train]
    train.load_state_dict({"epoch": 0, "batches": 3})
    again = [rows.tolist() for _, _, rows in train]
    assert again == first[3:]


@pytest.mark.parametrize("stop", [4, 13], ids=["in the first epoch", "in the second epoch"])
def test_images_task_stopped_mid_epoch_resumes_to_the_uninterrupted_result(run_task, tmp_path, resnet18_weights, stop):
    args = ["images", *IMAGES, f"model.weights_path={resnet18_weights}", *QUICK]
    full = run_task(*args, run_dir=tmp_path / "full")

    stopped_dir = tmp_path / "stopped"
    stopper = ["+callbacks.stop._target_=toy.StopBeforeStep", f"+callbacks.stop.step={stop}"]
    with pytest.raises(SIGTERMException):
        run_task(*args, *stopper, run_dir=stopped_dir)
    checkpoint = torch.load(stopped_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (stop // STEPS_PER_EPOCH, stop)

    resumed = run_task(*args, "ckpt_path=last", run_dir=stopped_dir)
    assert resumed == full and val_metrics(full) != {}  # the smoothed train/loss too
    weights = {
        name: torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        for name, d in (("full", tmp_path / "full"), ("resumed", stopped_dir))
    }
    assert weights["resumed"].keys() == weights["full"].keys()
    for name, value in weights["full"].items():
        assert torch.equal(weights["resumed"][name], value), name
