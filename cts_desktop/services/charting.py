"""What the candle chart draws besides the candles: the strategy's indicators and the trades.

:func:`indicator_lines` asks the strategy (:meth:`~cts_desktop.engine.strategies.base.Strategy.chart_lines`)
for its lines over the closes at the strategy's own timeframe: when that is longer than the data's,
the closes are taken at the end of each of its periods (as the engine aggregates them) and each
value is placed at the last data candle of its period, when it became known. :func:`trade_marks`
turns positions into the chart's fill markers with their tool tips.

Times in ms UTC; prices in quote. No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Sequence, Tuple

import numpy as np

from ..core.models import LONG, TIMEFRAME_MS, Position
from ..engine import strategies
from . import reports as report


@dataclass(frozen=True)
class Line:
    """One indicator line ready to draw: ``ts`` (ms) and ``values`` (float64, NaN where undefined),
    ``pane`` ``price`` or ``lower``, ``levels`` (guides in its pane), ``colour``."""

    name: str
    ts: np.ndarray
    values: np.ndarray
    pane: str
    levels: Tuple[float, ...]
    colour: str


def indicator_lines(strategy: str, params: Mapping[str, Any], ts_ms: np.ndarray, closes: np.ndarray,
                    data_tf_ms: float) -> List[Line]:
    """The lines strategy ``strategy`` with ``params`` draws over candles with open times ``ts_ms``
    and ``closes`` (one symbol, oldest first, spacing ``data_tf_ms``). Raises ``KeyError`` for an
    unknown strategy, ``ParamError`` for bad parameters."""
    strat = strategies.get(strategy)(dict(params))
    ts = np.asarray(ts_ms, dtype=np.float64)
    cl = np.asarray(closes, dtype=np.float64)
    tf = strat.timeframe
    if tf != "auto" and TIMEFRAME_MS.get(tf, 0) > data_tf_ms and len(ts):
        period = (ts // TIMEFRAME_MS[tf]).astype(np.int64)
        ends = np.append(np.flatnonzero(np.diff(period)), len(ts) - 1)
        ts, cl = ts[ends], cl[ends]
    out = []
    for line in strat.chart_lines(cl.tolist()):
        values = np.array([np.nan if v is None else v for v in line.values], dtype=np.float64)
        out.append(Line(line.name, ts, values, line.pane, tuple(line.levels), line.colour))
    return out


@dataclass(frozen=True)
class Mark:
    """One fill marker: ``ts`` (ms), ``price`` (quote), ``side`` ``buy`` or ``sell``, ``kind``
    ``entry`` or ``exit``, ``tip`` (the tool tip), ``win`` (exits: net P&L > 0)."""

    ts: float
    price: float
    side: str
    kind: str
    tip: str
    win: bool = False


def trade_marks(positions: Sequence[Position], symbol: str, currency: str) -> List[Mark]:
    """Entry and exit markers of ``symbol``'s positions: a long's entry is a buy, its exit a sell
    (a short's the other way round); the tip names the position, price, amount, fees and reason."""
    out: List[Mark] = []
    for p in positions:
        if p.symbol != symbol:
            continue
        long_ = p.side == LONG
        when = report.fmt_time(p.opened_at)
        out.append(Mark(p.opened_at, p.entry_price, "buy" if long_ else "sell", "entry",
                        f"#{p.id} {p.side} entry {when} UTC\n{p.max_amount:g} @ {report.fmt_price(p.entry_price)}"))
        if p.closed_at is not None:
            net = p.realized_pnl - p.fees
            out.append(Mark(p.closed_at, p.exit_price, "sell" if long_ else "buy", "exit",
                            f"#{p.id} exit {report.fmt_time(p.closed_at)} UTC ({p.close_reason})\n"
                            f"{p.exit_amount:g} @ {report.fmt_price(p.exit_price)}, fees "
                            f"{report.fmt_money(p.fees, currency)}, net {report.fmt_money(net, currency)}",
                            net > 0))
    return out
