"""The text classifier stopped mid-epoch resumes with ``ckpt_path=last`` to exactly the uninterrupted run.

The training loader's position (the sortish sampler's epoch and the batches handed out) comes back
from the checkpoint, and no loader draws from torch's global generator (each has one of its own), so
neither the resumed loader nor the BatchNorm recalibration's loader before each validation moves the
dropout masks' generator.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException
from test_text_classifier import SMALL

from datamodules.batching import ResumableLoader
from datamodules.text.classification import SortishSampler, TextClassificationDataModule

# 360 training reviews of the sample in sortish batches of 32: 12 steps an epoch; the five epochs of
# the task's unfreezing stages
CLASSIFIER = [*SMALL, "test=false"]
STEPS_PER_EPOCH = 12
STOP_AT_STEP = 17  # the sixth step of the second epoch (the second stage)


def test_the_classifier_train_loader_resumes_its_sortish_batches_and_keeps_the_global_rng(tmp_path):
    dm = TextClassificationDataModule(batch_size=32, cache_dir=str(tmp_path), n_workers=1)
    dm.prepare_data()
    dm.setup("fit")
    train = dm.train_dataloader()
    assert isinstance(train, ResumableLoader) and isinstance(train.sampler, SortishSampler)
    assert len(train) == STEPS_PER_EPOCH
    epochs = [[index.tolist() for *_, index in train] for _ in range(2)]
    assert epochs[0] != epochs[1]
    train.load_state_dict({"epoch": 1, "batches": 5})
    rng = torch.get_rng_state()
    rest = [index.tolist() for *_, index in train]
    recalibration = [index.tolist() for *_, index in dm.train_dataloader()]
    assert rest == epochs[1][5:] and recalibration == epochs[0]
    assert torch.equal(torch.get_rng_state(), rng)
    assert train.sampler.state_dict() == {"epoch": 2, "batches": 0}
    assert sorted(np.concatenate(epochs[1]).tolist()) == list(range(len(dm.docs["train"])))


def test_text_classifier_stopped_mid_epoch_resumes_to_the_uninterrupted_result(run_task, tmp_path):
    full = run_task("imdb_clas", *CLASSIFIER, run_dir=tmp_path / "full")

    stopped_dir = tmp_path / "stopped"
    stop = [
        "+callbacks.stop._target_=toy.StopBeforeStep",
        f"+callbacks.stop.step={STOP_AT_STEP}",
    ]
    with pytest.raises(SIGTERMException):
        run_task("imdb_clas", *CLASSIFIER, *stop, run_dir=stopped_dir)
    checkpoint = torch.load(stopped_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert (checkpoint["epoch"], checkpoint["global_step"]) == (1, STOP_AT_STEP)
    (position,) = checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    assert position == {"epoch": 1, "batches": STOP_AT_STEP - STEPS_PER_EPOCH}

    resumed = run_task("imdb_clas", *CLASSIFIER, "ckpt_path=last", run_dir=stopped_dir)
    validation = {k: v for k, v in full.items() if k.startswith("val/")}
    assert validation and {k: v for k, v in resumed.items() if k.startswith("val/")} == validation
    weights = [
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        for d in (tmp_path / "full", stopped_dir)
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
