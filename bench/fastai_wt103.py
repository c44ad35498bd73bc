"""Our loader of fastai's language-model files against fastai itself: the same next-token predictions.

    python -m bench.fastai_wt103 [--emb-sz 40 --n-hid 64 --n-layers 3 --vocab 500 --bs 4 --seq-len 30]

fastai v2 builds its ``AWD_LSTM`` language model (``get_language_model``) at a small size and saves
its weights and vocabulary as its own Learner does (``save_model``, ``save_pickle``): the files
``lstm_wt103.pth`` and ``itos_wt103.pkl`` of the published WikiText-103 model, at another size. Our
``LanguageModel`` starts from them through ``model.pretrained_path``/``model.pretrained_vocab``, twice:

- on the file's own vocabulary: both models' next-token log-probabilities on the same token ids;
- on a vocabulary in another order with a token the file lacks: the logits of the shared tokens,
  matched by token (the new token's row is the mean one, so it is left out of the comparison).

Both differences must be within 1e-5 in eval mode (exit 1 otherwise). fastai is an optional peer,
not a dependency: without it the script says how to install it and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from lightning_models.text import LanguageModel

TOLERANCE = 1e-5
SPECIALS = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj"]


def fastai_files(folder: Path, args: argparse.Namespace) -> tuple[torch.nn.Module, list[str]]:
    """fastai's language model (random weights, a random decoder bias) saved in ``folder`` as fastai saves it."""
    from fastai.learner import save_model
    from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_lm_config
    from fastai.text.models.core import get_language_model
    from fastcore.xtras import save_pickle

    itos = SPECIALS + [f"word{i}" for i in range(args.vocab - len(SPECIALS))]
    config = {**awd_lstm_lm_config, "emb_sz": args.emb_sz, "n_hid": args.n_hid, "n_layers": args.n_layers}
    model = get_language_model(AWD_LSTM, len(itos), config=config)
    torch.nn.init.normal_(model[1].decoder.bias)  # fastai starts it at zero; a random one is checked too
    save_model(folder / "lstm_wt103.pth", model, opt=None, with_opt=False)
    save_pickle(folder / "itos_wt103.pkl", itos)
    return model.eval(), itos


def ours(folder: Path, itos: list[str], args: argparse.Namespace) -> LanguageModel:
    """Our language model on vocabulary ``itos``, started from fastai's files in ``folder``."""
    vocab = folder / f"vocab-{len(itos)}.json"
    vocab.write_text(json.dumps({"itos": itos}))
    model = LanguageModel(
        vocab_sz=len(itos),
        vocab_path=str(vocab),
        emb_sz=args.emb_sz,
        n_hid=args.n_hid,
        n_layers=args.n_layers,
        pretrained_path=str(folder / "lstm_wt103.pth"),
        pretrained_vocab=str(folder / "itos_wt103.pkl"),
    )
    model.setup("fit")
    return model.eval()


@torch.no_grad()
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emb-sz", type=int, default=40)
    parser.add_argument("--n-hid", type=int, default=64)
    parser.add_argument("--n-layers", type=int, default=3)
    parser.add_argument("--vocab", type=int, default=500)
    parser.add_argument("--bs", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=30)
    args = parser.parse_args()
    try:
        import fastai
    except ImportError:
        print("fastai is not installed: pip install fastai (in this environment, or a separate one with this")
        print("project's dependencies) to compare against it")
        return 2
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        theirs, file_itos = fastai_files(folder, args)
        tokens = torch.randint(len(SPECIALS), len(file_itos), (args.bs, args.seq_len))
        theirs.reset()  # fastai carries its hidden state from call to call
        their_logits = theirs(tokens)[0]
        expected = their_logits.log_softmax(-1)

        same = ours(folder, file_itos, args)
        got = same(tokens)[0].log_softmax(-1)
        same_vocab = (got - expected).abs().max().item()

        shuffled = [file_itos[i] for i in torch.randperm(len(file_itos)).tolist()] + ["a-word-fastai-lacks"]
        other = ours(folder, shuffled, args)
        position = {token: i for i, token in enumerate(shuffled)}
        ours_ids = torch.tensor([position[token] for token in file_itos])
        our_logits = other(ours_ids[tokens])[0][..., ours_ids]
        remapped = (our_logits - their_logits).abs().max().item()

    print(f"fastai {fastai.__version__}, torch {torch.__version__}; AWD_LSTM emb_sz {args.emb_sz}, n_hid {args.n_hid},")
    print(f"n_layers {args.n_layers}, vocabulary {args.vocab}, {args.bs} x {args.seq_len} tokens, eval mode")
    print(f"same vocabulary: max |log p(ours) - log p(fastai)| = {same_vocab:.2e}")
    print(f"remapped vocabulary (shuffled, one new token): max |logit(ours) - logit(fastai)| = {remapped:.2e}")
    ok = max(same_vocab, remapped) <= TOLERANCE
    print(f"{'agree' if ok else 'DIFFER'} within {TOLERANCE:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
