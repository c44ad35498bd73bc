"""A character-level LSTM language model (workshop activity 6.02: Alice in Wonderland)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lightning_models.stream_lm import StreamLanguageModel

CharState = tuple[torch.Tensor, torch.Tensor]


class CharLanguageModel(StreamLanguageModel):
    """The next character from the characters so far: an LSTM over the stream, a linear layer to the logits.

    ``one_hot=True`` feeds every character as a one-hot vector of ``vocab_sz``, as the workshop did;
    ``one_hot=False`` learns an embedding of ``emb_sz`` instead. ``dropout`` is between the LSTM layers.
    The hidden state is carried across batches and the metrics are the stream models' (``val/loss`` in
    nats per character). Text from it: ``python generate.py RUN --prompt "So she was" --stop .``.
    """

    def __init__(
        self,
        vocab_sz: int,
        n_hidden: int = 256,
        n_layers: int = 2,
        one_hot: bool = True,
        emb_sz: int = 64,
        dropout: float = 0.0,
        **optim,
    ) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        self.vocab_sz = vocab_sz
        self.embedding = None if one_hot else nn.Embedding(vocab_sz, emb_sz)
        n_in = vocab_sz if one_hot else emb_sz
        self.lstm = nn.LSTM(n_in, n_hidden, n_layers, batch_first=True, dropout=dropout if n_layers > 1 else 0.0)
        self.output = nn.Linear(n_hidden, vocab_sz)

    def init_state(self, batch_size: int) -> CharState:
        weight = self.output.weight
        shape = (self.lstm.num_layers, batch_size, self.lstm.hidden_size)
        return weight.new_zeros(shape), weight.new_zeros(shape)

    def forward(self, tokens: torch.Tensor, state: CharState | None = None) -> tuple[torch.Tensor, CharState]:
        """Logits (batch, time, vocab) and the state after ``tokens``."""
        if self.embedding is None:
            inputs = F.one_hot(tokens, self.vocab_sz).to(self.output.weight.dtype)
        else:
            inputs = self.embedding(tokens)
        hidden, state = self.lstm(inputs, state if state is not None else self.init_state(tokens.size(0)))
        return self.output(hidden), state

    def layer_groups(self) -> list[nn.Module]:
        inputs = [self.embedding] if self.embedding is not None else []
        return [*inputs, self.lstm, self.output]
