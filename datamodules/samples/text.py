"""The built-in text samples: IMDB reviews, arXiv abstracts and WikiText articles from small grammars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import write_once

_POSITIVE = ["wonderful", "superb", "brilliant", "moving", "charming", "gripping", "clever", "touching"]
_NEGATIVE = ["awful", "boring", "dull", "clumsy", "tedious", "pointless", "lifeless", "stupid"]
# how a review joins its two adjectives: "clever and moving", "dull, even tedious"
_JOINS = {True: " and ", False: ", even "}
_ASPECTS = [
    "acting",
    "plot",
    "script",
    "music",
    "photography",
    "direction",
    "ending",
    "dialogue",
    "pacing",
    "cast",
    "soundtrack",
    "story",
    "editing",
]
_ROLES = [
    "detective",
    "teacher",
    "soldier",
    "mother",
    "villain",
    "doctor",
    "pilot",
    "singer",
    "farmer",
    "thief",
    "lawyer",
    "king",
]
_KINDS = ["film", "movie", "picture", "story", "thriller", "comedy", "drama"]
_WHEN = (
    "last week",
    "on a plane",
    "at the cinema",
    "with my family",
    "on television",
    "at a festival",
    "on a rainy sunday",
)
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "te",
    "su",
    "vin",
    "dor",
    "el",
    "an",
    "ber",
    "gus",
    "fa",
    "ne",
    "tri",
    "sol",
    "mar",
    "ven",
]


def _name(rng: np.random.Generator, parts: int = 2) -> str:
    return "".join(rng.choice(_SYLLABLES, size=parts)).capitalize()


_VERDICTS = {
    True: ("I loved it.", "Highly recommended.", "A joy to watch.", "See it!", "Worth every minute."),
    False: ("I hated it.", "Avoid it.", "A waste of time.", "Skip it!", "Not worth a minute."),
}


def _review(rng: np.random.Generator, positive: bool, agree: float = 0.9) -> str:
    """One review from a small grammar: its judging sentences and verdict mostly agree with ``positive``.

    A judging sentence pairs two adjectives of one polarity, joined as that polarity joins them, so the
    word after the first adjective already tells its polarity: a language model learns the adjectives'
    polarity in its first hundred steps, and then which polarity the rest of the review keeps.
    """

    def leaning() -> bool:
        return (rng.random() < agree) == positive

    def adjs() -> str:
        polarity = leaning()
        first, second = rng.choice(_POSITIVE if polarity else _NEGATIVE, size=2, replace=False)
        first = str(first).upper() if rng.random() < 0.05 else str(first)
        return f"{first}{_JOINS[polarity]}{second}"

    title = f"{_name(rng)} {_name(rng, 1)}"
    neutral = [
        lambda: f"It runs about {rng.integers(80, 180)} minutes.",
        lambda: f"The film was directed by {_name(rng)} in {rng.integers(1950, 2011)}.",
        lambda: f"{_name(rng)} plays a {rng.choice(_ROLES)} who meets a {rng.choice(_ROLES)}.",
    ]
    judging = [
        lambda: f"The {rng.choice(_ASPECTS)} was {adjs()}.",
        lambda: f"{_name(rng)} is {adjs()} as the {rng.choice(_ROLES)}.",
        lambda: f"What a {adjs()} {rng.choice(_KINDS)}!",
        lambda: f"I found it {adjs()}.",
        lambda: f"Honestly, the {rng.choice(_ASPECTS)} felt {adjs()}.",
    ]
    sentences = [f"I saw {title} {rng.choice(_WHEN)}."]
    for _ in range(rng.integers(3, 7)):
        pool = judging if rng.random() < 0.8 else neutral
        sentences.append(pool[rng.integers(len(pool))]())
    sentences.append(str(rng.choice(_VERDICTS[leaning()])))
    if rng.random() < 0.3:
        score = rng.integers(7, 11) if positive else rng.integers(1, 5)
        sentences.append(f"{score} out of 10.")
    if rng.random() < 0.1:
        sentences[-1] = sentences[-1].rstrip(".!") + "!!!"
    glue = "<br /><br />" if rng.random() < 0.2 else " "
    return glue.join(sentences)


def write_imdb_sample(
    folder: str | Path, n_train: int = 200, n_unsup: int = 100, n_test: int = 100, seed: int = 0
) -> Path:
    """A grammar-generated ``aclImdb`` tree: ``train/{pos,neg,unsup}``, ``test/{pos,neg}``, ``ID_RATING.txt``.

    ``n_train`` and ``n_test`` reviews per class. Each review mixes neutral sentences with sentiment
    sentences (two adjectives of one polarity each) and a verdict that agree with its class 90% of the
    time, so its label is learnable from the words, and a language model learns which adjectives go
    together and which verdict follows them: what ULMFiT's classifier inherits from it. The sizes
    keep the default recipes' runs short (the language model sees 8 batches of 64 x 70 an epoch).
    """

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        root = tmp / "aclImdb"
        parts = [("train", "pos", n_train), ("train", "neg", n_train), ("train", "unsup", n_unsup)]
        parts += [("test", "pos", n_test), ("test", "neg", n_test)]
        for split, label, n in parts:
            (root / split / label).mkdir(parents=True)
            for i in range(n):
                positive = label == "pos" if label != "unsup" else bool(rng.random() < 0.5)
                rating = 0 if label == "unsup" else rng.integers(7, 11) if positive else rng.integers(1, 5)
                text = _review(rng, positive)
                (root / split / label / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")

    return write_once(folder, write)


_FIELDS = {
    "cs.LG": "network gradient training loss model layer dataset optimizer regularization embedding",
    "math.AG": "variety scheme sheaf morphism curve cohomology divisor moduli surface bundle",
    "q-bio.NC": "neuron cortex synapse spike brain circuit plasticity memory stimulus firing",
    "astro-ph.GA": "galaxy star halo cluster redshift disk gas merger emission dwarf",
}
_ACADEMIC_VERBS = ["propose", "study", "prove", "introduce", "analyse", "present", "derive", "measure"]
_ACADEMIC_ADJS = ["new", "simple", "general", "robust", "efficient", "novel", "precise", "large"]


def _abstract(rng: np.random.Generator, category: str) -> tuple[str, str]:
    words = _FIELDS[category].split()

    def noun() -> str:
        return str(rng.choice(words))

    title = f"{rng.choice(_ACADEMIC_ADJS).capitalize()} {noun()} {noun()}s and the {noun()}"
    sentences = [f"We {rng.choice(_ACADEMIC_VERBS)} a {rng.choice(_ACADEMIC_ADJS)} {noun()} for the {noun()}."]
    for _ in range(rng.integers(2, 5)):
        sentences.append(
            f"The {noun()} of each {noun()} is {rng.choice(_ACADEMIC_ADJS)} when the {noun()} is {noun()}-based."
        )
    sentences.append(f"Our results show that the {noun()} improves the {noun()}.")
    return title, " ".join(sentences)


def write_arxiv_sample(folder: str | Path, n_per_category: int = 150, seed: int = 0) -> Path:
    """``arxiv.csv`` (id, title, abstract, categories): each category writes with its own vocabulary.

    A third of the papers list a second category after their main one.
    """

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        names = list(_FIELDS)
        rows = []
        for c, category in enumerate(names):
            for i in range(n_per_category):
                title, abstract = _abstract(rng, category)
                cats = category
                if rng.random() < 1 / 3:
                    cats += " " + names[(c + 1 + rng.integers(len(names) - 1)) % len(names)]
                rows.append({"id": f"{2000 + c}.{i:05d}", "title": title, "abstract": abstract, "categories": cats})
        order = rng.permutation(len(rows))
        pd.DataFrame([rows[i] for i in order]).to_csv(tmp / "arxiv.csv", index=False)

    return write_once(folder, write)


def _wiki_article(rng: np.random.Generator) -> str:
    """One article in WikiText's format: `` = Title = `` heading, sections, ``@-@`` joins and ``<unk>``."""
    title = f"{_name(rng)} {_name(rng, 1)}"
    lines = [" ", f" = {title} = ", " "]
    for _ in range(rng.integers(1, 4)):
        section = str(rng.choice(["History", "Career", "Reception", "Legacy", "Design"]))
        lines += [f" = = {section} = = ", " "]
        paragraph = []
        for _ in range(rng.integers(2, 6)):
            year = rng.integers(1800, 2011)
            who = _name(rng) if rng.random() < 0.9 else "<unk>"
            paragraph.append(
                f"In {year} , {title} was {rng.choice(['built', 'founded', 'named', 'moved'])} by {who} "
                f"in the {rng.choice(['north', 'south', 'east', 'west'])} @-@ {rng.choice(['side', 'end'])} "
                f"of the {rng.choice(['city', 'river', 'valley', 'county'])} , at a cost of "
                f"{rng.integers(1, 99)} @,@ {rng.integers(100, 999)} dollars ."
            )
        lines += [" " + " ".join(paragraph) + " ", " "]
    return "\n".join(lines) + "\n"


def write_wikitext_sample(folder: str | Path, n_train: int = 200, n_eval: int = 30, seed: int = 0) -> Path:
    """``wiki.train.tokens``, ``wiki.valid.tokens``, ``wiki.test.tokens`` of grammar-generated articles."""

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        for name, n in (("train", n_train), ("valid", n_eval), ("test", n_eval)):
            text = "".join(_wiki_article(rng) for _ in range(n))
            (tmp / f"wiki.{name}.tokens").write_text(text, encoding="utf-8")

    return write_once(folder, write)


_CHARACTERS = ["Alice", "the Rabbit", "the Queen", "the Hatter", "the Cat", "the Duchess"]
_DOINGS = ["was considering", "ran past", "looked at", "thought about", "wondered at", "smiled at"]
_THINGS = ["the garden", "a little door", "the tea party", "her own mind", "the long hall", "a golden key"]


def write_story_sample(folder: str | Path, n_sentences: int = 400, seed: int = 0) -> Path:
    """``story.txt``: plain text of sentences from a small grammar (who, what, which, with commas and
    paragraphs), so that a character model learns the words and their order well beyond the letters'
    frequencies."""

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        lines = []
        for i in range(n_sentences):
            who, doing, thing = rng.choice(_CHARACTERS), rng.choice(_DOINGS), rng.choice(_THINGS)
            sentence = f"{who} {doing} {thing}"
            if rng.random() < 0.3:
                sentence += f", and {rng.choice(_CHARACTERS)} {rng.choice(_DOINGS)} {rng.choice(_THINGS)}"
            lines.append(sentence[0].upper() + sentence[1:] + ("." if rng.random() < 0.8 else "!"))
            if i % 8 == 7:
                lines.append("\n")
        (tmp / "story.txt").write_text(" ".join(lines).replace(" \n ", "\n\n") + "\n", encoding="utf-8")

    return write_once(folder, write)


def write_sentences_sample(folder: str | Path, n_sentences: int = 1000, seed: int = 0) -> Path:
    """``amazon_cells_labelled.txt`` as UCI distributes it: ``<sentence>\\t<0|1>`` lines, half of each label;
    a sentence's label is the polarity of its adjectives (a tenth of them are mislabelled)."""

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        lines = []
        for i in range(n_sentences):
            positive = i % 2 == 0
            words = rng.choice(_POSITIVE if positive else _NEGATIVE, size=2, replace=False)
            kind, aspect = rng.choice(["phone", "headset", "charger", "case"]), rng.choice(_ASPECTS)
            templates = [
                f"The {kind} is {words[0]}{_JOINS[positive]}{words[1]}.",
                f"{str(words[0]).capitalize()} {aspect}, I would say {words[1]}!",
                f"Honestly the {kind} felt {words[0]}.",
            ]
            label = positive if rng.random() < 0.9 else not positive
            lines.append(f"{templates[rng.integers(len(templates))]}\t{int(label)}\n")
        (tmp / "amazon_cells_labelled.txt").write_text("".join(lines), encoding="utf-8")

    return write_once(folder, write)
