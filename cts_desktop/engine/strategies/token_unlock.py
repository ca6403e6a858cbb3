"""Token-unlock front-running: buy shortly before a large scheduled supply unlock.

The unlock calendar comes from a file the user provides (parameter ``calendar``; format in
``docs/token_unlocks.md``, loader in :mod:`cts_desktop.core.unlocks`). It is read and checked
when the strategy is created: a bad file raises :class:`ParamError` on ``calendar`` whose
message lists every problem row (the :class:`~cts_desktop.core.unlocks.CalendarError` is
chained as ``__cause__``). A relative path is looked up in the working directory, then in the
project's top-level directory (so ``resources/calendars/example_unlocks.csv`` works). Events
for symbols the run does not trade are ignored.

Rules, exactly (every threshold is a parameter; defaults in brackets):

* "Now" is the candle's close time, ``timestamp + timeframe``: the decision is made on the
  close. Signals carry the candle's ``timestamp`` (open time), like every strategy here.
* Entry window: an unlock of a symbol is *in the window* while the time left until it,
  ``hours_before = (unlock time - now) / 1 h``, is within ``lead_hours`` (24) +/-
  ``window_hours`` (2), i.e. from 26 h to 22 h before the unlock, edges included.
* The entry aims at exactly ``lead_hours`` before the unlock: it is first tried on the first
  candle in the window whose close is at most half a candle before that mark
  (``hours_before <= lead_hours + timeframe / 2``: with 5m candles the one closing exactly
  24 h before, with 4h candles the one closing at the 26 h edge), then on every later candle
  in the window until the conditions hold or the window ends. A run that starts inside the
  window tries at once if that mark has passed.
* Buy (long entry) on the first such candle where all of these hold:
  - ``unlock_pct`` > ``min_unlock_pct`` (5, percent of circulating supply);
  - 24 h volume in USD > ``min_volume_usd`` (1,000,000). The 24 h volume is the sum over the
    candles that closed in the last 24 h of ``volume * close`` when ``volume_unit`` is
    ``"base"`` (the ccxt convention for spot candles: volume in base currency) or of
    ``volume`` when it is ``"quote"``; that quote amount is converted to USD by multiplying by
    ``quote_usd`` (1: the quote is USD or a USD stablecoin; for a BTC-quoted pair enter the
    BTC price in USD; it is a constant for the run). Not evaluated (no entry) until 24 h of
    candles have been seen;
  - 7-day change > ``min_change_7d`` (-20 %), where change = close now / close 7 days ago
    - 1 and "close 7 days ago" is the close of the latest candle that closed at or before
    now - 7 days. Not evaluated (no entry) until 7 days of candles have been seen;
  - there is no open position on the symbol (an event whose conditions are met while a
    position is open is skipped: one position per symbol, the exit time is not extended).
  Each event is traded at most once; an event whose window passes without the conditions
  being met is dropped.
* The entry carries ``stop_loss`` (3 %) and ``take_profit`` (5 %) as fractions of the entry
  price for the engine to enforce, and ``size`` (fraction of equity).
* Exit the long on the first candle whose close time is at or after unlock time +
  ``hold_hours`` (48), unless the stop or target closed it before.
* Signal strength, ``Signal.confidence = min(1, 0.5 + (unlock_pct / 20) * 0.3 + timing * 0.2)``
  with the timing factor ``timing = max(0, 1 - |hours_before - lead_hours| / window_hours)``:
  1 exactly ``lead_hours`` before the unlock, falling linearly to 0 at both window edges.
* ``meta`` of every signal: ``token``, ``unlock_time`` (ms), ``unlock_pct`` (%),
  ``hours_before``, ``timing``, ``volume_24h_usd``, ``change_7d`` (fraction), ``exit_at`` (ms).

Per candle the work is O(1) amortised: a running 24 h volume sum and a 7-day queue of closes,
both kept in deques trimmed from the left; symbols without pending events return at once.
"""
from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from ...core.models import BUY, LONG, SELL, TIMEFRAME_MS, Candle, Signal
from ...core.unlocks import CalendarError, UnlockEvent, load_unlock_calendar
from .base import Param, ParamError, Strategy, StrategyContext

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
_PROJECT_ROOT = Path(__file__).resolve().parents[3]


def resolve_calendar_path(path: str) -> str:
    """The file a ``calendar`` parameter names: as given (``~`` expanded) if it exists or is
    absolute, else relative to the project's top-level directory if it exists there."""
    p = Path(os.path.expanduser(path))
    if p.is_absolute() or p.exists():
        return str(p)
    alt = _PROJECT_ROOT / p
    return str(alt) if alt.exists() else str(p)


def timing_factor(hours_before: float, lead_hours: float = 24.0, window_hours: float = 2.0) -> float:
    """1 at exactly ``lead_hours`` before the unlock, linearly down to 0 at +/- ``window_hours``."""
    off = hours_before - lead_hours
    if off < 0:
        off = -off
    t = 1.0 - off / window_hours
    return t if t > 0.0 else 0.0


def unlock_confidence(unlock_pct: float, timing: float) -> float:
    """Signal strength ``min(1, 0.5 + (unlock_pct / 20) * 0.3 + timing * 0.2)``; pct in percent."""
    c = 0.5 + (unlock_pct / 20.0) * 0.3 + timing * 0.2
    return 1.0 if c > 1.0 else c


class _SymbolState:
    __slots__ = ("events", "k", "collect_from", "first_open", "vols", "vol_sum", "vol_n", "closes", "exit_at", "exit_meta")

    def __init__(self, events: List[UnlockEvent], collect_from: int):
        self.events = events
        self.k = 0  # next event not yet traded or dropped
        self.collect_from = collect_from  # history is only needed from here on
        self.first_open: Optional[int] = None
        self.vols: deque = deque()  # (close_ms, quote volume)
        self.vol_sum = 0.0
        self.vol_n = 0
        self.closes: deque = deque()  # (close_ms, close)
        self.exit_at = 0
        self.exit_meta: Optional[dict] = None


class TokenUnlockFrontRun(Strategy):
    name = "token_unlock"
    title = "Token-unlock front-running"
    description = "Buys about a day before large scheduled token unlocks from your calendar file; sells 48 h after the unlock or at the stop / target."
    params = (
        Param("calendar", str, "", "Unlock calendar file (.csv or .json); empty = no events"),
        Param("timeframe", "choice", "5m", "Candle timeframe", choices=tuple(TIMEFRAME_MS)),
        Param("min_unlock_pct", float, 5.0, "Trade only unlocks larger than this", minimum=0.0, maximum=10_000.0, unit="% of supply"),
        Param("lead_hours", float, 24.0, "Buy this long before the unlock", minimum=0.0, maximum=24.0 * 365, exclusive_min=True, unit="h"),
        Param("window_hours", float, 2.0, "Tolerance around lead_hours", minimum=0.0, maximum=24.0 * 30, exclusive_min=True, unit="h"),
        Param("hold_hours", float, 48.0, "Sell this long after the unlock", minimum=0.0, maximum=24.0 * 365, unit="h"),
        Param("min_volume_usd", float, 1_000_000.0, "Minimum 24 h volume", minimum=0.0, unit="USD"),
        Param("volume_unit", "choice", "base", "Unit of the candles' volume column", choices=("base", "quote")),
        Param("quote_usd", float, 1.0, "USD value of one unit of the quote currency (1 for USD and stablecoins)", minimum=0.0, exclusive_min=True, unit="USD"),
        Param("min_change_7d", float, -20.0, "Minimum 7-day price change", minimum=-100.0, maximum=10_000.0, unit="%"),
        Param("size", float, 0.2, "Order size as a fraction of equity", minimum=0.0, maximum=1.0, exclusive_min=True, unit="fraction of equity"),
        Param("stop_loss", float, 3.0, "Stop-loss distance from entry (0 = none)", minimum=0.0, maximum=99.0, unit="%"),
        Param("take_profit", float, 5.0, "Take-profit distance from entry (0 = none)", minimum=0.0, maximum=1000.0, unit="%"),
    )

    def validate(self, p: Dict[str, Any]) -> None:
        if p["window_hours"] >= p["lead_hours"]:
            raise ParamError("window_hours", f"must be smaller than lead_hours ({p['lead_hours']:g}), got {p['window_hours']:g}")
        self.events: List[UnlockEvent] = []
        path = p["calendar"].strip()
        if path:
            try:
                self.events = load_unlock_calendar(resolve_calendar_path(path))
            except CalendarError as e:
                raise ParamError("calendar", str(e)) from e

    @property
    def warmup(self) -> int:
        return WEEK_MS // TIMEFRAME_MS[self.timeframe]

    def on_start(self, ctx: StrategyContext, symbols: Iterable[str]) -> None:
        p = self.p
        self._tf = TIMEFRAME_MS[p["timeframe"]]
        self._lead = p["lead_hours"] * HOUR_MS
        self._win = p["window_hours"] * HOUR_MS
        self._hold = int(p["hold_hours"] * HOUR_MS)
        # first moment an entry is tried: the candle closing nearest to the lead time
        self._aim = min(self._lead + self._win, self._lead + self._tf / 2)
        self._min_pct = p["min_unlock_pct"]
        self._min_vol = p["min_volume_usd"]
        self._base_vol = p["volume_unit"] == "base"
        self._qusd = p["quote_usd"]
        self._min_chg = p["min_change_7d"] / 100.0
        self._sl = p["stop_loss"] / 100.0 or None
        self._tp = p["take_profit"] / 100.0 or None
        self._state: Dict[str, _SymbolState] = {}
        symbols = list(symbols)
        for s in symbols:
            self._state[s] = self._make_state(s)
        self.ignored_symbols = sorted({e.symbol for e in self.events} - set(symbols))

    def _make_state(self, symbol: str) -> _SymbolState:
        evs = [e for e in self.events if e.symbol == symbol and e.unlock_pct > self._min_pct]
        start = (evs[0].time - self._lead - self._win - WEEK_MS - 2 * self._tf) if evs else 0
        return _SymbolState(evs, int(start))

    def on_candle(self, ctx: StrategyContext, symbol: str, candle: Candle) -> Optional[List[Signal]]:
        st = self._state.get(symbol)
        if st is None:
            st = self._state[symbol] = self._make_state(symbol)
        now = candle[0] + self._tf
        out: Optional[List[Signal]] = None
        if st.exit_at and now >= st.exit_at:
            out = self._exit(ctx, symbol, candle[0], st)
        evs = st.events
        k = st.k
        if k >= len(evs) or now < st.collect_from:
            return out

        # history: 24 h quote volume and 7 days of closes
        close = candle[4]
        vq = candle[5] * close if self._base_vol else candle[5]
        if st.first_open is None:
            st.first_open = candle[0]
        vols = st.vols
        vols.append((now, vq))
        st.vol_sum += vq
        cut = now - DAY_MS
        while vols[0][0] <= cut:
            st.vol_sum -= vols.popleft()[1]
        st.vol_n += 1
        if st.vol_n >= 4096:  # re-add now and then: running sums drift
            st.vol_n = 0
            st.vol_sum = sum(v for _, v in vols)
        closes = st.closes
        closes.append((now, close))
        cut7 = now - WEEK_MS
        while len(closes) > 1 and closes[1][0] <= cut7:
            closes.popleft()

        # drop events whose window has passed
        win_lo = self._lead - self._win
        while k < len(evs) and evs[k].time - now < win_lo:
            k += 1
        st.k = k
        if k >= len(evs):
            return out
        ev = evs[k]
        before = ev.time - now
        if before > self._aim:
            return out
        # in the window: check the market conditions
        if st.first_open > now - DAY_MS:
            return out
        ref_t, ref_close = closes[0]
        if ref_t > cut7 or ref_close <= 0:
            return out
        change = close / ref_close - 1.0
        vol_usd = st.vol_sum * self._qusd
        if not (vol_usd > self._min_vol and change > self._min_chg):
            return out
        st.k = k + 1  # this event is used up, whatever happens next
        if ctx.position(symbol) is not None:
            return out
        hours = before / HOUR_MS
        timing = timing_factor(hours, self._lead / HOUR_MS, self._win / HOUR_MS)
        exit_at = ev.time + self._hold
        meta = {"token": ev.token, "unlock_time": ev.time, "unlock_pct": ev.unlock_pct, "hours_before": hours,
                "timing": timing, "volume_24h_usd": vol_usd, "change_7d": change, "exit_at": exit_at}
        st.exit_at = exit_at
        st.exit_meta = meta
        sig = Signal(candle[0], symbol, BUY, "entry", size=self.p["size"], stop_loss=self._sl, take_profit=self._tp,
                     confidence=unlock_confidence(ev.unlock_pct, timing),
                     reason=f"{ev.token} unlocks {ev.unlock_pct:g} % of supply in {hours:.1f} h",
                     strategy=self.name, meta=meta)
        return (out or []) + [sig]

    def _exit(self, ctx: StrategyContext, symbol: str, ts: int, st: _SymbolState) -> Optional[List[Signal]]:
        meta = dict(st.exit_meta or {})
        st.exit_at = 0
        st.exit_meta = None
        pos = ctx.position(symbol)
        if pos is None or pos.side != LONG:
            return None  # already closed by its stop or target
        hold_h = self._hold / HOUR_MS
        return [Signal(ts, symbol, SELL, "exit", confidence=1.0,
                       reason=f"{hold_h:g} h after the {meta.get('token', '')} unlock",
                       strategy=self.name, meta=meta)]
