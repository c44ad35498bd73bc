"""``python generate.py RUN --prompt "The movie was" --top-k 20``: text from a trained language model.

``RUN`` is a language-model run directory: a word model's (the prompt is tokenized exactly as the
training text was) or a character model's (``task=char_lm``: the prompt's characters; ``--n-words``
counts characters, ``--stop .`` ends at a full stop). The run is loaded by ``load_run``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from datamodules.files import DataError
from fastlightning.predictor import Generator, load_run
from lightning_models.checkpoints import CheckpointError


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate text with a trained language model.")
    parser.add_argument("run_dir", type=Path, help="a language-model run directory (the one train.py printed)")
    parser.add_argument("--prompt", default="", help="text to continue")
    parser.add_argument("--n-words", type=int, default=50, help="tokens to generate (characters for a character model)")
    parser.add_argument(
        "--stop", default=None, help="end once this token (a character model: this character) is generated"
    )
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--greedy", action="store_true", help="always take the most likely token")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: RUN_DIR/checkpoints/last.ckpt")
    parser.add_argument("--tokens", action="store_true", help="print the tokens rather than readable text")
    args = parser.parse_args(argv)
    try:
        predictor = load_run(args.run_dir, args.checkpoint)
        if not isinstance(predictor, Generator):
            parser.error(f"{args.run_dir} is not a language model's run; use predict.py for its predictions")
        row = predictor.predict(
            [args.prompt],
            n_words=args.n_words,
            temperature=args.temperature,
            top_k=args.top_k,
            greedy=args.greedy,
            seed=args.seed,
            stop=args.stop,
        ).iloc[0]
    except (DataError, CheckpointError) as e:
        parser.error(str(e))
    print(row["tokens"] if args.tokens else row["text"])
