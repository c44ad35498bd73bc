"""Text from a trained language model: ``python generate.py RUN --prompt "The movie was" --top-k 20``.

``RUN`` is a language-model run directory (``checkpoints/last.ckpt`` and ``vocab.json``): a word
model's (the prompt is tokenized exactly as the training text was) or a character model's
(``task=char_lm``: the prompt's characters; ``--n-words`` counts characters, ``--stop .`` ends at a
full stop).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from omegaconf import OmegaConf

from datamodules.text.tokenize import Tokenizer, TokenizerSettings, detokenize
from lightning_models.checkpoints import CheckpointError
from lightning_models.sequence import CharLanguageModel
from lightning_models.text import LanguageModel, generate
from lightning_models.text.transfer import read_itos

CHARACTER_MODEL = "lightning_models.sequence.CharLanguageModel"


def run_setting(run_dir: Path, key: str) -> str | None:
    """A setting of the run's composed config (None without one)."""
    config = run_dir / "config.yaml"
    return OmegaConf.select(OmegaConf.load(config), key) if config.is_file() else None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate text with a trained AWD-LSTM language model.")
    parser.add_argument("run_dir", type=Path, help="a language-model run directory (checkpoints/, vocab.json)")
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

    checkpoint = args.checkpoint or args.run_dir / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        parser.error(f"no checkpoint at {checkpoint}; give --checkpoint")
    characters = run_setting(args.run_dir, "model._target_") == CHARACTER_MODEL
    model_class = CharLanguageModel if characters else LanguageModel
    try:
        model = model_class.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True)
        itos = read_itos(args.run_dir / "vocab.json")
    except (CheckpointError, KeyError, RuntimeError) as e:
        parser.error(f"{checkpoint} is not a language model's checkpoint with its vocab.json: {e}")
    if characters:
        prompt = list(args.prompt)
    else:
        pre_tokenized = run_setting(args.run_dir, "data.corpus") == "wikitext"
        prompt = Tokenizer(TokenizerSettings(pre_tokenized=pre_tokenized))(args.prompt)
    try:
        tokens = generate(
            model,
            itos,
            prompt,
            n_words=args.n_words,
            temperature=args.temperature,
            top_k=args.top_k,
            greedy=args.greedy,
            seed=args.seed,
            stop=args.stop,
        )
    except ValueError as e:
        parser.error(str(e))
    if characters:
        print("".join(tokens))
    else:
        print(" ".join(tokens) if args.tokens else detokenize(tokens))


if __name__ == "__main__":
    main()
