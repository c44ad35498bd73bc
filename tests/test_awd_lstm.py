"""AWD-LSTM pieces: each dropout's semantics, the weight-dropped LSTM, state, tying, generation."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from lightning_models.text.awd_lstm import AWDLSTMEncoder, EmbeddingDropout, LockedDropout, WeightDropLSTM
from lightning_models.text.generate import generate
from lightning_models.text.language_model import LanguageModel


def test_locked_dropout_keeps_one_mask_over_time():
    torch.manual_seed(0)
    drop = LockedDropout(0.3)
    out = drop(torch.ones(64, 12, 50))
    assert torch.equal(out, out[:, :1].expand_as(out))
    assert out.unique().tolist() == pytest.approx([0.0, 1 / 0.7])
    assert 0.25 < (out[:, 0] == 0).float().mean() < 0.35
    drop.eval()
    x = torch.randn(4, 5, 6)
    assert torch.equal(drop(x), x)


def test_embedding_dropout_zeroes_whole_words():
    torch.manual_seed(0)
    embedding = nn.Embedding(200, 8)
    drop = EmbeddingDropout(0.4)
    words = torch.randint(0, 200, (16, 30))
    out = drop(embedding, words)
    scale = out / embedding(words)
    for word in words.unique():
        factors = scale[words == word]
        assert torch.allclose(factors, factors[0, 0].expand_as(factors))
        assert factors[0, 0].item() == pytest.approx(0.0) or factors[0, 0].item() == pytest.approx(1 / 0.6)
    dropped = {int(w) for w in words.unique() if scale[words == w][0, 0] == 0}
    assert 0.25 < len(dropped) / len(words.unique()) < 0.55
    drop.eval()
    assert torch.equal(drop(embedding, words), embedding(words))


def _lstm_like(layer: WeightDropLSTM) -> nn.LSTM:
    lstm = nn.LSTM(layer.n_in, layer.n_hid, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{name}_l0").copy_(getattr(layer, name))
    return lstm


def test_weight_drop_lstm_in_eval_is_the_plain_lstm():
    torch.manual_seed(0)
    layer = WeightDropLSTM(6, 10, weight_p=0.5).eval()
    x = torch.randn(3, 7, 6)
    state = (torch.randn(1, 3, 10), torch.randn(1, 3, 10))
    out, (h, c) = layer(x, state)
    expected, (h2, c2) = _lstm_like(layer)(x, state)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close((h, c), (h2, c2))


def test_weight_drop_masks_hidden_weights_per_call_and_trains_the_raw_ones():
    torch.manual_seed(0)
    layer = WeightDropLSTM(6, 10, weight_p=0.5)
    raw = layer.weight_hh.detach().clone()
    x = torch.randn(3, 7, 6)
    state = (torch.zeros(1, 3, 10), torch.zeros(1, 3, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first, _ = layer(x, state)
        second, _ = layer(x, state)
    assert not torch.allclose(first, second)
    assert torch.equal(layer.weight_hh, raw)
    first.pow(2).sum().backward()
    grad = layer.weight_hh.grad
    assert 0.4 < (grad == 0).float().mean() < 0.6
    assert (layer.weight_ih.grad != 0).float().mean() > 0.99
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    assert not torch.equal(layer.weight_hh, raw)


def test_encoder_state_carries_over_windows():
    torch.manual_seed(0)
    encoder = AWDLSTMEncoder(50, emb_sz=8, n_hid=12, n_layers=3).eval()
    tokens = torch.randint(2, 50, (2, 20))
    whole, _, _ = encoder(tokens)
    first, _, state = encoder(tokens[:, :8])
    second, _, _ = encoder(tokens[:, 8:], state)
    torch.testing.assert_close(torch.cat([first[-1], second[-1]], 1), whole[-1])
    fresh, _, _ = encoder(tokens[:, 8:])
    assert not torch.allclose(fresh[-1], second[-1])
    assert [r.size(-1) for r in whole] == [12, 12, 8]


def _tiny_lm(**kwargs) -> LanguageModel:
    return LanguageModel(vocab_sz=30, emb_sz=8, n_hid=16, n_layers=2, **kwargs)


def test_decoder_is_tied_and_drop_mult_scales_every_dropout():
    model = _tiny_lm(drop_mult=0.5)
    assert model.decoder.linear.weight is model.encoder.embedding.weight
    dropouts = {
        "embedding": model.encoder.embedding_dropout.p,
        "input": model.encoder.input_dropout.p,
        "hidden": model.encoder.hidden_dropouts[0].p,
        "weight": model.encoder.layers[0].weight_p,
        "output": model.decoder.output_dropout.p,
    }
    assert dropouts == pytest.approx(
        {"embedding": 0.01, "input": 0.125, "hidden": 0.075, "weight": 0.1, "output": 0.05}
    )


def test_language_model_carries_its_hidden_state_and_resets_it(monkeypatch):
    torch.manual_seed(0)
    model = _tiny_lm()
    monkeypatch.setattr(model, "log_train_loss", lambda loss: None)
    x = torch.randint(0, 30, (4, 6))
    loss = model.training_step((x, x), 0)
    loss.backward()
    carried = model.states["train"]
    assert carried is not None and not carried[0][0].requires_grad
    assert carried[0][0].shape == (1, 4, 16)
    seen = []
    real_encoder = model.encoder.forward

    def spy(tokens, state=None):
        seen.append(state)
        return real_encoder(tokens, state)

    monkeypatch.setattr(model.encoder, "forward", spy)
    model.training_step((x, x), 1)
    assert seen[-1] is carried
    model.on_train_epoch_start()
    assert model.states["train"] is None
    model.eval()
    with torch.no_grad():
        model.on_validation_epoch_start()
        model.validation_step((x, x), 0)
    assert seen[-1][0][0].abs().sum() == 0
    assert model.states["val"] is not None and model.states["train"] is None


def test_generation_is_seeded_and_never_says_unknown():
    torch.manual_seed(0)
    model = _tiny_lm()
    itos = ["xxunk", "xxpad", "xxbos"] + [f"w{i}" for i in range(27)]
    with torch.no_grad():
        model.decoder.linear.bias[0] = 100.0
    prompt = ["xxbos", "w1", "w2"]
    first = generate(model, itos, prompt, n_words=30, top_k=10, temperature=0.8, seed=1)
    again = generate(model, itos, prompt, n_words=30, top_k=10, temperature=0.8, seed=1)
    other = generate(model, itos, prompt, n_words=30, top_k=10, temperature=0.8, seed=2)
    assert first == again and first != other
    assert first[:3] == prompt and len(first) == 33
    greedy = generate(model, itos, prompt, n_words=10, greedy=True)
    assert "xxunk" not in greedy and "xxunk" not in first
    assert model.training
