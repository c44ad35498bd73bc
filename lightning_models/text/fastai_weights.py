"""fastai's published AWD-LSTM language model (WikiText-103) as the start of ours.

What users download:

- fastai v1/v2: https://s3.amazonaws.com/fast-ai-modelzoo/wt103-fwd.tgz unpacks to the weights,
  ``lstm_fwd.pth`` (older copies of the same model: ``lstm_wt103.pth``, ``fwd_wt103.pth``), and the
  vocabulary ``itos_wt103.pkl``. Its sizes are emb_sz 400, n_hid 1152, n_layers 3.
- fastai 0.7 (the 2018 course): ``fwd_wt103.h5`` (a torch-saved state dict despite the name) with
  ``itos_wt103.pkl``. Its sizes are emb_sz 400, n_hid 1150, n_layers 3.
- A fastai ``learn.save_encoder`` file (the same keys without the leading ``0.``) loads as well.

The weights file is a state dict, or ``{'model': state_dict, 'opt': ...}`` as a fastai Learner saves
it; it is read with ``weights_only=True``. The vocabulary is a pickled list of strings, read by an
unpickler that builds nothing else, so a tampered file cannot run code. The embedding (and the
decoder's bias) is remapped onto the run's vocabulary, new tokens at the mean row, as the lesson did.
"""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch

from lightning_models.checkpoints import CheckpointError, read_weights
from lightning_models.text.awd_lstm import AWDLSTMEncoder
from lightning_models.text.transfer import EMBEDDING_KEY, read_itos, remap_embedding

log = logging.getLogger(__name__)

FASTAI_VOCAB_NAME = "itos_wt103.pkl"
WT103_URL = "https://s3.amazonaws.com/fast-ai-modelzoo/wt103-fwd.tgz"
# fastai's names for one LSTM layer's weights -> ours; the hidden-to-hidden weight is the
# weight-dropped "raw" one, which v1/v2 keep on the WeightDropout wrapper and 0.7 on the LSTM inside it
_LAYER_KEYS = {
    "weight_ih": ("module.weight_ih_l0",),
    "weight_hh": ("weight_hh_l0_raw", "module.weight_hh_l0_raw"),
    "bias_ih": ("module.bias_ih_l0",),
    "bias_hh": ("module.bias_hh_l0",),
}


class _NoGlobals(pickle.Unpickler):
    """Builds only pickle's own containers and strings: any class or function is refused, never imported."""

    def find_class(self, module: str, name: str) -> None:
        raise pickle.UnpicklingError(f"it refers to {module}.{name}")


def read_fastai_itos(path: str | Path) -> list[str]:
    """The token list of fastai's ``itos_*.pkl``, refusing a pickle that holds anything but strings in a list."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"fastai vocabulary not found: {path}; give model.pretrained_vocab, the {FASTAI_VOCAB_NAME} "
            f"that came with the weights"
        )
    try:
        itos = _NoGlobals(io.BytesIO(path.read_bytes()), encoding="utf-8").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError) as e:
        raise CheckpointError(
            f"{path} is not fastai's vocabulary (a pickled list of strings): {e}; it was not loaded"
        ) from None
    if type(itos) is not list:
        raise CheckpointError(
            f"{path} is not fastai's vocabulary: it holds a {type(itos).__name__}, expected a list of strings"
        )
    other = next((i for i, token in enumerate(itos) if type(token) is not str), None)
    if other is not None:
        raise CheckpointError(
            f"{path} is not fastai's vocabulary: item {other} is a {type(itos[other]).__name__}, "
            f"expected a list of strings"
        )
    return itos


def read_fastai_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The model state dict of a fastai weights file (``weights_only``; a Learner's optimizer state is dropped)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"fastai weights not found: {path} (fastai's published model: {WT103_URL})")
    hint = (
        "if it is a fastai Learner saved with its optimizer, save the model alone with fastai: "
        "learn.load(name, with_opt=False); torch.save(learn.model.state_dict(), 'lstm_wt103.pth')"
    )
    state = read_weights(path, "fastai weights file", unsafe_hint=hint)
    if isinstance(state, dict) and "model" in state:
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a fastai state dict (a dict of tensors, or {{'model': ...}})")
    return state


def _prefix(state: dict[str, torch.Tensor], path: Path) -> str:
    """``0.`` for a whole language model (encoder, decoder), ``''`` for a fastai ``save_encoder`` file."""
    for prefix in ("0.", ""):
        if f"{prefix}encoder.weight" in state:
            return prefix
    raise CheckpointError(
        f"{path} is not a fastai AWD-LSTM language model: it has no '0.encoder.weight' "
        f"(found {', '.join(list(state)[:5])}{' ...' if len(state) > 5 else ''})"
    )


def _n_layers(state: dict[str, torch.Tensor], prefix: str) -> int:
    n = 0
    while f"{prefix}rnns.{n}.module.weight_ih_l0" in state:
        n += 1
    return n


def _pick(state: dict[str, torch.Tensor], names: Sequence[str], path: Path) -> tuple[str, torch.Tensor]:
    for name in names:
        if name in state:
            return name, state[name]
    raise CheckpointError(
        f"{path} is not a fastai AWD-LSTM language model: it has no {' or '.join(repr(n) for n in names)}"
    )


def fastai_sizes(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """emb_sz, n_hid and n_layers of the model whose weights ``state`` holds (under our names)."""
    n_layers = sum(1 for key in state if key.endswith(".weight_ih"))
    emb_sz = state[EMBEDDING_KEY].size(1)
    n_hid = state["layers.0.weight_hh"].size(1) if n_layers > 1 else emb_sz
    return {"emb_sz": emb_sz, "n_hid": n_hid, "n_layers": n_layers}


def fastai_to_encoder(
    state: dict[str, torch.Tensor], path: str | Path
) -> tuple[dict[str, torch.Tensor], dict[str, str], torch.Tensor | None]:
    """(our encoder's state dict, our key -> fastai's key, the decoder bias or None) from a fastai state dict."""
    path = Path(path)
    prefix = _prefix(state, path)
    ours = {EMBEDDING_KEY: state[f"{prefix}encoder.weight"]}
    names = {EMBEDDING_KEY: f"{prefix}encoder.weight"}
    for i in range(_n_layers(state, prefix)):
        for key, candidates in _LAYER_KEYS.items():
            name, value = _pick(state, [f"{prefix}rnns.{i}.{c}" for c in candidates], path)
            ours[f"layers.{i}.{key}"], names[f"layers.{i}.{key}"] = value, name
    decoder = state.get("1.decoder.weight") if prefix else None
    if decoder is not None and not torch.equal(decoder, ours[EMBEDDING_KEY]):
        raise CheckpointError(
            f"{path}: its decoder weight (1.decoder.weight) differs from its embedding (0.encoder.weight); "
            f"our language model ties them, so only a tied fastai model (tie_weights=True) can be loaded"
        )
    bias = state.get("1.decoder.bias") if prefix else None
    if bias is not None and bias.shape != ours[EMBEDDING_KEY].shape[:1]:
        raise CheckpointError(
            f"{path}: 1.decoder.bias is {tuple(bias.shape)} but the embedding has "
            f"{ours[EMBEDDING_KEY].size(0)} rows; the file is damaged"
        )
    return ours, names, bias


def _check_shapes(state: dict[str, torch.Tensor], names: dict[str, str], encoder: AWDLSTMEncoder, path: Path) -> None:
    """A ``CheckpointError`` naming the file, the key, both shapes and the settings that fit the file."""
    own = encoder.state_dict()
    sizes = fastai_sizes(state)
    settings = " ".join(f"model.{k}={v}" for k, v in sizes.items())
    if own.keys() != state.keys():
        raise CheckpointError(
            f"{path} has {sizes['n_layers']} LSTM layers, this model {encoder.n_layers}; "
            f"build the model with {settings}"
        )
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise CheckpointError(
                f"{path}: {names[key]} is {tuple(state[key].shape)} in the file but this model's "
                f"{key} is {tuple(value.shape)}; build the model with {settings}"
            )


def load_fastai_weights(
    encoder: AWDLSTMEncoder,
    path: str | Path,
    vocab_path: str | Path | None = None,
    itos: Sequence[str] | None = None,
    decoder_bias: torch.Tensor | None = None,
) -> None:
    """Load fastai's language model ``path`` into our ``encoder`` (and a tied decoder's ``decoder_bias``).

    With ``itos`` (this model's vocabulary) the rows are remapped from the file's vocabulary,
    ``vocab_path`` or the ``itos_wt103.pkl`` beside ``path``; without it they must match row for row.
    A file without a decoder bias (0.7's, a ``save_encoder`` file) leaves the bias at zero.
    Nothing is changed when the file does not fit.
    """
    path = Path(path)
    state, names, bias = fastai_to_encoder(read_fastai_state(path), path)
    if itos is not None:
        vocab_path = Path(vocab_path) if vocab_path else path.with_name(FASTAI_VOCAB_NAME)
        file_itos = read_fastai_itos(vocab_path)
        rows = state[EMBEDDING_KEY].size(0)
        if rows != len(file_itos):
            raise CheckpointError(
                f"{path} has {rows} embedding rows but {vocab_path} lists {len(file_itos)} tokens; "
                f"give model.pretrained_vocab, the vocabulary saved with these weights"
            )
        if list(itos) != file_itos:
            # the bias rides along as one more column: its new tokens get the mean bias, as fastai's match_embeds
            table = state[EMBEDDING_KEY] if bias is None else torch.cat([state[EMBEDDING_KEY], bias[:, None]], 1)
            table = remap_embedding(table, file_itos, itos)
            if bias is None:
                state[EMBEDDING_KEY] = table
            else:
                state[EMBEDDING_KEY], bias = table[:, :-1], table[:, -1]
    _check_shapes(state, names, encoder, path)
    encoder.load_state_dict(state)
    if decoder_bias is not None:
        with torch.no_grad():
            decoder_bias.copy_(bias if bias is not None else torch.zeros_like(decoder_bias))
    sizes = ", ".join(f"{k} {v}" for k, v in fastai_sizes(state).items())
    log.info(f"loaded fastai's language model {path} ({sizes})")


class FastaiPretrained:
    """Mixed into the text modules: their ``pretrained_path`` (and ``pretrained_vocab``) hparams start the
    encoder from fastai's language model, remapped onto the module's ``vocab_path``."""

    def load_fastai_pretrained(self, decoder_bias: torch.Tensor | None = None) -> None:
        """Load ``pretrained_path`` (once), if the module was given one; a language model passes its decoder bias."""
        path = self.hparams.get("pretrained_path")
        if not path or getattr(self, "_fastai_loaded", False):
            return
        if self.hparams.get("encoder_path"):
            raise CheckpointError(
                "model.encoder_path and model.pretrained_path both start the encoder: give one of them "
                "(encoder_path: a fastlightning encoder.pt; pretrained_path: fastai's weights)"
            )
        vocab_path = self.hparams.get("vocab_path")
        itos = read_itos(vocab_path) if vocab_path else None
        load_fastai_weights(self.encoder, path, self.hparams.get("pretrained_vocab"), itos, decoder_bias)
        self._fastai_loaded = True
