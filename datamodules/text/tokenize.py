"""spaCy tokenization with the lesson's rules, run over whole corpora in worker processes.

A document is a tuple of fields (strings). Its tokens are ``xxbos``, then for a multi-field
document ``xxfld k`` before field k (1-based), then the field's tokens after these rules:

- text rules, before spaCy: html fix-ups (``<br />`` -> newline, ``#39;``, ``&amp;`` ... and
  ``html.unescape``); a non-digit character repeated 3+ times -> ``xxrep n c``;
- token rules, after spaCy: whitespace tokens keep only their newlines (``\\n`` or ``\\n\\n``); a word
  repeated 3+ times in a row -> ``xxwrep n w``; ALL-CAPS words -> ``xxup w``, Capitalized words ->
  ``xxmaj w`` (not with ``case_markers=False``: lowercased only, as fastai 0.7's lessons tokenized);
  everything lowercased.

Pre-tokenized text (WikiText) is split on whitespace instead of by spaCy, with ``<unk>`` -> ``xxunk``;
the token rules apply to it too. The token rules work on each batch's distinct tokens and on numpy
arrays, so their cost hardly depends on the corpus size, and workers send back int32 arrays rather
than lists of strings.
"""

from __future__ import annotations

import html
import multiprocessing
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice

import numpy as np
from spacy.attrs import ORTH

UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ = [
    "xxunk",
    "xxpad",
    "xxbos",
    "xxeos",
    "xxfld",
    "xxrep",
    "xxwrep",
    "xxup",
    "xxmaj",
]
SPECIALS = (UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ)
# bumped whenever a rule changes, so cached token ids are rebuilt
RULES_VERSION = 1

Document = Sequence[str]

_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_BARE_ENTITIES = (("#39;", "'"), ("#146;", "'"), ("#36;", "$"), ("nbsp;", " "), ("quot;", '"'), ("amp;", "&"))
_CHAR_REP = re.compile(r"([^\s\d])\1{2,}")


def fix_html(text: str) -> str:
    """Undo the html left in scraped reviews: line breaks, entities with and without their ``&``."""
    text = _BR.sub("\n", text.replace("\\n", "\n").replace('\\"', '"'))
    text = html.unescape(text)
    if "#" in text or ";" in text:
        for bare, char in _BARE_ENTITIES:
            text = text.replace(bare, char)
    return text.replace("\xa0", " ")


def replace_char_repetition(text: str) -> str:
    """``cccc`` -> `` xxrep 4 c `` for any non-space, non-digit character repeated 3 or more times."""
    return _CHAR_REP.sub(lambda m: f" {REP} {len(m.group(0))} {m.group(1)} ", text)


def token_rule(token: str, case_markers: bool = True) -> tuple[str, ...]:
    """What one raw token becomes: nothing (spaces), itself lowercased, or a case marker and itself."""
    if token.isspace():
        newlines = token.count("\n")
        return ("\n" * min(newlines, 2),) if newlines else ()
    lower = token.lower()
    if case_markers and len(token) > 1:
        if token.isupper():
            return (UP, lower)
        if token[0].isupper():
            return (MAJ, lower)
    return (lower,)


def _is_word(token: str) -> bool:
    return any(c.isalnum() for c in token)


@dataclass(frozen=True)
class TokenizerSettings:
    """What decides the tokens; part of the cache key of every tokenized corpus."""

    lang: str = "en"
    pre_tokenized: bool = False
    case_markers: bool = True

    def key(self) -> dict:
        return {
            "lang": self.lang,
            "pre_tokenized": self.pre_tokenized,
            "case_markers": self.case_markers,
            "rules": RULES_VERSION,
        }


class Tokenizer:
    """Turns batches of documents into token ids over a batch-local table of token strings."""

    def __init__(self, settings: TokenizerSettings = TokenizerSettings()) -> None:
        self.settings = settings
        self._nlp = None
        self._rules: dict[str, tuple[str, ...]] = {}

    @property
    def nlp(self):
        if self._nlp is None:
            import spacy

            self._nlp = spacy.blank(self.settings.lang)
            # lexical attributes (shape, like_num, ...) are computed for every new word and never used here
            self._nlp.vocab.lex_attr_getters = {}
        return self._nlp

    def __getstate__(self) -> dict:
        return {"settings": self.settings}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["settings"])

    def __call__(self, doc: Document | str) -> list[str]:
        """The tokens of one document (a string is a one-field document)."""
        ids, types, _ = self.tokenize_batch([(doc,) if isinstance(doc, str) else tuple(doc)])
        return [types[i] for i in ids]

    def _raw_tokens(self, docs: Sequence[Document]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Raw token ids (before token rules) with the specials in place, their strings, doc lengths."""
        if self.settings.pre_tokenized:
            index: dict[str, int] = {}
            seq: list[int] = []
            lengths = np.zeros(len(docs), dtype=np.int64)
            for d, doc in enumerate(docs):
                start = len(seq)
                seq.append(index.setdefault(BOS, len(index)))
                for k, field in enumerate(doc, 1):
                    if len(doc) > 1:
                        seq.append(index.setdefault(FLD, len(index)))
                        seq.append(index.setdefault(str(k), len(index)))
                    words = field.split()
                    seq.extend(index.setdefault(UNK if w == "<unk>" else w, len(index)) for w in words)
                lengths[d] = len(seq) - start
            return np.asarray(seq, dtype=np.int64), list(index), lengths

        strings = self.nlp.vocab.strings
        texts = [replace_char_repetition(fix_html(field)) for doc in docs for field in doc]
        tokenized = iter(self.nlp.tokenizer.pipe(texts, batch_size=256))
        bos = np.array([strings.add(BOS)], dtype=np.uint64)
        pieces = []
        lengths = np.zeros(len(docs), dtype=np.int64)
        for d, doc in enumerate(docs):
            pieces.append(bos)
            n = 1
            for k, _ in enumerate(doc, 1):
                if len(doc) > 1:
                    pieces.append(np.array([strings.add(FLD), strings.add(str(k))], dtype=np.uint64))
                    n += 2
                hashes = next(tokenized).to_array(ORTH).reshape(-1)
                pieces.append(hashes)
                n += len(hashes)
            lengths[d] = n
        uniq, seq = np.unique(np.concatenate(pieces), return_inverse=True)
        return seq.reshape(-1), [strings[int(h)] for h in uniq], lengths

    def tokenize_batch(self, docs: Sequence[Document]) -> tuple[np.ndarray, list[str], np.ndarray]:
        """(ids as int32 into ``types``, ``types`` strings, tokens per document) for ``docs``."""
        seq, types, lengths = self._raw_tokens(docs)
        doc_of = np.repeat(np.arange(len(docs)), lengths)
        kept = np.array([len(self._rule(t)) > 0 for t in types])[seq]
        seq, doc_of, types = _replace_word_repetition(seq[kept], doc_of[kept], types)
        rules = [self._rule(t) for t in types]
        n_out = np.array([len(r) for r in rules], dtype=np.int64)
        table = np.zeros((len(types), 2), dtype=np.int64)
        out_index: dict[str, int] = {}
        for t, rule in enumerate(rules):
            for j, tok in enumerate(rule):
                table[t, j] = out_index.setdefault(tok, len(out_index))
        per_token = n_out[seq]
        starts = np.cumsum(per_token) - per_token
        ids = np.empty(int(per_token.sum()), dtype=np.int32)
        for j in range(2):
            has = per_token > j
            ids[starts[has] + j] = table[seq[has], j]
        lengths = np.bincount(doc_of, weights=per_token, minlength=len(docs)).astype(np.int64)
        return ids, list(out_index), lengths

    def _rule(self, token: str) -> tuple[str, ...]:
        rule = self._rules.get(token)
        if rule is None:
            rule = self._rules[token] = token_rule(token, self.settings.case_markers)
        return rule


def _replace_word_repetition(
    seq: np.ndarray, doc_of: np.ndarray, types: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Runs of 3+ equal word tokens -> ``xxwrep n w`` (on raw ids; the case rules come after)."""
    n = len(seq)
    if n < 3:
        return seq, doc_of, types
    change = np.ones(n, dtype=bool)
    change[1:] = seq[1:] != seq[:-1]
    run_start = np.flatnonzero(change)
    run_len = np.diff(np.append(run_start, n))
    long_runs = run_len >= 3
    if not long_runs.any():
        return seq, doc_of, types
    is_word = np.array([_is_word(t) for t in types])
    long_runs &= is_word[seq[run_start]]
    if not long_runs.any():
        return seq, doc_of, types
    starts, lens = run_start[long_runs], run_len[long_runs]
    types = list(types)
    index = {t: i for i, t in enumerate(types)}
    for tok in [WREP, *map(str, np.unique(lens))]:
        if tok not in index:
            index[tok] = len(types)
            types.append(tok)
    seq = seq.copy()
    seq[starts] = index[WREP]
    seq[starts + 1] = [index[str(k)] for k in lens]
    marks = np.zeros(n + 1, dtype=np.int64)
    np.add.at(marks, starts + 3, 1)
    np.add.at(marks, starts + lens, -1)
    keep = np.cumsum(marks[:n]) == 0
    return seq[keep], doc_of[keep], types


@dataclass
class TokenStream:
    """A tokenized corpus: ``ids`` (int32) into ``types``, document i = ids[offsets[i]:offsets[i+1]].

    ``types`` are sorted by decreasing count (ties alphabetically), so the result does not depend
    on how the work was split between processes.
    """

    ids: np.ndarray
    offsets: np.ndarray
    types: list[str]
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def document(self, i: int) -> list[str]:
        return [self.types[t] for t in self.ids[self.offsets[i] : self.offsets[i + 1]]]


_worker_tokenizer: Tokenizer | None = None


def _init_worker(settings: TokenizerSettings) -> None:
    global _worker_tokenizer
    _worker_tokenizer = Tokenizer(settings)


def _work(docs: list[Document]) -> tuple[np.ndarray, list[str], np.ndarray]:
    return _worker_tokenizer.tokenize_batch(docs)


def _batches(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    it = iter(docs)
    while batch := list(islice(it, size)):
        yield batch


def _process_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def tokenize_documents(
    docs: Iterable[Document],
    settings: TokenizerSettings = TokenizerSettings(),
    n_workers: int = 2,
    batch_size: int = 1000,
) -> TokenStream:
    """Tokenize a stream of documents in ``n_workers`` processes (0 or 1: in this process).

    Documents are read from ``docs`` lazily, a few batches ahead of the workers, so the texts are
    never all in memory; what comes back is int32 ids over each batch's own token table, merged
    here into one table.
    """
    index: dict[str, int] = {}
    chunks: list[np.ndarray] = []
    lengths: list[np.ndarray] = []

    def merge(result: tuple[np.ndarray, list[str], np.ndarray]) -> None:
        ids, types, lens = result
        remap = np.fromiter((index.setdefault(t, len(index)) for t in types), dtype=np.int32, count=len(types))
        chunks.append(remap[ids])
        lengths.append(lens)

    if n_workers <= 1:
        tokenizer = Tokenizer(settings)
        for batch in _batches(docs, batch_size):
            merge(tokenizer.tokenize_batch(batch))
    else:
        with ProcessPoolExecutor(
            n_workers, mp_context=_process_context(), initializer=_init_worker, initargs=(settings,)
        ) as pool:
            pending: deque = deque()
            for batch in _batches(docs, batch_size):
                pending.append(pool.submit(_work, batch))
                if len(pending) >= 2 * n_workers:
                    merge(pending.popleft().result())
            while pending:
                merge(pending.popleft().result())
    return _by_frequency(chunks, lengths, list(index))


def _by_frequency(chunks: list[np.ndarray], lengths: list[np.ndarray], types: list[str]) -> TokenStream:
    ids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    lens = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    counts = np.bincount(ids, minlength=len(types))
    order = sorted(range(len(types)), key=lambda t: (-counts[t], types[t]))
    rank = np.empty(len(types), dtype=np.int32)
    rank[order] = np.arange(len(types), dtype=np.int32)
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return TokenStream(rank[ids], offsets, [types[t] for t in order], counts[order].astype(np.int64))


_NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", ")", "'s", "n't", "'re", "'ve", "'ll", "'d", "'m", "%"}


def detokenize(tokens: Sequence[str]) -> str:
    """Readable text from tokens, generated ones included: no special token ever shows.

    A case marker applies to the next word (the one nearest the word wins; punctuation and other
    specials in between are skipped); ``xxrep``/``xxwrep n`` repeats the next token (case markers
    allowed in between, as the tokenizer writes ``xxwrep 3 xxmaj go``); a marker with no word after
    it, or a repetition without a count or followed by another special, is dropped; ``xxunk`` is
    shown as ``<unk>``; ``xxfld k`` starts a new line.
    """
    words: list[tuple[str, bool]] = []  # (text, glued to the previous word)
    case: str | None = None
    repeat: tuple[str, int] | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        has_count = i + 1 < len(tokens) and tokens[i + 1].isdecimal()
        i += 1
        if tok in (MAJ, UP):
            case = tok
        elif tok in (REP, WREP):
            repeat = (tok, int(tokens[i])) if has_count else None
            i += has_count
        elif tok in (BOS, EOS, PAD, FLD):
            repeat = None
            if tok == FLD:
                words.append(("\n", True))
                i += has_count
        else:
            if tok == UNK:
                text, case = "<unk>", None
            elif case is not None and _is_word(tok):
                text, case = _apply_case(case, tok), None
            else:
                text = tok
            words.append(_repeated(text, repeat) if repeat else (text, _glued(tok)))
            repeat = None
    text = ""
    for word, glued in words:
        text += word if glued or not text or text.endswith(("\n", "(")) else " " + word
    return text.strip()


def _glued(token: str) -> bool:
    return token in _NO_SPACE_BEFORE or token.startswith("\n")


def _apply_case(marker: str, word: str) -> str:
    return word.upper() if marker == UP else word[:1].upper() + word[1:]


def _repeated(text: str, repeat: tuple[str, int]) -> tuple[str, bool]:
    """``xxrep`` repeats a character inside a word, ``xxwrep`` a whole word."""
    kind, n = repeat
    return (text * n, True) if kind == REP else (" ".join([text] * n), False)
