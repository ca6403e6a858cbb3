"""Trials on a Ray cluster (``--ray auto|local|ADDRESS``): the same job as the local pool.

``ray`` is imported here only (the optional extra ``pip install 'cts-desktop[cluster]'``), so the
desktop install stays lean. ``auto`` joins the cluster this machine belongs to (``ray start``),
``local`` starts a private Ray instance on this machine, anything else is the cluster's address
(``ray://head:10001`` or ``head:6379``). When Ray is already initialised in this process (a
test), that instance is used. The nodes need cts-desktop installed (the same version).

The candles go once into Ray's object store (shared memory on each node; numpy arrays are read
without copying), every task runs :func:`~cts_desktop.services.research_data.run_trials` on a
chunk, and the outcomes come back in trial-number order.
"""
from __future__ import annotations

from typing import Any, List, Optional

from .backtests import BacktestInputError, BacktestInputs
from .research_data import DataMeta, Outcome, TrialJob, run_trials, to_arrays
from .research_exec import Cancelled, Executor, Item, Progress, StudyCancelled, chunks


class RayExecutor(Executor):
    """Ray tasks, one per chunk; ``workers`` None: the cluster's CPUs."""

    engine = "ray"

    def __init__(self, address: str, workers: Optional[int] = None):
        try:
            import ray
        except ImportError:
            raise BacktestInputError("ray: Ray is not installed; pip install 'cts-desktop[cluster]'", "ray") from None
        self.ray: Any = ray
        if not ray.is_initialized():
            try:
                ray.init(address=None if address == "local" else address, include_dashboard=False,
                         log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BacktestInputError(f"ray: cannot reach the Ray cluster at {address!r}: {exc}", "ray") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, cpus)
        self._remote = ray.remote(run_trials)
        self._data: Any = None
        self._meta: Optional[DataMeta] = None

    def open(self, inputs: BacktestInputs) -> None:
        self._data = self.ray.put(to_arrays(inputs.series))
        self._meta = DataMeta(f"ray-{self._data.hex()}", dict(inputs.markets), inputs.timeframe_ms,
                              inputs.cash_factor, inputs.label)

    def evaluate(self, job: TrialJob, items: List[Item], progress: Optional[Progress] = None,
                 cancelled: Optional[Cancelled] = None) -> List[Outcome]:
        ray = self.ray
        pending = [self._remote.remote(job, self._meta, c, self._data) for c in chunks(items, self.workers)]
        done: List[Outcome] = []
        try:
            while pending:
                finished, pending = ray.wait(pending, num_returns=1, timeout=0.25)
                for ref in finished:
                    done += ray.get(ref)
                if finished and progress is not None:
                    progress(len(done))
                if cancelled is not None and cancelled():
                    raise StudyCancelled(sorted(done, key=lambda o: o[0]))
        finally:
            for ref in pending:
                ray.cancel(ref)
        return sorted(done, key=lambda o: o[0])

    def close(self) -> None:
        self._data = None  # the object store frees the candles once nothing refers to them
