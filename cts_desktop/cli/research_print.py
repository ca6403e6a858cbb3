"""Printing of research results: trial tables, walk-forward windows, Monte Carlo percentiles."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from datetime import datetime, timezone

from ..core.objectives import MAXIMIZE


def _num(v, pct: bool = False) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v * 100:.2f}%" if pct else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _when(ms) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M") if ms else "-"


def _plain(obj):
    """JSON-safe: inf as a string."""
    if isinstance(obj, float) and math.isinf(obj):
        return "inf" if obj > 0 else "-inf"
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


_SHOWN = [("trades", "trades", False), ("total_return", "return", True), ("sharpe", "sharpe", False),
          ("max_drawdown", "max DD", True), ("profit_factor", "PF", False)]


def print_study(result, *, top: int = 20, as_json: bool = False) -> None:
    if as_json:
        d = {k: v for k, v in result.__dict__.items() if k not in ("trials", "best")}
        d["best"] = asdict(result.best) if result.best else None
        d["trials"] = [asdict(t) for t in result.trials]
        print(json.dumps(_plain(d), indent=2, default=str))
        return
    ok = [t for t in result.trials if t.state == "ok"]
    sign = -1 if result.direction == MAXIMIZE else 1
    ranked = sorted(ok, key=lambda t: (sign * t.value, t.number))[:top]
    names = list(result.trials[0].params) if result.trials else []
    print(f"study {result.study_id}: {result.strategy} on {result.data}, {result.method} search, "
          f"{result.objective} ({result.direction}), {len(result.trials)} trials ({len(ok)} count) in "
          f"{result.elapsed_s:.1f} s on {result.workers} {result.engine} worker(s); {result.state}")
    if result.fixed:
        print("fixed: " + ", ".join(f"{k}={v}" for k, v in result.fixed.items()))
    shown = [(k, h, p) for k, h, p in _SHOWN if k != result.objective]
    head = ["#", result.objective, *names, *(h for _k, h, _p in shown)]
    rows = [[str(t.number), _num(t.value), *(_num(t.params.get(n)) for n in names),
             *(_num(t.metrics.get(k), p) for k, _h, p in shown)] for t in ranked]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    other = {}
    for t in result.trials:
        if t.state != "ok":
            other[t.state] = other.get(t.state, 0) + 1
    if other:
        print("not counted: " + ", ".join(f"{n} {s}" for s, n in sorted(other.items())))
    if result.best is None:
        print("no trial meets the constraints")
    else:
        b = result.best
        print(f"best: trial {b.number}, {result.objective} {_num(b.value)}: "
              + ", ".join(f"{k}={v}" for k, v in b.params.items()))


def print_studies(rows) -> None:
    if not rows:
        print("no studies yet")
        return
    print(f"{'id':>4}  {'created (UTC)':16}  {'kind':11}  {'strategy':10}  {'method':6}  {'objective':13}  "
          f"{'trials':>6}  {'state':9}  data")
    for s in rows:
        print(f"{s.id:>4}  {_when(s.created_at):16}  {s.kind:11}  {s.strategy:10}  {s.method:6}  {s.objective:13}  "
              f"{s.trials:>6}  {s.state:9}  {s.data}")


def print_walkforward(result, *, as_json: bool = False) -> None:
    from ..services.walkforward import window_json
    if as_json:
        print(json.dumps(_plain({"study_id": result.study_id, "objective": result.objective, "state": result.state,
                                 "metrics": result.metrics, "mean_ratio": result.mean_ratio,
                                 "windows": [window_json(w) for w in result.windows]}), indent=2, default=str))
        return
    print(f"walk-forward study {result.study_id}: {len(result.windows)} windows, objective {result.objective}, "
          f"{result.elapsed_s:.1f} s on {result.workers} {result.engine} worker(s); {result.state}")
    print(f"{'#':>3}  {'out-of-sample (UTC)':33}  {'IS ' + result.objective:>14}  {'OOS':>10}  {'OOS/IS':>7}  "
          f"{'OOS return':>10}  {'trades':>6}  best parameters")
    for r in result.windows:
        w = r.window
        params = ", ".join(f"{k}={v}" for k, v in (r.params or {}).items()) or r.note
        print(f"{w.index:>3}  {_when(w.oos_start)} - {_when(w.oos_end)}  {_num(r.is_value):>14}  "
              f"{_num(r.oos_value):>10}  {_num(r.ratio):>7}  {_num(r.oos_return, True):>10}  {r.oos_trades:>6}  {params}")
    m = result.metrics
    print(f"stitched out-of-sample: return {_num(m['total_return'], True)}, max drawdown "
          f"{_num(m['max_drawdown'], True)}, sharpe {_num(m['sharpe'])}, sortino {_num(m['sortino'])}, "
          f"{m['trades']} trades, final equity {m['final_equity']:,.2f} {result.currency}; "
          f"mean OOS/IS {_num(result.mean_ratio)}")


def print_montecarlo(trades, result, *, as_json: bool = False) -> None:
    if as_json:
        d = asdict(result)
        d.pop("fan")
        print(json.dumps(_plain({**d, "source": trades.source, "currency": trades.currency}), indent=2))
        return
    cur = f" {trades.currency}" if trades.currency else ""
    print(f"Monte Carlo, {result.mode}: {result.paths} paths of {result.trades} trades from {trades.source}, "
          f"seed {result.seed}, starting equity {result.starting_equity:,.2f}{cur}")
    qs = list(result.final_equity)
    print(f"{'':22}" + "".join(f"{'p' + format(q, 'g'):>14}" for q in qs) + f"{'actual':>14}")
    print(f"{'final equity' + cur:22}" + "".join(f"{result.final_equity[q]:>14,.2f}" for q in qs)
          + f"{result.actual_final_equity:>14,.2f}")
    print(f"{'max drawdown':22}" + "".join(f"{_num(result.max_drawdown[q], True):>14}" for q in qs)
          + f"{_num(result.actual_max_drawdown, True):>14}")
    print(f"{'longest losing streak':22}" + "".join(f"{result.losing_streak[q]:>14g}" for q in qs)
          + f"{result.actual_losing_streak:>14}")
    print(f"paths ending below the starting equity: {result.prob_loss * 100:.1f} %")
