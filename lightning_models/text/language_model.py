"""The AWD-LSTM language model as a LightningModule: stateful across batches, AR/TAR, tied decoder."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
import torchmetrics
from pytorch_lightning.utilities import rank_zero_only
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.text.awd_lstm import AWDDropouts, State, TiedDecoder, awd_lstm_encoder, detach_state
from lightning_models.text.transfer import EncoderTransfer


class LanguageModel(EncoderTransfer, RecipeModule):
    """Next-token prediction over consecutive windows of a token stream.

    The hidden state is carried from batch to batch (detached, so back-propagation stops at the
    window), reset at the start of every training epoch and for every validation or test pass.
    A checkpoint taken mid-epoch holds the hidden state (and, as every model's, the random
    generators), so a run resumed from it goes on exactly as the uninterrupted one (under DDP each
    rank's hidden state is its own: a resumed rank starts its rows from zeros).
    The loss adds AR (``alpha`` * mean square of the dropped-out last output) and TAR (``beta`` *
    mean square of the step-to-step change of the raw last output), both in float32. ``drop_mult``
    scales all five dropouts. Metrics: ``val/loss``, ``val/ppl`` (exp of the loss), ``val/acc``.
    With ``encoder_path`` the encoder starts from a trained one (remapped onto this vocabulary).
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
        **optim,
    ) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        dropouts = AWDDropouts(dropoute, dropouti, dropouth, wdrop, dropout).scaled(drop_mult)
        self.encoder = awd_lstm_encoder(vocab_sz, emb_sz, n_hid, n_layers, pad_idx, dropouts)
        self.decoder = TiedDecoder(self.encoder.embedding, dropouts.dropout)
        self.alpha, self.beta = alpha, beta
        self.states: dict[str, State | None] = {"train": None, "val": None, "test": None}
        self.val_loss, self.val_acc = torchmetrics.MeanMetric(), torchmetrics.MeanMetric()
        self.test_loss, self.test_acc = torchmetrics.MeanMetric(), torchmetrics.MeanMetric()

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (batch, time, vocab) and the state after ``tokens``."""
        _, dropped, state = self.encoder(tokens, state)
        logits, _ = self.decoder(dropped[-1])
        return logits, state

    def layer_groups(self) -> list[nn.Module]:
        """Each LSTM layer, then the embedding with the (tied) decoder, as fastai splits a language model."""
        return [*self.encoder.layers, nn.ModuleList([self.encoder.embedding, self.decoder])]

    def _state(self, key: str, batch_size: int) -> State:
        state = self.states[key]
        if state is None or state[0][0].size(1) != batch_size:
            state = self.encoder.init_state(batch_size)
        return state

    def reset_state(self, key: str | None = None) -> None:
        """Forget the carried hidden state (of one stage, or all)."""
        for k in [key] if key else list(self.states):
            self.states[k] = None

    def on_train_epoch_start(self) -> None:
        self.reset_state("train")

    def on_validation_epoch_start(self) -> None:
        self.reset_state("val")

    def on_test_epoch_start(self) -> None:
        self.reset_state("test")

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        raw, dropped, state = self.encoder(x, self._state("train", x.size(0)))
        self.states["train"] = detach_state(state)
        logits, last_dropped = self.decoder(dropped[-1])
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        last = raw[-1].float()
        ar = last_dropped.float().pow(2).mean()
        tar = (last[:, 1:] - last[:, :-1]).pow(2).mean() if last.size(1) > 1 else last.new_zeros(())
        self.log_train_loss(loss)
        return loss + self.alpha * ar + self.beta * tar

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor], key: str) -> None:
        x, y = batch
        logits, self.states[key] = self(x, self._state(key, x.size(0)))
        logits = logits.float().flatten(0, 1)
        loss = F.cross_entropy(logits, y.flatten())
        accuracy = (logits.argmax(-1) == y.flatten()).float().mean()
        n = y.numel()
        getattr(self, f"{key}_loss").update(loss, n)
        getattr(self, f"{key}_acc").update(accuracy, n)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def _log_epoch(self, key: str) -> None:
        loss, accuracy = getattr(self, f"{key}_loss"), getattr(self, f"{key}_acc")
        if loss.update_count == 0:
            return
        # compute() syncs the ranks, so every rank logs the same numbers (sync_dist only silences a warning)
        value = loss.compute()
        self.log(f"{key}/loss", value, prog_bar=key == "val", sync_dist=True)
        self.log(f"{key}/ppl", torch.exp(value), prog_bar=key == "val", sync_dist=True)
        self.log(f"{key}/acc", accuracy.compute(), sync_dist=True)
        loss.reset()
        accuracy.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        state, trainer = self.states["train"], self.trainer
        mid_epoch = trainer.fit_loop.epoch_loop.batch_progress.current.completed < trainer.num_training_batches
        if state is not None and mid_epoch and trainer.world_size == 1:
            checkpoint["lm_state"] = [[h.cpu(), c.cpu()] for h, c in state]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get("lm_state")
        if saved:
            # Lightning calls no on_train_epoch_start for an epoch resumed in its middle
            self.states["train"] = [(h.to(self.device), c.to(self.device)) for h, c in saved]

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit":
            self.load_pretrained_encoder()

    @rank_zero_only
    def export(self, out_dir: str | Path) -> None:
        """``encoder.pt`` (the encoder's weights only) for a classifier or another language model."""
        self.save_encoder(Path(out_dir) / "encoder.pt")
