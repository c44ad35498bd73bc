"""Moving a trained AWD-LSTM encoder (``encoder.pt`` + its ``vocab.json``) into another model.

When the new model's vocabulary differs from the encoder's, the embedding rows are matched by
token; tokens the encoder never saw start at the mean embedding row, as the lesson moved the
wikitext-103 weights onto the IMDB vocabulary.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from lightning_models.checkpoints import CheckpointError, check_state_dict, read_weights

log = logging.getLogger(__name__)

EMBEDDING_KEY = "embedding.weight"


def read_itos(path: str | Path) -> list[str]:
    """The token list of a ``vocab.json``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"vocabulary not found: {path} (a language-model run writes vocab.json)")
    try:
        itos = json.loads(path.read_text(encoding="utf-8"))["itos"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} is not a vocab.json with an 'itos' list ({e})") from None
    if not isinstance(itos, list) or not all(isinstance(token, str) for token in itos):
        raise CheckpointError(f"{path} is not a vocab.json: its 'itos' must be a list of strings")
    return itos


def remap_embedding(weight: torch.Tensor, old_itos: Sequence[str], new_itos: Sequence[str]) -> torch.Tensor:
    """Rows of ``weight`` (one per ``old_itos`` token) reordered for ``new_itos``; new tokens get the mean row."""
    if weight.size(0) != len(old_itos):
        raise CheckpointError(
            f"the embedding has {weight.size(0)} rows but its vocabulary {len(old_itos)} tokens; "
            f"encoder.pt and vocab.json do not belong together"
        )
    old = {token: i for i, token in enumerate(old_itos)}
    rows = torch.tensor([old.get(token, -1) for token in new_itos])
    known = rows >= 0
    new = weight.mean(0, keepdim=True).repeat(len(new_itos), 1)
    new[known] = weight[rows[known]]
    log.info(f"encoder transfer: {int(known.sum())} of {len(new_itos)} tokens found in the encoder's vocabulary")
    return new


def save_encoder(encoder: nn.Module, path: str | Path) -> Path:
    """``encoder``'s weights only, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        torch.save({k: v.detach().cpu() for k, v in encoder.state_dict().items()}, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_encoder(
    encoder: nn.Module,
    path: str | Path,
    itos: Sequence[str] | None = None,
    encoder_itos: Sequence[str] | None = None,
) -> None:
    """Load ``encoder.pt`` into ``encoder``, remapping the embedding from ``encoder_itos`` to ``itos``.

    Without vocabularies the embedding must match row for row. A weight whose shape differs from
    the model's is a ``CheckpointError`` that names the file and both shapes.
    """
    path = Path(path)
    state = read_weights(path, "encoder weights")
    if not isinstance(state, dict) or EMBEDDING_KEY not in state:
        raise CheckpointError(f"{path} is not an AWD-LSTM encoder.pt (no {EMBEDDING_KEY!r} in it)")
    if itos is not None and encoder_itos is not None and list(itos) != list(encoder_itos):
        state[EMBEDDING_KEY] = remap_embedding(state[EMBEDDING_KEY], encoder_itos, itos)
    own = encoder.state_dict()
    try:
        check_state_dict(state, encoder, str(path))
    except CheckpointError as e:
        only_rows = all(
            value.shape == own[key].shape or (key == EMBEDDING_KEY and value.shape[1:] == own[key].shape[1:])
            for key, value in state.items()
            if key in own
        )
        hint = (
            "the vocabularies differ: give the encoder's vocab.json (model.encoder_vocab_path)"
            if only_rows and own.keys() == state.keys()
            else "build the model with the language model's emb_sz, n_hid and n_layers"
        )
        raise CheckpointError(f"{e}; {hint}") from None
    encoder.load_state_dict(state)


class EncoderTransfer:
    """Mixed into the text modules: ``save_encoder``/``load_encoder`` for their ``self.encoder``.

    The module's own vocabulary is its ``vocab_path`` hparam (given by the data module); the
    encoder's is ``encoder_vocab_path`` or the ``vocab.json`` next to ``encoder.pt``.
    """

    def save_encoder(self, path: str | Path) -> Path:
        return save_encoder(self.encoder, path)

    def load_encoder(self, path: str | Path, encoder_vocab_path: str | Path | None = None) -> None:
        path = Path(path)
        vocab_path = self.hparams.get("vocab_path")
        itos = read_itos(vocab_path) if vocab_path else None
        encoder_vocab = Path(encoder_vocab_path) if encoder_vocab_path else path.with_name("vocab.json")
        encoder_itos = None
        if encoder_vocab_path or encoder_vocab.exists():
            encoder_itos = read_itos(encoder_vocab)
        elif itos is not None:
            raise CheckpointError(
                f"no vocab.json beside {path}: give model.encoder_vocab_path, the vocabulary the encoder "
                f"was trained with, so that its embedding rows can be matched to this model's tokens"
            )
        load_encoder(self.encoder, path, itos, encoder_itos)
        log.info(f"loaded the encoder weights of {path}")

    def load_pretrained_encoder(self) -> None:
        """Load ``encoder_path`` (once), if the module was given one."""
        path = self.hparams.get("encoder_path")
        if path and not getattr(self, "_encoder_loaded", False):
            self.load_encoder(path, self.hparams.get("encoder_vocab_path"))
            self._encoder_loaded = True
