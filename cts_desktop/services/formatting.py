"""What the numbers of a backtest look like, in the window and in the report alike: money with the
decimals its currency needs, fractions as percent, times as UTC, every metric with its label,
unit and meaning (:data:`METRIC_ROWS`, :func:`format_metric`), and the per-symbol / per-strategy
breakdown rows. No Qt."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, List, Mapping, Optional, Tuple

from ..core.metrics import Metrics

# (field of Metrics, label, kind, explanation). Kinds: money (quote currency), pct (a fraction
# shown as percent), ratio (a plain number), r (R multiples), int, days, duration (ms), time (ms UTC).
METRIC_ROWS: List[Tuple[str, str, str, str]] = [
    ("starting_equity", "Starting equity", "money", "Account equity before the first candle"),
    ("final_equity", "Final equity", "money", "Equity at the last candle, open positions marked at its close"),
    ("total_return", "Total return", "pct", "Final equity / starting equity - 1"),
    ("realized_pnl", "Realized P&L (gross)", "money", "Sum of the closed trades' P&L before fees"),
    ("unrealized_pnl", "Unrealized P&L", "money", "Open positions marked at the last close (inside final equity)"),
    ("fees", "Fees paid", "money", "Every fee paid, closed and open positions"),
    ("net_pnl", "Net realized P&L", "money", "Realized P&L minus the closed trades' fees"),
    ("trades", "Trades", "int", "Closed positions"),
    ("wins", "Winning trades", "int", "Trades with net P&L > 0"),
    ("losses", "Losing trades", "int", "Trades with net P&L < 0"),
    ("win_rate", "Win rate", "pct", "Winning trades / trades"),
    ("avg_win", "Average win", "money", "Mean net P&L of the winning trades"),
    ("avg_loss", "Average loss", "money", "Mean net P&L of the losing trades (negative)"),
    ("gross_profit", "Gross profit (after fees)", "money", "Sum of the winning trades' net P&L: fees deducted"),
    ("gross_loss", "Gross loss (after fees)", "money",
     "Sum of the losing trades' net P&L (fees included), as a positive number"),
    ("profit_factor", "Profit factor", "ratio", "Gross profit / gross loss, both after fees (inf: no losing trade)"),
    ("expectancy", "Expectancy per trade", "money", "Mean net P&L per trade"),
    ("expectancy_r", "Expectancy (R)", "r", "Expectancy in multiples of the average loss"),
    ("sharpe", "Sharpe ratio (daily, annualised with sqrt(365))", "ratio",
     "Mean / sample std of daily (UTC) equity returns x sqrt(365), risk-free rate 0"),
    ("sortino", "Sortino ratio (daily, annualised with sqrt(365))", "ratio",
     "Mean daily return / downside deviation (target 0) x sqrt(365)"),
    ("daily_returns", "Daily returns used", "days", "UTC calendar days in the equity curve"),
    ("max_drawdown", "Max drawdown", "pct", "Deepest fall of equity from its running peak, fraction of the peak"),
    ("max_drawdown_duration_ms", "Max drawdown duration", "duration", "From that peak to recovery (or to the end)"),
    ("exposure", "Exposure", "pct", "Share of the time with at least one position open"),
    ("start_ms", "Start (UTC)", "time", "First point of the equity curve"),
    ("end_ms", "End (UTC)", "time", "Last point of the equity curve"),
]

_FIAT_LIKE = {"USD", "USDT", "USDC", "BUSD", "DAI", "EUR", "TUSD", "FDUSD", "GBP"}


def money_decimals(currency: str) -> int:
    """2 for dollar-like currencies, 8 for the rest (BTC, ETH)."""
    return 2 if (currency or "USD").upper() in _FIAT_LIKE else 8


def fmt_money(value: Optional[float], currency: str = "", unit: bool = True) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    d = money_decimals(currency)
    if round(value, d) == 0:
        value = 0.0
    text = f"{value:,.{d}f}"
    return f"{text} {currency}" if unit and currency else text


def fmt_pct(fraction: Optional[float], decimals: int = 2) -> str:
    if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)):
        return "–"
    return f"{fraction * 100:.{decimals}f} %"


def fmt_time(ms: Optional[int]) -> str:
    """ms since the epoch -> ``YYYY-MM-DD HH:MM`` UTC; ``–`` for None."""
    if ms is None:
        return "–"
    return datetime.fromtimestamp(ms / 1000.0, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def fmt_duration(ms: Optional[int]) -> str:
    if not ms:
        return "0"
    s = int(ms) // 1000
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m = s // 60
    return f"{d} d {h:02d} h {m:02d} min" if d else f"{h} h {m:02d} min"


def fmt_price(value: Optional[float]) -> str:
    if value is None:
        return "–"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.2f}"
    if a >= 1:
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{value:.8f}".rstrip("0").rstrip(".") or "0"


def fmt_amount(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return f"{value:,.8f}".rstrip("0").rstrip(".") or "0"


def format_metric(kind: str, value: Any, currency: str = "") -> str:
    """One metric value as shown in the window and the report, with its unit."""
    if value is None:
        return "–"
    if kind == "money":
        return fmt_money(value, currency)
    if kind == "pct":
        return fmt_pct(value)
    if kind in ("ratio", "r"):
        if value == math.inf:
            return "inf"
        return f"{value:.2f}" + (" R" if kind == "r" else "")
    if kind == "int":
        return f"{int(value):,}"
    if kind == "days":
        return f"{int(value):,} days"
    if kind == "duration":
        return fmt_duration(value)
    if kind == "time":
        return fmt_time(value)
    return str(value)


def metric_rows(metrics: Metrics, currency: str) -> List[Tuple[str, str, str, str]]:
    """``(field, label, formatted value, explanation)`` for every metric of a Metrics object."""
    return [(f, label, format_metric(kind, getattr(metrics, f), currency), help_)
            for f, label, kind, help_ in METRIC_ROWS]


BREAKDOWN_COLUMNS = ["Trades", "Wins", "Losses", "Win rate", "Net P&L", "Fees", "Profit factor", "Expectancy",
                     "Exposure"]


def breakdown_rows(groups: Mapping[str, Any], currency: str) -> List[List[str]]:
    """Rows of a per-symbol or per-strategy table (TradeStats values), sorted by key."""
    out: List[List[str]] = []
    for key in sorted(groups):
        g = groups[key]
        out.append([key or "(none)", f"{g.trades:,}", f"{g.wins:,}", f"{g.losses:,}", fmt_pct(g.win_rate),
                    fmt_money(g.net_pnl, currency), fmt_money(g.fees, currency),
                    format_metric("ratio", g.profit_factor), fmt_money(g.expectancy, currency), fmt_pct(g.exposure)])
    return out
