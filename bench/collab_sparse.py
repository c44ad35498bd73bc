"""Row-sparse embedding updates against the dense AdamW step, for MovieLens's dot-product-with-biases net.

    python -m bench.collab_sparse --steps 300

The net and sizes of ml-latest-small (610 users, 9,724 movies, 50 factors). Dense: AdamW with decoupled
weight decay over every row each step (what ``task=movielens`` does). Sparse: ``nn.Embedding(sparse=True)``
with ``torch.optim.SparseAdam``, which updates only the rows a batch touches and has no weight decay (a
lazy decay would have to catch up on untouched rows). Printed: milliseconds per step and per optimizer
step at each batch size, median of interleaved repeats.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

N_USERS, N_ITEMS, N_FACTORS = 610, 9724, 50


def step_times(batch_size: int, sparse: bool, steps: int) -> tuple[float, float]:
    """Milliseconds per whole step and per optimizer step over ``steps`` steps on random pairs."""
    tables = [nn.Embedding(n, width, sparse=sparse) for n, width in ((N_USERS, N_FACTORS), (N_ITEMS, N_FACTORS))]
    biases = [nn.Embedding(n, 1, sparse=sparse) for n in (N_USERS, N_ITEMS)]
    params = [p for m in (*tables, *biases) for p in m.parameters()]
    if sparse:
        opt = torch.optim.SparseAdam(params, lr=1e-2)
    else:
        opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.3, foreach=True)
    users = torch.randint(0, N_USERS, (steps, batch_size))
    items = torch.randint(0, N_ITEMS, (steps, batch_size))
    ratings = torch.rand(steps, batch_size) * 5
    in_optimizer = 0.0
    start = time.perf_counter()
    for s in range(steps):
        u, i = users[s], items[s]
        dot = (tables[0](u) * tables[1](i)).sum(1) + biases[0](u).squeeze(1) + biases[1](i).squeeze(1)
        loss = ((torch.sigmoid(dot) * 5.5 - ratings[s]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        before = time.perf_counter()
        opt.step()
        in_optimizer += time.perf_counter() - before
    return (time.perf_counter() - start) / steps * 1e3, in_optimizer / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 1024])
    args = parser.parse_args()
    step_times(64, False, 20)  # warm up both paths before anything is timed
    step_times(64, True, 20)
    for batch_size in args.batch_sizes:
        times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for repeat in range(args.repeats):
            for sparse in (False, True) if repeat % 2 == 0 else (True, False):
                times[sparse].append(step_times(batch_size, sparse, args.steps))
        for sparse, label in ((False, "dense AdamW (weight decay)"), (True, "SparseAdam (no weight decay)")):
            step = statistics.median(t[0] for t in times[sparse])
            optimizer = statistics.median(t[1] for t in times[sparse])
            print(f"batch {batch_size:>5}  {label:<30} step {step:6.3f} ms, optimizer {optimizer:6.3f} ms")


if __name__ == "__main__":
    main()
