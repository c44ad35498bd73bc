"""MNIST benchmark: test accuracy of logistic regression and of the CNN, and the CNN's wall time to 99%.

    python -m bench.mnist                          # both tasks, their recipes from conf/task/
    python -m bench.mnist --tasks mnist_cnn --threads 1 --epochs 5

Each task is trained exactly as ``python train.py task=<task> data.data_dir=<mnist>`` would (data,
model and schedule are composed from the same configs; extra ``--override``s go on top), on the
60,000 training images less a 10% validation split, and tested on the 10,000 t10k images. Every
quarter epoch (``--every``) the test accuracy is measured as well (not counted in the wall time),
so the script reports when the CNN first reached ``--target`` test accuracy. Wall time counts
training and the validation passes, from the first step, on ``--threads`` CPU threads.

Peer (when fastai is importable; ``--no-peer`` skips it): fastai v2's Learner trains the same
network on the same tensors, split, augmentation, loss, AdamW settings and one-cycle schedule
(``fit_one_cycle``), in the same process; its fit time and test accuracy are printed beside ours.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from fastlightning import compose_task


class TestAccuracyClock(pl.Callback):
    """Test accuracy every ``every`` of an epoch, with the training wall time so far (without these test passes)."""

    def __init__(self, datamodule, every: float) -> None:
        self.datamodule = datamodule
        self.every = every
        self.rows: list[tuple[float, float, float]] = []

    def on_train_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()
        self.excluded = 0.0
        self.interval = max(1, round(self.every * trainer.num_training_batches))

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self.start - self.excluded

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        near_end = batch_idx + 1 > trainer.num_training_batches - self.interval // 2
        if (batch_idx + 1) % self.interval == 0 and not near_end:
            self.measure(trainer, pl_module, batch_idx + 1)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.measure(trainer, pl_module, trainer.num_training_batches)

    def measure(self, trainer, pl_module, batches_done: int) -> None:
        elapsed = time.perf_counter() - self.start - self.excluded
        begin = time.perf_counter()
        accuracy = test_accuracy(pl_module, self.datamodule)
        self.excluded += time.perf_counter() - begin
        epoch = trainer.current_epoch + batches_done / trainer.num_training_batches
        self.rows.append((epoch, elapsed, accuracy))
        print(f"  epoch {epoch:5.2f}: {elapsed:7.1f} s  test acc {accuracy:.4f}", flush=True)


def test_accuracy(model: pl.LightningModule, datamodule) -> float:
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels, _ in datamodule.test_dataloader():
            correct += int((model(datamodule.normalize(images)).argmax(1) == labels).sum())
    model.train(was_training)
    return correct / len(datamodule.splits["test"][1])


def fastai_peer(cfg, datamodule, seed: int) -> dict | None:
    """fastai v2 training the task's network on the same batches and recipe: fit seconds and test accuracy."""
    try:
        import fastai.callback.schedule  # noqa: F401  (adds Learner.fit_one_cycle)
        from fastai.callback.core import Callback
        from fastai.data.core import DataLoaders
        from fastai.learner import Learner
        from fastai.optimizer import Adam
    except ImportError as e:
        print(f"  fastai peer skipped: fastai is not importable ({e})")
        return None

    class Prepare(Callback):
        """The data module's augmentation (training only) and normalization, on each uint8 batch."""

        def before_batch(self) -> None:
            images = self.xb[0]
            if self.training:
                images = datamodule.augment_batch(images)
            images = datamodule.normalize(images)
            if getattr(module, "channels_last", False):
                images = images.contiguous(memory_format=torch.channels_last)
            self.learn.xb = (images,)

    pl.seed_everything(seed)
    module = instantiate(cfg.model, **datamodule.describe(), _convert_="all")
    splits = {name: list(zip(*datamodule.splits[name], strict=True)) for name in ("train", "valid", "test")}
    batch_size = cfg.data.batch_size
    dls = DataLoaders.from_dsets(splits["train"], splits["valid"], bs=batch_size, device="cpu", drop_last=True)
    learner = Learner(dls, module.net, loss_func=F.nll_loss, opt_func=Adam, wd=cfg.model.weight_decay, cbs=Prepare())
    learner.recorder.silent = True
    start = time.perf_counter()
    with learner.no_logging(), learner.no_bar():
        learner.fit_one_cycle(cfg.trainer.max_epochs, cfg.model.lr)
    seconds = time.perf_counter() - start
    test_dl = dls.test_dl(splits["test"], with_labels=True, bs=batch_size * 4)
    with learner.no_bar():
        log_probs, labels = learner.get_preds(dl=test_dl)
    return {"seconds": seconds, "test_acc": float((log_probs.argmax(1) == labels).float().mean())}


def run_task(task: str, args: argparse.Namespace) -> dict:
    overrides = [f"data.data_dir={args.data_dir}"]
    if args.epochs:
        overrides.append(f"trainer.max_epochs={args.epochs}")
    # nothing is written into the run directory: the trainer below has no logger and no checkpoints
    run_dir = Path(args.cache_dir) / "bench-mnist" / task
    cfg = compose_task(task, overrides + list(args.override), run_dir=run_dir, cache_dir=args.cache_dir)
    pl.seed_everything(args.seed)
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")
    model = instantiate(cfg.model, **datamodule.describe(), _convert_="all")
    clock = TestAccuracyClock(datamodule, args.every)
    trainer = pl.Trainer(
        max_epochs=cfg.trainer.max_epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        callbacks=[instantiate(cfg.callbacks.schedule, _convert_="all"), clock],
    )
    print(f"{task}: {type(model).__name__} {dict(cfg.model)}, {cfg.trainer.max_epochs} epochs")
    trainer.fit(model, datamodule=datamodule)
    final = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    reached = next((row for row in clock.rows if row[2] >= args.target), None)
    peer = None if args.no_peer else fastai_peer(cfg, datamodule, args.seed)
    return {
        "task": task,
        "test_acc": final["test/acc"],
        "fit_seconds": clock.seconds,
        "reached": reached,
        "peer": peer,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mnist", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default="/work/shared/data/mnist")
    parser.add_argument("--cache-dir", default="/tmp/fastlightning-bench-cache")
    parser.add_argument("--tasks", nargs="+", default=["mnist_logreg", "mnist_cnn"])
    parser.add_argument("--epochs", type=int, default=None, help="override the task's trainer.max_epochs")
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides, e.g. model.lr=1e-2")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy whose wall time is reported")
    parser.add_argument("--every", type=float, default=0.25, help="measure test accuracy every this many epochs")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-peer", action="store_true", help="skip the fastai v2 peer")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, data {args.data_dir}")
    targets = {"mnist_logreg": 0.92, "mnist_cnn": 0.993}
    for result in [run_task(task, args) for task in args.tasks]:
        target = targets.get(result["task"])
        met = target is not None and result["test_acc"] >= target
        verdict = "" if target is None else f" (target {target:.3f}: {'met' if met else 'NOT met'})"
        accuracy, seconds = result["test_acc"], result["fit_seconds"]
        print(f"RESULT {result['task']}: test accuracy {accuracy:.4f}{verdict}, fit {seconds:.1f} s")
        if result["peer"]:
            peer = result["peer"]
            print(
                f"RESULT {result['task']}: fastai v2 peer, same net and recipe: test accuracy {peer['test_acc']:.4f}, "
                f"fit {peer['seconds']:.1f} s (ours / fastai: {result['fit_seconds'] / peer['seconds']:.2f})"
            )
        if result["task"] != "mnist_cnn":
            continue
        if result["reached"]:
            epoch, seconds, accuracy = result["reached"]
            print(
                f"RESULT {result['task']}: {accuracy:.2%} >= {args.target:.2%} test accuracy at epoch {epoch:.2f}, "
                f"after {seconds:.1f} s of training"
            )
        else:
            print(f"RESULT {result['task']}: {args.target:.2%} test accuracy not reached")


if __name__ == "__main__":
    main()
