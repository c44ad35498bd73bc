"""Language-model training speed: our AWD-LSTM (Lightning) against fastai v2's AWD_LSTM, in the same run.

    python -m bench.lm_throughput [--emb-sz 400 --n-hid 1150 --n-layers 3] [--vocab 60000] [--bs 64 --bptt 70]

Both train with their own training loop on the same random token stream with the same sizes,
batch, bptt, dropouts, Adam, AR/TAR (2, 1) and gradient clipping (0.3), in float32, on this CPU.
Tokens per second (wall and CPU time) are counted from the second step on; the two run alternately
``--rounds`` times and the ratio is the median of the rounds' ratios, which tames the noise of a shared
machine (with ``--threads 1`` the CPU-time figure is the least disturbed by other processes).
"""

from __future__ import annotations

import argparse
import statistics
from functools import partial

import numpy as np
import pytorch_lightning as pl
import torch

from bench.clock import Clock
from datamodules.text.lm import LMLoader
from lightning_models.text import LanguageModel

DROPOUTS = {"dropoute": 0.02, "dropouti": 0.25, "dropouth": 0.15, "dropout": 0.1, "wdrop": 0.2}


class StepClock(pl.Callback):
    """(Wall, CPU) seconds and tokens from the start of the second training step to the end of training."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.tokens = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 1:
            self.clock.start()
        if batch_idx >= 1:
            self.tokens += batch[0].numel()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = self.clock.stop()


def ours(stream: np.ndarray, args: argparse.Namespace) -> tuple[float, float]:
    model = LanguageModel(
        vocab_sz=args.vocab,
        emb_sz=args.emb_sz,
        n_hid=args.n_hid,
        n_layers=args.n_layers,
        optimizer="adam",
        lr=1e-3,
        betas=(0.7, 0.99),
        **DROPOUTS,
    )
    loader = LMLoader(stream, np.array([0, len(stream)]), args.bs, args.bptt, shuffle=False, random_bptt=False)
    clock = StepClock()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=args.steps,
        gradient_clip_val=0.3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[clock],
    )
    trainer.fit(model, train_dataloaders=loader)
    return tuple(clock.tokens / seconds for seconds in clock.seconds)


def fastai_peer(stream: np.ndarray, args: argparse.Namespace) -> tuple[float, float] | None:
    try:
        from fastai.callback.core import Callback
        from fastai.callback.rnn import ModelResetter, RNNCallback, RNNRegularizer
        from fastai.data.core import DataLoaders
        from fastai.learner import Learner
        from fastai.losses import CrossEntropyLossFlat
        from fastai.optimizer import Adam
        from fastai.text.data import LMDataLoader
        from fastai.text.models.awdlstm import AWD_LSTM
        from fastai.text.models.core import get_language_model
    except ImportError:
        return None

    class TokenClock(Callback):
        order = 100

        def before_fit(self):
            self.clock, self.tokens = Clock(), 0

        def before_batch(self):
            if self.training and self.iter == 1:
                self.clock.start()
            if self.training and self.iter >= 1:
                self.tokens += self.xb[0].numel()

        def after_train(self):
            self.seconds = self.clock.stop()

    tokens = torch.from_numpy(stream.astype(np.int64))
    train = LMDataLoader([tokens], bs=args.bs, seq_len=args.bptt, shuffle=False)
    valid = LMDataLoader([tokens[: args.bs * (args.bptt + 1) * 2]], bs=args.bs, seq_len=args.bptt)
    from fastai.text.models.awdlstm import awd_lstm_lm_config

    config = {
        **awd_lstm_lm_config,
        "emb_sz": args.emb_sz,
        "n_hid": args.n_hid,
        "n_layers": args.n_layers,
        "embed_p": DROPOUTS["dropoute"],
        "input_p": DROPOUTS["dropouti"],
        "hidden_p": DROPOUTS["dropouth"],
        "output_p": DROPOUTS["dropout"],
        "weight_p": DROPOUTS["wdrop"],
    }
    model = get_language_model(AWD_LSTM, args.vocab, config=config)
    clock = TokenClock()
    learn = Learner(
        DataLoaders(train, valid),
        model,
        loss_func=CrossEntropyLossFlat(),
        opt_func=partial(Adam, mom=0.7, sqr_mom=0.99),
        cbs=[ModelResetter(), RNNCallback(), RNNRegularizer(alpha=2.0, beta=1.0), clock],
    )
    from fastai.callback.training import GradientClip

    learn.add_cb(GradientClip(0.3))
    with learn.no_bar(), learn.no_logging():
        learn.fit(1, 1e-3)
    return tuple(clock.tokens / seconds for seconds in clock.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lm_throughput", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emb-sz", type=int, default=400)
    parser.add_argument("--n-hid", type=int, default=1150)
    parser.add_argument("--n-layers", type=int, default=3)
    parser.add_argument("--vocab", type=int, default=60000)
    parser.add_argument("--bs", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=70)
    parser.add_argument("--steps", type=int, default=6, help="training steps per measurement (the first is not timed)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pl.seed_everything(0, verbose=False)

    stream = np.random.default_rng(0).integers(0, args.vocab, args.bs * (args.steps * args.bptt + 1), dtype=np.int32)
    print(
        f"AWD-LSTM {args.emb_sz}/{args.n_hid}/{args.n_layers}, vocab {args.vocab}, batch {args.bs} x bptt {args.bptt}, "
        f"{args.threads} threads, {args.steps} steps x {args.rounds} rounds"
    )
    contenders = {"ours": ours, "fastai": fastai_peer}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for round_ in range(args.rounds):
        for name, contender in list(contenders.items()):
            rates = contender(stream, args)
            if rates is None:
                print("fastai is not installed: skipping the fastai v2 measurement")
                del contenders[name]
                continue
            results[name].append(rates)
            print(f"round {round_ + 1}: {name:6s} {rates[0]:9.0f} tokens/s, {rates[1]:9.0f} tokens per CPU second")
    if not results["fastai"]:
        return
    for clock, index in (("wall", 0), ("CPU", 1)):
        ratios = [o[index] / f[index] for o, f in zip(results["ours"], results["fastai"], strict=True)]
        print(
            f"ours / fastai v2, tokens per {clock} second: median {statistics.median(ratios):.2f} (target >= 1; "
            f"per round: {', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
