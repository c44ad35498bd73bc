"""Text from a trained language model: greedy, top-k and temperature sampling, seeded.

From Python::

    tokens = generate(model, itos, tokenizer("The movie was"), n_words=40, top_k=20, seed=0)

From the command line (a language-model run directory holds ``checkpoints/last.ckpt`` and ``vocab.json``)::

    python -m lightning_models.text.generate logs/imdb_lm/runs/<date> --prompt "The movie was" --top-k 20
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from omegaconf import OmegaConf

from lightning_models.text.language_model import LanguageModel
from lightning_models.text.transfer import read_itos

NEVER = ("xxunk", "xxpad")


@torch.no_grad()
def generate(
    model: LanguageModel,
    itos: Sequence[str],
    prompt: Sequence[str],
    n_words: int = 50,
    temperature: float = 1.0,
    top_k: int | None = None,
    greedy: bool = False,
    seed: int | None = None,
) -> list[str]:
    """The prompt's tokens followed by ``n_words`` generated ones.

    Greedy decoding takes the most likely token; sampling draws from the softmax of the logits
    divided by ``temperature``, among the ``top_k`` most likely tokens when given. ``xxunk`` and
    ``xxpad`` are never produced. The same ``seed`` gives the same text.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    stoi = {token: i for i, token in enumerate(itos)}
    ids = [stoi.get(token, stoi["xxunk"]) for token in prompt]
    if not ids:
        raise ValueError("the prompt has no tokens; start it with at least 'xxbos'")
    was_training = model.training
    model.eval()
    device = model.device
    generator = torch.Generator(device=device)
    if seed is not None:
        generator.manual_seed(seed)
    never = torch.tensor([stoi[t] for t in NEVER if t in stoi], device=device, dtype=torch.long)
    logits, state = model(torch.tensor([ids], device=device))
    out = list(ids)
    for _ in range(n_words):
        scores = logits[0, -1].float()
        scores[never] = float("-inf")
        if greedy:
            nxt = int(scores.argmax())
        else:
            scores = scores / temperature
            if top_k is not None and top_k < scores.numel():
                kth = torch.topk(scores, top_k).values[-1]
                scores = scores.masked_fill(scores < kth, float("-inf"))
            nxt = int(torch.multinomial(torch.softmax(scores, -1), 1, generator=generator))
        out.append(nxt)
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return [itos[i] for i in out]


def pre_tokenized(run_dir: Path) -> bool:
    """Whether the run's corpus came tokenized (WikiText), so a prompt is split on spaces as it was."""
    config = run_dir / "config.yaml"
    return config.is_file() and OmegaConf.select(OmegaConf.load(config), "data.corpus") == "wikitext"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate text with a trained AWD-LSTM language model.")
    parser.add_argument("run_dir", type=Path, help="a language-model run directory (checkpoints/, vocab.json)")
    parser.add_argument("--prompt", default="", help="text to continue")
    parser.add_argument("--n-words", type=int, default=50)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--greedy", action="store_true", help="always take the most likely token")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: RUN_DIR/checkpoints/last.ckpt")
    parser.add_argument("--tokens", action="store_true", help="print the tokens rather than readable text")
    args = parser.parse_args(argv)

    # the prompt is tokenized exactly as the training text was
    from datamodules.text.tokenize import Tokenizer, TokenizerSettings, detokenize

    checkpoint = args.checkpoint or args.run_dir / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        parser.error(f"no checkpoint at {checkpoint}; give --checkpoint")
    model = LanguageModel.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=True)
    itos = read_itos(args.run_dir / "vocab.json")
    tokens = generate(
        model,
        itos,
        Tokenizer(TokenizerSettings(pre_tokenized=pre_tokenized(args.run_dir)))(args.prompt),
        n_words=args.n_words,
        temperature=args.temperature,
        top_k=args.top_k,
        greedy=args.greedy,
        seed=args.seed,
    )
    print(" ".join(tokens) if args.tokens else detokenize(tokens))


if __name__ == "__main__":
    main()
