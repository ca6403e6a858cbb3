"""The search space of a study: which strategy parameters vary, over which values.

Written as ``NAME=SPEC`` (the command line's ``--space``; a window would build the same text):

* ``fast=5:50:5``: a numeric range, low:high:step, both ends included (an int parameter's step
  defaults to 1; a float range without a step is continuous: fine for random and TPE search, a
  grid needs a step);
* ``ma_type=sma,ema``: a list of values;
* ``size=0.5``: one value (fixed for every trial).

Every value is checked against the parameter's declaration (type, range) and the messages name
the parameter (field ``param NAME``). Grid points come in declaration order (the last parameter
varies fastest); random points from ``numpy.random.default_rng(seed)``.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..engine import strategies
from ..engine.strategies.base import Param, ParamError
from .backtests import BacktestInputError

MAX_GRID = 200_000  # most points a grid may have


@dataclass(frozen=True)
class Dimension:
    """One varying parameter: a numeric range (``low``..``high``, ``step`` None for continuous
    floats) or a list of ``values``."""

    name: str
    kind: str  # "int", "float" or "list"
    low: float = 0.0
    high: float = 0.0
    step: Optional[float] = None
    values: Tuple[Any, ...] = ()

    def grid(self) -> List[Any]:
        """Every value of the dimension, in order; raises :class:`BacktestInputError` for a
        continuous range."""
        if self.kind == "list":
            return list(self.values)
        if self.step is None:
            raise BacktestInputError(f"param {self.name}: a grid needs a step ({self.name}=LOW:HIGH:STEP)",
                                     f"param {self.name}")
        n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        if self.kind == "int":
            return [int(self.low + i * self.step) for i in range(n)]
        return [round(self.low + i * self.step, 12) for i in range(n)]

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn uniformly (over the grid points when there is a step)."""
        if self.kind == "list" or self.step is not None:
            values = self.grid()
            return values[int(rng.integers(0, len(values)))]
        return float(rng.uniform(self.low, self.high))


@dataclass
class SearchSpace:
    """The varying ``dims`` (in declaration order) and the ``fixed`` parameters of ``strategy``."""

    strategy: str
    dims: List[Dimension] = field(default_factory=list)
    fixed: Dict[str, Any] = field(default_factory=dict)

    def grid_size(self) -> int:
        return math.prod(len(d.grid()) for d in self.dims) if self.dims else 1

    def grid(self) -> List[Dict[str, Any]]:
        """Every point of the grid (see the module doc for the order). Raises
        :class:`BacktestInputError` when a range has no step or the grid exceeds :data:`MAX_GRID`."""
        size = self.grid_size()
        if size > MAX_GRID:
            raise BacktestInputError(f"space: the grid has {size:,} points; at most {MAX_GRID:,}", "space")
        names = [d.name for d in self.dims]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(d.grid() for d in self.dims))]

    def random(self, n: int, seed: int) -> List[Dict[str, Any]]:
        """``n`` points drawn with ``default_rng(seed)`` (the same seed gives the same points)."""
        rng = np.random.default_rng(seed)
        return [{d.name: d.sample(rng) for d in self.dims} for _ in range(n)]

    def to_json(self) -> Dict[str, Any]:
        return {"dims": [d.__dict__ for d in self.dims], "fixed": self.fixed}


def _number(p: Param, text: str) -> float:
    return float(p.coerce(text.strip()))


def _step(p: Param, text: str) -> float:
    try:
        step = float(text.strip())
    except ValueError:
        raise BacktestInputError(f"param {p.name}: the step must be a number, got {text!r}", f"param {p.name}") from None
    if p.type is int and not step.is_integer():
        raise BacktestInputError(f"param {p.name}: the step must be a whole number, got {text!r}", f"param {p.name}")
    return step


def _parse_range(p: Param, spec: str) -> Dimension:
    parts = spec.split(":")
    if len(parts) not in (2, 3) or p.type not in (int, float):
        raise BacktestInputError(f"param {p.name}: expected LOW:HIGH[:STEP] for a number, got {spec!r}",
                                 f"param {p.name}")
    low, high = _number(p, parts[0]), _number(p, parts[1])
    step: Optional[float] = _step(p, parts[2]) if len(parts) == 3 else (1 if p.type is int else None)
    if low > high:
        raise BacktestInputError(f"param {p.name}: min {low:g} > max {high:g}", f"param {p.name}")
    if step is not None and step <= 0:
        raise BacktestInputError(f"param {p.name}: the step must be > 0, got {step:g}", f"param {p.name}")
    return Dimension(p.name, "int" if p.type is int else "float", low, high, step)


def parse_space(strategy: str, specs: Sequence[str]) -> SearchSpace:
    """The search space from ``NAME=SPEC`` texts (see the module doc). Raises ``KeyError`` (unknown
    strategy) or :class:`BacktestInputError` (field ``param NAME`` or ``space``): unknown parameter,
    a value out of the declared range, min > max, a range that gives no values, nothing varying."""
    cls = strategies.get(strategy)
    declared = {p.name: p for p in cls.params}
    space = SearchSpace(strategy)
    seen = set()
    for spec in specs:
        name, sep, rhs = spec.partition("=")
        name = name.strip()
        if not sep or not rhs.strip():
            raise BacktestInputError(f"space: expected NAME=SPEC (fast=5:50:5, ma_type=sma,ema), got {spec!r}", "space")
        if name not in declared:
            raise BacktestInputError(f"param {name}: unknown parameter of {strategy}; known: {', '.join(declared)}",
                                     f"param {name}")
        if name in seen:
            raise BacktestInputError(f"param {name}: given twice", f"param {name}")
        seen.add(name)
        p = declared[name]
        try:
            if ":" in rhs:
                space.dims.append(_parse_range(p, rhs))
            elif "," in rhs:
                values = tuple(dict.fromkeys(p.coerce(v.strip()) for v in rhs.split(",") if v.strip()))
                if not values:
                    raise BacktestInputError(f"param {name}: the list {rhs!r} gives no values", f"param {name}")
                space.dims.append(Dimension(name, "list", values=values))
            else:
                space.fixed[name] = p.coerce(rhs.strip())
        except ParamError as exc:
            raise BacktestInputError(f"param {exc}", f"param {name}") from None
    if not space.dims:
        raise BacktestInputError("space: nothing varies; give a range (fast=5:50:5) or a list (ma_type=sma,ema)",
                                 "space")
    return space
