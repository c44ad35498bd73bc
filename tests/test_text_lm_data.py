"""The language-model stream: rows, windows, DDP slices, position, and the data module."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from datamodules.files import DataError
from datamodules.text.lm import LanguageModelDataModule, LMLoader, window_bounds


def _toy(n_docs: int = 1, n_tokens: int = 100) -> tuple[np.ndarray, np.ndarray]:
    ids = np.arange(n_tokens, dtype=np.int32)
    offsets = np.linspace(0, n_tokens, n_docs + 1).astype(np.int64)
    return ids, offsets


def _batches(loader: LMLoader) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(loader)


def test_fixed_windows_are_exact_on_a_toy_stream():
    ids, offsets = _toy()
    loader = LMLoader(ids, offsets, batch_size=4, bptt=5, shuffle=False, random_bptt=False)
    rows = torch.arange(100).view(4, 25)
    bounds = [0, 5, 10, 15, 20, 24]
    batches = _batches(loader)
    assert len(loader) == len(batches) == 5
    for (x, y), start, end in zip(batches, bounds[:-1], bounds[1:], strict=True):
        assert x.dtype == torch.long
        assert torch.equal(x, rows[:, start:end])
        assert torch.equal(y, rows[:, start + 1 : end + 1])


def test_random_windows_vary_and_continue_every_row():
    ids, offsets = _toy(n_tokens=4 * 1001)
    loader = LMLoader(ids, offsets, batch_size=4, bptt=20, shuffle=False, random_bptt=True, seed=3)
    batches = _batches(loader)
    lengths = [x.size(1) for x, _ in batches]
    assert len(set(lengths)) > 5 and min(lengths) >= 5
    assert len(batches) == round(1000 / 20)
    rows = torch.arange(4 * 1001).view(4, 1001)
    assert torch.equal(torch.cat([x for x, _ in batches], 1), rows[:, :-1])
    assert torch.equal(torch.cat([y for _, y in batches], 1), rows[:, 1:])


def test_window_draws_follow_the_lesson_and_are_seeded():
    draw = window_bounds(70_000, 70, True, np.random.default_rng(0))
    lengths = np.diff(draw)
    assert draw[0] == 0 and draw[-1] == 70_000 and (lengths >= 1).all()
    assert len(lengths) == 1000
    assert 60 < np.median(lengths) < 80
    assert ((lengths > 25) & (lengths < 45)).mean() > 0.02
    again = window_bounds(70_000, 70, True, np.random.default_rng(0))
    np.testing.assert_array_equal(draw, again)
    assert window_bounds(10, 4, False).tolist() == [0, 4, 8, 10]


def test_each_rank_reads_its_own_contiguous_slice_in_step():
    ids, offsets = _toy(n_tokens=2 * 4 * 301)
    ranks = [
        LMLoader(ids, offsets, 4, 10, shuffle=False, random_bptt=True, seed=1, num_replicas=2, rank=r) for r in (0, 1)
    ]
    lengths = [[x.size(1) for x, _ in _batches(loader)] for loader in ranks]
    assert lengths[0] == lengths[1]
    for rank, loader in enumerate(ranks):
        rows = torch.cat([x for x, _ in _batches(loader)], 1)
        share = torch.arange(rank * 1204, (rank + 1) * 1204).view(4, 301)
        assert torch.equal(rows, share[:, :-1])


def test_shuffled_documents_stay_whole_and_change_every_epoch():
    ids, offsets = _toy(n_docs=20, n_tokens=200)
    loader = LMLoader(ids, offsets, batch_size=2, bptt=10, shuffle=True, random_bptt=False, seed=0)
    seen = [torch.cat([x for x, _ in _batches(loader)], 1) for _ in range(2)]
    assert not torch.equal(seen[0], seen[1])
    for epoch, inputs in enumerate(seen):
        rows = loader.rows(epoch)
        assert torch.equal(inputs, rows[:, :-1])
        stream = rows.flatten()
        assert sorted(stream.tolist()) == list(range(200))
        starts = stream[::10]
        assert (starts % 10 == 0).all()
        assert torch.equal(stream.view(20, 10) - starts[:, None], torch.arange(10).expand(20, 10))


def test_position_state_resumes_the_same_batches():
    ids, offsets = _toy(n_docs=10, n_tokens=4 * 500)
    loader = LMLoader(ids, offsets, 4, 12, shuffle=True, random_bptt=True, seed=5)
    loader.sampler.set_epoch(2)
    it = iter(loader)
    for _ in range(3):
        next(it)
    state = loader.state_dict()
    assert state == {"epoch": 2, "batches": 3}
    rest = list(it)
    resumed = LMLoader(ids, offsets, 4, 12, shuffle=True, random_bptt=True, seed=5)
    resumed.load_state_dict(state)
    again = list(resumed)
    assert len(again) == len(rest)
    for (x, y), (x2, y2) in zip(rest, again, strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert resumed.state_dict() == {"epoch": 3, "batches": 0}
    finished = LMLoader(ids, offsets, 4, 12, shuffle=True, random_bptt=True, seed=5)
    finished.load_state_dict({"epoch": 2, "batches": 3 + len(rest)})
    assert finished.state_dict() == {"epoch": 3, "batches": 0}


def test_too_short_a_stream_is_a_clear_error():
    ids, offsets = _toy(n_tokens=10)
    with pytest.raises(ValueError, match="too short for 1 x 8 rows"):
        LMLoader(ids, offsets, 8, 5, shuffle=False, random_bptt=False)


def test_data_module_holds_out_documents_and_describes_the_vocabulary(tmp_path):
    dm = LanguageModelDataModule("imdb", batch_size=8, bptt=20, cache_dir=str(tmp_path), n_workers=1)
    dm.prepare_data()
    dm.setup("fit")
    n_docs = len(dm.tokenized.splits)
    assert len(dm.docs["valid"]) == round(0.1 * n_docs)
    assert len(dm.docs["train"]) + len(dm.docs["valid"]) == n_docs
    assert len(np.intersect1d(dm.docs["train"], dm.docs["valid"])) == 0
    described = dm.describe()
    assert described["vocab_sz"] == len(dm.vocab) and described["pad_idx"] == 1
    assert dm.vocab.itos == dm.vocab.load(described["vocab_path"]).itos
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape[0] == 8 and torch.equal(x[:, 1:], y[:, :-1])
    assert dm.test_dataloader() == []
    assert dm.unigram_perplexity() > 20
    dm.export(tmp_path / "run")
    assert (tmp_path / "run" / "vocab.json").is_file()


def test_without_case_markers_neither_the_corpus_nor_a_prompt_has_them(tmp_path):
    def marked(case_markers: bool) -> set[str]:
        dm = LanguageModelDataModule("imdb", cache_dir=str(tmp_path), n_workers=1, case_markers=case_markers)
        dm.prepare_data()
        tokens = dm.tokenized.tokens
        return {tokens.types[i] for i in np.unique(tokens.ids)} & {"xxmaj", "xxup"}

    assert marked(True) == {"xxmaj", "xxup"}
    assert marked(False) == set()
    dm = LanguageModelDataModule("imdb", cache_dir=str(tmp_path), n_workers=1, case_markers=False)
    assert dm.preprocessing().tokens("The BEST film") == ["xxbos", "the", "best", "film"]


def test_wikitext_keeps_its_own_splits(tmp_path):
    dm = LanguageModelDataModule("wikitext", batch_size=4, bptt=20, cache_dir=str(tmp_path), n_workers=1)
    dm.prepare_data()
    dm.setup("fit")
    splits = dm.tokenized.splits
    assert (splits[dm.docs["valid"]] == 1).all() and (splits[dm.docs["test"]] == 2).all()
    assert len(dm.test_dataloader()) > 0
    assert "xxunk" in dm.vocab.textify(dm.stream("train")[0][:2000])


def test_an_abandoned_pass_does_not_shorten_the_next_one():
    # Lightning's sanity check reads two validation batches and drops the iterator: the first real
    # validation must still see every batch
    ids, offsets = _toy(n_tokens=4 * 101)
    loader = LMLoader(ids, offsets, batch_size=4, bptt=10, shuffle=False, random_bptt=False)
    it = iter(loader)
    next(it), next(it)
    assert len(list(loader)) == len(loader) == 10


def test_a_corpus_of_whitespace_is_refused_naming_its_folder(tmp_path):
    for split in ("train", "valid"):
        (tmp_path / "blank" / split).mkdir(parents=True)
        (tmp_path / "blank" / split / "a.txt").write_text("   \n\n ")
    data = LanguageModelDataModule(
        corpus="folder", data_dir=str(tmp_path / "blank"), cache_dir=str(tmp_path / "cache"), n_workers=1
    )
    data.prepare_data()
    data.setup("fit")
    with pytest.raises(DataError, match=r"blank, the train documents: a stream of \d+ tokens is too short"):
        data.train_dataloader()
