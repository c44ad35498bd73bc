"""The ULMFiT classifier: the AWD-LSTM encoder over bptt-sized chunks, concat pooling, a BN/dropout/linear head."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.contracts import ItemScores
from lightning_models.layers import bn_drop_lin_stack
from lightning_models.losses import check_smoothing
from lightning_models.stream_lm import detached
from lightning_models.text.awd_lstm import AWDDropouts, awd_lstm_encoder
from lightning_models.text.fastai_weights import FastaiPretrained
from lightning_models.text.transfer import EncoderTransfer


def left_align(tokens: torch.Tensor, lengths: torch.Tensor, pad_idx: int) -> torch.Tensor:
    """Rows padded first (``lengths[i]`` tokens at the end of row i) rewritten to start at column 0."""
    width = tokens.size(1)
    columns = torch.arange(width, device=tokens.device)
    source = (columns + (width - lengths)[:, None]).clamp(max=width - 1)
    aligned = tokens.gather(1, source)
    return aligned.masked_fill(columns >= lengths[:, None], pad_idx)


def masked_concat_pool(outputs: torch.Tensor, mask: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """[output at ``last``, max over the ``mask``ed steps, mean over them]: (batch, 3 * features).

    Steps outside ``mask`` (padding, or tokens before the kept window) take no part, whatever they hold.
    """
    rows = torch.arange(outputs.size(0), device=outputs.device)
    keep = mask.unsqueeze(-1)
    max_pool = outputs.masked_fill(~keep, float("-inf")).max(1).values
    mean_pool = outputs.masked_fill(~keep, 0).sum(1) / mask.sum(1, keepdim=True).to(outputs.dtype)
    return torch.cat([outputs[rows, last], max_pool, mean_pool], 1)


class PoolingHead(nn.Sequential):
    """BatchNorm -> Dropout -> Linear per layer, ReLUs between (``bn_drop_lin_stack``), on the pooled encoding."""

    def __init__(self, sizes: Sequence[int], ps: Sequence[float]) -> None:
        super().__init__(*bn_drop_lin_stack(sizes, ps))


class TextClassifier(EncoderTransfer, FastaiPretrained, RecipeModule):
    """Documents -> classes, from an AWD-LSTM encoder (usually a language model's).

    The encoder reads each document in ``bptt``-sized chunks, carrying its hidden state from chunk
    to chunk (gradients stop at chunk boundaries) and keeping the outputs of the last ``max_seq``
    tokens, which concat pooling [last, max, mean] sums up for the head (``lin_ftrs`` hidden sizes,
    dropouts ``ps``). ``drop_mult`` scales the encoder's dropouts (0.5 of 0.4/0.5/0.05/0.3 by default, as
    fastai v2's text classifier learner; lesson 4 used them unscaled).
    Layer groups: the embedding, each LSTM layer, the head. With ``encoder_path`` the encoder
    starts from a language model's ``encoder.pt``, its embedding remapped onto this vocabulary; with
    ``pretrained_path`` (and ``pretrained_vocab``) from fastai's published WikiText-103 model.
    Before each validation the head's BatchNorm statistics are recomputed from ``recalibration_batches``
    training batches (at most an epoch's) as the evaluated model sees them (0: the running averages of
    training, as fastai).
    Batches: (tokens padded first, lengths, labels[, index]).
    """

    def __init__(
        self,
        vocab_sz: int,
        n_classes: int,
        pad_idx: int = 1,
        vocab_path: str | None = None,
        emb_sz: int = 400,
        n_hid: int = 1150,
        n_layers: int = 3,
        dropoute: float = 0.05,
        dropouti: float = 0.4,
        dropouth: float = 0.3,
        wdrop: float = 0.5,
        drop_mult: float = 0.5,
        bptt: int = 70,
        max_seq: int = 1400,
        lin_ftrs: Sequence[int] = (50,),
        ps: Sequence[float] = (0.2, 0.1),
        encoder_path: str | None = None,
        encoder_vocab_path: str | None = None,
        pretrained_path: str | None = None,
        pretrained_vocab: str | None = None,
        recalibration_batches: int = 32,
        label_smoothing: float = 0.0,
        **optim,
    ) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        dropouts = AWDDropouts(dropoute, dropouti, dropouth, wdrop).scaled(drop_mult)
        self.encoder = awd_lstm_encoder(vocab_sz, emb_sz, n_hid, n_layers, pad_idx, dropouts)
        self.head = PoolingHead([3 * emb_sz, *lin_ftrs, n_classes], ps)
        self.pad_idx, self.bptt, self.max_seq = pad_idx, bptt, max_seq
        self.recalibration_batches = recalibration_batches
        self.label_smoothing = check_smoothing(label_smoothing)
        self.val_acc = torchmetrics.Accuracy("multiclass", num_classes=n_classes)
        self.test_acc = torchmetrics.Accuracy("multiclass", num_classes=n_classes)
        self.val_loss, self.test_loss = torchmetrics.MeanMetric(), torchmetrics.MeanMetric()

    def encode(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The pooled encoding (batch, 3 * emb_sz) of documents padded first."""
        lengths = lengths.to(tokens.device)
        tokens = left_align(tokens, lengths, self.pad_idx)
        width = tokens.size(1)
        first_kept = (lengths - self.max_seq).clamp(min=0)
        skip = int(first_kept.min()) // self.bptt * self.bptt
        state, outputs = None, []
        for start in range(0, width, self.bptt):
            chunk = tokens[:, start : start + self.bptt]
            if start + chunk.size(1) <= skip:
                with torch.no_grad():
                    _, _, state = self.encoder(chunk, state)
            else:
                raw, _, state = self.encoder(chunk, state)
                outputs.append(raw[-1])
            state = detached(state)
        positions = torch.arange(skip, width, device=tokens.device)
        mask = (positions >= first_kept[:, None]) & (positions < lengths[:, None])
        return masked_concat_pool(torch.cat(outputs, 1), mask, lengths - 1 - skip)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.head(self.encode(tokens, lengths))

    def layer_groups(self) -> list[nn.Module]:
        return [self.encoder.embedding, *self.encoder.layers, self.head]

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        tokens, lengths, labels = batch[:3]
        loss = F.cross_entropy(self(tokens, lengths).float(), labels, label_smoothing=self.label_smoothing)
        self.log_train_loss(loss)
        return loss

    def _evaluate(self, batch: Sequence[torch.Tensor], key: str) -> None:
        tokens, lengths, labels = batch[:3]
        logits = self(tokens, lengths).float()
        loss, accuracy = getattr(self, f"{key}_loss"), getattr(self, f"{key}_acc")
        loss.update(F.cross_entropy(logits, labels), len(labels))
        accuracy.update(logits, labels)
        self.log(f"{key}/loss", loss, prog_bar=key == "val", batch_size=len(labels))
        self.log(f"{key}/acc", accuracy, prog_bar=key == "val", batch_size=len(labels))

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        tokens, lengths, _, index = batch
        return {"index": index, "probs": torch.softmax(self(tokens, lengths).float(), -1)}

    def score_items(self, batch: Sequence[torch.Tensor]) -> ItemScores:
        """Each document's likeliest class, label and cross-entropy, for the reports."""
        tokens, lengths, labels = batch[:3]
        logits = self(tokens, lengths).float()
        return ItemScores(logits.argmax(1), labels, F.cross_entropy(logits, labels, reduction="none"))

    def on_validation_epoch_start(self) -> None:
        trainer = self.trainer
        if trainer.state.fn != "fit" or trainer.sanity_checking or not self.recalibration_batches:
            return
        # a loader of its own: reading the one in use would move its sampler on
        loader = trainer.datamodule.train_dataloader() if trainer.datamodule is not None else trainer.train_dataloader
        # no more batches than an epoch trains on (limit_train_batches shortens both)
        self.recalibrate_head(loader, min(self.recalibration_batches, trainer.num_training_batches))

    @torch.no_grad()
    def recalibrate_head(self, batches: Iterable, max_batches: int) -> None:
        """The head's BatchNorm statistics, recomputed from ``batches`` as the model evaluates them.

        Training leaves running averages of features taken under the encoder's dropout; a fresh or
        briefly trained encoder's features spread several times wider under dropout than without,
        so the evaluated head, normalized with the training statistics, gave every document the
        same class (the recalibration of Wu & Johnson's "Rethinking BatchNorm", 2021).
        """
        was_training = self.training
        self.eval()
        batches = islice(batches, max_batches)
        features = torch.cat([self.encode(tokens.to(self.device), lengths) for tokens, lengths, *_ in batches])
        reduce = self.trainer.strategy.reduce
        for layer in self.head:
            if isinstance(layer, nn.BatchNorm1d):
                # every DDP rank's replica gets the same statistics
                layer.running_mean.copy_(reduce(features.mean(0), reduce_op="mean"))
                layer.running_var.copy_(reduce(features.var(0), reduce_op="mean"))
            features = layer(features)
        self.train(was_training)

    def setup(self, stage: str) -> None:
        super().setup(stage)
        if stage == "fit":
            self.load_fastai_pretrained()
            self.load_pretrained_encoder()
