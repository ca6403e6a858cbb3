"""Objectives and constraints of a parameter search: which metric, which way is better, which
trials count.

A trial's metrics are the plain dict of :meth:`cts_desktop.core.metrics.Metrics.to_dict` (or the
subset :data:`KEY_METRICS`). Fractions are fractions (``max_drawdown`` 0.2 = 20 %), money is in the
quote currency. Pure: imports nothing of ours.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

MAXIMIZE = "maximize"
MINIMIZE = "minimize"

#: metric name -> direction; the metrics a study can optimise
DIRECTIONS: Dict[str, str] = {
    "sharpe": MAXIMIZE,
    "sortino": MAXIMIZE,
    "total_return": MAXIMIZE,
    "profit_factor": MAXIMIZE,
    "expectancy": MAXIMIZE,
    "net_pnl": MAXIMIZE,
    "win_rate": MAXIMIZE,
    "max_drawdown": MINIMIZE,
}

#: the metrics a trial keeps (shown in the trials table and exported)
KEY_METRICS: Tuple[str, ...] = ("trades", "total_return", "sharpe", "sortino", "profit_factor", "expectancy",
                                "max_drawdown", "win_rate", "net_pnl", "final_equity")


def direction(metric: str) -> str:
    """``"maximize"`` or ``"minimize"`` for ``metric``; ``KeyError`` (message lists the known ones)."""
    try:
        return DIRECTIONS[metric]
    except KeyError:
        raise KeyError(f"unknown metric {metric!r}; known: {', '.join(DIRECTIONS)}") from None


def objective_value(metrics: Mapping[str, Any], metric: str) -> Optional[float]:
    """The value of ``metric`` in ``metrics``, or None when the metric is undefined for the run
    (no trades, too few days). ``inf`` (profit with no loss) is kept."""
    v = metrics.get(metric)
    return None if v is None else float(v)


def key_metrics(metrics: Mapping[str, Any]) -> Dict[str, Any]:
    """The :data:`KEY_METRICS` subset of a metrics dict."""
    return {k: metrics.get(k) for k in KEY_METRICS}


@dataclass(frozen=True)
class Constraints:
    """Rules a trial must meet to count: ``min_trades`` closed trades at least, ``max_drawdown``
    (fraction, 0.3 = 30 %) at most; None for no limit."""

    min_trades: int = 0
    max_drawdown: Optional[float] = None

    def check(self) -> None:
        """Raises ``ValueError`` naming the field for an unusable limit."""
        if self.min_trades < 0:
            raise ValueError(f"min_trades: must be >= 0, got {self.min_trades}")
        if self.max_drawdown is not None and not 0 < self.max_drawdown <= 1:
            raise ValueError(f"max_drawdown: a fraction in (0, 1], got {self.max_drawdown:g} (0.3 = 30 %)")

    def violation(self, metrics: Mapping[str, Any]) -> str:
        """Why the run breaks a rule (text for the user), or "" when it meets them all."""
        trades = int(metrics.get("trades") or 0)
        if trades < self.min_trades:
            return f"{trades} trades < minimum {self.min_trades}"
        dd = metrics.get("max_drawdown")
        if self.max_drawdown is not None and dd is not None and dd > self.max_drawdown:
            return f"max drawdown {dd * 100:.1f} % > limit {self.max_drawdown * 100:.1f} %"
        return ""


def is_better(a: float, b: Optional[float], how: str) -> bool:
    """True when value ``a`` beats ``b`` (None: nothing yet) in direction ``how``; ties are not better,
    so the earliest trial keeps the lead."""
    if b is None:
        return True
    return a > b if how == MAXIMIZE else a < b


def ratio(oos: Optional[float], in_sample: Optional[float]) -> Optional[float]:
    """Out-of-sample / in-sample objective (walk-forward degradation); None when either is undefined,
    infinite, or the in-sample value is 0."""
    if oos is None or in_sample is None or in_sample == 0 or abs(oos) == float("inf") or abs(in_sample) == float("inf"):
        return None
    return oos / in_sample
