"""Where a data module's files come from (DataSource), the one validation split rule (splits.py), how
batches are dealt to the ranks (batching.py), and the random generators a checkpoint carries
(lightning_models/rng.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from datamodules.batching import ShardedBatchSampler
from datamodules.files import DataError
from datamodules.source import DataSource
from datamodules.splits import check_valid_pct, latest_split, random_split
from lightning_models.rng import restore_rank_rng_state, rng_states_of_all_ranks


def test_the_users_folder_wins_else_the_sample_is_written_once_and_kept(tmp_path):
    writes = []

    def write(folder):
        writes.append(folder)
        folder.mkdir(parents=True)
        return folder

    assert DataSource(data_dir=str(tmp_path / "mine")).resolve("s-v1", write) == tmp_path / "mine"
    source = DataSource(cache_dir=tmp_path)
    assert source.is_sample
    assert source.resolve("s-v1", write) == source.resolve("s-v1", write) == tmp_path / "samples" / "s-v1"
    assert writes == [tmp_path / "samples" / "s-v1"]
    assert source.data_dir is None and not source.download  # the settings stay as given
    with pytest.raises(ValueError, match="download=True needs the name of a dataset"):
        DataSource(download=True, cache_dir=tmp_path).resolve("s-v1", write)


def test_random_split_is_the_seeded_permutation_with_at_least_one_row_each_side():
    train, valid = random_split(10, 0.2, seed=42)
    expected = np.random.default_rng(42).permutation(10)
    assert valid.tolist() == sorted(expected[:2]) and train.tolist() == sorted(expected[2:])
    assert len(random_split(10, 0.01, seed=0)[1]) == 1  # 0.1 rows round up to one
    rows = np.array([3, 5, 8, 13])
    assert sorted(np.concatenate(random_split(rows, 0.5, np.random.default_rng(0)))) == rows.tolist()
    with pytest.raises(DataError, match=r"valid_pct=0.5 of 1 reviews leaves no reviews to train on"):
        random_split(1, 0.5, seed=0, what="reviews")


def test_latest_split_validates_on_the_latest_rows():
    train, valid = latest_split(np.array([5, 1, 4, 2, 3]), 0.4)
    assert valid.tolist() == [0, 2] and train.tolist() == [1, 3, 4]


@pytest.mark.parametrize("valid_pct, allow_zero", [(0, False), (1, False), (-0.1, True), (1.0, True)])
def test_a_validation_share_outside_its_interval_is_refused(valid_pct, allow_zero):
    with pytest.raises(ValueError, match=f"valid_pct must lie .*got {valid_pct}"):
        check_valid_pct(valid_pct, allow_zero=allow_zero)
    check_valid_pct(0.2, allow_zero=allow_zero)


def test_every_generator_comes_back_from_a_weights_only_checkpoint(tmp_path):
    torch.save({"rng_states": rng_states_of_all_ranks()}, tmp_path / "rng.ckpt")
    draws = (torch.rand(3), np.random.rand(3), random.random())
    states = torch.load(tmp_path / "rng.ckpt", weights_only=True)["rng_states"]
    assert not restore_rank_rng_state(states, rank=0, world_size=2)  # saved by another number of ranks
    assert restore_rank_rng_state(states, rank=0, world_size=1)
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(draws[0], again[0]) and np.array_equal(draws[1], again[1]) and draws[2] == again[2]


@pytest.mark.parametrize("n_rows, batch_size", [(60, 128), (7, 4), (1000, 64), (3, 128)])
def test_evaluation_batches_cover_each_row_once_with_a_batch_for_every_rank(n_rows, batch_size):
    """A validation set smaller than two batches still gives each of two ranks rows (Lightning refuses a rank
    with none), nothing repeated or left out; one process keeps the batches as they were."""
    ranks = [ShardedBatchSampler(n_rows, batch_size, shuffle=False, num_replicas=2, rank=r) for r in (0, 1)]
    batches = [sampler.epoch_batches(0) for sampler in ranks]
    assert all(len(b) == len(sampler) >= 1 for b, sampler in zip(batches, ranks, strict=True))
    rows = torch.cat([batch for rank_batches in batches for batch in rank_batches])
    assert sorted(rows.tolist()) == list(range(n_rows))
    assert max(len(batch) for rank_batches in batches for batch in rank_batches) <= batch_size
    one = ShardedBatchSampler(n_rows, batch_size, shuffle=False).epoch_batches(0)
    assert [len(batch) for batch in one] == [len(b) for b in torch.arange(n_rows).split(batch_size)]
