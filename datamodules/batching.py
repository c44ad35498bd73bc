"""Batches straight from tensors: a batch is one indexing of the data tensors, never a per-row collate."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, SequentialSampler


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


def trainer_position(trainer: pl.Trainer) -> dict[str, int]:
    """The trainer's place in its epoch: the batches it finished (the loader has handed out one more,
    which Lightning prefetches, so a sampler's own count is one ahead)."""
    return {"epoch": trainer.current_epoch, "batches": trainer.fit_loop.epoch_loop.batch_progress.current.completed}


def ranks(trainer: pl.Trainer | None) -> dict[str, int]:
    """The ``num_replicas`` and ``rank`` a sampler shards over: the trainer's, or one process without one."""
    if trainer is None:
        return {"num_replicas": 1, "rank": 0}
    return {"num_replicas": trainer.world_size, "rank": trainer.global_rank}


class ResumableSampler(DistributedSampler):
    """The base of every sampler here: this rank's batches of an epoch, seeded by ``seed`` and the epoch,
    and a position (epoch, batches handed out) that a checkpoint saves and a resumed run goes on from.

    Subclasses give ``epoch_batches(epoch)`` (this rank's batches, the same on every call) and
    ``__len__``. The epoch advances by itself after each pass; Lightning's ``set_epoch`` sets it.
    Subclassing ``DistributedSampler`` tells Lightning not to wrap it in one of its own.
    """

    def __init__(self, seed: int = 0, num_replicas: int = 1, rank: int = 0) -> None:
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self._skip = 0
        self._pass: dict[str, int] | None = None

    def epoch_batches(self, epoch: int) -> Sequence:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.epoch, self._skip = epoch, 0

    def __iter__(self) -> Iterator:
        epoch, skip = self.epoch, self._skip
        self.epoch, self._skip = epoch + 1, 0
        self._pass = {"epoch": epoch, "batches": skip}
        for batch in self.epoch_batches(epoch)[skip:]:
            self._pass["batches"] += 1
            yield batch
        self._pass = None

    def state_dict(self) -> dict[str, int]:
        """The pass in progress (its epoch, the batches handed out), else where the next pass starts."""
        return dict(self._pass) if self._pass is not None else {"epoch": self.epoch, "batches": self._skip}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Go on from ``state``: the rest of its epoch, or the next epoch if that one was done."""
        epoch, done = int(state["epoch"]), int(state["batches"])
        if done >= len(self):
            epoch, done = epoch + 1, 0
        self.epoch, self._skip = epoch, done


class SavesPosition:
    """A loader whose position Lightning saves in checkpoints: the trainer's when it has one, else its sampler's."""

    trainer: pl.Trainer | None = None
    sampler: ResumableSampler

    def state_dict(self) -> dict[str, int]:
        if self.trainer is not None:
            return trainer_position(self.trainer)
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.load_state_dict(state)


class ResumableLoader(SavesPosition, DataLoader):
    """A DataLoader over a ResumableSampler given as its ``sampler`` with ``batch_size=None`` (each item a batch).

    It has a generator of its own: a DataLoader draws a seed from its generator each time it is
    iterated, and with torch's global one a resumed run (which iterates once more) would shift every
    dropout mask after it.
    """

    def __init__(self, *args, generator: torch.Generator | None = None, **kwargs) -> None:
        super().__init__(*args, generator=generator if generator is not None else torch.Generator(), **kwargs)

    def __getstate__(self) -> dict:
        # A Generator sent to a spawned process (ddp_spawn) pickles its state as a temporary tensor whose
        # shared memory is gone before the child maps it; plain bytes travel inline.
        state = self.__dict__.copy()
        state["generator"] = self.generator.get_state().numpy().tobytes()
        return state

    def __setstate__(self, state: dict) -> None:
        generator = torch.Generator()
        generator.set_state(torch.frombuffer(bytearray(state.pop("generator")), dtype=torch.uint8))
        self.__dict__.update(state, generator=generator)


class ShardedBatchSampler(ResumableSampler):
    """Yields tensors of row indices, one per batch, and deals the batches out to the DDP ranks itself.

    The order is a permutation seeded by ``seed + epoch`` (the same on every rank), cut into batches;
    rank r takes batches r, r + W, r + 2W, ... of W ranks. So W ranks with batch size B see, step by
    step, exactly the rows one process with batch size W*B would see. For training every rank gets
    the same number of batches (a few batches at the end of a shuffled epoch are left out); for
    evaluation nothing is left out or repeated, so metrics are exact, and batches shrink where there
    would be fewer than ranks (a small validation set), since Lightning refuses a rank with none.
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
        super().__init__(seed, num_replicas, rank)
        self.n_rows = n_rows
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last

    @property
    def _rows_per_batch(self) -> int:
        if self.shuffle:
            return self.batch_size
        return max(1, min(self.batch_size, -(-self.n_rows // self.num_replicas)))

    def _n_batches(self) -> int:
        if self.drop_last:
            return self.n_rows // self._rows_per_batch
        return -(-self.n_rows // self._rows_per_batch)

    def __len__(self) -> int:
        n = self._n_batches()
        if self.shuffle:
            return n // self.num_replicas
        return len(range(self.rank, n, self.num_replicas))

    def epoch_batches(self, epoch: int) -> tuple[torch.Tensor, ...]:
        if self.shuffle:
            order = torch.randperm(self.n_rows, generator=torch.Generator().manual_seed(self.seed + epoch))
        else:
            order = torch.arange(self.n_rows)
        batches = order.split(self._rows_per_batch)[: self._n_batches()]
        if self.shuffle:
            batches = batches[: len(batches) // self.num_replicas * self.num_replicas]
        return batches[self.rank :: self.num_replicas]


class SequentialBatchSampler(ShardedBatchSampler, SequentialSampler):
    """The batches in order: what Lightning's ``overfit_batches`` needs. Lightning swaps the sampler of any
    loader that is not a ``SequentialSampler`` for one of single rows, which breaks whole-batch loaders."""


class TensorLoader(ResumableLoader):
    """A DataLoader over a ShardedBatchSampler, yielding whole batches from TensorBatches."""


def tensor_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    trainer: pl.Trainer | None = None,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = False,
) -> TensorLoader:
    """A loader of whole batches from ``dataset`` (indexed by a tensor of rows), sharded over the trainer's ranks;
    in order when the trainer overfits a few batches (``trainer.overfit_batches``)."""
    overfit = trainer is not None and bool(trainer.overfit_batches)
    sampler = (SequentialBatchSampler if overfit else ShardedBatchSampler)(
        len(dataset),
        batch_size,
        shuffle=shuffle and not overfit,
        seed=seed,
        drop_last=drop_last,
        **ranks(trainer),
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


class InMemoryDataModule(pl.LightningDataModule):
    """A data module whose splits are ``TensorBatches`` in ``self.datasets`` (``train``, ``valid``, ...),
    filled by the subclass's ``setup``; it sets ``batch_size``, ``num_workers`` and ``seed``.

    Training batches are shuffled (seeded per epoch, resumable mid-epoch) and sharded over the ranks;
    evaluation batches are four times larger, in order, sharded for validation and testing.
    """

    datasets: dict[str, TensorBatches]
    batch_size: int
    num_workers: int
    seed: int

    def train_dataloader(self) -> TensorLoader:
        data = self.datasets["train"]
        return tensor_loader(
            data,
            self.batch_size,
            shuffle=True,
            trainer=self.trainer,
            seed=self.seed,
            num_workers=self.num_workers,
            drop_last=len(data) > self.batch_size,
        )

    def val_dataloader(self) -> TensorLoader:
        return self.evaluation_loader("valid")

    def evaluation_loader(self, split: str, sharded: bool = True) -> TensorLoader:
        """Batches of ``split`` in order; unsharded for prediction, which runs in one process."""
        trainer = self.trainer if sharded else None
        return tensor_loader(self.datasets[split], self.batch_size * 4, shuffle=False, trainer=trainer)

    def report_dataloader(self) -> TensorLoader:
        """The validation rows in order, in one process: what the reports evaluate."""
        return self.evaluation_loader("valid", sharded=False)
