"""What every executor of research trials shares: the interface, the cancel exception, chunking.

See :mod:`.research_pool` (inline and process pool) and :mod:`.research_ray` (Ray).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Tuple

from .backtests import BacktestInputs
from .research_data import Outcome, TrialJob

Item = Tuple[int, Dict[str, Any]]
Progress = Callable[[int], None]
Cancelled = Callable[[], bool]


class StudyCancelled(Exception):
    """The study was cancelled; what finished so far is in ``outcomes`` (worker outcomes, or trial
    rows once the search has turned them into rows)."""

    def __init__(self, outcomes: List[Any]):
        super().__init__("study cancelled")
        self.outcomes = outcomes


def chunks(items: List[Item], workers: int) -> List[List[Item]]:
    """``items`` cut into about four chunks per worker, 1 to 16 trials each."""
    size = max(1, min(16, math.ceil(len(items) / (max(1, workers) * 4))))
    return [items[i:i + size] for i in range(0, len(items), size)]


class Executor:
    """Base: ``workers`` (parallel trials), ``engine`` (its name in reports)."""

    workers = 1
    engine = "local"

    def open(self, inputs: BacktestInputs) -> None:
        raise NotImplementedError

    def evaluate(self, job: TrialJob, items: List[Item], progress: Optional[Progress] = None,
                 cancelled: Optional[Cancelled] = None) -> List[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Free the workers and the shared data."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
