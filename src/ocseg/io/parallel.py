"""Running one function over many files in worker processes, with a progress bar.

Work that is independent per file (SegFix ground truth, refinement) maps a picklable function
over job records with a process pool (one job per task, results in input order) and re-raises
the first error (an :class:`~ocseg.errors.OcsegError` keeps its one-line message). Nothing heavy
is imported here: a tool that never loads torch (``refine.py``) starts its workers without it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from typing import Callable, Iterable, Sequence, TypeVar

__all__ = ["default_workers", "run_parallel"]

J = TypeVar("J")
R = TypeVar("R")


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _init_worker() -> None:
    # Each worker handles whole files; nested thread pools would only oversubscribe the cores.
    # (Not cv2.setNumThreads: in a forked child it tears down the parent's OpenCV thread pool
    # and deadlocks; OpenCV's own parallel loops are fork-safe.) torch is only tuned when the
    # parent has loaded it: importing it here would cost every worker seconds.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def _progress(results: Iterable[R], total: int, desc: str, progress: bool | None) -> list[R]:
    """Collect ``results`` behind a tqdm bar; tqdm is only imported when the bar shows."""
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return list(results)
    from tqdm import tqdm

    return list(tqdm(results, total=total, desc=desc, unit="file", dynamic_ncols=True))


def run_parallel(fn: Callable[[J], R], jobs: Sequence[J], workers: int | None = None,
                 desc: str = "", progress: bool | None = None) -> list[R]:
    """``[fn(job) for job in jobs]`` on ``workers`` processes (None: all cores; ≤1: inline).

    ``progress``: show a tqdm bar (None: only on a terminal).
    """
    jobs = list(jobs)
    count = min(len(jobs), default_workers() if workers is None else int(workers))
    if count <= 1:
        return _progress(map(fn, jobs), len(jobs), desc, progress)
    # fork: workers inherit the imported modules, start in milliseconds, and plain scripts and
    # notebooks need no `if __name__ == "__main__"` guard.
    with mp.get_context("fork").Pool(count, initializer=_init_worker) as pool:
        return _progress(pool.imap(fn, jobs, chunksize=1), len(jobs), desc, progress)
