"""fastai's published language-model files (v1/v2 ``.pth``, 0.7 ``.h5``, ``itos_*.pkl``) load into our AWD-LSTM.

The files are written here, tiny, with fastai's exact key names and shapes: a SequentialRNN whose
``0.`` is the AWD_LSTM encoder and ``1.`` the (tied) LinearDecoder.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from lightning_models.checkpoints import CheckpointError
from lightning_models.text import LanguageModel, TextClassifier
from lightning_models.text.fastai_weights import read_fastai_itos

EMB, HID, LAYERS = 6, 10, 2
FILE_ITOS = ["xxunk", "xxpad", "xxbos", "the", "film", "bad", "good"]
OUR_ITOS = ["xxunk", "xxpad", "xxbos", "film", "newword", "the"]


def fastai_state(layout: str, n_tokens: int = len(FILE_ITOS)) -> dict[str, torch.Tensor]:
    """A fastai language model's state dict: ``v2`` (fastai 2), ``v1`` (also the module's hidden weight), ``0.7``,
    ``encoder`` (fastai's ``save_encoder``: v2's encoder keys without the leading ``0.``)."""
    if layout == "encoder":
        return {k.removeprefix("0."): v for k, v in fastai_state("v2", n_tokens).items() if k.startswith("0.")}
    g = torch.Generator().manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    embedding = rand(n_tokens, EMB)
    dropout_key = "0.encoder_with_dropout.embed.weight" if layout == "0.7" else "0.encoder_dp.emb.weight"
    state = {"0.encoder.weight": embedding, dropout_key: embedding.clone()}
    sizes = [EMB] + [HID] * (LAYERS - 1) + [EMB]
    for i in range(LAYERS):
        n_in, n_out, rnn = sizes[i], sizes[i + 1], f"0.rnns.{i}."
        hidden = rand(4 * n_out, n_out)
        if layout == "0.7":
            state[f"{rnn}module.weight_hh_l0_raw"] = hidden
        else:
            state[f"{rnn}weight_hh_l0_raw"] = hidden
        if layout == "v1":
            state[f"{rnn}module.weight_hh_l0"] = hidden * 0.5  # the dropped-out copy; the raw weight is the one
        state[f"{rnn}module.weight_ih_l0"] = rand(4 * n_out, n_in)
        state[f"{rnn}module.bias_ih_l0"] = rand(4 * n_out)
        state[f"{rnn}module.bias_hh_l0"] = rand(4 * n_out)
    state["1.decoder.weight"] = embedding.clone()
    if layout != "0.7":
        state["1.decoder.bias"] = rand(n_tokens)
    return state


def write_files(folder: Path, layout: str, state: dict | None = None) -> tuple[Path, Path]:
    """The weights as fastai saved them (v1: with an optimizer; 0.7: torch's pre-zip format) and itos_wt103.pkl."""
    state = fastai_state(layout) if state is None else state
    if layout == "0.7":
        weights = folder / "fwd_wt103.h5"
        torch.save(state, weights, _use_new_zipfile_serialization=False)
    else:
        weights = folder / ("fine_tuned_enc.pth" if layout == "encoder" else "lstm_wt103.pth")
        torch.save({"model": state, "opt": {"state": {}, "lr": [1e-3]}} if layout == "v1" else state, weights)
    vocab = folder / "itos_wt103.pkl"
    vocab.write_bytes(pickle.dumps(FILE_ITOS))
    return weights, vocab


def our_vocab(folder: Path) -> Path:
    path = folder / "vocab.json"
    path.write_text(json.dumps({"itos": OUR_ITOS}))
    return path


def language_model(folder: Path, weights: Path, vocab: Path | None = None, **sizes) -> LanguageModel:
    settings = {"emb_sz": EMB, "n_hid": HID, "n_layers": LAYERS, **sizes}
    return LanguageModel(
        vocab_sz=len(OUR_ITOS),
        vocab_path=str(our_vocab(folder)),
        pretrained_path=str(weights),
        pretrained_vocab=str(vocab) if vocab else None,
        **settings,
    )


def weights_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("layout", ["v2", "v1", "0.7", "encoder"])
def test_every_weight_lands_where_it_should(tmp_path, layout):
    weights, vocab = write_files(tmp_path, layout)
    state = fastai_state("v2" if layout == "encoder" else layout)
    model = language_model(tmp_path, weights, vocab if layout != "0.7" else None)  # 0.7: the pkl beside
    model.setup("fit")

    embedding, file_embedding = model.encoder.embedding.weight, state["0.encoder.weight"]
    for i, token in enumerate(OUR_ITOS):
        expected = file_embedding[FILE_ITOS.index(token)] if token in FILE_ITOS else file_embedding.mean(0)
        assert torch.allclose(embedding[i], expected), token
    assert model.decoder.linear.weight is embedding
    bias = model.decoder.linear.bias
    if layout in ("0.7", "encoder"):  # their files have no decoder bias
        assert torch.equal(bias, torch.zeros_like(bias))
    else:
        file_bias = state["1.decoder.bias"]
        assert bias[OUR_ITOS.index("film")] == file_bias[FILE_ITOS.index("film")]
        assert torch.isclose(bias[OUR_ITOS.index("newword")], file_bias.mean())
    hidden_key = "module.weight_hh_l0_raw" if layout == "0.7" else "weight_hh_l0_raw"
    for i, layer in enumerate(model.encoder.layers):
        rnn = f"0.rnns.{i}."
        assert torch.equal(layer.weight_hh, state[rnn + hidden_key])
        assert torch.equal(layer.weight_ih, state[rnn + "module.weight_ih_l0"])
        assert torch.equal(layer.bias_ih, state[rnn + "module.bias_ih_l0"])
        assert torch.equal(layer.bias_hh, state[rnn + "module.bias_hh_l0"])


def test_the_classifier_encoder_starts_from_fastai_weights(tmp_path):
    weights, vocab = write_files(tmp_path, "v2")
    state = fastai_state("v2")
    model = TextClassifier(
        vocab_sz=len(OUR_ITOS),
        n_classes=2,
        emb_sz=EMB,
        n_hid=HID,
        n_layers=LAYERS,
        vocab_path=str(our_vocab(tmp_path)),
        pretrained_path=str(weights),
        pretrained_vocab=str(vocab),
    )
    model.setup("fit")
    film = model.encoder.embedding.weight[OUR_ITOS.index("film")]
    assert torch.equal(film, state["0.encoder.weight"][FILE_ITOS.index("film")])
    assert torch.equal(model.encoder.layers[1].weight_hh, state["0.rnns.1.weight_hh_l0_raw"])


def _drop(key: str):
    def spoil(state: dict) -> dict:
        del state[key]
        return state

    return spoil


class OptimizerState:
    """Stands for the fastai objects (``L``, numpy arrays) a Learner's optimizer state can hold."""


def _with_optimizer(state: dict) -> dict:
    return {"model": state, "opt": OptimizerState()}


def _untie(state: dict) -> dict:
    state["1.decoder.weight"] = state["1.decoder.weight"] + 1
    return state


@pytest.mark.parametrize(
    ("spoil", "sizes", "message"),
    [
        pytest.param(
            None,
            {"n_hid": 12},
            r"lstm_wt103\.pth: 0\.rnns\.0\.module\.weight_ih_l0 is \(40, 6\) in the file but this model's "
            r"layers\.0\.weight_ih is \(48, 6\); build the model with model\.emb_sz=6 model\.n_hid=10 "
            r"model\.n_layers=2",
            id="fastai weights of another size",
        ),
        pytest.param(
            None,
            {"n_layers": 3},
            r"lstm_wt103\.pth has 2 LSTM layers, this model 3; build the model with .*model\.n_layers=2",
            id="fastai weights with fewer layers",
        ),
        pytest.param(
            _drop("0.rnns.1.module.bias_hh_l0"),
            {},
            r"lstm_wt103\.pth is not a fastai AWD-LSTM language model: it has no '0\.rnns\.1\.module\.bias_hh_l0'",
            id="fastai weights missing a key",
        ),
        pytest.param(
            _drop("0.encoder.weight"),
            {},
            r"lstm_wt103\.pth is not a fastai AWD-LSTM language model: it has no '0\.encoder\.weight'",
            id="not a fastai language model",
        ),
        pytest.param(
            _with_optimizer,
            {},
            r"lstm_wt103\.pth holds Python objects that weights-only loading refuses \(test_fastai_weights\."
            r"OptimizerState\); if it is a fastai Learner .*save the model alone",
            id="fastai Learner saved with its optimizer",
        ),
        pytest.param(
            _untie, {}, r"decoder weight \(1\.decoder\.weight\) differs from its embedding", id="untied decoder"
        ),
    ],
)
def test_weights_that_do_not_fit_are_clear_errors(tmp_path, spoil, sizes, message):
    state = fastai_state("v2")
    weights, vocab = write_files(tmp_path, "v2", spoil(state) if spoil else state)
    model = language_model(tmp_path, weights, vocab, **sizes)
    before = weights_of(model)
    with pytest.raises(CheckpointError, match=message):
        model.setup("fit")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


class RunsAShellCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_vocabulary_pickle_that_would_run_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"
    vocab = tmp_path / "itos_wt103.pkl"
    vocab.write_bytes(pickle.dumps(["xxunk", RunsAShellCommand(marker)]))
    with pytest.raises(CheckpointError, match=r"itos_wt103\.pkl is not fastai's vocabulary .*it refers to (posix|os)"):
        read_fastai_itos(vocab)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param({"itos": FILE_ITOS}, r": it holds a dict, expected a list of strings", id="vocabulary not a list"),
        pytest.param(["xxunk", 2], r": item 1 is a int, expected a list of strings", id="vocabulary of numbers"),
        pytest.param(b"\x80\x04truncated", r" \(a pickled list of strings\): ", id="vocabulary not a pickle"),
    ],
)
def test_a_vocabulary_that_is_not_a_list_of_strings_is_refused(tmp_path, content, message):
    vocab = tmp_path / "itos_wt103.pkl"
    vocab.write_bytes(content if isinstance(content, bytes) else pickle.dumps(content))
    with pytest.raises(CheckpointError, match=r"itos_wt103\.pkl is not fastai's vocabulary" + message):
        read_fastai_itos(vocab)


@pytest.mark.parametrize(
    ("file_itos", "message"),
    [
        pytest.param(
            None,
            r"fastai vocabulary not found: .*itos_wt103\.pkl; give model\.pretrained_vocab",
            id="fastai vocabulary missing",
        ),
        pytest.param(
            FILE_ITOS[:-1],
            r"lstm_wt103\.pth has 7 embedding rows but .*itos_wt103\.pkl lists 6 tokens; give model\.pretrained_vocab",
            id="fastai vocabulary of other weights",
        ),
    ],
)
def test_vocabulary_problems_name_the_files(tmp_path, file_itos, message):
    weights, vocab = write_files(tmp_path, "v2")
    if file_itos is None:
        vocab.unlink()
    else:
        vocab.write_bytes(pickle.dumps(file_itos))
    with pytest.raises(CheckpointError, match=message):
        language_model(tmp_path, weights).setup("fit")


def test_encoder_path_and_pretrained_path_together_are_refused(tmp_path):
    weights, vocab = write_files(tmp_path, "v2")
    model = LanguageModel(vocab_sz=6, encoder_path=str(tmp_path / "encoder.pt"), pretrained_path=str(weights))
    with pytest.raises(CheckpointError, match=r"encoder_path and model\.pretrained_path both start the encoder"):
        model.setup("fit")
