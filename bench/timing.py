"""Timing A against B fairly on a shared machine: round-robin alternation, medians, ratios.

Every repeat runs each contender once, starting from a different one each time (so none always
runs right after the same neighbour), after ``warmup`` untimed rounds. Load from other jobs then
hits all contenders alike, and the median of each is compared as a ratio.

``clock``: wall time (``time.perf_counter``, the default) or this process's CPU time
(``time.process_time``, :data:`CLOCKS` ``"cpu"``). With one torch thread on a loaded machine the
CPU time leaves out the time the process waits for a core, which is most of the wall time's
spread there (one step's wall time varied 2× between rounds where its CPU time varied ±15 %);
with several threads it also counts OpenMP's spin-waiting, so use it with ``--threads 1``.
"""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path
from typing import Callable, Mapping

__all__ = ["CLOCKS", "round_robin", "medians", "ratio", "cpu_model"]

CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def cpu_model() -> str:
    """The processor's marketing name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def round_robin(fns: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 1,
                sync: Callable[[], None] | None = None, log: Callable[[str], None] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Seconds (of ``clock``) of each call of each function, ``repeats`` rounds in rotating order."""
    names = list(fns)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(-warmup, repeats):
        start = round_index % len(names)
        for name in names[start:] + names[:start]:
            begin = clock()
            fns[name]()
            if sync is not None:
                sync()
            elapsed = clock() - begin
            if round_index >= 0:
                times[name].append(elapsed)
            if log is not None:
                log(f"{'warm-up' if round_index < 0 else f'round {round_index + 1}'} {name}: {elapsed:.3f} s")
    return times


def medians(times: Mapping[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items() if values}


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` (None when either is missing)."""
    return None if a is None or b is None or b == 0 else a / b
