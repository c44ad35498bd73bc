"""Use a finished run on new inputs: ``load_run(run_dir).predict(inputs)`` -> a DataFrame.

The run directory holds all it takes: ``config.yaml`` (which model), ``checkpoints/last.ckpt`` (its
weights, loaded weights-only) and ``preprocessing.json`` (how to read inputs and what the outputs
mean), so neither the training files nor the cache are needed::

    from fastlightning import load_run

    load_run("logs/movielens/runs/<time>").predict([(1, 31), (1, 1029)])        # userId, movieId
    load_run("logs/rossmann/runs/<time>").predict(feature_rows)                 # a DataFrame
    load_run("logs/mnist_cnn/runs/<time>").predict(["digit.png"])               # paths, bytes, PIL images
    load_run("logs/imdb_clas/runs/<time>").predict(["A wonderful film."])       # strings
    load_run("logs/char_lm/runs/<time>").predict(["Alice was "], n_words=40)    # prompts, generated
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytorch_lightning as pl
import torch
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from datamodules.preprocessing import PREPROCESSING_FILE, InputError, Preprocessing, read_preprocessing
from datamodules.preprocessing.text import PromptPreprocessing
from lightning_models.checkpoints import CheckpointError, read_weights


@dataclass
class Predictor:
    """A trained model with what it needs to read raw inputs; ``predict`` gives one table row per input."""

    model: pl.LightningModule
    preprocessing: Preprocessing
    config: DictConfig

    def predict(self, inputs: Any, batch_size: int = 256) -> pd.DataFrame:
        """The task's natural inputs (rows, id pairs, strings, images) -> predictions (and class probabilities)."""
        return self.preprocessing.predict(self.step, inputs, batch_size)

    @torch.inference_mode()
    def step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> Any:
        """The model's ``predict_step`` on one batch, on the model's device, in eval mode."""
        return self.model.predict_step(tuple(t.to(self.model.device) for t in batch), batch_idx)


@dataclass
class Generator(Predictor):
    """A language model's predictor: each prompt continued (see ``lightning_models.text.generate``)."""

    preprocessing: PromptPreprocessing

    def predict(
        self,
        inputs: Any,
        n_words: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        greedy: bool = False,
        seed: int | None = 0,
        stop: str | None = None,
    ) -> pd.DataFrame:
        """Per prompt: ``text``, the prompt with ``n_words`` tokens generated (or up to ``stop``), readable,
        and ``tokens``, the same as the model's tokens separated by spaces."""
        from lightning_models.text import generate

        prompts = self.preprocessing.rows(inputs)
        texts, token_lists = [], []
        for prompt in prompts:
            try:
                tokens = generate(
                    self.model, self.preprocessing.itos, self.preprocessing.tokens(prompt),
                    n_words=n_words, temperature=temperature, top_k=top_k, greedy=greedy, seed=seed, stop=stop,
                )  # fmt: skip
            except ValueError as e:
                raise InputError(f"prompt {prompt!r}: {e}") from None
            texts.append(self.preprocessing.text(tokens))
            token_lists.append(" ".join(tokens))
        return pd.DataFrame({"prompt": prompts, "text": texts, "tokens": token_lists})


def load_run(run_dir: str | Path, checkpoint: str | Path | None = None, device: str = "cpu") -> Predictor:
    """The model of the run in ``run_dir`` (``checkpoint``, default ``checkpoints/last.ckpt``: the weights the
    run's own predictions were made with), ready to predict; a ``Generator`` for a language model."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise CheckpointError(
            f"{run_dir} is not a run directory: it has no config.yaml (give the folder train.py printed)"
        )
    config = OmegaConf.load(config_path)
    target = OmegaConf.select(config, "model._target_")
    if not isinstance(target, str):
        raise CheckpointError(f"{config_path} names no model (model._target_)")
    if not (run_dir / PREPROCESSING_FILE).is_file():
        raise InputError(
            f"{run_dir} has no {PREPROCESSING_FILE}: a {config.get('task_name', 'task')} run leaves no model for new "
            f"inputs (style_transfer's result is its result.png), or it was trained before runs kept one: train again"
        )
    preprocessing = read_preprocessing(run_dir / PREPROCESSING_FILE)
    path = Path(checkpoint) if checkpoint is not None else run_dir / "checkpoints" / "last.ckpt"
    read_weights(path)
    try:
        model = get_class(target).load_from_checkpoint(path, map_location=device, weights_only=True)
    except (KeyError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path} is not a checkpoint of {target} (the model in {config_path}): {e}") from None
    model.eval()
    predictor = Generator if isinstance(preprocessing, PromptPreprocessing) else Predictor
    return predictor(model, preprocessing, config)
