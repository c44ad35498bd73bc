"""A sentence's sentiment from an LSTM's last step (workshop activity 6.03: Amazon product reviews)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.contracts import ItemScores
from lightning_models.losses import check_smoothing, smoothed_bce

POOLINGS = ("last", "concat")


class SentenceLSTM(RecipeModule):
    """Embedding (``emb_sz``) -> LSTM (``n_hidden`` x ``n_layers``) -> a linear layer, trained with binary
    cross-entropy on the logit. ``pooling="last"`` reads the last step's output, as the workshop did (the
    sentences come left-padded, so it is the last word's); ``"concat"`` the last step with the max and
    the mean over the sentence's words (ULMFiT's concat pooling). ``dropout`` applies to the embeddings
    and to what the linear layer reads. Logs ``val/loss`` and ``val/acc``.
    """

    def __init__(
        self,
        vocab_sz: int,
        pad_idx: int = 0,
        emb_sz: int = 64,
        n_hidden: int = 128,
        n_layers: int = 3,
        pooling: str = "last",
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
        **optim,
    ) -> None:
        super().__init__(**optim)
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
        self.save_hyperparameters()
        self.pad_idx = pad_idx
        self.pooling = pooling
        self.label_smoothing = check_smoothing(label_smoothing)
        self.embedding = nn.Embedding(vocab_sz, emb_sz, padding_idx=pad_idx)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(emb_sz, n_hidden, n_layers, batch_first=True)
        self.output = nn.Linear(n_hidden * (3 if pooling == "concat" else 1), 1)
        self.val_loss = torchmetrics.MeanMetric()
        self.val_acc = torchmetrics.Accuracy(task="binary")

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The logit of label 1 for each sentence."""
        hidden, _ = self.lstm(self.dropout(self.embedding(tokens)))
        features = hidden[:, -1]
        if self.pooling == "concat":
            words = (tokens != self.pad_idx).unsqueeze(-1)
            n_words = words.sum(1).clamp(min=1)
            largest = hidden.masked_fill(~words, float("-inf")).amax(1).nan_to_num(0.0, neginf=0.0)
            features = torch.cat([features, largest, (hidden * words).sum(1) / n_words], 1)
        return self.output(self.dropout(features)).squeeze(-1)

    def layer_groups(self) -> list[nn.Module]:
        return [self.embedding, self.lstm, self.output]

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        tokens, labels = batch
        loss = smoothed_bce(self(tokens).float(), labels, self.label_smoothing)
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        tokens, labels = batch
        logits = self(tokens).float()
        self.val_loss.update(F.binary_cross_entropy_with_logits(logits, labels, reduction="none"))
        self.val_acc.update(logits.sigmoid(), labels.long())

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        """The probabilities of labels 0 and 1."""
        positive = self(batch[0]).float().sigmoid()
        return torch.stack([1 - positive, positive], 1)

    def on_validation_epoch_end(self) -> None:
        self.log("val/loss", self.val_loss)
        self.log("val/acc", self.val_acc, prog_bar=True)

    def score_items(self, batch: tuple[torch.Tensor, ...]) -> ItemScores:
        """Each sentence's likelier label (0 or 1), its label and binary cross-entropy, for the reports."""
        tokens, labels = batch
        logits = self(tokens).float()
        loss = F.binary_cross_entropy_with_logits(logits, labels.float(), reduction="none")
        return ItemScores((logits > 0).long(), labels.long(), loss)
