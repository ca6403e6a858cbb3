"""CSV exports of research results: a study's trials, a walk-forward's windows, a Monte Carlo fan.

UTF-8 CSV with a header row; numbers unformatted (fractions as fractions, money in the quote
currency), empty cells for undefined values. Files are written whole or not at all (a temporary
file renamed into place); ``OSError`` is raised when that fails.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, Iterable, List, Sequence, Union

from ..core.objectives import KEY_METRICS
from ..store.studies import TrialRow

PathLike = Union[str, Path]


def write_rows(path: PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write ``header`` then ``rows`` (None as an empty cell); returns the rows written."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            for row in rows:
                w.writerow(["" if v is None else v for v in row])
                n += 1
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return n


def write_trials_csv(path: PathLike, trials: List[TrialRow]) -> int:
    """Columns: window, number, state, value, reason, the parameters (in first-seen order), the key
    metrics (:data:`~cts_desktop.core.objectives.KEY_METRICS`)."""
    names: List[str] = []
    for t in trials:
        names += [k for k in t.params if k not in names]
    header = ["window", "number", "state", "value", "reason", *names, *KEY_METRICS]
    rows = ([t.window, t.number, t.state, t.value, t.reason, *(t.params.get(k) for k in names),
             *(t.metrics.get(k) for k in KEY_METRICS)] for t in trials)
    return write_rows(path, header, rows)
