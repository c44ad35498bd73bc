"""Rossmann benchmarks (issue 3, section 6) on the real Kaggle folder.

    python -m bench.rossmann prepare      # feature preparation of the full train set: cold (<= 60 s), cached (<= 3 s)
    python -m bench.rossmann throughput   # training rows/s: ours vs a hand-written loop (within 10%)
                                          # and vs fastai v2's tabular_learner (>= 3x), in one run
    python -m bench.rossmann rmspe --window lesson   # val RMSPE on 2014-08-01..2014-09-17 (<= 0.0985)
    python -m bench.rossmann rmspe --window last48   # val RMSPE on the last 48 days (<= 0.1037)

Every figure that depends on the machine is printed next to a reference measured in the same run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.clock import Clock

ROOT = Path(__file__).resolve().parents[1]

DATA_DIR = "/work/shared/data/rossmann"
LESSON_WINDOW = ("2014-08-01", "2014-09-17")
# validation batch sizes: fastai 0.7's ColumnarModelData (twice the lesson's 128), fastai v1's DataBunch (its bs, 64)
REPORTED_BY = (("fastai 0.7 (the lesson)", 256), ("fastai v1", 64))


# ----- preparation


def time_prepare(data_dir: str, cache_dir: str) -> None:
    """(In a fresh process) prepare the data module and print the seconds it took as JSON."""
    from datamodules.rossmann import RossmannDataModule

    start = time.perf_counter()
    module = RossmannDataModule(
        data_dir=data_dir, val_start=LESSON_WINDOW[0], val_end=LESSON_WINDOW[1], cache_dir=cache_dir
    )
    module.prepare_data()
    module.setup("fit")
    seconds = time.perf_counter() - start
    rows = len(module.datasets["train"]) + len(module.datasets["valid"])
    print(json.dumps({"seconds": seconds, "rows": rows}))


def time_read_csv(data_dir: str) -> None:
    """(In a fresh process) the reference: pandas reading train.csv alone."""
    import pandas as pd

    start = time.perf_counter()
    frame = pd.read_csv(Path(data_dir) / "train.csv", low_memory=False)
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(frame)}))


def in_fresh_process(*args: str) -> dict:
    command = [sys.executable, "-m", "bench.rossmann", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_prepare(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as cache_dir:
        read = in_fresh_process("_read", "--data-dir", args.data_dir)
        cold = in_fresh_process("_prepare", "--data-dir", args.data_dir, "--cache-dir", cache_dir)
        cached = in_fresh_process("_prepare", "--data-dir", args.data_dir, "--cache-dir", cache_dir)
    print(f"reference: pandas.read_csv(train.csv), {read['rows']:,} rows: {read['seconds']:.2f} s")
    print(
        f"prepare, cold:   {cold['seconds']:6.2f} s ({cold['seconds'] / read['seconds']:.1f}x the read; "
        f"target <= 60 s) -> {cold['rows']:,} training+validation rows"
    )
    print(f"prepare, cached: {cached['seconds']:6.2f} s (target <= 3 s)")


# ----- training throughput


def load_data(args: argparse.Namespace):
    from datamodules.rossmann import RossmannDataModule

    module = RossmannDataModule(
        data_dir=args.data_dir,
        val_start=LESSON_WINDOW[0],
        val_end=LESSON_WINDOW[1],
        batch_size=args.batch_size,
        cache_dir=args.cache_dir,
    )
    module.prepare_data()
    module.setup("fit")
    return module


def ours(module, args: argparse.Namespace) -> tuple[float, float]:
    """Rows/s of `python train.py task=rossmann`: the task's model, data loader, schedule, logger and lr monitor."""
    import pytorch_lightning as pl
    from hydra.utils import instantiate

    from fastlightning import compose_task

    class StepTimer(pl.Callback):
        def __init__(self) -> None:
            self.clock = Clock()

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            if batch_idx == args.warmup:
                self.clock.start()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            if batch_idx == args.warmup + args.steps - 1:
                self.seconds = self.clock.stop()
                trainer.should_stop = True

    with tempfile.TemporaryDirectory() as out:
        overrides = [
            "~callbacks.checkpoint",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            "trainer.limit_val_batches=0",
            "trainer.num_sanity_val_steps=0",
        ]
        cfg = compose_task("rossmann", overrides, run_dir=Path(out) / "run")
        model = instantiate(cfg.model, **module.describe(), _convert_="all")
        timer = StepTimer()
        callbacks = [instantiate(c, _convert_="all") for c in cfg.callbacks.values() if c and "_target_" in c]
        logger = instantiate(cfg.logger.csv)
        trainer = instantiate(cfg.trainer, callbacks=[*callbacks, timer], logger=logger, _convert_="all")
        trainer.fit(model, datamodule=module)
    return timer.seconds


def hand_loop(module, args: argparse.Namespace) -> tuple[float, float]:
    """Rows/s of a plain PyTorch loop over the same tensors and net: index, forward, MSE, backward, the same
    (fused) Adam step, with the learning rate set at every step as a schedule does."""
    import torch
    import torch.nn.functional as F

    from lightning_models.tabular import TabularNet

    described = module.describe()
    net = TabularNet(described["emb_szs"], described["n_cont"], described["y_range"])
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), fused=True)
    x_cat, x_cont, y = module.datasets["train"].tensors
    batches = torch.randperm(len(y)).split(args.batch_size)
    net.train()
    clock = Clock()
    for i, rows in enumerate(batches[: args.warmup + args.steps]):
        if i == args.warmup:
            clock.start()
        for group in optimizer.param_groups:
            group["lr"] = 1e-3 * (1 + math.cos(math.pi * i / len(batches))) / 2
        loss = F.mse_loss(net(x_cat[rows], x_cont[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return clock.stop()


class FastaiPeer:
    """fastai v2's tabular_learner on the same processed frame (our codes and normalized values), batch size,
    embedding widths and layers [1000, 500] with the lesson's dropouts, no BatchNorm between layers."""

    def __init__(self, module, args: argparse.Namespace) -> None:
        import numpy as np
        import pandas as pd
        from fastai.tabular.all import Categorify, RegressionBlock, TabularPandas

        processor = module.processor
        arrays = module.arrays
        cat_names, cont_names = processor.all_cat_names, processor.cont_names
        frame = pd.DataFrame(arrays["x_cat"].astype(np.int64), columns=cat_names)
        frame[cont_names] = arrays["x_cont"]
        frame["y"] = arrays["y"]
        valid = np.flatnonzero(arrays["is_valid"])
        train = np.flatnonzero(~arrays["is_valid"])
        tabular = TabularPandas(
            frame,
            procs=[Categorify],
            cat_names=cat_names,
            cont_names=cont_names,
            y_names="y",
            y_block=RegressionBlock(),
            splits=(list(train), list(valid)),
        )
        self.dls = tabular.dataloaders(bs=args.batch_size)
        described = module.describe()
        self.emb_szs = {name: dim for name, (_, dim) in zip(cat_names, described["emb_szs"], strict=True)}
        self.y_range = described["y_range"]
        self.args = args

    def __call__(self) -> tuple[float, float]:
        from fastai.callback.core import Callback, CancelFitException
        from fastai.tabular.all import MSELossFlat, tabular_config, tabular_learner

        args = self.args

        clock = Clock()

        class Timer(Callback):
            def before_batch(self) -> None:
                if self.iter == args.warmup:
                    clock.start()

            def after_batch(self) -> None:
                if self.iter == args.warmup + args.steps - 1:
                    clock.seconds = clock.stop()
                    raise CancelFitException

        learn = tabular_learner(
            self.dls,
            layers=[1000, 500],
            emb_szs=self.emb_szs,
            config=tabular_config(ps=[0.001, 0.01], embed_p=0.04, use_bn=False),
            y_range=self.y_range,
            n_out=1,
            loss_func=MSELossFlat(),
        )
        with learn.no_bar(), learn.no_logging():
            learn.fit_one_cycle(1, 1e-3, cbs=Timer())
        return clock.seconds


def bench_throughput(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    module = load_data(args)
    runners = {
        "ours (train.py task=rossmann)": lambda: ours(module, args),
        "hand-written loop": lambda: hand_loop(module, args),
    }
    try:
        runners["fastai v2 tabular_learner"] = FastaiPeer(module, args)
    except ImportError as e:
        print(f"fastai is not importable ({e}); skipping the fastai peer")
    for run in runners.values():
        run()  # untimed: the first run in a process also pays for growing the heap and warming caches
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in runners}
    for round_ in range(args.rounds):
        order = list(runners) if round_ % 2 == 0 else list(reversed(runners))
        for name in order:
            seconds[name].append(runners[name]())
    rows = args.steps * args.batch_size
    print(
        f"training throughput, batch size {args.batch_size}, layers [1000, 500], {args.steps} timed steps after "
        f"{args.warmup} warm-up steps, {args.rounds} interleaved rounds (order reversed every other round) after "
        f"an untimed one, {args.threads} thread(s)"
    )
    for clock, index in (("CPU", 1), ("wall", 0)):
        print(f"rows per {clock} second (median over rounds; each round's value in brackets):")
        for name, values in seconds.items():
            rates = [rows / v[index] for v in values]
            print(f"  {name:32s} {statistics.median(rates):9,.0f}   ({', '.join(f'{r:,.0f}' for r in rates)})")
    names = list(runners)
    for other, target in zip(names[1:], ("target >= 0.90", "target >= 3"), strict=False):
        for clock, index in (("CPU", 1), ("wall", 0)):
            ratios = [o[index] / m[index] for m, o in zip(seconds[names[0]], seconds[other], strict=True)]
            print(
                f"ours / {other}, {clock} time: {statistics.median(ratios):.3f} ({target}; per round: "
                f"{', '.join(f'{r:.3f}' for r in ratios)})"
            )


# ----- validation RMSPE


def bench_rmspe(args: argparse.Namespace) -> None:
    # task=rossmann_lesson: the lesson's recipe and window; last48 keeps the recipe, validates on the last 48 days
    window = [] if args.window == "lesson" else ["data.val_start=null", "data.val_end=null", "data.val_days=48"]
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix=f"rossmann-{args.window}-"))
    command = [
        sys.executable,
        str(ROOT / "train.py"),
        "task=rossmann_lesson",
        f"data.data_dir={args.data_dir}",
        f"data.batch_size={args.batch_size}",
        *window,
        *([] if args.epochs is None else [f"callbacks.schedule.cycles=[{args.epochs}]"]),
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={run_dir}",
        *args.overrides,
    ]
    print("command:", " ".join(command[1:]), flush=True)
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    minutes = (time.perf_counter() - start) / 60
    with open(run_dir / "metrics.csv") as handle:
        epochs = [row for row in csv.DictReader(handle) if row.get("val/rmspe")]
    for row in epochs:
        epoch, loss, rmspe = int(row["epoch"]) + 1, float(row["val/loss"]), float(row["val/rmspe"])
        print(f"  epoch {epoch:2d}: val/loss {loss:.5f}  val/rmspe {rmspe:.4f}")
    target = 0.0985 if args.window == "lesson" else 0.1037
    final = float(epochs[-1]["val/rmspe"])
    print(f"final val/rmspe on the {args.window} window: {final:.4f} (target <= {target}); {minutes:.1f} min")
    exact, by_batches = reported_rmspe(args, run_dir / "checkpoints" / "last.ckpt")
    print(f"the final model, exact RMSPE of all validation rows: {exact:.4f}")
    for who, size in REPORTED_BY:
        print(
            f"  as {who} reported it (the mean of per-batch RMSPEs over validation batches of {size} in "
            f"train.csv order): {by_batches[size]:.4f}"
        )
    print(f"run directory: {run_dir}")


def reported_rmspe(args: argparse.Namespace, checkpoint: Path) -> tuple[float, dict[int, float]]:
    """The exact RMSPE of a checkpoint on the run's validation days, and the figure fastai would report.

    fastai 0.7 and v1 averaged the metric over validation batches (weighted by their sizes), which
    for a square root of a mean is lower than the RMSPE of all rows, the more so the smaller the
    batches; the lesson's and fastai v1's numbers are of that kind.
    """
    import numpy as np
    import torch

    from datamodules.rossmann import RossmannDataModule
    from lightning_models.tabular import TabularModule

    window = {"val_start": LESSON_WINDOW[0], "val_end": LESSON_WINDOW[1]} if args.window == "lesson" else {}
    module = RossmannDataModule(data_dir=args.data_dir, cache_dir=args.cache_dir, **window)
    module.prepare_data()
    module.setup("fit")
    model = TabularModule.load_from_checkpoint(checkpoint, weights_only=True).eval()
    x_cat, x_cont, y = module.datasets["valid"].tensors
    with torch.no_grad():
        log_error = model(x_cat, x_cont).double() - y.double()
    errors = (1 - log_error.exp()).numpy()  # (y - y_hat) / y
    features = module.features()
    days = features[~features["is_test"].to_numpy()].reset_index(drop=True)
    days = days[module.valid_rows(days["Date"])]
    order = np.lexsort((days["Store"].to_numpy(), -days["Date"].to_numpy().astype("datetime64[D]").astype(np.int64)))
    by_batches = {}
    for _, size in REPORTED_BY:
        batches = np.array_split(errors[order], np.arange(size, len(errors), size))
        by_batches[size] = float(sum(len(b) * np.sqrt((b**2).mean()) for b in batches) / len(errors))
    return float(np.sqrt((errors**2).mean())), by_batches


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rossmann", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["prepare", "throughput", "rmspe", "_prepare", "_read"])
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--cache-dir", default=str(ROOT / ".cache"))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--steps", type=int, default=400, help="throughput: timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=30, help="throughput: steps before timing")
    parser.add_argument("--rounds", type=int, default=5, help="throughput: interleaved rounds (the median is kept)")
    parser.add_argument("--window", choices=["lesson", "last48"], default="lesson", help="rmspe: validation days")
    parser.add_argument("--epochs", type=int, default=None, help="rmspe: one cosine cycle of this many epochs "
                        "instead of the lesson's 3 flat epochs + cycles of 1,1,1,1,1,4,4")  # fmt: skip
    parser.add_argument("--run-dir", default=None, help="rmspe: where the run is written (default: a temp folder)")
    parser.add_argument("overrides", nargs="*", help="rmspe: more train.py overrides")
    args = parser.parse_args()
    if args.threads is None:
        import torch

        args.threads = torch.get_num_threads()
    if args.what == "_prepare":
        time_prepare(args.data_dir, args.cache_dir)
    elif args.what == "_read":
        time_read_csv(args.data_dir)
    elif args.what == "prepare":
        bench_prepare(args)
    elif args.what == "throughput":
        bench_throughput(args)
    else:
        bench_rmspe(args)


if __name__ == "__main__":
    main()
