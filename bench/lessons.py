"""Each lesson's own recipe (the ``*_lesson`` tasks) and the workshop's systems on the real data, beside the
lesson's figure and our default.

    python -m bench.lessons                                  # every family whose data is found
    python -m bench.lessons --families movielens --seeds 42 1 2

Each row trains ``python train.py task=<task> data.data_dir=<data>`` (composed from the same configs)
once per ``--seeds`` seed and prints the lesson's figure, the mean and range of ours, and the seconds a
run took. MovieLens: ml-latest-small, a random 20% validation (val MSE, as the lesson printed it);
MNIST: val accuracy, the lesson's task on the last 10,000 of the 60,000 training images (as its
mnist.pkl.gz held them out), our default on a seeded random 10% and on the lesson's 10,000;
credit: the workshop's UCI credit-card default table, a seeded
60/20/20, test accuracy and AUROC; Somerville: the survey, the training loss (smoothed) against the
workshop's; weekly sales: the workshop's UCI file, a seeded 20% of the products
held out, val MSE beside the "same as last week" forecast's on the same weeks; characters: Alice in
Wonderland, the last 10% held out, val loss in nats per character; sentences: the Amazon file, a seeded 20%
held out, val accuracy; CIFAR-10: the python batches (or the JPEG tree), 20% of the training images held
out, test accuracy (``cifar10_workshop_sample``: the same rows on the built-in sample, which is all this
machine has).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from fastlightning import compose_task, run


@dataclass(frozen=True)
class Row:
    task: str
    metrics: tuple[str, ...]
    lesson: float | None
    recipe: str
    overrides: tuple[str, ...] = ()


ALICE = ("data.text_file=alice.txt", "data.encoding=latin-1")
CREDIT_METRICS = ("test/acc", "test/auroc", "val/acc")
CONSTANT_LR_20_EPOCHS = ("~callbacks/schedule", "trainer.max_epochs=20")
# the workshop's nets read all 23 columns as numbers (its 22 inputs: the same, less one it dropped)
CREDIT_AS_NUMBERS = (
    "data.cat_names=[]",
    "data.cont_names=[LIMIT_BAL,SEX,EDUCATION,MARRIAGE,AGE,PAY_0,PAY_2,PAY_3,PAY_4,PAY_5,PAY_6,"
    "BILL_AMT1,BILL_AMT2,BILL_AMT3,BILL_AMT4,BILL_AMT5,BILL_AMT6,PAY_AMT1,PAY_AMT2,PAY_AMT3,PAY_AMT4,PAY_AMT5,PAY_AMT6]",
)


CIFAR10_WORKSHOP = [
    Row("cifar10_workshop", ("test/acc", "val/acc"), 0.72, "workshop 4.01: 3 convs + max-pools, 640-100-10, Adam"),
    Row(
        "cifar10_workshop",
        ("test/acc", "val/acc"),
        0.75,
        "workshop 4.02: + flips, grayscale",
        ("data.augment=[flip,grayscale]",),
    ),
    Row(
        "cifar10_workshop",
        ("test/acc", "val/acc"),
        0.78,
        "workshop 4.03: + BatchNorm",
        ("data.augment=[flip,grayscale]", "model.batch_norm=true"),
    ),
    Row("cifar10_cnn", ("test/acc", "val/acc"), None, "our default: wider BN CNN, crops and flips, one-cycle"),
]

# a family's folder under --data-root; None: the built-in sample
FAMILIES: dict[str, tuple[str | None, list[Row]]] = {
    "movielens": (
        "movielens/ml-latest-small",
        [
            Row("movielens_lesson", ("val/mse",), 0.765, "lesson 5, fastai 0.7 collab learner"),
            Row("movielens_dot_lesson", ("val/mse",), None, "lesson 5, dot product from scratch"),
            Row("movielens_bias_lesson", ("val/mse",), 0.80994, "lesson 5, dot product + biases from scratch"),
            Row("movielens_nn_lesson", ("val/mse",), 0.80706, "lesson 5, embedding net"),
            Row("movielens", ("val/mse",), None, "our default: one-cycle, AdamW"),
            Row("movielens_nn", ("val/mse",), None, "our default embedding net"),
        ],
    ),
    "mnist": (
        "mnist",
        [
            Row("mnist_logreg_lesson", ("val/acc",), 0.918, "ML lessons 8-10, hand-written logistic regression"),
            Row("mnist_logreg", ("val/acc",), None, "our default: nn.Linear, one-cycle"),
            Row(
                "mnist_logreg",
                ("val/acc",),
                None,
                "our default on the lesson's validation images",
                ("data.split=last", "data.valid_pct=0.1666667"),
            ),
        ],
    ),
    "weekly_sales": (
        "workshop",
        [
            Row("weekly_sales", ("val/mse", "val/naive_mse", "val/mae"), None, "workshop 6.01: nn.RNN, Adam 1e-3"),
            Row(
                "weekly_sales",
                ("val/mse", "val/naive_mse", "val/mae"),
                None,
                "GRU, lr 1e-2",
                ("model.cell=gru", "model.lr=1e-2"),
            ),
        ],
    ),
    "credit": (
        "workshop",
        [
            Row("credit_default", CREDIT_METRICS, None, "our tabular net, embeddings, one-cycle"),
            Row(
                "credit_default",
                CREDIT_METRICS,
                None,
                "workshop 3.01: 10-10-10, Adam 1e-3, 20 epochs",
                (*CREDIT_AS_NUMBERS, "model.layers=[10,10,10]", "model.ps=[0,0,0]", *CONSTANT_LR_20_EPOCHS),
            ),
            Row(
                "credit_default",
                CREDIT_METRICS,
                None,
                "workshop 3.02: 100-100-50-50, dropout 0.1, 20 epochs",
                (
                    *CREDIT_AS_NUMBERS,
                    "model.layers=[100,100,50,50]",
                    "model.ps=[0.1,0.1,0.1,0.1]",
                    *CONSTANT_LR_20_EPOCHS,
                ),
            ),
        ],
    ),
    "char_lm": (
        "workshop",
        [
            Row(
                "char_lm",
                ("val/loss", "val/acc"),
                None,
                "workshop 6.02: one-hot LSTM 256 x 2, Adam 1e-3, 20 epochs",
                ("data.text_file=alice.txt", "data.encoding=latin-1"),
            ),
        ],
    ),
    "sentences": (
        "workshop",
        [
            Row("sentences", ("val/acc", "val/loss"), None, "workshop 6.03: Embedding 64, LSTM 128 x 3, Adam 1e-3"),
            Row(
                "sentences",
                ("val/acc", "val/loss"),
                None,
                "concat pooling, dropout 0.5, AdamW 0.01, one-cycle 3e-3, 15 epochs",
                (
                    "model.pooling=concat",
                    "model.dropout=0.5",
                    "model.optimizer=adamw",
                    "model.weight_decay=0.01",
                    "callbacks/schedule=one_cycle",
                    "model.lr=3e-3",
                    "trainer.max_epochs=15",
                ),
            ),
        ],
    ),
    "somerville": (
        "workshop",
        [Row("somerville", ("train/loss", "val/loss"), 0.24, "workshop 1.01: Linear(6, 1) + Sigmoid, MSE, Adam 0.01")],
    ),
    "cifar10_workshop": ("cifar10", CIFAR10_WORKSHOP),
    "cifar10_workshop_sample": (None, CIFAR10_WORKSHOP),
}


def train(row: Row, data_dir: Path | None, seed: int, run_dir: Path, cache: Path) -> tuple[dict[str, float], float]:
    """One run of the row's task on ``data_dir`` (or its built-in sample): its final metrics and its seconds."""
    overrides = [f"seed={seed}", "trainer.enable_progress_bar=false"]
    overrides += [f"data.data_dir={data_dir}"] if data_dir is not None else []
    cfg = compose_task(row.task, [*overrides, *row.overrides], run_dir=run_dir, cache_dir=cache)
    start = time.perf_counter()
    metrics = run(cfg)
    return metrics, time.perf_counter() - start


def summary(values: list[float]) -> str:
    """The mean, and the range when there are several seeds."""
    spread = f" ({min(values):.4f}..{max(values):.4f})" if len(values) > 1 else ""
    return f"{statistics.mean(values):.4f}{spread}"


def report(row: Row, results: list[dict[str, float]], seconds: list[float]) -> str:
    """The row's first metric beside the lesson's figure, then its other metrics from the same runs."""
    first, *others = row.metrics
    lesson = f"{row.lesson:.4f}" if row.lesson is not None else "-"
    ours = summary([metrics[first] for metrics in results])
    also = "".join(f"  {key} {summary([metrics[key] for metrics in results])}" for key in others)
    seconds_taken = statistics.mean(seconds)
    return f"{row.task:24s} {first:8s} lesson {lesson:8s} ours {ours:28s} {seconds_taken:6.1f} s  {row.recipe}{also}"


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lessons", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_lessons"))
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/bench_lessons/cache"))
    args = parser.parse_args()
    lines = []
    for family in args.families:
        folder, rows = FAMILIES[family]
        data_dir = args.data_root / folder if folder is not None else None
        if data_dir is not None and not data_dir.is_dir():
            print(f"{family}: no data at {data_dir}, skipped")
            continue
        for i, row in enumerate(rows):
            runs = [(seed, args.out / family / f"{i}-{row.task}-{seed}") for seed in args.seeds]
            results = [train(row, data_dir, seed, run_dir, args.cache_dir) for seed, run_dir in runs]
            lines.append(report(row, [m for m, _ in results], [s for _, s in results]))
            print(lines[-1], flush=True)
    print("\n".join(["", f"seeds {args.seeds}", *lines]))


if __name__ == "__main__":
    main()
