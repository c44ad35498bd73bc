"""Every task stopped mid-epoch resumes with ``ckpt_path=last`` to exactly the uninterrupted run, dropout
on: the checkpoint holds the random generators of every rank, the loaders their positions.

The image-folder, text-classifier and language-model tasks have their own tests beside their data
(``COVERED_ELSEWHERE``); a test checks that every task is in one list or the other.
"""

from __future__ import annotations

import pytest
import torch
from pytorch_lightning.utilities.exceptions import SIGTERMException

from tests.conftest import TASKS

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
        pytest.param("tabular", [], id="tabular: the generic table"),
        pytest.param("tabular_clas", [], id="tabular: the classifier"),
        pytest.param("credit_default", [], id="tabular: the credit classifier and its test split"),
        pytest.param("somerville", ["data.batch_size=16"], id="tabular: the workshop's single layer"),
        pytest.param("rossmann_lesson", [], id="tabular: the Rossmann lesson's SGDR"),
        pytest.param("movielens", [], id="collab: dot product with biases"),
        pytest.param("movielens_tutorial", [], id="collab: fastai's tutorial recipe, batches of 64"),
        pytest.param("movielens_dot", [], id="collab: plain dot product"),
        pytest.param("movielens_lesson", [], id="collab: the lesson's learner and SGDR"),
        pytest.param("movielens_dot_lesson", [], id="collab: the lesson's dot product, SGD"),
        pytest.param("movielens_bias_lesson", [], id="collab: the lesson's biases, SGD"),
        pytest.param("movielens_nn_lesson", [], id="collab: the lesson's embedding net with dropout"),
        pytest.param("mnist_logreg", [], id="vision: logistic regression"),
        pytest.param("mnist_logreg_lesson", [], id="vision: the lesson's hand-written logistic regression"),
        pytest.param("mnist_cnn", ["data.batch_size=32"], id="vision: the MNIST CNN with dropout"),
        pytest.param("cifar10_workshop", ["data.batch_size=32"], id="vision: the workshop's CNN with dropout"),
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


# tasks whose resume is tested beside their data: the test that covers each
COVERED_ELSEWHERE = {
    "images": "test_images_resume.py",
    "imdb_clas": "test_text_classifier_resume.py",
    "arxiv_clas": "test_text_classifier_resume.py (the same classifier and loader)",
    "sentences_ulmfit": "test_text_classifier_resume.py (the same classifier and loader)",
    "ulmfit_imdb": "test_text_classifier_resume.py and test_interrupt.py (its two stages)",
    "imdb_lm": "test_interrupt.py",
    "imdb_lm_lesson": "test_interrupt.py (the same language model and loader)",
    "ulmfit_lm_lesson": "test_interrupt.py (the same language model and loader)",
    "imdb_clas_lesson": "test_text_classifier_resume.py (the same classifier and loader)",
    "arxiv_lm": "test_interrupt.py (the same language model and loader)",
    "wikitext_lm": "test_interrupt.py (the same language model and loader)",
}


def test_every_task_has_a_resume_test() -> None:
    here = {param.values[0] for param in test_stopped_mid_epoch_resumes_to_the_uninterrupted_run.pytestmark[0].args[1]}
    assert sorted(set(TASKS) - here - set(COVERED_ELSEWHERE)) == []
