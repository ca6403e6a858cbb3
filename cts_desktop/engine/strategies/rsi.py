"""RSI mean reversion (Wilder's RSI).

Rules, exactly:

* RSI is J. Welles Wilder's Relative Strength Index ("New Concepts in Technical Trading
  Systems", 1978) over candle closes: with ``change = close - previous close``,
  ``gain = max(change, 0)`` and ``loss = max(-change, 0)``, the first average gain / loss is
  the arithmetic mean of the first ``period`` gains / losses; after that each is smoothed
  as ``avg = (avg * (period - 1) + value) / period`` (Wilder's smoothing, an EMA with
  alpha = 1 / period). ``RSI = 100 - 100 / (1 + avg_gain / avg_loss)``; 100 when the average
  loss is 0 and the average gain is not, 50 when both are 0 (a flat market). It is updated
  incrementally, O(1) per candle, and is defined from the ``period + 1``-th close on.
* "Crosses up through L" means previous RSI < L <= current RSI; "crosses down through L"
  means previous RSI > L >= current RSI. Nothing is signalled until two RSI values exist
  (the warm-up is ``period + 2`` candles).
* RSI crosses up through ``oversold``: exit a short if there is one, then enter long
  (unless already long).
* Exit a long when RSI crosses up through the exit level: ``overbought`` with
  ``exit_at = "overbought"`` (the default), or 50 with ``exit_at = "midline"`` (take the
  reversion back to the mean sooner).
* Shorts mirror this when ``allow_short`` is set and the market allows them: RSI crosses down
  through ``overbought`` -> exit a long, enter short; exit the short when RSI crosses down
  through ``oversold`` (or 50 with ``exit_at = "midline"``).
* Entries carry ``size`` (fraction of equity) and the stop-loss / take-profit distances
  (percent parameters, sent as fractions of the entry price); the engine enforces those.
  Every signal's ``meta`` holds ``rsi`` (0..100) and ``prev_rsi``.

The signal is made on the close of the candle where the cross happens.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from ...core.models import BUY, LONG, SELL, SHORT, TIMEFRAME_MS, Candle, Signal
from .base import ChartLine, Param, ParamError, Strategy, StrategyContext


class _RSIState:
    """Per-symbol incremental RSI state."""

    __slots__ = ("prev_close", "count", "sum_gain", "sum_loss", "avg_gain", "avg_loss", "rsi")

    def __init__(self) -> None:
        self.prev_close: Optional[float] = None
        self.count = 0  # price changes seen, capped at the period
        self.sum_gain = 0.0
        self.sum_loss = 0.0
        self.avg_gain = 0.0
        self.avg_loss = 0.0
        self.rsi: Optional[float] = None

    def step(self, close: float, n: int) -> Optional[float]:
        """Take ``close`` in; the RSI at it (not yet stored in :attr:`rsi`), or None during the
        warm-up (the module docstring's rules, period ``n``)."""
        prev = self.prev_close
        self.prev_close = close
        if prev is None:
            return None
        change = close - prev
        if self.count < n:  # seeding: plain means of the first ``period`` changes
            if change > 0.0:
                self.sum_gain += change
            else:
                self.sum_loss -= change
            self.count += 1
            if self.count < n:
                return None
            ag = self.avg_gain = self.sum_gain / n
            al = self.avg_loss = self.sum_loss / n
        elif change > 0.0:
            ag = self.avg_gain = self.avg_gain + (change - self.avg_gain) / n
            al = self.avg_loss = self.avg_loss - self.avg_loss / n
        else:
            ag = self.avg_gain = self.avg_gain - self.avg_gain / n
            al = self.avg_loss = self.avg_loss + (-change - self.avg_loss) / n
        if al > 0.0:
            return 100.0 - 100.0 / (1.0 + ag / al)
        return 100.0 if ag > 0.0 else 50.0


class RSIMeanReversion(Strategy):
    name = "rsi"
    title = "RSI mean reversion"
    description = "Long when Wilder's RSI climbs back out of oversold; out when it reaches overbought (or 50). Shorts mirror it."
    params = (
        Param("period", int, 14, "RSI length (Wilder)", minimum=2, maximum=1000, unit="candles"),
        Param("oversold", float, 30.0, "Oversold level: a cross up through it is a buy", minimum=1.0, maximum=99.0, unit="RSI"),
        Param("overbought", float, 70.0, "Overbought level: a cross up through it ends a long", minimum=1.0, maximum=99.0, unit="RSI"),
        Param("exit_at", "choice", "overbought", "Where positions are closed: the opposite level, or the 50 midline", choices=("overbought", "midline")),
        Param("timeframe", "choice", "auto", "Candle timeframe the RSI is computed on (auto: the data's own)",
              choices=("auto",) + tuple(TIMEFRAME_MS)),
        Param("size", float, 0.2, "Order size as a fraction of equity", minimum=0.0, maximum=1.0, exclusive_min=True, unit="fraction of equity"),
        Param("stop_loss", float, 2.0, "Stop-loss distance from entry (0 = none)", minimum=0.0, maximum=99.0, unit="%"),
        Param("take_profit", float, 4.0, "Take-profit distance from entry (0 = none)", minimum=0.0, maximum=1000.0, unit="%"),
        Param("allow_short", bool, False, "Short when RSI falls back out of overbought, where the market allows it"),
    )

    def validate(self, p: Dict[str, Any]) -> None:
        if p["overbought"] <= p["oversold"]:
            raise ParamError("overbought", f"must be greater than oversold ({p['oversold']:g}), got {p['overbought']:g}")
        if p["exit_at"] == "midline" and not p["oversold"] < 50.0 < p["overbought"]:
            raise ParamError("exit_at", "midline exits need oversold < 50 < overbought")

    @property
    def warmup(self) -> int:
        return self.p["period"] + 2

    def on_start(self, ctx: StrategyContext, symbols: Iterable[str]) -> None:
        self._state: Dict[str, _RSIState] = {s: _RSIState() for s in symbols}
        p = self.p
        self._n = p["period"]
        self._lo = p["oversold"]
        self._hi = p["overbought"]
        mid = p["exit_at"] == "midline"
        self._exit_long = 50.0 if mid else self._hi
        self._exit_short = 50.0 if mid else self._lo
        self._size = p["size"]
        self._sl = p["stop_loss"] / 100.0 or None
        self._tp = p["take_profit"] / 100.0 or None
        self._short = p["allow_short"]

    def chart_lines(self, closes: Sequence[float]) -> List[ChartLine]:
        """Wilder's RSI (the signals' own computation) in a lower pane with the oversold and
        overbought levels."""
        st, n = _RSIState(), self.p["period"]
        values = []
        for c in closes:
            values.append(st.step(c, n))
        return [ChartLine(f"RSI {n}", values, pane="lower", levels=(self.p["oversold"], self.p["overbought"]),
                          colour="#f0b44c")]

    def on_candle(self, ctx: StrategyContext, symbol: str, candle: Candle) -> Optional[List[Signal]]:
        st = self._state.get(symbol)
        if st is None:
            st = self._state[symbol] = _RSIState()
        rsi = st.step(candle[4], self._n)
        if rsi is None:
            return None
        prev_rsi = st.rsi
        st.rsi = rsi
        if prev_rsi is None:
            return None
        lo = self._lo
        hi = self._hi
        # the four crosses; on most candles all are false and we return here
        buy_in = prev_rsi < lo <= rsi
        sell_in = prev_rsi > hi >= rsi
        long_out = prev_rsi < self._exit_long <= rsi
        short_out = prev_rsi > self._exit_short >= rsi
        if not (buy_in or sell_in or long_out or short_out):
            return None
        return self._signals(ctx, symbol, candle[0], prev_rsi, rsi, buy_in, sell_in, long_out, short_out)

    def _signals(self, ctx: StrategyContext, symbol: str, ts: int, prev_rsi: float, rsi: float, buy_in: bool,
                 sell_in: bool, long_out: bool, short_out: bool) -> Optional[List[Signal]]:
        pos = ctx.position(symbol)
        side = pos.side if pos is not None else None
        meta = {"rsi": rsi, "prev_rsi": prev_rsi}
        out: List[Signal] = []
        name = self.name
        go_short = sell_in and self._short and ctx.can_short(symbol)
        if side == LONG and (long_out or go_short):
            why = f"RSI crossed {'up through' if long_out else 'down through'} {self._exit_long if long_out else self._hi:g}"
            out.append(Signal(ts, symbol, SELL, "exit", reason=why, strategy=name, meta=dict(meta)))
            side = None
        elif side == SHORT and (short_out or buy_in):
            why = f"RSI crossed {'down through' if short_out else 'up through'} {self._exit_short if short_out else self._lo:g}"
            out.append(Signal(ts, symbol, BUY, "exit", reason=why, strategy=name, meta=dict(meta)))
            side = None
        if buy_in and side is None:
            out.append(Signal(ts, symbol, BUY, "entry", size=self._size, stop_loss=self._sl, take_profit=self._tp,
                              reason=f"RSI crossed up through oversold {self._lo:g}", strategy=name, meta=meta))
        elif go_short and side is None:
            out.append(Signal(ts, symbol, SELL, "entry", size=self._size, stop_loss=self._sl, take_profit=self._tp,
                              reason=f"RSI crossed down through overbought {self._hi:g}", strategy=name, meta=meta))
        return out or None
