"""Tokenizing the 100,000 IMDB reviews: ours against fastai v2's ``tokenize_texts``, in the same run.

    python -m bench.tokenize_imdb [--data-dir /work/shared/data/imdb] [--workers 2] [--limit N]

Measures, on the same texts and with the same number of processes:
  1. fastai v2 ``tokenize_texts`` on the texts in memory (skipped with a message if fastai is missing);
  2. ours, ``tokenize_documents`` on the same texts in memory;
  3. ours end to end from the ``aclImdb`` tree (reading the files, tokenizing, writing the cache);
  4. the cached re-run: what ``task=imdb_lm`` does before training on a warm cache (find the
     cache entry, load the token ids, build the vocabulary, numericalize the streams).
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from datamodules.text.corpora import ImdbFolder, tokenize_corpus
from datamodules.text.lm import LanguageModelDataModule
from datamodules.text.tokenize import tokenize_documents


def find_tree(data_dir: Path, unpack_dir: Path) -> Path:
    """The aclImdb folder: in ``data_dir``, or unpacked from ``data_dir/aclImdb.tar.gz`` into ``unpack_dir``."""
    for root in (data_dir / "aclImdb", data_dir, unpack_dir / "aclImdb"):
        if (root / "train").is_dir():
            return root
    archive = data_dir / "aclImdb.tar.gz"
    if not archive.is_file():
        sys.exit(f"no aclImdb folder or aclImdb.tar.gz in {data_dir}")
    print(f"unpacking {archive} into {unpack_dir} ...")
    unpack_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpack_dir, filter="data")
    return unpack_dir / "aclImdb"


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds:8.1f} s")
    return result, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.tokenize_imdb", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data/imdb"))
    parser.add_argument("--unpack-dir", type=Path, default=Path("/work/data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="only the first N reviews (a quick check)")
    args = parser.parse_args()

    root = find_tree(args.data_dir, args.unpack_dir)
    corpus = ImdbFolder(root)
    texts, _ = timed("reading the reviews into memory", lambda: [d.fields[0] for d in corpus.documents()])
    texts = texts[: args.limit]
    print(f"{len(texts)} reviews, {sum(map(len, texts)) / 1e6:.1f} M characters, {args.workers} processes")

    fastai_seconds = None
    try:
        from fastai.text.core import tokenize_texts
    except ImportError:
        print("fastai is not installed: skipping the fastai v2 measurement")
    else:
        fastai_tokens, fastai_seconds = timed(
            "fastai v2 tokenize_texts (in memory)", lambda: tokenize_texts(texts, n_workers=args.workers)
        )
        print(f"    fastai: {sum(map(len, fastai_tokens)) / 1e6:.2f} M tokens; first: {list(fastai_tokens[0][:12])}")
        del fastai_tokens

    ours, ours_seconds = timed(
        "ours: tokenize_documents (in memory)",
        lambda: tokenize_documents(((t,) for t in texts), n_workers=args.workers),
    )
    print(f"    ours:   {len(ours.ids) / 1e6:.2f} M tokens, {len(ours.types)} distinct; first: {ours.document(0)[:12]}")
    del ours

    with tempfile.TemporaryDirectory(dir=args.unpack_dir) as cache:
        if args.limit is None:
            _, tree_seconds = timed(
                "ours: end to end from the aclImdb tree into the cache",
                lambda: tokenize_corpus(corpus, cache, n_workers=args.workers),
            )

            def warm_setup() -> LanguageModelDataModule:
                dm = LanguageModelDataModule("imdb", data_dir=str(root), cache_dir=cache, n_workers=args.workers)
                dm.prepare_data()
                dm.setup("fit")
                dm.stream("train")
                return dm

            dm, cached_seconds = timed("ours: cached re-run (imdb_lm data preparation)", warm_setup)
            print(f"    vocabulary: {len(dm.vocab)} tokens; training stream: {len(dm.stream('train')[0]) / 1e6:.1f} M")
        else:
            tree_seconds = cached_seconds = None

    print()
    if fastai_seconds is not None:
        print(f"speed-up over fastai v2, same texts in memory: {fastai_seconds / ours_seconds:.2f}x (target >= 2x)")
        if tree_seconds is not None:
            print(f"speed-up over fastai v2, ours reading the files: {fastai_seconds / tree_seconds:.2f}x")
    if cached_seconds is not None:
        print(f"cached re-run: {cached_seconds:.1f} s (target < 5 s)")


if __name__ == "__main__":
    main()
