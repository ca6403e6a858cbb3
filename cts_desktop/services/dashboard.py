"""The Dashboard's read model and its one preference: which connections have a card.

* :meth:`DashboardService.active` / :meth:`set_active`: the connections marked active (kept in
  ``settings.json`` under :data:`ACTIVE_KEY`, so every window of this config folder shows the same
  cards); never set: every connection;
* :meth:`DashboardService.card`: one connection's figures as a :class:`Card` (the running engine's,
  else its latest stored run's, the same source as ``AppServices.last_summary``);
* :meth:`DashboardService.live_running` and :func:`window_title`: whether anything trades live.

No Qt here; the words the Dashboard shows for a state, a feed or a refusal come from this module,
so a future ``cts-desktop dashboard`` command would say the same.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Sequence, Set, Tuple

from ..core import events as ev
from .formatting import fmt_time

ACTIVE_KEY = "active_connections"
ACTIVE_STATES = (ev.INITIALIZING, ev.RUNNING, ev.PAUSED, ev.STOPPING)
DAY_MS = 86_400_000
APP_TITLE = "CTS Desktop"


class DashboardError(ValueError):
    """A refused change of the active connections (message: why, for the trader)."""


@dataclass
class Card:
    """One connection's card. Money in ``currency`` (the account's quote currency); ``progress``:
    fraction of the replay done (0..1), None for exchange runs (``activity`` then says what the
    feed does); ``today_pnl``: equity change since 00:00 UTC of the day of the last candle
    (``day``, ``YYYY-MM-DD``; for a live run that is today); ``last_update``: wall-clock time
    (s since the epoch) of the engine's last update, None when it has not run here."""

    name: str
    exchange: str
    live: bool
    state: str = ev.IDLE
    reason: str = ""
    activity: str = ""
    progress: Optional[float] = None
    currency: str = ""
    balance: Optional[float] = None
    equity: Optional[float] = None
    open_positions: int = 0
    today_pnl: Optional[float] = None
    day: str = ""
    last_update: Optional[float] = None
    run_id: Optional[int] = None
    summary: dict = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in ACTIVE_STATES


def today_pnl(curve: Sequence[Tuple[int, float]], starting_balance: float) -> Tuple[Optional[float], str]:
    """``(equity change since 00:00 UTC of the last point's day, that day as YYYY-MM-DD)``;
    ``(None, "")`` for an empty curve. ``curve``: ``[(ts ms, equity quote)]`` in time order; the
    day's opening equity is the last point before midnight, or ``starting_balance`` when the curve
    begins that day."""
    if not curve:
        return None, ""
    last_ts, last_eq = curve[-1]
    midnight = last_ts - last_ts % DAY_MS
    i = bisect.bisect_left(curve, midnight, key=lambda p: p[0])
    opening = curve[i - 1][1] if i > 0 else starting_balance
    return last_eq - opening, fmt_time(midnight)[:10]


def feed_health(stale: Iterable[str], state: str) -> str:
    """The card's feed line: ``"feed ok"``, ``"stale: BTC/USDT, ETH/USDT"`` (symbols without
    market data, from ``FeedStale``/``FeedResumed``), or ``"no feed"`` when not running."""
    if state not in ACTIVE_STATES:
        return "no feed"
    symbols = sorted(stale)
    return f"stale: {', '.join(symbols)}" if symbols else "feed ok"


def window_title(live_names: Sequence[str], base: str = APP_TITLE) -> str:
    """``"CTS Desktop"``, or ``"CTS Desktop — LIVE: a, b"`` while live engines of ``a``, ``b`` run."""
    return f"{base} — LIVE: {', '.join(live_names)}" if live_names else base


class DashboardService:
    """The Dashboard's side of ``services`` (an ``AppServices``)."""

    def __init__(self, services: Any) -> None:
        self.services = services

    # -- the active connections -------------------------------------------------------------------
    def active(self) -> List[str]:
        """Names of the connections with a card, in the Connections list's order (those deleted
        since are dropped). Every connection until the trader picks some."""
        names = [c.name for c in self.services.connections()]
        stored = self.services.app_settings.extra(ACTIVE_KEY)
        if not isinstance(stored, list):
            return names
        return [n for n in names if n in set(stored)]

    def set_active(self, names: Iterable[str]) -> List[str]:
        """Mark ``names`` active (the others not) and save it; returns them in list order.
        Raises :class:`DashboardError` naming an unknown connection, ``SettingsError`` when the
        file cannot be written."""
        known = [c.name for c in self.services.connections()]
        chosen: Set[str] = set(names)
        unknown = sorted(chosen - set(known))
        if unknown:
            raise DashboardError(f"no connection named {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
        ordered = [n for n in known if n in chosen]
        self.services.app_settings.set_extra(ACTIVE_KEY, ordered)
        return ordered

    def renamed(self, old: str, new: str) -> None:
        """Connection ``old`` is now ``new``: an active ``old`` stays active under its new name."""
        stored = self.services.app_settings.extra(ACTIVE_KEY)
        if isinstance(stored, list) and old in stored:
            self.set_active([new if n == old else n for n in stored if n == old or n in self._known()])

    def _known(self) -> Set[str]:
        return {c.name for c in self.services.connections()}

    # -- figures ------------------------------------------------------------------------------------
    def card(self, name: str) -> Card:
        """The figures of ``name``'s card. Raises ``KeyError`` naming the known connections."""
        svc = self.services
        conn = svc.connection(name)
        where = f"paper replay: {conn.dataset}" if conn.is_paper_replay else \
            f"{conn.exchange}{' testnet' if conn.testnet else ''} ({conn.market_type})"
        card = Card(name=name, exchange=where,
                    live=bool(conn.live), state=svc.engine_state(name))
        eng = svc.engines.get(name)
        if eng is not None:
            card.reason = eng.reason
            card.last_update = eng.last_update_wall
        summary = svc.last_summary(name) or {}
        card.summary = summary
        card.run_id = summary.get("run_id")
        card.currency = str(summary.get("currency", ""))
        card.balance = summary.get("balance")
        card.equity = summary.get("equity")
        card.open_positions = int(summary.get("open_positions") or 0)
        core = getattr(eng, "core", None)
        if core is not None:
            curve: Sequence[Tuple[int, float]] = core.curve
            start = core.portfolio.starting_balance
        else:
            curve = svc.equity_curve(name) if summary else []
            start = float(summary.get("starting_balance") or 0.0)
        card.today_pnl, card.day = today_pnl(curve, start)
        card.activity, card.progress = self._activity(name, card, eng, core)
        return card

    def _activity(self, name: str, card: Card, eng: Any, core: Any) -> Tuple[str, Optional[float]]:
        """The card's engine line and replay fraction."""
        tf_ms = int(getattr(eng, "tf_ms", 0) or 0)
        if card.running and tf_ms:
            return self.services.feed_status(name), None
        source = getattr(eng, "source", None)
        total = int(getattr(source, "total", 0) or 0) if source is not None else 0
        if card.running and core is not None and total:
            done = core.candles_seen
            return f"{done:,} of {total:,} candles replayed ({done / total:.0%})", done / total
        if card.running:
            return "starting…" if card.state == ev.INITIALIZING else "", None
        if card.run_id is None:
            return "no run yet: press Start", None
        last = card.summary.get("last_candle_ts")
        upto = f", last candle {fmt_time(last)} UTC" if last else ""
        why = f" ({card.reason})" if card.reason else ""
        return f"run #{card.run_id} {card.state}{why}{upto}", None

    def live_running(self) -> List[str]:
        """Names of the live connections whose engine runs in this process."""
        svc = self.services
        return [c.name for c in svc.connections() if c.live and svc.engine_state(c.name) in ACTIVE_STATES]

    def title(self) -> str:
        """The main window's title: :func:`window_title` of :meth:`live_running`."""
        return window_title(self.live_running())
