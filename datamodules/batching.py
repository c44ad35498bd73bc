"""Batches straight from tensors: a batch is one indexing of the data tensors, never a per-row collate."""

from __future__ import annotations

from collections.abc import Iterator

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


class TensorBatches(Dataset):
    """Tensors of equal length, indexed by a whole tensor of row indices at once."""

    def __init__(self, *tensors: torch.Tensor) -> None:
        lengths = {len(t) for t in tensors}
        if len(lengths) != 1:
            raise ValueError(f"all tensors must have the same number of rows, got {sorted(lengths)}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(t[index] for t in self.tensors)


class ShardedBatchSampler(DistributedSampler):
    """Yields tensors of row indices, one per batch, and deals the batches out to the DDP ranks itself.

    The order is a permutation seeded by ``seed + epoch`` (the same on every rank), cut into batches;
    rank r takes batches r, r + W, r + 2W, ... of W ranks. So W ranks with batch size B see, step by
    step, exactly the rows one process with batch size W*B would see. For training every rank gets
    the same number of batches (a few batches at the end of a shuffled epoch are left out); for
    evaluation nothing is left out or repeated, so metrics are exact.

    The epoch advances by itself after each pass; Lightning's ``set_epoch`` sets it. The position
    (epoch and batches handed out) is a state dict, so a resumed run goes on with the right order.
    Subclassing ``DistributedSampler`` tells Lightning not to wrap it in one of its own.
    """

    def __init__(
        self,
        n_rows: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        drop_last: bool = False,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.n_rows = n_rows
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.position = {"epoch": 0, "batches": 0}
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _n_batches(self) -> int:
        if self.drop_last:
            return self.n_rows // self.batch_size
        return -(-self.n_rows // self.batch_size)

    def __len__(self) -> int:
        n = self._n_batches()
        if self.shuffle:
            return n // self.num_replicas
        return len(range(self.rank, n, self.num_replicas))

    def _batches(self, epoch: int) -> tuple[torch.Tensor, ...]:
        if self.shuffle:
            order = torch.randperm(self.n_rows, generator=torch.Generator().manual_seed(self.seed + epoch))
        else:
            order = torch.arange(self.n_rows)
        batches = order.split(self.batch_size)[: self._n_batches()]
        if self.shuffle:
            batches = batches[: len(batches) // self.num_replicas * self.num_replicas]
        return batches[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[torch.Tensor]:
        epoch, skip = self.epoch, self._skip
        self.epoch, self._skip = epoch + 1, 0
        self.position = {"epoch": epoch, "batches": skip}
        for batch in self._batches(epoch)[skip:]:
            self.position["batches"] += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Where this sampler is: the epoch of the current pass and the batches handed out in it."""
        return dict(self.position)

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Go on from ``state``: the rest of its epoch, or the next epoch if that one was done."""
        epoch, done = state["epoch"], state["batches"]
        if done >= len(self):
            epoch, done = epoch + 1, 0
        self.epoch, self._skip = epoch, done


class TensorLoader(DataLoader):
    """A DataLoader over a ShardedBatchSampler whose position Lightning saves in checkpoints.

    With a trainer, the position is the trainer's: the batches it finished in its current epoch
    (the sampler has handed out one more, which Lightning prefetches).
    """

    trainer: pl.Trainer | None = None

    def state_dict(self) -> dict[str, int]:
        if self.trainer is not None:
            done = self.trainer.fit_loop.epoch_loop.batch_progress.current.completed
            return {"epoch": self.trainer.current_epoch, "batches": done}
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)


def tensor_loader(
    dataset: TensorBatches,
    batch_size: int,
    shuffle: bool,
    trainer: pl.Trainer | None = None,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = False,
) -> TensorLoader:
    """A loader that yields whole batches from ``dataset``, sharded over the trainer's ranks."""
    sampler = ShardedBatchSampler(
        len(dataset),
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        num_replicas=trainer.world_size if trainer is not None else 1,
        rank=trainer.global_rank if trainer is not None else 0,
    )
    loader = TensorLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
    loader.trainer = trainer
    return loader
