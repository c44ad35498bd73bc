"""Every model family stopped mid-epoch resumes with ``ckpt_path=last`` to exactly the uninterrupted run,
dropout on: the checkpoint holds the random generators of every rank, the loaders their positions.

(The image-folder, text-classifier and language-model tasks have their own tests beside their data.)
"""

from __future__ import annotations

import pytest
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

# two epochs of six steps; the run stops before the third step of the second epoch
SHORT = ["trainer.max_epochs=2", "trainer.limit_train_batches=6", "trainer.limit_val_batches=3", "test=false"]
STOP = ["+callbacks.stop._target_=toy.StopBeforeStep", "+callbacks.stop.step=8"]


@pytest.mark.parametrize(
    "task, overrides",
    [
        pytest.param("rossmann", [], id="tabular: entity embeddings with embedding and hidden dropout"),
        pytest.param("movielens_nn", [], id="collab: the embedding net with dropout"),
        pytest.param("cifar10_cnn", ["data.batch_size=32"], id="vision: CNN with dropout, crops and flips"),
        pytest.param("weekly_sales", [], id="series: the RNN forecaster and its loss curve"),
        pytest.param("char_lm", ["data.batch_size=8"], id="characters: the LSTM's hidden state carried mid-epoch"),
        pytest.param("sentences", ["model.dropout=0.3"], id="sentences: the LSTM classifier with dropout"),
        pytest.param("style_transfer", [], id="style transfer: the image, its start and its Adam state"),
    ],
)
def test_stopped_mid_epoch_resumes_to_the_uninterrupted_run(run_task, tmp_path, task, overrides):
    full = run_task(task, *SHORT, *overrides, run_dir=tmp_path / "full")
    with pytest.raises(SIGTERMException):
        run_task(task, *SHORT, *overrides, *STOP, run_dir=tmp_path / "stopped")
    resumed = run_task(task, *SHORT, *overrides, "ckpt_path=last", run_dir=tmp_path / "stopped")
    assert resumed == full
    weights = [
        torch.load(d / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        for d in (tmp_path / "full", tmp_path / "stopped")
    ]
    assert all(torch.equal(weights[0][name], weights[1][name]) for name in weights[0])
