"""A stopwatch for benchmarks on a shared machine."""

from __future__ import annotations

import time


class Clock:
    """Wall time and this process's CPU time between start() and stop(). On a shared machine the CPU time
    is what a run costs, whatever the other processes do; with one thread it is the run's own work."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu
