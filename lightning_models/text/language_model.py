"""The AWD-LSTM language model as a LightningModule: stateful across batches, AR/TAR, tied decoder."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from pytorch_lightning.utilities import rank_zero_only
from torch import nn

from lightning_models.stream_lm import StreamLanguageModel, detached
from lightning_models.text.awd_lstm import AWDDropouts, State, TiedDecoder, awd_lstm_encoder
from lightning_models.text.fastai_weights import FastaiPretrained
from lightning_models.text.transfer import EncoderTransfer


class LanguageModel(EncoderTransfer, FastaiPretrained, StreamLanguageModel):
    """The AWD-LSTM over a token stream, its hidden state carried across batches (``StreamLanguageModel``).

    The loss adds AR (``alpha`` * mean square of the dropped-out last output) and TAR (``beta`` *
    mean square of the step-to-step change of the raw last output), both in float32. ``drop_mult``
    scales all five dropouts. Metrics: ``val/loss``, ``val/ppl`` (exp of the loss), ``val/acc``.
    With ``encoder_path`` the encoder starts from a trained one (remapped onto this vocabulary); with
    ``pretrained_path`` (and ``pretrained_vocab``) the encoder and the decoder's bias start from fastai's
    published WikiText-103 model (see ``fastai_weights``).
    """

    def __init__(
        self,
        vocab_sz: int,
        pad_idx: int = 1,
        vocab_path: str | None = None,
        emb_sz: int = 400,
        n_hid: int = 1150,
        n_layers: int = 3,
        dropoute: float = 0.02,
        dropouti: float = 0.25,
        dropouth: float = 0.15,
        dropout: float = 0.1,
        wdrop: float = 0.2,
        drop_mult: float = 1.0,
        alpha: float = 2.0,
        beta: float = 1.0,
        encoder_path: str | None = None,
        encoder_vocab_path: str | None = None,
        pretrained_path: str | None = None,
        pretrained_vocab: str | None = None,
        **optim,
    ) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        dropouts = AWDDropouts(dropoute, dropouti, dropouth, wdrop, dropout).scaled(drop_mult)
        self.encoder = awd_lstm_encoder(vocab_sz, emb_sz, n_hid, n_layers, pad_idx, dropouts)
        self.decoder = TiedDecoder(self.encoder.embedding, dropouts.dropout)
        self.alpha, self.beta = alpha, beta

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (batch, time, vocab) and the state after ``tokens``."""
        _, dropped, state = self.encoder(tokens, state)
        logits, _ = self.decoder(dropped[-1])
        return logits, state

    def layer_groups(self) -> list[nn.Module]:
        """Each LSTM layer, then the embedding with the (tied) decoder, as fastai splits a language model."""
        return [*self.encoder.layers, nn.ModuleList([self.encoder.embedding, self.decoder])]

    def init_state(self, batch_size: int) -> State:
        return self.encoder.init_state(batch_size)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        raw, dropped, state = self.encoder(x, self._state("train", x.size(0)))
        self.states["train"] = detached(state)
        logits, last_dropped = self.decoder(dropped[-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        last = raw[-1].float()
        ar = last_dropped.float().pow(2).mean()
        tar = (last[:, 1:] - last[:, :-1]).pow(2).mean() if last.size(1) > 1 else last.new_zeros(())
        self.log_train_loss(loss)
        return loss + self.alpha * ar + self.beta * tar

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit":
            self.load_fastai_pretrained(self.decoder.linear.bias)
            self.load_pretrained_encoder()

    @rank_zero_only
    def export(self, out_dir: str | Path) -> None:
        """``encoder.pt`` (the encoder's weights only) for a classifier or another language model."""
        self.save_encoder(Path(out_dir) / "encoder.pt")
