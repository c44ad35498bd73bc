"""What every language model over a stream shares: the hidden state carried across batches, the metrics."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
import torchmetrics
from torch.utils._pytree import tree_leaves, tree_map

from lightning_models.base import RecipeModule


def detached(state: Any) -> Any:
    """The state's tensors cut from the graph, so back-propagation stops at the window."""
    return tree_map(lambda t: t.detach(), state)


class StreamLanguageModel(RecipeModule):
    """Next-token prediction over consecutive windows of a token stream (the word LM's and the character LM's).

    A subclass gives ``forward(tokens, state) -> (logits, state)`` and ``init_state(batch_size)``.
    The hidden state (any nesting of tensors with the batch on dimension 1) is carried from batch to
    batch, detached, reset at the start of every training epoch and for every validation or test pass.
    A checkpoint taken mid-epoch holds it (and, as every model's, the random generators), so a run
    resumed from it goes on exactly as the uninterrupted one (under DDP each rank's hidden state is its
    own: a resumed rank starts its rows from zeros). Metrics: ``val/loss`` (nats per token),
    ``val/ppl`` (exp of the loss), ``val/acc``, and the same for ``test/``.
    """

    def __init__(self, **optim) -> None:
        super().__init__(**optim)
        self.states: dict[str, Any] = {"train": None, "val": None, "test": None}
        self.val_loss, self.val_acc = torchmetrics.MeanMetric(), torchmetrics.MeanMetric()
        self.test_loss, self.test_acc = torchmetrics.MeanMetric(), torchmetrics.MeanMetric()

    def init_state(self, batch_size: int) -> Any:
        raise NotImplementedError

    def _state(self, key: str, batch_size: int) -> Any:
        state = self.states[key]
        if state is None or tree_leaves(state)[0].size(1) != batch_size:
            state = self.init_state(batch_size)
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
        logits, state = self(x, self._state("train", x.size(0)))
        self.states["train"] = detached(state)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        self.log_train_loss(loss)
        return loss

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
            checkpoint["lm_state"] = tree_map(lambda t: t.cpu(), state)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get("lm_state")
        if saved:
            # Lightning calls no on_train_epoch_start for an epoch resumed in its middle
            self.states["train"] = tree_map(lambda t: t.to(self.device), saved)
