"""Performance analytics of a run: trade statistics, risk-adjusted returns, drawdown, exposure.

Everything here is a pure function of three inputs:

* ``positions``: :class:`~cts_desktop.core.models.Position` records. Closed ones
  (``closed_at`` set) are the *trades*; open ones count for exposure and fees only.
  A trade's result is its **net** P&L, ``realized_pnl - fees`` (quote currency).
* ``equity_curve``: ``[(timestamp_ms, equity), ...]`` in time order, equity in quote currency,
  marked to market (it already contains unrealized P&L).
* ``starting_equity``: account equity (quote) before the first point of the curve.

Conventions used throughout:

* Returns, win rate, drawdown and exposure are **fractions** (0.05 = 5 %), never percent.
* Money (P&L, fees, average win/loss, expectancy) is in the **quote** currency.
* Times are milliseconds since the Unix epoch, UTC; durations are milliseconds.
* A statistic that is undefined for the data (no trades, no losses, too few days) is ``None``,
  except :attr:`Metrics.profit_factor` and :attr:`Metrics.sortino`, which are ``inf`` when there
  is profit but no loss (see their docs).

:func:`compute_metrics` builds a :class:`Metrics` (this module, with its text report). The
statistics it combines live in two rooms, re-exported here: :mod:`cts_desktop.core.trade_stats`
(:class:`TradeStats`, :func:`trade_stats`, :func:`exposure_fraction`) and
:mod:`cts_desktop.core.equity_stats` (:func:`daily_returns`, :func:`sharpe_ratio`,
:func:`sortino_ratio`, :func:`max_drawdown`, :class:`DrawdownTracker`).

These modules import only :mod:`cts_desktop.core.models`, the standard library and numpy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from .equity_stats import (  # noqa: F401 - re-exported: the analytics' public names stay importable from here
    DAY_MS, INF, PERIODS_PER_YEAR, DrawdownTracker, EquityPoint, daily_returns, max_drawdown, sharpe_ratio,
    sortino_ratio,
)
from .models import Position
from .trade_stats import TradeStats, exposure_fraction, trade_stats


# --------------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------------
@dataclass
class Metrics:
    """Performance of one run. Fractions are fractions, money is quote currency, times are ms.

    * ``starting_equity``, ``final_equity`` (last point of the curve, or the starting equity for
      an empty curve), ``total_return = final_equity / starting_equity - 1``.
    * ``realized_pnl``: gross realized P&L of the closed positions; ``unrealized_pnl``: as
      passed in (the open positions' mark-to-market, already inside ``final_equity``);
      ``fees``: every fee paid, closed and open positions; ``net_pnl``: realized minus the
      closed positions' fees.
    * trade statistics: see :class:`TradeStats` (same meanings).
    * ``sharpe``, ``sortino``: annualised from daily returns (see :func:`daily_returns`,
      :func:`sharpe_ratio`, :func:`sortino_ratio`); None with fewer than 2 daily returns.
    * ``max_drawdown`` (fraction of the running peak) and ``max_drawdown_duration_ms``
      (peak to recovery, or to the end of the curve): see :func:`max_drawdown`.
    * ``exposure``: see :func:`exposure_fraction`.
    * ``by_symbol``, ``by_strategy``: :class:`TradeStats` per symbol and per strategy name
      (positions without a strategy name are grouped under ``""``), each with its own exposure.
    """

    starting_equity: float
    final_equity: float
    total_return: float
    realized_pnl: float
    unrealized_pnl: float
    net_pnl: float
    fees: float
    trades: int
    wins: int
    losses: int
    win_rate: Optional[float]
    avg_win: Optional[float]
    avg_loss: Optional[float]
    gross_profit: float
    gross_loss: float
    profit_factor: Optional[float]
    expectancy: Optional[float]
    expectancy_r: Optional[float]
    sharpe: Optional[float]
    sortino: Optional[float]
    daily_returns: int
    max_drawdown: float
    max_drawdown_duration_ms: int
    exposure: Optional[float]
    start_ms: Optional[int]
    end_ms: Optional[int]
    by_symbol: Dict[str, TradeStats] = field(default_factory=dict)
    by_strategy: Dict[str, TradeStats] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """Plain data (breakdowns as nested dicts); ``inf`` and None are kept as they are."""
        out: Dict[str, Any] = {k: v for k, v in self.__dict__.items() if k not in ("by_symbol", "by_strategy")}
        out["by_symbol"] = {k: v.to_dict() for k, v in self.by_symbol.items()}
        out["by_strategy"] = {k: v.to_dict() for k, v in self.by_strategy.items()}
        return out

    def format_table(self) -> str:
        """A fixed-width text report for the command line: summary, then the breakdowns."""
        rows = [
            ("Starting equity", _money(self.starting_equity)),
            ("Final equity", _money(self.final_equity)),
            ("Total return", _pct(self.total_return)),
            ("Realized P&L (gross)", _money(self.realized_pnl)),
            ("Unrealized P&L", _money(self.unrealized_pnl)),
            ("Fees paid", _money(self.fees)),
            ("Net realized P&L", _money(self.net_pnl)),
            ("Trades", str(self.trades)),
            ("Win rate", _pct(self.win_rate)),
            ("Average win", _money(self.avg_win)),
            ("Average loss", _money(self.avg_loss)),
            ("Profit factor", _num(self.profit_factor)),
            ("Expectancy / trade", _money(self.expectancy)),
            ("Expectancy (R)", _num(self.expectancy_r)),
            ("Sharpe (daily, ann. 365)", _num(self.sharpe)),
            ("Sortino (daily, ann. 365)", _num(self.sortino)),
            ("Max drawdown", _pct(self.max_drawdown)),
            ("Max drawdown duration", _duration(self.max_drawdown_duration_ms)),
            ("Exposure", _pct(self.exposure)),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v:>16}" for k, v in rows]
        for title, groups in (("symbol", self.by_symbol), ("strategy", self.by_strategy)):
            if not groups:
                continue
            head = f"{'by ' + title:<20} {'trades':>6} {'win rate':>9} {'net P&L':>14} {'fees':>12} {'PF':>7} {'exposure':>9}"
            lines += ["", head, "-" * len(head)]
            for key in sorted(groups):
                g = groups[key]
                lines.append(
                    f"{(key or '-')[:20]:<20} {g.trades:>6} {_pct(g.win_rate):>9} {_money(g.net_pnl):>14} "
                    f"{_money(g.fees):>12} {_num(g.profit_factor):>7} {_pct(g.exposure):>9}"
                )
        return "\n".join(lines)


def compute_metrics(
    positions: Sequence[Position],
    equity_curve: Sequence[EquityPoint],
    starting_equity: float,
    unrealized_pnl: float = 0.0,
) -> Metrics:
    """All the analytics of a run; see :class:`Metrics` for every field's meaning and unit.

    ``positions``: closed and possibly open positions; ``equity_curve``: ``(timestamp_ms,
    equity_quote)`` in time order; ``starting_equity``: quote, > 0; ``unrealized_pnl``: quote,
    reported as given. Raises ``ValueError`` if ``starting_equity`` is not positive.
    """
    if not starting_equity > 0:
        raise ValueError(f"starting_equity must be positive, got {starting_equity!r}")
    closed = [p for p in positions if p.closed_at is not None]
    ts = trade_stats(closed)
    final = equity_curve[-1][1] if equity_curve else starting_equity
    start_ms: Optional[int] = None
    end_ms: Optional[int] = None
    if equity_curve:
        start_ms, end_ms = int(equity_curve[0][0]), int(equity_curve[-1][0])
    rets = daily_returns(equity_curve, starting_equity)
    mdd, mdd_ms = max_drawdown(equity_curve, starting_equity)

    def exposure(ps: Sequence[Position]) -> Optional[float]:
        return None if start_ms is None or end_ms is None else exposure_fraction(ps, start_ms, end_ms)

    by_symbol: Dict[str, TradeStats] = {}
    by_strategy: Dict[str, TradeStats] = {}
    for attr, out in (("symbol", by_symbol), ("strategy", by_strategy)):
        groups: Dict[str, List[Position]] = {}
        for p in positions:
            groups.setdefault(getattr(p, attr) or "", []).append(p)
        for key, ps in groups.items():
            g = trade_stats(ps)
            g.exposure = exposure(ps)
            out[key] = g

    return Metrics(
        starting_equity=starting_equity,
        final_equity=final,
        total_return=final / starting_equity - 1.0,
        realized_pnl=ts.realized_pnl,
        unrealized_pnl=unrealized_pnl,
        net_pnl=ts.net_pnl,
        fees=sum(p.fees for p in positions),
        trades=ts.trades,
        wins=ts.wins,
        losses=ts.losses,
        win_rate=ts.win_rate,
        avg_win=ts.avg_win,
        avg_loss=ts.avg_loss,
        gross_profit=ts.gross_profit,
        gross_loss=ts.gross_loss,
        profit_factor=ts.profit_factor,
        expectancy=ts.expectancy,
        expectancy_r=ts.expectancy_r,
        sharpe=sharpe_ratio(rets),
        sortino=sortino_ratio(rets),
        daily_returns=len(rets),
        max_drawdown=mdd,
        max_drawdown_duration_ms=mdd_ms,
        exposure=exposure(positions),
        start_ms=start_ms,
        end_ms=end_ms,
        by_symbol=by_symbol,
        by_strategy=by_strategy,
    )

# --------------------------------------------------------------------------------------------
# formatting helpers
# --------------------------------------------------------------------------------------------
def _money(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:,.2f}" if abs(x) >= 1 or x == 0 else f"{x:.6g}"


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{x * 100:.2f} %"


def _num(x: Optional[float]) -> str:
    if x is None:
        return "-"
    if x == INF:
        return "inf"
    return f"{x:.2f}"


def _duration(ms: int) -> str:
    if not ms:
        return "0"
    s = ms // 1000
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m = s // 60
    return f"{d}d {h:02d}h {m:02d}m" if d else f"{h}h {m:02d}m"
