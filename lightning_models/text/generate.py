"""Text from a trained language model: greedy, top-k and temperature sampling, seeded.

From Python::

    tokens = generate(model, itos, tokenizer("The movie was"), n_words=40, top_k=20, seed=0)

From the command line: ``python generate.py RUN --prompt "The movie was" --top-k 20`` (beside train.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lightning_models.stream_lm import StreamLanguageModel

NEVER = ("xxunk", "xxpad")


@torch.no_grad()
def generate(
    model: StreamLanguageModel,
    itos: Sequence[str],
    prompt: Sequence[str],
    n_words: int = 50,
    temperature: float = 1.0,
    top_k: int | None = None,
    greedy: bool = False,
    seed: int | None = None,
    stop: str | None = None,
) -> list[str]:
    """The prompt's tokens followed by ``n_words`` generated ones (words, or characters for a character
    model), or fewer when ``stop`` is generated first.

    Greedy decoding takes the most likely token; sampling draws from the softmax of the logits
    divided by ``temperature``, among the ``top_k`` most likely tokens when given. ``xxunk`` and
    ``xxpad`` are never produced. The same ``seed`` gives the same text.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    stoi = {token: i for i, token in enumerate(itos)}
    unknown = [token for token in prompt if token not in stoi]
    if unknown and "xxunk" not in stoi:
        raise ValueError(f"the prompt has tokens the model never saw: {sorted(set(unknown))}")
    ids = [stoi.get(token, stoi.get("xxunk")) for token in prompt]
    if not ids:
        raise ValueError("the prompt has no tokens; start it with at least 'xxbos' (or a character)")
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
        if itos[nxt] == stop:
            break
        logits, state = model(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return [itos[i] for i in out]
