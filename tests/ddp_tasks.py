"""Runs several tasks in turn under DDP in the two CPU processes that torchrun started.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/ddp_tasks.py SPEC.json CACHE_DIR

``SPEC.json`` maps a name to ``{"task": ..., "overrides": [...], "run_dir": ...}``; rank 0 writes every
run's metrics to ``metrics.json`` beside it. Starting the processes once for all the runs, instead of
spawning two for each, is what keeps the DDP tests of every task fast. A run that fails ends the launch
with its traceback: the other rank may be waiting in a collective for it, and torchrun stops it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from fastlightning import compose_task, run

ON_TWO_CPU_PROCESSES = ["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2"]
# without the run's pictures: tests/test_reports.py tries those under DDP
QUIET = [
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "callbacks.loss_curves=null",
    "callbacks.validation_report=null",
]


def main(spec_path: str, cache_dir: str) -> None:
    torch.set_num_threads(1)
    spec = json.loads(Path(spec_path).read_text())
    results = {}
    for name, job in spec.items():
        overrides = [*QUIET, *job["overrides"], *ON_TWO_CPU_PROCESSES]
        try:
            results[name] = run(compose_task(job["task"], overrides, run_dir=job["run_dir"], cache_dir=cache_dir))
        except Exception:
            print(f"rank {os.environ.get('RANK', '0')}: task {name} failed under DDP", file=sys.stderr, flush=True)
            raise
    if os.environ.get("RANK", "0") == "0":
        (Path(spec_path).parent / "metrics.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:])
