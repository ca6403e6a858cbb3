"""What a research window shows, computed once here (no Qt): the objectives with their labels, a
strategy's parameters as suggested search ranges, the ``NAME=SPEC`` texts a form's rows give, and
the heatmap of two parameters.

The window reads these and draws; the command line keeps its own wording but the same rules
(:mod:`.research_space` checks every spec, its messages name the parameter).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.objectives import DIRECTIONS, MAXIMIZE
from ..engine import strategies
from ..engine.strategies.base import Param
from ..store.studies import TrialRow
from .backtests import BacktestInputError

#: metric -> what the user reads (unit included)
OBJECTIVE_LABELS: Dict[str, str] = {
    "sharpe": "Sharpe ratio (annualised)",
    "sortino": "Sortino ratio (annualised)",
    "total_return": "Total return (%)",
    "profit_factor": "Profit factor",
    "expectancy": "Expectancy per trade (quote)",
    "net_pnl": "Net P&L (quote)",
    "win_rate": "Win rate (%)",
    "max_drawdown": "Max drawdown (%, lower is better)",
}


def objectives() -> List[Tuple[str, str, str]]:
    """Every metric a study can optimise as ``(name, label, direction)``, in a stable order."""
    return [(m, OBJECTIVE_LABELS.get(m, m), d) for m, d in DIRECTIONS.items()]


@dataclass(frozen=True)
class RangeRow:
    """One parameter as a search-form row: ``kind`` ``number`` (``low``/``high``/``step`` as text,
    ``step`` empty for a continuous float) or ``list`` (``choices``, comma-separated text);
    ``vary`` False keeps the parameter at its form value."""

    name: str
    kind: str
    low: str = ""
    high: str = ""
    step: str = ""
    choices: str = ""
    vary: bool = False


def _fmt(v: float, is_int: bool) -> str:
    return str(int(round(v))) if is_int else f"{v:g}"


def suggest(p: Param) -> RangeRow:
    """A starting range for ``p``: half to twice its default (inside its declared bounds), about
    five grid points; every choice for a choice or bool; text parameters are not searched
    (``kind`` ``fixed``)."""
    if p.type is bool:
        return RangeRow(p.name, "list", choices="false,true")
    if p.choices:
        return RangeRow(p.name, "list", choices=",".join(p.choices))
    if p.type not in (int, float):
        return RangeRow(p.name, "fixed")
    is_int = p.type is int
    d = float(p.default)
    low, high = (d / 2, d * 2) if d > 0 else (0.0, 1.0)
    if p.minimum is not None:
        low = max(low, p.minimum + (1e-9 if p.exclusive_min and not is_int else 0))
        if p.exclusive_min and is_int and low <= p.minimum:
            low = p.minimum + 1
    if p.maximum is not None:
        high = min(high, p.maximum)
    step: float
    if is_int:
        low, high = float(math.ceil(low)), float(math.floor(high))
        step = float(max(1, int(high - low) // 4))
    else:
        low, high = round(low, 6), round(high, 6)
        step = round((high - low) / 4, 6) or 0.1
    return RangeRow(p.name, "number", _fmt(low, is_int), _fmt(high, is_int), _fmt(step, is_int))


def suggestions(strategy: str) -> List[RangeRow]:
    """:func:`suggest` for each declared parameter of ``strategy``; ``KeyError`` if unknown."""
    return [suggest(p) for p in strategies.get(strategy).params]


def space_specs(rows: Sequence[RangeRow], values: Dict[str, Any]) -> List[str]:
    """The ``NAME=SPEC`` texts for a study: a varied number ``name=low:high[:step]``, a varied list
    ``name=a,b``, anything else fixed at its form value ``values[name]``. Raises
    :class:`BacktestInputError` (field ``param NAME``) for an empty bound or list; the rest is
    checked by :func:`~.research_space.parse_space`."""
    out: List[str] = []
    for r in rows:
        if r.vary and r.kind == "number":
            low, high, step = r.low.strip(), r.high.strip(), r.step.strip()
            if not low or not high:
                raise BacktestInputError(f"param {r.name}: give a min and a max to vary it", f"param {r.name}")
            out.append(f"{r.name}={low}:{high}" + (f":{step}" if step else ""))
        elif r.vary and r.kind == "list":
            items = [c.strip() for c in r.choices.split(",") if c.strip()]
            if not items:
                raise BacktestInputError(f"param {r.name}: list the values to try (a,b)", f"param {r.name}")
            out.append(f"{r.name}=" + ",".join(items) + ("," if len(items) == 1 else ""))
        elif r.name in values:
            v = values[r.name]
            if isinstance(v, str) and ("," in v or ":" in v):
                continue  # a text value with separators stays the strategy's default (not searchable)
            out.append(f"{r.name}={str(v).lower() if isinstance(v, bool) else v}")
    return out


@dataclass
class Heatmap:
    """The best objective per cell of two parameters: ``xs`` and ``ys`` (sorted distinct values),
    ``cells[j][i]`` the best value at ``(xs[i], ys[j])`` over every other parameter (None: no
    feasible trial there), ``best`` the best cell value."""

    x: str
    y: str
    xs: List[Any]
    ys: List[Any]
    cells: List[List[Optional[float]]]
    best: Optional[float]


def _key(v: Any) -> Tuple[int, Any]:
    return (0, float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, str(v))


def heatmap(trials: Sequence[TrialRow], x: str, y: str, how: str = MAXIMIZE) -> Heatmap:
    """The :class:`Heatmap` of parameters ``x`` and ``y`` over ``trials`` (plain study trials;
    walk-forward windows are left out); infinite values count as the best possible."""
    rows = [t for t in trials if t.window is None and x in t.params and y in t.params]
    xs = sorted({t.params[x] for t in rows}, key=_key)
    ys = sorted({t.params[y] for t in rows}, key=_key)
    xi = {v: i for i, v in enumerate(xs)}
    yi = {v: j for j, v in enumerate(ys)}
    cells: List[List[Optional[float]]] = [[None] * len(xs) for _ in ys]
    better = (lambda a, b: a > b) if how == MAXIMIZE else (lambda a, b: a < b)
    best: Optional[float] = None
    for t in rows:
        if t.state != "ok" or t.value is None:
            continue
        i, j = xi[t.params[x]], yi[t.params[y]]
        cur = cells[j][i]
        if cur is None or better(t.value, cur):
            cells[j][i] = t.value
        if best is None or better(t.value, best):
            best = t.value
    return Heatmap(x, y, xs, ys, cells, best)


__all__ = ["OBJECTIVE_LABELS", "Heatmap", "RangeRow", "heatmap", "objectives", "space_specs", "suggest", "suggestions"]


@dataclass(frozen=True)
class FormState:
    """A stored study's ``NAME=SPEC`` texts read back into the form: ``rows`` (every declared
    parameter of the strategy, the varied ones ticked with their range or list) and ``fixed``
    (parameter -> value held fixed, for the parameter form)."""

    rows: List[RangeRow]
    fixed: Dict[str, Any]


def form_state(strategy: str, specs: Sequence[str]) -> FormState:
    """The inverse of :func:`space_specs`: ``low:high[:step]`` ticks a number row, ``a,b`` a list
    row, ``name=value`` fixes the parameter; declared parameters the study did not name keep
    their suggested row, unticked; fixed values are coerced to the parameter's type (a value it no
    longer accepts is skipped). Raises ``KeyError`` for an unknown strategy; specs naming an
    unknown parameter are skipped (a study stored by an older strategy version still opens)."""
    rows = {r.name: r for r in suggestions(strategy)}
    declared = {p.name: p for p in strategies.get(strategy).params}
    fixed: Dict[str, Any] = {}
    for spec in specs:
        name, sep, rhs = spec.partition("=")
        name, rhs = name.strip(), rhs.strip()
        if not sep or name not in rows:
            continue
        base = rows[name]
        if ":" in rhs and base.kind == "number":
            parts = rhs.split(":")
            rows[name] = RangeRow(name, base.kind, parts[0], parts[1], parts[2] if len(parts) > 2 else "",
                                  base.choices, True)
        elif "," in rhs and base.kind == "list":
            rows[name] = RangeRow(name, base.kind, base.low, base.high, base.step,
                                  ",".join(c.strip() for c in rhs.split(",") if c.strip()), True)
        else:
            try:
                fixed[name] = declared[name].coerce(rhs)
            except (ValueError, TypeError):
                continue  # a value the strategy no longer accepts: its default stays
    return FormState(list(rows.values()), fixed)
