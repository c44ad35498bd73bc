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
    """Yields tensors of row indices, one per batch, and splits the rows between DDP ranks itself.

    Training order is a permutation seeded by ``seed + epoch`` (the same on every rank); each rank
    takes an equal contiguous share of it, so all ranks run the same number of steps. Without
    shuffling each rank gets a contiguous slice and nothing is repeated, so evaluation metrics
    are exact. The epoch advances by itself after each pass and Lightning's ``set_epoch`` sets it.
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

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _rows(self) -> torch.Tensor:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n_rows, generator=generator)
            share = self.n_rows // self.num_replicas
            return order[self.rank * share : (self.rank + 1) * share]
        return torch.arange(self.n_rows).tensor_split(self.num_replicas)[self.rank]

    def _n_own_rows(self) -> int:
        if self.shuffle:
            return self.n_rows // self.num_replicas
        return self.n_rows // self.num_replicas + (self.rank < self.n_rows % self.num_replicas)

    def __len__(self) -> int:
        n = self._n_own_rows()
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        batches = self._rows().split(self.batch_size)
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches = batches[:-1]
        self.epoch += 1
        return iter(batches)


def tensor_loader(
    dataset: TensorBatches,
    batch_size: int,
    shuffle: bool,
    trainer: pl.Trainer | None = None,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader that yields whole batches from ``dataset``, sharded over the trainer's ranks."""
    sampler = ShardedBatchSampler(
        len(dataset),
        batch_size,
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
        num_replicas=trainer.world_size if trainer is not None else 1,
        rank=trainer.global_rank if trainer is not None else 0,
    )
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )
