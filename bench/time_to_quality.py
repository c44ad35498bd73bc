"""Wall time to a quality, whole process, against fastai v2 in the same run (issue 18).

    python -m bench.time_to_quality movielens --data-root ../shared/data --rounds 3
    python -m bench.time_to_quality movielens --peer-python /path/to/venv-with-fastai/bin/python

Each contender runs as a fresh process (imports, data preparation from a warm file cache, training,
validation), interleaved over the rounds (the order flipped every other round): ours is ``python
train.py task=TASK`` with the task's default recipe and the real data; fastai v2 is its documented
recipe for the same job (bench/fastai_peers.py, in the interpreter ``--peer-python``, which must import
fastai: an optional peer, not a dependency). Printed: each contender's final metric and wall time
(median, min..max), the ratio of the medians, and ours' "time to reach" the peer's final metric from the
epoch clock its runs write.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Job:
    """What a task needs here: its data folder under --data-root, the final metric, which way is better,
    issue 18's quality to reach, and the metric ours' epoch clock follows (the validation's, where the final
    one is the test set's)."""

    data: str
    metric: str
    lower_is_better: bool
    target: float
    clock_metric: str | None = None

    @property
    def per_epoch(self) -> str:
        return self.clock_metric or self.metric


JOBS = {
    "movielens": Job("movielens/ml-latest-small", "val/rmse", lower_is_better=True, target=0.86),
    "mnist_cnn": Job("mnist", "test/acc", lower_is_better=False, target=0.993, clock_metric="val/acc"),
}


def run(command: list[str], out: Path) -> float:
    """Wall seconds of ``command`` as a fresh process (its output in ``out/log.txt``)."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(out / "log.txt", "w") as log:
        result = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {result.returncode}); see {out / 'log.txt'}")
    return wall


def ours(task: str, data_dir: Path, out: Path) -> tuple[float, float, pd.DataFrame, float]:
    """Wall time, final metric, the per-epoch clock and the seconds to the first training step of
    ``python train.py task=TASK`` on the real data."""
    clock = [
        "+callbacks.epoch_clock._target_=bench.epoch_clock.EpochClock",
        f"+callbacks.epoch_clock.start={time.time()}",
    ]
    command = [
        sys.executable, "train.py", f"task={task}", f"data.data_dir={data_dir}", f"hydra.run.dir={out}",
        "trainer.enable_progress_bar=false", *clock, f"+callbacks.epoch_clock.metric={JOBS[task].per_epoch}",
    ]  # fmt: skip
    wall = run(command, out)
    metric = json.loads((out / "metrics.json").read_text())[JOBS[task].metric]
    first_step = json.loads((out / "startup.json").read_text())["first_step"]
    return wall, metric, pd.read_csv(out / "epoch_clock.csv"), first_step


def peer(python: str, task: str, data_dir: Path, out: Path) -> tuple[float, float]:
    """Wall time and final metric of fastai v2's recipe for ``task``."""
    wall = run([python, "-m", "bench.fastai_peers", task, str(data_dir), str(out / "result.json")], out)
    return wall, json.loads((out / "result.json").read_text())["metric"]


def time_to_reach(clock: pd.DataFrame, target: float, lower_is_better: bool) -> float | None:
    """Seconds from the process start to the first validation at least as good as ``target``."""
    good = clock["metric"] <= target if lower_is_better else clock["metric"] >= target
    return float(clock.loc[good, "seconds"].iloc[0]) if good.any() else None


def reach_line(job: Job, clocks: list[pd.DataFrame], target: float, what: str) -> str:
    """When each of ours' runs first reached ``target``, from its process start."""
    reached = [time_to_reach(clock, target, job.lower_is_better) for clock in clocks]
    shown = ", ".join("never" if t is None else f"{t:.1f} s" for t in reached)
    return f"  ours' {job.per_epoch} reaches {what} after: {shown} (from the process start)"


def summary(name: str, walls: list[float], metrics: list[float]) -> str:
    return (
        f"  {name:<24} metric {statistics.median(metrics):.4f} ({min(metrics):.4f}..{max(metrics):.4f})   "
        f"wall {statistics.median(walls):6.1f} s ({min(walls):.1f}..{max(walls):.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(JOBS))
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer-python", default=None, help="an interpreter that imports fastai (default: none)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/time_to_quality"))
    args = parser.parse_args()
    job = JOBS[args.task]
    data_dir = (args.data_root / job.data).resolve()
    results: dict[str, tuple[list[float], list[float]]] = {"ours": ([], []), "fastai v2": ([], [])}
    clocks, startups = [], []
    for round_ in range(args.rounds):
        order = ["ours", "fastai v2"] if round_ % 2 == 0 else ["fastai v2", "ours"]
        for name in order:
            out = args.out / args.task / name.replace(" ", "_") / f"round{round_}"
            if name == "ours":
                wall, metric, clock, first_step = ours(args.task, data_dir, out)
                clocks.append(clock)
                startups.append(first_step)
            elif args.peer_python:
                wall, metric = peer(args.peer_python, args.task, data_dir, out)
            else:
                continue
            results[name][0].append(wall)
            results[name][1].append(metric)
            print(f"round {round_}: {name:<10} {job.metric} {metric:.4f}  {wall:.1f} s", flush=True)
    print(f"{args.task}, {args.rounds} rounds, each contender a fresh process ({job.metric}):")
    for name, (walls, metrics) in results.items():
        if walls:
            print(summary(name, walls, metrics))
    print(f"  ours' first training step after {statistics.median(startups):.1f} s (median; from the process start)")
    print(reach_line(job, clocks, job.target, str(job.target)))
    peer_walls, peer_metrics = results["fastai v2"]
    if peer_walls:
        ratio = statistics.median(results["ours"][0]) / statistics.median(peer_walls)
        print(f"  ours / fastai v2, median wall time: {ratio:.2f}")
        target = statistics.median(peer_metrics)
        print(reach_line(job, clocks, target, f"fastai v2's median {job.metric} {target:.4f}"))


if __name__ == "__main__":
    main()
