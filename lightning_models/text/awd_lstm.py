"""AWD-LSTM (Merity et al.): an LSTM stack with five kinds of dropout, and its tied language-model decoder.

Dropouts, with the names of the paper's code: ``dropoute`` drops whole words from the embedding
matrix, ``dropouti`` drops embedding features (the same ones at every time step), ``dropouth``
does so between LSTM layers, ``dropout`` on the last layer's output (in the decoder), and
``wdrop`` is DropConnect on the hidden-to-hidden weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

State = list[tuple[torch.Tensor, torch.Tensor]]


def dropout_mask(x: torch.Tensor, shape: tuple[int, ...], p: float) -> torch.Tensor:
    """A mask of ``shape`` (broadcast against ``x``): 0 with probability ``p``, else ``1 / (1 - p)``."""
    return x.new_empty(shape).bernoulli_(1 - p).div_(1 - p)


class LockedDropout(nn.Module):
    """Variational dropout on (batch, time, features): one mask per sequence, the same at every step."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        return x * dropout_mask(x, (x.size(0), 1, x.size(2)), self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class EmbeddingDropout(nn.Module):
    """Whole words dropped from an embedding: a dropped word's vector is zero wherever it occurs."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, embedding: nn.Embedding, words: torch.Tensor) -> torch.Tensor:
        vectors = embedding(words)
        if not self.training or self.p == 0:
            return vectors
        mask = dropout_mask(embedding.weight, (embedding.num_embeddings, 1), self.p)
        return vectors * mask[words]

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _one_buffer(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """The weights as views into one contiguous buffer, laid out as cuDNN's LSTM expects
    (w_ih, w_hh, b_ih, b_hh), so the fused kernel takes them as they are, without compacting them
    (and warning) at every call."""
    flat = torch.cat([w.reshape(-1) for w in weights])
    views, start = [], 0
    for w in weights:
        views.append(flat[start : start + w.numel()].view_as(w))
        start += w.numel()
    return views


# torch.lstm's positional flags, for one batch-first unidirectional layer with biases (dropout is ours)
HAS_BIASES, ONE_LAYER, NO_DROPOUT, UNIDIRECTIONAL, BATCH_FIRST = True, 1, 0.0, False, True


class WeightDropLSTM(nn.Module):
    """A one-layer LSTM (batch first) with DropConnect on its hidden-to-hidden weights.

    ``weight_hh`` is the learned weight; each training call runs the fused LSTM kernel on a
    dropped-out copy of it (one mask per call, as in the paper), and evaluation on the weight itself.
    """

    def __init__(self, n_in: int, n_hid: int, weight_p: float) -> None:
        super().__init__()
        self.n_in, self.n_hid, self.weight_p = n_in, n_hid, weight_p
        self.weight_ih = nn.Parameter(torch.empty(4 * n_hid, n_in))
        self.weight_hh = nn.Parameter(torch.empty(4 * n_hid, n_hid))
        self.bias_ih = nn.Parameter(torch.empty(4 * n_hid))
        self.bias_hh = nn.Parameter(torch.empty(4 * n_hid))
        bound = 1 / math.sqrt(n_hid)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flat_weights(self) -> list[torch.Tensor]:
        weight_hh = F.dropout(self.weight_hh, self.weight_p, self.training) if self.weight_p else self.weight_hh
        weights = [self.weight_ih, weight_hh, self.bias_ih, self.bias_hh]
        if self.weight_ih.is_cuda:
            weights = _one_buffer(weights)
        return weights

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # the CPU kernel under autocast fails on float32 inputs (torch 2.14): give it the autocast dtype
            dtype = torch.get_autocast_dtype("cpu")
            x, state = x.to(dtype), (state[0].to(dtype), state[1].to(dtype))
        output, h, c = torch.lstm(
            x, state, self.flat_weights(), HAS_BIASES, ONE_LAYER, NO_DROPOUT, self.training, UNIDIRECTIONAL, BATCH_FIRST
        )
        return output, (h, c)

    def extra_repr(self) -> str:
        return f"{self.n_in}, {self.n_hid}, weight_p={self.weight_p}"


class AWDLSTMEncoder(nn.Module):
    """Embedding -> ``n_layers`` LSTMs; the last one has ``emb_sz`` units so a decoder can tie its weights.

    ``forward(tokens, state)`` returns the raw output of every layer, the same after the dropout
    that follows it inside the encoder (``dropouth`` between layers; the last output is left to the
    decoder or the classifier head), and the new state.
    """

    def __init__(
        self,
        vocab_sz: int,
        emb_sz: int = 400,
        n_hid: int = 1150,
        n_layers: int = 3,
        pad_idx: int = 1,
        dropoute: float = 0.02,
        dropouti: float = 0.25,
        dropouth: float = 0.15,
        wdrop: float = 0.2,
    ) -> None:
        super().__init__()
        self.emb_sz, self.n_hid, self.n_layers = emb_sz, n_hid, n_layers
        self.embedding = nn.Embedding(vocab_sz, emb_sz, padding_idx=pad_idx)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        with torch.no_grad():
            self.embedding.weight[pad_idx].zero_()
        self.embedding_dropout = EmbeddingDropout(dropoute)
        self.input_dropout = LockedDropout(dropouti)
        sizes = [emb_sz] + [n_hid] * (n_layers - 1) + [emb_sz]
        self.layers = nn.ModuleList(WeightDropLSTM(sizes[i], sizes[i + 1], wdrop) for i in range(n_layers))
        self.hidden_dropouts = nn.ModuleList(LockedDropout(dropouth) for _ in range(n_layers - 1))

    def init_state(self, batch_size: int) -> State:
        weight = self.embedding.weight
        return [
            (weight.new_zeros(1, batch_size, layer.n_hid), weight.new_zeros(1, batch_size, layer.n_hid))
            for layer in self.layers
        ]

    def forward(
        self, tokens: torch.Tensor, state: State | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], State]:
        if state is None:
            state = self.init_state(tokens.size(0))
        x = self.input_dropout(self.embedding_dropout(self.embedding, tokens))
        raw, dropped, new_state = [], [], []
        for i, layer in enumerate(self.layers):
            x, layer_state = layer(x, state[i])
            new_state.append(layer_state)
            raw.append(x)
            if i < self.n_layers - 1:
                x = self.hidden_dropouts[i](x)
            dropped.append(x)
        return raw, dropped, new_state


@dataclass(frozen=True)
class AWDDropouts:
    """The five dropouts (see the module's docstring); ``dropout`` only matters to a decoder."""

    dropoute: float
    dropouti: float
    dropouth: float
    wdrop: float
    dropout: float = 0.0

    def scaled(self, drop_mult: float) -> AWDDropouts:
        """All five times ``drop_mult``, fastai's one knob for the amount of regularization."""
        return AWDDropouts(**{f.name: getattr(self, f.name) * drop_mult for f in fields(self)})


def awd_lstm_encoder(
    vocab_sz: int, emb_sz: int, n_hid: int, n_layers: int, pad_idx: int, dropouts: AWDDropouts
) -> AWDLSTMEncoder:
    """An ``AWDLSTMEncoder`` with the encoder's four of ``dropouts``."""
    return AWDLSTMEncoder(
        vocab_sz,
        emb_sz,
        n_hid,
        n_layers,
        pad_idx,
        dropoute=dropouts.dropoute,
        dropouti=dropouts.dropouti,
        dropouth=dropouts.dropouth,
        wdrop=dropouts.wdrop,
    )


class TiedDecoder(nn.Module):
    """Output dropout, then a linear layer onto the vocabulary whose weight is the encoder's embedding."""

    def __init__(self, embedding: nn.Embedding, dropout: float = 0.1) -> None:
        super().__init__()
        self.output_dropout = LockedDropout(dropout)
        self.linear = nn.Linear(embedding.embedding_dim, embedding.num_embeddings)
        self.linear.weight = embedding.weight
        nn.init.zeros_(self.linear.bias)

    def forward(self, last_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, the dropped-out last output that AR regularizes)."""
        dropped = self.output_dropout(last_output)
        return self.linear(dropped), dropped
