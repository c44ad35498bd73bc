"""MovieLens benchmark: validation RMSE of the dot + bias model, and training speed per epoch.

    python -m bench.movielens                       # accuracy and speed
    python -m bench.movielens --skip-speed          # accuracy only

Accuracy: ml-latest-small, random 20% validation split (seed 42), the `movielens_tutorial` task's recipe
(fastai's collab tutorial: batches of 64, one-cycle 5e-3, weight decay 0.1, 5 epochs).
Speed: one training epoch at batch size 64, 50 factors, timed three ways in the same run, each
with the same tensors, model and optimizer: our Lightning module, a hand-written PyTorch loop, and
(when fastai is importable) fastai v2's collab_learner on the same split.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from functools import partial

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from datamodules import MovieLensDataModule
from lightning_models import CollabModule
from lightning_models.callbacks import OneCycle


class EpochTimer(pl.Callback):
    """Wall time of each training epoch alone (no validation, no setup)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.times.append(time.perf_counter() - self._start)


def lightning_model(dm: MovieLensDataModule, args: argparse.Namespace) -> CollabModule:
    return CollabModule(**dm.describe(), n_factors=args.n_factors, lr=args.lr, weight_decay=args.wd)


def quiet_trainer(epochs: int, validate: bool, callbacks: list[pl.Callback]) -> pl.Trainer:
    """A trainer that only trains (and validates with ``validate``): no logger, checkpoints or progress bar."""
    return pl.Trainer(
        max_epochs=epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1.0 if validate else 0,
        callbacks=callbacks,
    )


def fit(dm: MovieLensDataModule, args: argparse.Namespace, epochs: int, validate: bool) -> tuple[dict, list[float]]:
    timer = EpochTimer()
    trainer = quiet_trainer(epochs, validate, [OneCycle(), timer])
    trainer.fit(lightning_model(dm, args), datamodule=dm)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}, timer.times


def hand_loop(loss_of: Callable[[tuple], torch.Tensor], optimizer: torch.optim.Optimizer, loader) -> float:
    """Seconds of one plain PyTorch epoch: loss, zero_grad, backward, step for every batch of ``loader``."""
    start = time.perf_counter()
    for batch in loader:
        loss = loss_of(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def hand_epoch(dm: MovieLensDataModule, args: argparse.Namespace) -> float:
    """One epoch of the same model and optimizer in a plain loop over the same batches."""
    model = lightning_model(dm, args)
    return hand_loop(
        lambda batch: F.mse_loss(model(batch[0], batch[1]), batch[2]),
        model.configure_optimizers(),
        dm.train_dataloader(),
    )


class OneWeight(pl.LightningModule):
    """A model with almost no work per step: what remains of an epoch is the training loop itself."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        return (self.weight - batch[2][:1]).square().sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), fused=True)


def loop_cost(dm: MovieLensDataModule) -> tuple[float, float]:
    """Seconds per step of Lightning's loop and of the hand loop, both driving ``OneWeight`` over the same batches."""
    timer = EpochTimer()
    quiet_trainer(1, False, [timer]).fit(OneWeight(), datamodule=dm)
    model = OneWeight()
    loader = dm.train_dataloader()
    hand = hand_loop(partial(model.training_step, batch_idx=0), model.configure_optimizers(), loader)
    return timer.times[0] / len(loader), hand / len(loader)


def fastai_epoch(dm: MovieLensDataModule, args: argparse.Namespace) -> float | None:
    """One training epoch of fastai v2's collab_learner (y_range (0, 5.5), fit_one_cycle) on the same ratings."""
    try:
        import pandas as pd
        from fastai.callback.core import Callback
        from fastai.collab import CollabDataLoaders, collab_learner
    except ImportError:
        return None

    class TrainTimer(Callback):
        def before_train(self) -> None:
            self.start = time.perf_counter()

        def after_train(self) -> None:
            self.elapsed = time.perf_counter() - self.start

    arrays = dm.arrays
    frame = pd.DataFrame(
        {
            "user": arrays["user_ids"][arrays["users"]],
            "item": arrays["item_ids"][arrays["items"]],
            "rating": arrays["ratings"],
        }
    )
    dls = CollabDataLoaders.from_df(frame, bs=64, valid_pct=0.2, seed=42, item_name="item")
    learn = collab_learner(dls, n_factors=args.n_factors, y_range=(0, 5.5))
    timer = TrainTimer()
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(1, args.lr, wd=args.wd, cbs=[timer])
    return timer.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.movielens", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default="/work/shared/data/movielens/ml-latest-small")
    parser.add_argument("--cache-dir", default="/tmp/fastlightning-bench-cache")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--n-factors", type=int, default=50)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--wd", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3, help="speed: epochs timed per contender (min is kept)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()

    pl.seed_everything(42)
    dm = MovieLensDataModule(data_dir=args.data_dir, cache_dir=args.cache_dir, seed=42)
    dm.prepare_data()
    dm.setup("fit")
    print(f"data: {args.data_dir}  {dm.describe()}  threads: {torch.get_num_threads()}")

    if not args.skip_accuracy:
        start = time.perf_counter()
        metrics, _ = fit(dm, args, args.epochs, validate=True)
        print(
            f"accuracy: dot+bias, {args.epochs} epochs one-cycle lr {args.lr} wd {args.wd}: "
            f"val RMSE {metrics['val/rmse']:.4f}  ({time.perf_counter() - start:.1f} s)"
        )

    if not args.skip_speed:
        ours, hand, fastai, loops = [], [], [], []
        for _ in range(args.repeats):
            ours.append(fit(dm, args, 1, validate=False)[1][0])
            hand.append(hand_epoch(dm, args))
            loops.append(loop_cost(dm))
            peer = fastai_epoch(dm, args)
            if peer is not None:
                fastai.append(peer)
        steps = len(dm.train_dataloader())
        print(f"speed: one epoch, bs 64 ({steps} steps), best of {args.repeats}")
        print(f"  fastlightning  {min(ours):.3f} s")
        print(f"  hand loop      {min(hand):.3f} s   ours / hand = {min(ours) / min(hand):.3f}  (target <= 1.10)")
        if fastai:
            print(
                f"  fastai v2      {min(fastai):.3f} s   fastai / ours = {min(fastai) / min(ours):.2f}  (target >= 3)"
            )
        else:
            print("  fastai v2      not importable; skipped")
        lightning_step, hand_step = (min(times) for times in zip(*loops, strict=True))
        print(
            f"the training loops alone (a one-weight model, same batches): Lightning "
            f"{lightning_step * 1e3:.3f} ms/step, hand {hand_step * 1e3:.3f} ms/step; Lightning's own cost per step is "
            f"{(lightning_step - hand_step) / (min(hand) / steps):.0%} of the hand loop's step on this model"
        )


if __name__ == "__main__":
    main()
