"""Tokenization rules, parallel tokenization, the vocabulary."""

from __future__ import annotations

import numpy as np
import pytest

from datamodules.files import DataError
from datamodules.text.tokenize import (
    SPECIALS,
    Tokenizer,
    TokenizerSettings,
    detokenize,
    tokenize_documents,
)
from datamodules.text.vocab import Vocab

CATALOGUE = [
    (
        "I loved it.<br /><br />Really &amp; truly #39;great#39; &quot;ok&quot;",
        ["xxbos", "i", "loved", "it", ".", "\n\n", "xxmaj", "really", "&", "truly", "'", "great", "'", '"', "ok", '"'],
    ),
    ("a<br>b<BR/>c\\nd", ["xxbos", "a", "\n", "b", "\n", "c", "\n", "d"]),
    ('He said \\"hi\\"', ["xxbos", "xxmaj", "he", "said", '"', "hi", '"']),
    ("Sooooo good!!!!", ["xxbos", "s", "xxrep", "5", "o", "good", "xxrep", "4", "!"]),
    ("Wait... what?!", ["xxbos", "xxmaj", "wait", "xxrep", "3", ".", "what", "?", "!"]),
    ("1000 people rated it 10/10", ["xxbos", "1000", "people", "rated", "it", "10/10"]),
    ("go go go away", ["xxbos", "xxwrep", "3", "go", "away"]),
    ("no no , really", ["xxbos", "no", "no", ",", "really"]),
    ("GOOD GOOD GOOD GOOD", ["xxbos", "xxwrep", "4", "xxup", "good"]),
    (
        "THIS is The BEST film, I think",
        ["xxbos", "xxup", "this", "is", "xxmaj", "the", "xxup", "best", "film", ",", "i", "think"],
    ),
    ("McDonald and the U.S. Don't", ["xxbos", "xxmaj", "mcdonald", "and", "the", "xxup", "u.s.", "xxmaj", "do", "n't"]),
    ("Naïve café — ÉCOLE 東京 😀", ["xxbos", "xxmaj", "naïve", "café", "—", "xxup", "école", "東京", "😀"]),
    ("", ["xxbos"]),
    ("  \n  ", ["xxbos", "\n"]),
    ("one  two\t three \n\n\n four", ["xxbos", "one", "two", "three", "\n\n", "four"]),
    ("xxbos xxmaj", ["xxbos", "xxbos", "xxmaj"]),
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer()


@pytest.mark.parametrize(("text", "tokens"), CATALOGUE)
def test_catalogue_of_tricky_strings(tokenizer, text, tokens):
    assert tokenizer(text) == tokens


def test_fields_are_marked_and_specials_are_single_tokens(tokenizer):
    assert tokenizer(("My Title", "The body.")) == [
        "xxbos",
        "xxfld",
        "1",
        "xxmaj",
        "my",
        "xxmaj",
        "title",
        "xxfld",
        "2",
        "xxmaj",
        "the",
        "body",
        ".",
    ]
    assert tokenizer(("only one field",)) == ["xxbos", "only", "one", "field"]


def test_very_long_document(tokenizer):
    words = [f"w{i}" for i in range(20000)]
    assert tokenizer(" ".join(words)) == ["xxbos", *words]


def test_pre_tokenized_text_keeps_wikitext_conventions():
    tokenizer = Tokenizer(TokenizerSettings(pre_tokenized=True))
    text = " = Valkyria Chronicles = \n The <unk> @-@ based game 's 1 @,@ 000 \n"
    assert tokenizer(text) == [
        "xxbos",
        "=",
        "xxmaj",
        "valkyria",
        "xxmaj",
        "chronicles",
        "=",
        "xxmaj",
        "the",
        "xxunk",
        "@-@",
        "based",
        "game",
        "'s",
        "1",
        "@,@",
        "000",
    ]


def test_detokenize_undoes_the_markers(tokenizer):
    text = "I loved it. THIS is The BEST film!!! Sooooo good, go go go"
    assert detokenize(tokenizer(text)) == "i loved it. THIS is The BEST film!!! sooooo good, go go go"


def _documents(n: int) -> list[tuple[str, ...]]:
    rng = np.random.default_rng(0)
    words = ["Great", "film", "BAD", "the", "a", "really", "!!!", "<br />", "go go go", "Mr. Smith", "don't"]
    return [(" ".join(rng.choice(words, size=rng.integers(0, 30))),) for _ in range(n)]


def test_parallel_tokenization_equals_serial_and_single_documents(tokenizer):
    docs = _documents(300)
    serial = tokenize_documents(docs, n_workers=1, batch_size=64)
    parallel = tokenize_documents(docs, n_workers=2, batch_size=37)
    assert serial.types == parallel.types
    np.testing.assert_array_equal(serial.ids, parallel.ids)
    np.testing.assert_array_equal(serial.offsets, parallel.offsets)
    for i in (0, 5, 123, 299):
        assert serial.document(i) == tokenizer(docs[i])
    assert serial.counts.tolist() == sorted(serial.counts.tolist(), reverse=True)
    assert serial.counts.sum() == len(serial.ids)


def test_tokenize_documents_reads_a_generator_lazily():
    seen = []

    def docs():
        for i, doc in enumerate(_documents(50)):
            seen.append(i)
            yield doc

    stream = tokenize_documents(docs(), n_workers=1, batch_size=10)
    assert len(stream) == 50 and seen == list(range(50))


def test_vocab_from_counts_keeps_specials_first_then_frequent_words():
    types = ["the", "film", "xxmaj", "rare", "odd", "good"]
    counts = [10, 5, 7, 2, 1, 5]
    vocab = Vocab.from_counts(types, counts, max_vocab=60000, min_freq=3)
    assert vocab.itos == [*SPECIALS, "the", "film", "good"]
    assert vocab.unk_idx == 0 and vocab.pad_idx == 1
    small = Vocab.from_counts(types, counts, max_vocab=len(SPECIALS) + 1, min_freq=1)
    assert small.itos == [*SPECIALS, "the"]
    assert vocab.numericalize(["the", "good", "unseen"]).tolist() == [9, 11, 0]
    assert vocab.textify([2, 9, 10]) == "xxbos the film"


def test_vocab_round_trip(tmp_path):
    vocab = Vocab([*SPECIALS, "héllo", "\n\n", "wörld"])
    path = vocab.save(tmp_path / "vocab.json")
    assert Vocab.load(path) == vocab
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]


def test_vocab_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="vocabulary not found"):
        Vocab.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"tokens": []}')
    with pytest.raises(DataError, match="bad.json"):
        Vocab.load(bad)
    with pytest.raises(ValueError, match="special tokens"):
        Vocab(["the", "film"])


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["xxbos", "xxmaj", "xxmaj", "hello", "world"], "Hello world"),
        (["xxmaj", "xxbos", "hello"], "Hello"),
        (["xxmaj", "xxup", "hello", "xxup", "xxmaj", "you"], "HELLO You"),
        (["xxmaj", ".", "the", "end"], ". The end"),
        (["the", "end", "xxmaj"], "the end"),
        (["the", "end", "xxup", "xxeos"], "the end"),
    ],
)
def test_detokenize_applies_case_markers_to_the_next_word_only(tokens, expected):
    assert detokenize(tokens) == expected


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["xxbos", "xxwrep", "3", "xxmaj", "go", "home"], "Go Go Go home"),
        (["go", "xxrep", "xxmaj", "home"], "go Home"),
        (["a", "xxwrep"], "a"),
        (["xxrep", "3"], ""),
        (["xxwrep", "3", "xxbos", "go"], "go"),
        (["film", "xxrep", "xxrep", "3", "!"], "film!!!"),
    ],
)
def test_detokenize_drops_malformed_repetitions(tokens, expected):
    assert detokenize(tokens) == expected


def test_detokenize_shows_unknown_words_and_fields():
    assert detokenize(["xxunk", "is", "xxup", "xxunk"]) == "<unk> is <unk>"
    assert detokenize(["xxfld", "1", "a", "xxfld", "2", "b"]) == "a\nb"
    assert detokenize(["a", "xxfld", "b"]) == "a\nb"


def test_detokenize_round_trips_a_capitalized_word_repetition(tokenizer):
    assert detokenize(tokenizer("Go Go Go home")) == "Go Go Go home"


def test_detokenize_never_shows_a_special_token():
    rng = np.random.default_rng(0)
    pool = [*SPECIALS, "3", "12", "the", "Film", ".", "!", "\n"]
    for _ in range(2000):
        tokens = list(rng.choice(pool, size=rng.integers(0, 12)))
        text = detokenize(tokens).lower()
        assert not any(special in text for special in SPECIALS), (tokens, text)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("THIS is The BEST film, I think", ["xxbos", "this", "is", "the", "best", "film", ",", "i", "think"]),
        ("GOOD GOOD GOOD GOOD", ["xxbos", "xxwrep", "4", "good"]),
        ("McDonald and the U.S. Don't", ["xxbos", "mcdonald", "and", "the", "u.s.", "do", "n't"]),
        ("Sooooo good!!!!", ["xxbos", "s", "xxrep", "5", "o", "good", "xxrep", "4", "!"]),
    ],
)
def test_without_case_markers_words_are_only_lowercased(text, tokens):
    """fastai 0.7's lessons lowercased through torchtext and wrote no xxmaj or xxup."""
    assert Tokenizer(TokenizerSettings(case_markers=False))(text) == tokens


def test_the_case_markers_setting_is_part_of_the_cache_key():
    assert TokenizerSettings().key() != TokenizerSettings(case_markers=False).key()
