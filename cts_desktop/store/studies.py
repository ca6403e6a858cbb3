"""Research studies in the database: create, add trials, finish, reopen, list.

Rows come back as plain data (:class:`StudyRow`, :class:`TrialRow`), never peewee rows. JSON
columns are decoded; non-finite floats (``inf`` profit factors) are kept as JSON's ``Infinity``.
The database must be open (:func:`cts_desktop.store.db.open_database`).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

from .db import Study, Trial, proxy


@dataclass
class TrialRow:
    """One trial: ``number`` (0-based, per window), ``params`` (name -> value), ``state``
    (ok / infeasible / invalid / error), ``value`` (objective, None unless ok), ``reason``,
    ``metrics`` (key metrics, fractions and quote money), ``window`` (walk-forward index or None)."""

    number: int
    params: Dict[str, Any]
    state: str
    value: Optional[float] = None
    reason: str = ""
    metrics: Dict[str, Any] = field(default_factory=dict)
    window: Optional[int] = None


@dataclass
class StudyRow:
    """A stored study (see :class:`cts_desktop.store.db.Study` for the columns); times ms UTC."""

    id: int
    kind: str
    strategy: str
    data: str
    method: str
    objective: str
    direction: str
    request: Dict[str, Any]
    state: str
    reason: str
    best_trial: Optional[int]
    summary: Dict[str, Any]
    created_at: int
    ended_at: Optional[int]
    trials: int = 0


def _now_ms() -> int:
    return int(time.time() * 1000)


def create_study(kind: str, strategy: str, data: str, method: str, objective: str, direction: str,
                 request: Dict[str, Any]) -> int:
    """A new running study; returns its id."""
    row = Study.create(kind=kind, strategy=strategy, data=data, method=method, objective=objective,
                       direction=direction, request=json.dumps(request, default=str), created_at=_now_ms())
    return int(row.id)


def add_trials(study_id: int, trials: Iterable[TrialRow]) -> None:
    """Insert ``trials`` in one transaction."""
    rows = [dict(study=study_id, number=t.number, window=t.window, params=json.dumps(t.params, default=str),
                 state=t.state, value=t.value, reason=t.reason, metrics=json.dumps(t.metrics, default=str))
            for t in trials]
    with proxy.atomic():
        for i in range(0, len(rows), 200):
            Trial.insert_many(rows[i:i + 200]).execute()


def finish_study(study_id: int, state: str, best_trial: Optional[int], summary: Dict[str, Any],
                 reason: str = "") -> None:
    """Mark the study ``state`` (finished / cancelled / error) with its best trial and summary."""
    Study.update(state=state, best_trial=best_trial, summary=json.dumps(summary, default=str), reason=reason,
                 ended_at=_now_ms()).where(Study.id == study_id).execute()


def _study(r: Study, count: int) -> StudyRow:
    return StudyRow(id=r.id, kind=r.kind, strategy=r.strategy, data=r.data, method=r.method, objective=r.objective,
                    direction=r.direction, request=json.loads(r.request or "{}"), state=r.state, reason=r.reason,
                    best_trial=r.best_trial, summary=json.loads(r.summary or "{}"), created_at=r.created_at,
                    ended_at=r.ended_at, trials=count)


def get_study(study_id: int) -> Optional[StudyRow]:
    """The study, or None when there is none with that id."""
    r = Study.get_or_none(Study.id == study_id)
    if r is None:
        return None
    return _study(r, Trial.select().where(Trial.study == study_id).count())


def list_studies(limit: int = 50) -> List[StudyRow]:
    """The newest studies first."""
    return [_study(r, Trial.select().where(Trial.study == r.id).count())
            for r in Study.select().order_by(Study.id.desc()).limit(limit)]


def trials(study_id: int, window: Optional[int] = None) -> List[TrialRow]:
    """A study's trials in (window, number) order; with ``window``, that window's only."""
    q = Trial.select().where(Trial.study == study_id)
    if window is not None:
        q = q.where(Trial.window == window)
    q = q.order_by(Trial.window, Trial.number)
    return [TrialRow(number=r.number, params=json.loads(r.params), state=r.state, value=r.value, reason=r.reason,
                     metrics=json.loads(r.metrics or "{}"), window=r.window) for r in q]
