"""Where trials run: in this process, on a pool of local processes, or on a Ray cluster.

Each executor takes the study's data once (:meth:`Executor.open`), then evaluates batches of
``(number, params)`` (:meth:`Executor.evaluate`) and hands back the outcomes in trial-number
order whatever order they finished in, so the results never depend on the number of workers or
where they ran. Batches are cut into chunks of a few trials (fewer round trips); ``progress(done)``
is called as chunks come back and ``cancelled()`` is checked between them.

* :class:`InlineExecutor` (1 worker): this process, the same code path as the workers (the
  arrays, then :func:`~cts_desktop.services.research_data.run_trials`).
* :class:`PoolExecutor`: a ``spawn`` process pool (safe under a GUI's threads); the candles in
  memory-mapped ``.npy`` files the workers open by path.
* :class:`~cts_desktop.services.research_ray.RayExecutor`: ``--ray auto|ADDRESS``.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import List, Optional

from .backtests import BacktestInputs
from .research_data import DataMeta, Outcome, SharedData, TrialJob, run_trials, to_arrays
from .research_exec import Cancelled, Executor, Item, Progress, StudyCancelled, chunks

__all__ = ["Executor", "InlineExecutor", "PoolExecutor", "StudyCancelled", "default_workers", "make_executor"]

def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which cancels the study and keeps what finished."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_workers() -> int:
    """Every local core (``os.cpu_count()``; the cores this process may use where the OS says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class InlineExecutor(Executor):
    """One worker: this process."""

    def open(self, inputs: BacktestInputs) -> None:
        self._arrays = to_arrays(inputs.series)
        self._meta = DataMeta(f"inline-{id(self._arrays)}", dict(inputs.markets), inputs.timeframe_ms,
                              inputs.cash_factor, inputs.label)

    def evaluate(self, job: TrialJob, items: List[Item], progress: Optional[Progress] = None,
                 cancelled: Optional[Cancelled] = None) -> List[Outcome]:
        out: List[Outcome] = []
        for chunk in chunks(items, 1):
            if cancelled is not None and cancelled():
                raise StudyCancelled(out)
            out += run_trials(job, self._meta, chunk, self._arrays)
            if progress is not None:
                progress(len(out))
        return out


class PoolExecutor(Executor):
    """``workers`` local processes sharing the candles through memory-mapped files."""

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: Optional[ProcessPoolExecutor] = None
        self._shared: Optional[SharedData] = None

    def open(self, inputs: BacktestInputs) -> None:
        self._shared = SharedData(inputs)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_worker_init)

    def evaluate(self, job: TrialJob, items: List[Item], progress: Optional[Progress] = None,
                 cancelled: Optional[Cancelled] = None) -> List[Outcome]:
        assert self._pool is not None and self._shared is not None, "open() first"
        meta = self._shared.meta
        pending: set[Future] = {self._pool.submit(run_trials, job, meta, c) for c in chunks(items, self.workers)}
        done: List[Outcome] = []
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                for f in finished:
                    done += f.result()
                if finished and progress is not None:
                    progress(len(done))
                if cancelled is not None and cancelled():
                    raise StudyCancelled(sorted(done, key=lambda o: o[0]))
        finally:
            for f in pending:
                f.cancel()
        return sorted(done, key=lambda o: o[0])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None


def make_executor(workers: Optional[int] = None, ray: Optional[str] = None) -> Executor:
    """The executor for ``workers`` (None: every local core) or, with ``ray`` (``auto``, ``local``
    or a cluster address), Ray's. Raises ``ValueError`` (field ``workers``) for fewer than 1."""
    if ray:
        from .research_ray import RayExecutor
        return RayExecutor(ray, workers)
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ValueError(f"workers: must be >= 1, got {n}")
    return InlineExecutor() if n == 1 else PoolExecutor(n)
