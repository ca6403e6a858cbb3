"""Regime-filtered trend following.

Every candle, each symbol's market is classified as one of four regimes with a confidence in
[0, 1]; the strategy follows the trend only while the regime is one the user allows
(``regimes``, default ``"trending"``) with at least ``min_confidence``.

Classification (all incremental, O(1) per candle, no per-candle containers):

* **Trend strength**: Perry Kaufman's efficiency ratio over ``trend_period`` closes,
  ``ER = |close - close n candles ago| / sum(|close - previous close|)`` over the same n
  changes (Kaufman, "Trading Systems and Methods"): 1 for a straight line, near 0 for noise.
  Score ``trend = min(1, ER / trend_er)``: ``trend_er`` is the ER that counts as a certain trend.
* **Volatility**: average true range as a fraction of the close (Wilder's true range
  ``max(high, prev close) - min(low, prev close)``, divided by the close), smoothed twice with
  Wilder's smoothing (alpha = 1 / n): over ``vol_fast`` and over ``vol_slow`` candles. The
  ratio fast / slow compares recent to usual volatility (a constant-memory stand-in for a
  percentile rank). Score ``volatile = clamp((ratio - 1) / (vol_ratio_max - 1))``.
* **Mean reversion**: lag-1 autocorrelation of simple close-to-close returns, from
  exponentially weighted moments (alpha = 2 / (mr_period + 1)):
  ``rho = (E[r_t r_(t-1)] - E[r]^2) / (E[r^2] - E[r]^2)``. Negative autocorrelation means moves
  tend to be undone. Score ``mean_reverting = clamp(-rho / mr_rho)``.
* **Ranging** is what is left: ``ranging = 1 - max(trend, volatile, mean_reverting)``.

The regime is the highest score, ties going to volatile, then trending, then mean-reverting,
then ranging; its score is the confidence. Because ranging is the complement of the largest
other score, the confidence is always at least 0.5.

Trading rules:

* Direction: EMA(``fast``) vs EMA(``slow``) of closes (alpha = 2 / (n + 1), seeded with the
  first close): up when fast > slow, down when fast < slow; a tie keeps the last direction.
* The *setup* on a candle is the direction when the regime is allowed and the confidence is
  at least ``min_confidence`` (down only with ``allow_short`` on a market that allows shorts),
  else none. An entry is signalled on the candle where the setup changes to a direction
  (edge-triggered, so a position closed by its stop-loss is not re-opened until the setup
  has lapsed and formed again), after exiting any opposite position.
* A position this strategy opened is exited when the regime leaves the allowed set
  (confidence alone falling below the threshold does not close it) or the direction flips.
  ``exit_confirm`` (default 1: on the first such candle) asks for that many consecutive
  candles outside the allowed set before the regime exit, to damp flicker at the boundary;
  a direction flip always exits at once.
* Nothing is signalled during the warm-up (``max(slow, vol_slow, trend_period + 1,
  mr_period)`` candles).
* Every signal has ``confidence`` = the regime confidence and ``meta`` with ``regime``,
  ``confidence``, ``er``, ``vol_ratio``, ``autocorr``, ``fast``, ``slow``.

The current classification of a symbol is available as :meth:`RegimeTrend.regime_of`.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ...core.models import BUY, LONG, SELL, TIMEFRAME_MS, Candle, Signal
from .base import Param, ParamError, Strategy, StrategyContext

TRENDING = "trending"
RANGING = "ranging"
VOLATILE = "volatile"
MEAN_REVERTING = "mean-reverting"
REGIMES = (TRENDING, RANGING, VOLATILE, MEAN_REVERTING)


def parse_regimes(text: str) -> Tuple[str, ...]:
    """``"trending, volatile"`` -> ``("trending", "volatile")``; raises :class:`ParamError`."""
    names = [t.strip().lower().replace("_", "-") for t in str(text).split(",")]
    names = [n for n in names if n]
    if not names:
        raise ParamError("regimes", f"name at least one of {', '.join(REGIMES)}")
    bad = [n for n in names if n not in REGIMES]
    if bad:
        raise ParamError("regimes", f"unknown regime {bad[0]!r}; expected a comma list of {', '.join(REGIMES)}")
    return tuple(dict.fromkeys(names))


def _classify(s_trend: float, s_vol: float, s_mr: float) -> Tuple[float, str]:
    """``(confidence, regime)`` from the raw trend, volatility and mean-reversion scores (each
    clipped to at most 1, the last two to at least 0): the highest wins (volatile, then trending
    on ties); ranging when its complement is higher."""
    if s_trend > 1.0:
        s_trend = 1.0
    if s_vol > 1.0:
        s_vol = 1.0
    elif s_vol < 0.0:
        s_vol = 0.0
    if s_mr > 1.0:
        s_mr = 1.0
    elif s_mr < 0.0:
        s_mr = 0.0
    if s_vol >= s_trend and s_vol >= s_mr:
        top, regime = s_vol, VOLATILE
    elif s_trend >= s_mr:
        top, regime = s_trend, TRENDING
    else:
        top, regime = s_mr, MEAN_REVERTING
    if 1.0 - top > top:
        top, regime = 1.0 - top, RANGING
    return top, regime


class _State:
    __slots__ = (
        "count", "prev_close", "closes", "moves", "i", "move_sum",
        "atr_fast", "atr_slow", "m1", "m2", "c1", "prev_ret",
        "ema_fast", "ema_slow", "direction", "setup", "held", "outside",
        "regime", "confidence", "er", "vol_ratio", "rho",
    )

    def __init__(self, n: int):
        self.count = 0
        self.prev_close = 0.0
        self.closes = [0.0] * n  # ring: the last n closes
        self.moves = [0.0] * n  # ring: the last n |close changes|
        self.i = 0
        self.move_sum = 0.0
        self.atr_fast = 0.0
        self.atr_slow = 0.0
        self.m1 = 0.0
        self.m2 = 0.0
        self.c1 = 0.0
        self.prev_ret = 0.0
        self.ema_fast = 0.0
        self.ema_slow = 0.0
        self.direction = 0
        self.setup = 0  # +1 long setup, -1 short setup, 0 none (last candle)
        self.held = 0  # side of the position this strategy entered: +1, -1, 0
        self.outside = 0  # consecutive candles in a regime not allowed
        self.regime = RANGING
        self.confidence = 0.0
        self.er = 0.0
        self.vol_ratio = 1.0
        self.rho = 0.0


class RegimeTrend(Strategy):
    name = "regime"
    title = "Regime-filtered trend"
    description = "Classifies each market as trending, ranging, volatile or mean-reverting and follows the trend only in the regimes you allow."
    params = (
        Param("regimes", str, TRENDING, "Regimes to trade in: comma list of trending, ranging, volatile, mean-reverting"),
        Param("min_confidence", float, 0.6, "Minimum regime confidence to enter", minimum=0.0, maximum=1.0, unit="0..1"),
        Param("fast", int, 20, "Fast EMA length (trend direction)", minimum=1, maximum=10_000, unit="candles"),
        Param("slow", int, 50, "Slow EMA length (must be longer than fast)", minimum=2, maximum=10_000, unit="candles"),
        Param("trend_period", int, 20, "Efficiency-ratio window", minimum=2, maximum=10_000, unit="candles"),
        Param("trend_er", float, 0.5, "Efficiency ratio counted as a certain trend", minimum=0.0, maximum=1.0, exclusive_min=True, unit="0..1"),
        Param("vol_fast", int, 14, "Recent volatility (ATR %) length", minimum=1, maximum=10_000, unit="candles"),
        Param("vol_slow", int, 100, "Usual volatility (ATR %) length (must be longer than vol_fast)", minimum=2, maximum=100_000, unit="candles"),
        Param("vol_ratio_max", float, 2.0, "Recent / usual volatility ratio counted as certainly volatile", minimum=1.0, maximum=100.0, exclusive_min=True, unit="ratio"),
        Param("mr_period", int, 50, "Autocorrelation memory (EW span)", minimum=2, maximum=100_000, unit="candles"),
        Param("mr_rho", float, 0.3, "Negative lag-1 autocorrelation counted as certainly mean-reverting", minimum=0.0, maximum=1.0, exclusive_min=True, unit="0..1"),
        Param("exit_confirm", int, 1, "Exit after this many consecutive candles outside the allowed regimes (1 = at once)", minimum=1, maximum=10_000, unit="candles"),
        Param("timeframe", "choice", "auto", "Candle timeframe (auto: the data's own)", choices=("auto",) + tuple(TIMEFRAME_MS)),
        Param("size", float, 0.2, "Order size as a fraction of equity", minimum=0.0, maximum=1.0, exclusive_min=True, unit="fraction of equity"),
        Param("stop_loss", float, 2.0, "Stop-loss distance from entry (0 = none)", minimum=0.0, maximum=99.0, unit="%"),
        Param("take_profit", float, 6.0, "Take-profit distance from entry (0 = none)", minimum=0.0, maximum=1000.0, unit="%"),
        Param("allow_short", bool, False, "Follow down trends short where the market allows it"),
    )

    def validate(self, p: Dict[str, Any]) -> None:
        self._allowed = parse_regimes(p["regimes"])
        p["regimes"] = ",".join(self._allowed)
        if p["slow"] <= p["fast"]:
            raise ParamError("slow", f"must be greater than fast ({p['fast']}), got {p['slow']}")
        if p["vol_slow"] <= p["vol_fast"]:
            raise ParamError("vol_slow", f"must be greater than vol_fast ({p['vol_fast']}), got {p['vol_slow']}")

    @property
    def warmup(self) -> int:
        p = self.p
        return max(p["slow"], p["vol_slow"], p["trend_period"] + 1, p["mr_period"])

    def on_start(self, ctx: StrategyContext, symbols: Iterable[str]) -> None:
        p = self.p
        self._n = p["trend_period"]
        self._state: Dict[str, _State] = {s: _State(self._n) for s in symbols}
        self._warm = self.warmup
        self._a_fast = 2.0 / (p["fast"] + 1)
        self._a_slow = 2.0 / (p["slow"] + 1)
        self._v_fast = 1.0 / p["vol_fast"]
        self._v_slow = 1.0 / p["vol_slow"]
        self._a_mr = 2.0 / (p["mr_period"] + 1)
        self._inv_er = 1.0 / p["trend_er"]
        self._inv_vol = 1.0 / (p["vol_ratio_max"] - 1.0)
        self._inv_rho = 1.0 / p["mr_rho"]
        self._min_conf = p["min_confidence"]
        self._confirm = p["exit_confirm"]
        self._allowed_set = frozenset(self._allowed)
        self._size = p["size"]
        self._sl = p["stop_loss"] / 100.0 or None
        self._tp = p["take_profit"] / 100.0 or None
        self._short = p["allow_short"]

    def regime_of(self, symbol: str) -> Tuple[str, float]:
        """The latest ``(regime, confidence)`` of ``symbol`` (``("ranging", 0.0)`` before data)."""
        st = getattr(self, "_state", {}).get(symbol)
        return (st.regime, st.confidence) if st is not None else (RANGING, 0.0)

    def on_candle(self, ctx: StrategyContext, symbol: str, candle: Candle) -> Optional[List[Signal]]:
        st = self._state.get(symbol)
        if st is None:
            st = self._state[symbol] = _State(self._n)
        close = candle[4]
        count = st.count + 1
        st.count = count
        if count == 1:
            st.prev_close = st.ema_fast = st.ema_slow = close
            st.closes[0] = close
            st.i = 1 % self._n
            tr = (candle[2] - candle[3]) / close if close else 0.0
            st.atr_fast = st.atr_slow = tr
            return None
        prev = st.prev_close
        st.prev_close = close

        # efficiency ratio: rings of the last n closes and n absolute changes
        i = st.i
        move = close - prev if close >= prev else prev - close
        old_close = st.closes[i]
        st.closes[i] = close
        st.move_sum += move - st.moves[i]
        st.moves[i] = move
        i += 1
        if i == self._n:
            i = 0
            st.move_sum = sum(st.moves)  # re-sum once per lap: no float drift, O(1) amortised
        st.i = i
        ms = st.move_sum
        if count > self._n and ms > 0.0:
            net = close - old_close
            er = (net if net >= 0.0 else -net) / ms
        else:
            er = 0.0

        # volatility: Wilder-smoothed true range as a fraction of price, fast vs slow
        high = candle[2]
        low = candle[3]
        tr = (high if high > prev else prev) - (low if low < prev else prev)
        if close:
            tr /= close
        af = st.atr_fast = st.atr_fast + (tr - st.atr_fast) * self._v_fast
        asl = st.atr_slow = st.atr_slow + (tr - st.atr_slow) * self._v_slow
        ratio = af / asl if asl > 0.0 else 1.0

        # lag-1 autocorrelation of returns from exponentially weighted moments
        r = close / prev - 1.0 if prev else 0.0
        a = self._a_mr
        m1 = st.m1 = st.m1 + (r - st.m1) * a
        m2 = st.m2 = st.m2 + (r * r - st.m2) * a
        c1 = st.c1 = st.c1 + (r * st.prev_ret - st.c1) * a
        st.prev_ret = r
        mm = m1 * m1
        var = m2 - mm
        rho = (c1 - mm) / var if var > 1e-18 else 0.0

        # direction
        ef = st.ema_fast = st.ema_fast + (close - st.ema_fast) * self._a_fast
        es = st.ema_slow = st.ema_slow + (close - st.ema_slow) * self._a_slow
        if ef > es:
            d = 1
        elif ef < es:
            d = -1
        else:
            d = st.direction
        st.direction = d

        # scores -> regime
        top, regime = _classify(er * self._inv_er, (ratio - 1.0) * self._inv_vol, -rho * self._inv_rho)
        st.regime = regime
        st.confidence = top
        if count < self._warm:
            return None

        allowed = regime in self._allowed_set
        setup = d if allowed and top >= self._min_conf else 0
        if setup < 0 and not self._short:
            setup = 0
        new_setup = setup != 0 and setup != st.setup
        st.setup = setup
        held = st.held
        if allowed:
            st.outside = 0
        else:
            st.outside += 1
        exit_now = held != 0 and (st.outside >= self._confirm or d != held)
        if not (new_setup or exit_now):
            return None
        st.er = er
        st.vol_ratio = ratio
        st.rho = rho
        return self._signals(ctx, symbol, candle[0], st, regime, top, setup if new_setup else 0, exit_now, ef, es)

    def _signals(self, ctx: StrategyContext, symbol: str, ts: int, st: _State, regime: str, conf: float, setup: int,
                 exit_now: bool, ef: float, es: float) -> Optional[List[Signal]]:
        meta = {"regime": regime, "confidence": conf, "er": st.er, "vol_ratio": st.vol_ratio,
                "autocorr": st.rho, "fast": ef, "slow": es}
        pos = ctx.position(symbol)
        side = 0 if pos is None else (1 if pos.side == LONG else -1)
        if side != st.held:
            st.held = 0  # closed by a stop, by hand or by another strategy
        out: List[Signal] = []
        name = self.name
        if setup < 0 and not ctx.can_short(symbol):
            setup = 0
        if st.held and (exit_now or (setup and setup != st.held)):
            why = "trend flipped" if st.direction != st.held else f"regime {regime} not allowed"
            out.append(Signal(ts, symbol, SELL if st.held > 0 else BUY, "exit", confidence=conf,
                              reason=why, strategy=name, meta=dict(meta)))
            side = 0
            st.held = 0
        if setup and side == 0:
            out.append(Signal(ts, symbol, BUY if setup > 0 else SELL, "entry", size=self._size,
                              stop_loss=self._sl, take_profit=self._tp, confidence=conf,
                              reason=f"{'up' if setup > 0 else 'down'} trend in a {regime} regime ({conf:.2f})",
                              strategy=name, meta=meta))
            st.held = setup
        return out or None
