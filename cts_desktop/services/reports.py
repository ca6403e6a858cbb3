"""Backtest exports: the trades as CSV and a self-contained HTML report with inline SVG charts.

No Qt, no network, no files besides the one written: the HTML page embeds its style and its
charts (SVG polylines drawn here), so it opens anywhere and can be mailed as one file.

Units, as everywhere in the app: money in the quote currency of the markets
(``BacktestResult.currency``), fractions shown as percent, times in UTC (the CSV keeps
milliseconds since the epoch). The metric descriptions (:data:`METRIC_ROWS`,
:func:`format_metric`) are shared with the backtest window so the two always agree.
"""
from __future__ import annotations

import csv
import html
import math
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, List, Mapping, Optional, Sequence, TextIO, Tuple, Union

from ..core.models import Position
from ..engine.backtest import TRADE_COLUMNS, BacktestResult, trades_rows
from .formatting import (BREAKDOWN_COLUMNS, METRIC_ROWS, breakdown_rows, fmt_amount, fmt_duration, fmt_money,
                         fmt_pct, fmt_price, fmt_time, format_metric, metric_rows, money_decimals)

__all__ = [  # the formatting helpers too: the window and older scripts read them here
    "ASSUMPTIONS", "BREAKDOWN_COLUMNS", "METRIC_ROWS", "breakdown_rows", "downsample_peak", "drawdown_series",
    "fmt_amount", "fmt_duration", "fmt_money", "fmt_pct", "fmt_price", "fmt_time", "format_metric", "metric_rows",
    "money_decimals", "render_html_report", "svg_line_chart", "write_html_report", "write_trades_csv",
]

PathLike = Union[str, Path]

ASSUMPTIONS: List[str] = [
    "Signals are made on a candle's close; the resulting market order fills at the next candle's open "
    "of its symbol, moved against the trade by the slippage setting.",
    "Market orders and triggered exits (stop-loss, take-profit) pay the taker fee, charged in the quote "
    "currency on the fill's notional; limit orders pay the maker fee.",
    "Stop-loss and take-profit fill inside the candle that touches them at the trigger price, or at the "
    "open when the candle gaps beyond it. When one candle touches both, the stop-loss is assumed to have "
    "come first (the conservative choice: the order within a candle is unknown).",
    "Prices are rounded to the market's price step and amounts truncated to its amount step; whole fills only.",
    "The equity curve marks open positions to each candle's close.",
    "Sharpe and Sortino use daily simple returns of the equity curve (UTC days, a day without candles "
    "counts as a 0 return), annualised with sqrt(365) because crypto trades every day; risk-free rate 0.",
]

# ------------------------------------------------------------------------------------------
# series
# ------------------------------------------------------------------------------------------
def drawdown_series(curve: Sequence[Tuple[int, float]], starting_equity: Optional[float] = None) -> List[Tuple[int, float]]:
    """``[(ts_ms, drawdown)]`` with drawdown a fraction <= 0 of the running peak (-0.1 = 10 % below
    the peak). With ``starting_equity`` the first peak is that value (as in :func:`max_drawdown`)."""
    out = []
    peak = -math.inf if starting_equity is None else starting_equity
    for ts, eq in curve:
        if eq > peak:
            peak = eq
        out.append((ts, (eq - peak) / peak if peak > 0 else 0.0))
    return out


def downsample_peak(points: Sequence[Tuple[float, float]], buckets: int) -> List[Tuple[float, float]]:
    """At most ~``2 * buckets`` points keeping each bucket's minimum and maximum in time order, so
    spikes and drawdowns survive (the "peak" downsampling of charting libraries)."""
    n = len(points)
    if n <= 2 * buckets:
        return list(points)
    out: List[Tuple[float, float]] = []
    step = n / buckets
    for b in range(buckets):
        lo, hi = int(b * step), int((b + 1) * step)
        if hi <= lo:
            continue
        chunk = points[lo:hi]
        imin = min(range(len(chunk)), key=lambda i: chunk[i][1])
        imax = max(range(len(chunk)), key=lambda i: chunk[i][1])
        for i in sorted({imin, imax}):
            out.append(chunk[i])
    if out[-1] != points[-1]:
        out.append(points[-1])
    return out


def _nice_step(span: float, target: int) -> float:
    raw = span / max(1, target)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def svg_line_chart(points: Sequence[Tuple[int, float]], *, width: int = 960, height: int = 260,
                   color: str = "#2f7fd1", fill: Optional[str] = None, baseline: Optional[float] = None,
                   y_format: Callable[[float], str] = lambda v: f"{v:,.2f}", title: str = "",
                   y_label: str = "") -> str:
    """An ``<svg>`` line chart of ``[(ts_ms, value)]``: y grid with labels, UTC dates on x.

    ``fill``: colour (drawn at 20 % opacity) of the area between the line and ``baseline`` (drawdown charts).
    Long series are downsampled (min and max per pixel column) so the file stays small.
    """
    left, right, top, bottom = 86, 18, 26 if title else 10, 28
    pw, ph = width - left - right, height - top - bottom
    esc = html.escape
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{esc(title or y_label)}">',
             f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    if title:
        parts.append(f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#222">{esc(title)}</text>')
    if len(points) < 2:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#888" font-size="13">'
                     'no data</text></svg>')
        return "".join(parts)
    pts = downsample_peak(points, max(50, pw))
    x0, x1 = points[0][0], points[-1][0]
    ys = [p[1] for p in pts]
    y0, y1 = min(ys), max(ys)
    if baseline is not None:
        y0, y1 = min(y0, baseline), max(y1, baseline)
    if y1 - y0 <= abs(y1) * 1e-12:
        pad = abs(y1) * 0.01 or 1.0
        y0, y1 = y0 - pad, y1 + pad
    step = _nice_step(y1 - y0, 5)
    y0 = math.floor(y0 / step) * step
    y1 = math.ceil(y1 / step) * step
    xspan = (x1 - x0) or 1

    def sx(x: float) -> float:
        return left + (x - x0) / xspan * pw

    def sy(y: float) -> float:
        return top + (y1 - y) / (y1 - y0) * ph

    # grid and y labels
    v = y0
    k = 0
    while v <= y1 + step * 1e-9 and k < 50:
        yy = sy(v)
        parts.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" stroke="#e6e8ec" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11" fill="#555">'
                     f'{esc(y_format(v))}</text>')
        v += step
        k += 1
    # x labels: 6 evenly spaced UTC times
    day = 86_400_000
    tfmt = "%Y-%m-%d" if xspan >= 3 * day else "%m-%d %H:%M"
    for i in range(6):
        t = x0 + xspan * i / 5
        xx = sx(t)
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        label = datetime.fromtimestamp(t / 1000.0, tz=timezone.utc).strftime(tfmt)
        parts.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" stroke="#f0f1f4" stroke-width="1"/>')
        parts.append(f'<text x="{xx:.1f}" y="{height - 8}" text-anchor="{anchor}" font-size="11" fill="#555">{label}</text>')
    if y_label:
        parts.append(f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" text-anchor="middle" '
                     f'font-size="11" fill="#555">{esc(y_label)}</text>')
    coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
    if fill is not None and baseline is not None:
        by = sy(baseline)
        parts.append(f'<polygon points="{sx(pts[0][0]):.1f},{by:.1f} {coords} {sx(pts[-1][0]):.1f},{by:.1f}" '
                     f'fill="{fill}" fill-opacity="0.2" stroke="none"/>')
    parts.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.4" '
                 'stroke-linejoin="round"/>')
    parts.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#c9ccd3"/>')
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------
# writers
# ------------------------------------------------------------------------------------------
def _atomic_write(path: Path, write: Callable[[TextIO], Any]) -> None:
    """Write through a temporary file in the same folder, then rename over ``path``: a failed
    export never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            write(fh)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_trades_csv(path: PathLike, positions: Iterable[Position]) -> int:
    """Write the closed positions as CSV, header :data:`~cts_desktop.engine.backtest.TRADE_COLUMNS`.

    Times are ms since the epoch UTC, prices and money (``pnl`` gross, ``fees``, ``net_pnl``) in
    the quote currency, ``amount`` in base (the largest size the position reached); floats are
    written at full precision. Open positions are left out. Returns the number of trades written.
    Raises ``OSError`` when the file cannot be written.
    """
    rows = trades_rows(list(positions))

    def write(fh: TextIO) -> None:
        w = csv.writer(fh)
        w.writerow(TRADE_COLUMNS)
        w.writerows(rows)

    _atomic_write(Path(path), write)
    return len(rows)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d2330;margin:24px auto;max-width:1000px;
padding:0 16px;line-height:1.4}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #dde0e6;padding-bottom:4px}
.sub{color:#5b6476;margin-top:0}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{padding:4px 10px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
th{background:#f5f6f8;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.help{color:#6c7588;font-size:12px}
.pos{color:#1a7f37}.neg{color:#c62828}
.chart{max-width:100%;height:auto;border:1px solid #e6e8ec;border-radius:4px;margin:6px 0}
.trades{max-height:none}
ul{padding-left:20px}li{margin:4px 0}
.warn{background:#fff4e5;border:1px solid #f0c36d;padding:8px 12px;border-radius:4px}
"""


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1, cls: str = "") -> str:
    esc = html.escape
    out = [f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            c = ' class="n"' if i >= numeric_from else ""
            cells.append(f"<td{c}>{esc(str(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_html_report(result: BacktestResult, title: str, params: Optional[Mapping[str, Any]] = None, *,
                       settings: Optional[Mapping[str, Any]] = None) -> str:
    """The report page as a string; see :func:`write_html_report`."""
    esc = html.escape
    cur = result.currency
    m = result.metrics
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body: List[str] = [f"<h1>{esc(title)}</h1>",
                       f'<p class="sub">{result.candles:,} candles, {fmt_time(m.start_ms)} to {fmt_time(m.end_ms)} UTC. '
                       f'Money in {esc(cur)}; fractions shown as percent; times in UTC. Generated {now}.</p>']
    if result.strategy_error:
        body.append(f'<p class="warn">The strategy failed during the run: {esc(result.strategy_error)}. '
                    'The figures cover the candles before the failure.</p>')

    body.append("<h2>Settings</h2>")
    rows = [[k, _plain(v)] for k, v in (settings or {}).items()]
    rows += [[f"param: {k}", _plain(v)] for k, v in (params or {}).items()]
    body.append(_table(["Setting", "Value"], rows, numeric_from=9) if rows else "<p>–</p>")

    body.append("<h2>Metrics</h2>")
    body.append('<table class="metrics"><thead><tr><th>Metric</th><th>Value</th><th>Meaning</th></tr></thead><tbody>')
    for f, label, value, help_ in metric_rows(m, cur):
        body.append(f'<tr id="m-{f}"><td>{esc(label)}</td><td class="n">{esc(value)}</td>'
                    f'<td class="help">{esc(help_)}</td></tr>')
    body.append("</tbody></table>")

    body.append("<h2>Equity and drawdown</h2>")
    curve = list(result.curve)
    money_fmt = (lambda v: f"{v:,.0f}") if money_decimals(cur) == 2 else (lambda v: f"{v:.4g}")
    body.append(svg_line_chart(curve, title=f"Equity ({cur})", y_label=cur, color="#2f7fd1", y_format=money_fmt))
    dd = [(t, d * 100) for t, d in drawdown_series(curve, result.starting_balance)]
    body.append(svg_line_chart(dd, height=200, title="Drawdown (% below the running peak)", y_label="%",
                               color="#c62828", fill="#c62828", baseline=0.0,
                               y_format=lambda v: f"{v:.1f} %"))

    for label, groups in (("symbol", m.by_symbol), ("strategy", m.by_strategy)):
        body.append(f"<h2>By {label}</h2>")
        body.append(_table([label.capitalize()] + BREAKDOWN_COLUMNS, breakdown_rows(groups, cur)))

    trades = trades_rows(result.positions)
    body.append(f"<h2>Trades ({len(trades):,})</h2>")
    body.append(f"<p class=\"sub\">Times UTC; prices and P&amp;L in {esc(cur)}; amount in the base currency "
                "(the largest size the position reached); P&amp;L gross, net = P&amp;L - fees.</p>")
    head = ["#", "Symbol", "Side", "Entry (UTC)", "Entry price", "Exit (UTC)", "Exit price", "Amount", "P&L",
            "Fees", "Net P&L", "Exit reason", "Strategy"]
    trows = [[str(r[0]), r[1], r[2], fmt_time(r[3]), fmt_price(r[4]), fmt_time(r[5]), fmt_price(r[6]),
              fmt_amount(r[7]), fmt_money(r[8], cur, unit=False), fmt_money(r[9], cur, unit=False),
              fmt_money(r[10], cur, unit=False), r[11], r[12]] for r in trades]
    body.append(_table(head, trows, numeric_from=3, cls="trades"))
    open_n = sum(1 for p in result.positions if p.closed_at is None)
    if open_n:
        body.append(f"<p>{open_n} position(s) still open at the end are not in this table; their mark-to-market "
                    "is in the unrealized P&amp;L and the final equity.</p>")

    body.append("<h2>Simulator assumptions</h2><ul>" + "".join(f"<li>{esc(a)}</li>" for a in ASSUMPTIONS) + "</ul>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _plain(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def write_html_report(path: PathLike, result: BacktestResult, title: str, params: Optional[Mapping[str, Any]] = None, *,
                      settings: Optional[Mapping[str, Any]] = None) -> None:
    """Write a self-contained HTML report of a :class:`~cts_desktop.engine.backtest.BacktestResult`.

    The page holds the settings and strategy ``params``, every metric with its unit and meaning
    (Sharpe/Sortino: daily UTC returns annualised with sqrt(365)), the equity and drawdown
    charts as inline SVG, the per-symbol and per-strategy breakdowns, the trades table, and the
    simulator's assumptions. ``settings``: extra name -> value lines (data source, cash, fee...).
    Raises ``OSError`` when the file cannot be written (nothing is left behind).
    """
    text = render_html_report(result, title, params, settings=settings)
    _atomic_write(Path(path), lambda fh: fh.write(text))
