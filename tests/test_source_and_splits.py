"""Where a data module's files come from (DataSource), the one validation split rule (splits.py), and the
random generators a checkpoint carries (lightning_models/rng.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

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
