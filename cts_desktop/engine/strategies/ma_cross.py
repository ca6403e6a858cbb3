"""Moving-average crossover (SMA or EMA).

Rules, exactly:

* The averages are over candle closes. SMA(n) is the arithmetic mean of the last n closes,
  ``math.fsum(closes) / n``; the running sum that computes it is re-anchored and a near tie is
  decided on the exact values, so an exact tie is never misread (see ``averages.py``).
  EMA(n) uses alpha = 2 / (n + 1), seeded with the SMA of the first n closes (the usual
  definition, e.g. TA-Lib's ``EMA``).
* Nothing is signalled until the slow average has ``slow`` closes (the warm-up).
* The *relation* on a candle is ``above`` when fast > slow and ``below`` when fast < slow.
  A tie (fast == slow) is no relation: the previous relation carries over. A crossover
  happens on the candle whose relation differs from the last relation seen, so a tie never
  counts as a crossover by itself and a touch-and-return (above, tie, above) is no crossover.
  The first relation after the warm-up is not a crossover.
* Cross up (below -> above): exit a short if there is one, then enter long.
  Cross down (above -> below): exit a long, then enter short if ``allow_short`` and the market
  allows it.
* Each entry carries the stop-loss and take-profit distances (percent of the entry price) and
  the order size (fraction of equity); the engine checks stop-loss and take-profit on every
  candle and sizes the order through the risk checks.

The signal is made on the close of the candle where the crossover happens; the paper exchange
fills the resulting market order at the next candle's open (see ``exchange/paper.py``).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from ...core.models import BUY, LONG, SELL, SHORT, TIMEFRAME_MS, Candle, Signal
from .averages import EMA, SMA, EMAPair, SMAPair, near_tolerance, relation
from .base import ChartLine, Param, ParamError, Strategy, StrategyContext


class MovingAverageCross(Strategy):
    name = "ma_cross"
    title = "Moving-average crossover"
    description = "Long when the fast average crosses above the slow one; out (or short) when it crosses below."
    params = (
        Param("fast", int, 10, "Fast average length", minimum=1, maximum=10_000, unit="candles"),
        Param("slow", int, 30, "Slow average length (must be longer than fast)", minimum=2, maximum=10_000, unit="candles"),
        Param("ma_type", "choice", "sma", "Average type", choices=("sma", "ema")),
        Param("timeframe", "choice", "auto", "Candle timeframe the averages are computed on (auto: the data's own)",
              choices=("auto",) + tuple(TIMEFRAME_MS)),
        Param("size", float, 0.2, "Order size as a fraction of equity", minimum=0.0, maximum=1.0, exclusive_min=True, unit="fraction of equity"),
        Param("stop_loss", float, 2.0, "Stop-loss distance from entry (0 = none)", minimum=0.0, maximum=99.0, unit="%"),
        Param("take_profit", float, 4.0, "Take-profit distance from entry (0 = none)", minimum=0.0, maximum=1000.0, unit="%"),
        Param("allow_short", bool, False, "Go short on a cross down where the market allows it"),
    )

    def validate(self, p: Dict[str, Any]) -> None:
        if p["slow"] <= p["fast"]:
            raise ParamError("slow", f"must be greater than fast ({p['fast']}), got {p['slow']}")

    @property
    def warmup(self) -> int:
        return self.p["slow"]

    def chart_lines(self, closes: Sequence[float]) -> List[ChartLine]:
        """The fast and slow averages, computed by the same SMA/EMA classes the signals use."""
        make = SMA if self.p["ma_type"] == "sma" else EMA
        kind = self.p["ma_type"].upper()
        out = []
        for key, colour in (("fast", "#f0b44c"), ("slow", "#b48cf0")):
            avg = make(self.p[key])
            out.append(ChartLine(f"{kind} {self.p[key]}", [avg.update(c) for c in closes], colour=colour))
        return out

    def on_start(self, ctx: StrategyContext, symbols: Iterable[str]) -> None:
        pair = SMAPair if self.p["ma_type"] == "sma" else EMAPair
        self._avgs: Dict[str, Union[SMAPair, EMAPair]] = {s: pair(self.p["fast"], self.p["slow"]) for s in symbols}
        self._relation: Dict[str, int] = {s: 0 for s in symbols}
        self._near = near_tolerance(self.p["fast"], self.p["slow"])
        self._sl = self.p["stop_loss"] / 100.0 or None
        self._tp = self.p["take_profit"] / 100.0 or None

    def on_candle(self, ctx: StrategyContext, symbol: str, candle: Candle) -> Optional[List[Signal]]:
        avgs = self._avgs[symbol]
        both = avgs.update(candle[4])
        if both is None:
            return None
        fast, slow = both
        d = fast - slow
        near = self._near * slow
        if d > near:  # closes are > 0, so slow > 0: a clear relation, no exact values needed
            rel = 1
        elif d < -near:
            rel = -1
        else:
            rel = relation(fast, slow, avgs.fast, avgs.slow, self._near)
            if rel == 0:
                return None
        prev = self._relation[symbol]
        if prev == rel:  # no change: the usual candle
            return None
        self._relation[symbol] = rel
        if prev == 0:  # the first relation after the warm-up is no crossover
            return None
        ts = candle[0]
        meta = {"fast": fast, "slow": slow}
        pos = ctx.position(symbol)
        out: List[Signal] = []
        if rel > 0:
            if pos is not None and pos.side == SHORT:
                out.append(Signal(ts, symbol, BUY, "exit", reason="fast crossed above slow", strategy=self.name, meta=meta))
            if pos is None or pos.side == SHORT:
                out.append(Signal(ts, symbol, BUY, "entry", size=self.p["size"], stop_loss=self._sl,
                                  take_profit=self._tp, reason="fast crossed above slow", strategy=self.name, meta=meta))
        else:
            if pos is not None and pos.side == LONG:
                out.append(Signal(ts, symbol, SELL, "exit", reason="fast crossed below slow", strategy=self.name, meta=meta))
            if self.p["allow_short"] and ctx.can_short(symbol) and (pos is None or pos.side == LONG):
                out.append(Signal(ts, symbol, SELL, "entry", size=self.p["size"], stop_loss=self._sl,
                                  take_profit=self._tp, reason="fast crossed below slow", strategy=self.name, meta=meta))
        return out or None
