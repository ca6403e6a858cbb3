"""What the trader is told of, and how bursts are summed up: the logic behind the tray's (or, with
no system tray, the status bar's) notifications. No Qt: the UI feeds it engine events and asks
:meth:`Notifier.due` on a timer what to show.

Kinds (:data:`KINDS`, each switched on or off in Settings): ``engine_errors``
(:class:`~cts_desktop.core.events.EngineStateChanged` to ``error``), ``circuit_breaker``
(:class:`~cts_desktop.core.events.CircuitBreakerTripped`), ``stale_feeds``
(:class:`~cts_desktop.core.events.FeedStale`), ``reconciliation``
(:class:`~cts_desktop.core.events.ReconciliationResult`), ``fills``
(:class:`~cts_desktop.core.events.FillEvent`).

Coalescing: at most one :class:`Message` per ``gap_s`` seconds. The first notice after a quiet
spell is shown at once; whatever arrives within the gap waits and is then summed up in one
message (counts per kind and connection, plus the latest notice of each kind). A replay at full
speed making thousands of fills therefore gives one message every few seconds, and memory stays
constant (counts are kept, not the notices).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from ..core import events as ev

KINDS = ("engine_errors", "circuit_breaker", "stale_feeds", "reconciliation", "fills")  # most urgent first
URGENT = frozenset({"engine_errors", "circuit_breaker"})
TITLES = {"engine_errors": ("Engine error", "engine errors"),
          "circuit_breaker": ("Circuit breaker tripped", "circuit-breaker trips"),
          "stale_feeds": ("Market data stale", "stale feeds"),
          "reconciliation": ("Reconciliation", "reconciliation results"),
          "fills": ("Fill", "fills")}
DEFAULT_GAP_S = 5.0


@dataclass(frozen=True)
class Notice:
    """One thing worth telling: ``kind`` of :data:`KINDS`, the ``connection`` and a one-line ``text``
    (without the connection's name; :attr:`line` has it)."""

    kind: str
    connection: str
    text: str

    @property
    def line(self) -> str:
        return f"{self.connection}: {self.text}"


@dataclass(frozen=True)
class Message:
    """What to show: ``title`` and ``body`` (lines joined by newlines), ``urgent`` when it holds
    an engine error or a circuit-breaker trip, ``count`` notices summed up in it."""

    title: str
    body: str
    urgent: bool
    count: int


@dataclass
class _Pending:
    count: int = 0
    per_connection: Dict[str, int] = field(default_factory=dict)
    last: Optional[Notice] = None


def _num(x: float) -> str:
    return f"{x:,.8g}" if abs(x) < 1e6 else f"{x:,.2f}"


def notice_of(event: object) -> Optional[Notice]:
    """The :class:`Notice` a bus event makes, or None for events nobody is notified of."""
    if isinstance(event, ev.FillEvent):
        f = event.fill
        return Notice("fills", event.connection, f"{f.side.upper()} {_num(f.amount)} {f.symbol} @ {_num(f.price)}")
    if isinstance(event, ev.EngineStateChanged):
        if event.state != ev.ERROR:
            return None
        return Notice("engine_errors", event.connection, event.reason or "unknown reason")
    if isinstance(event, ev.CircuitBreakerTripped):
        return Notice("circuit_breaker", event.connection, f"trading halted: {event.reason}")
    if isinstance(event, ev.FeedStale):
        return Notice("stale_feeds", event.connection,
                      f"no market data for {event.symbol} for {event.silent_s:.0f} s")
    if isinstance(event, ev.ReconciliationResult):
        text = event.detail or (f"{event.settled} order(s) settled"
                                + (f", {event.unsettled} could not be settled" if event.unsettled else ""))
        return Notice("reconciliation", event.connection, text)
    return None


class Notifier:
    """Collects notices and hands out coalesced :class:`Message` s.

    ``enabled(kind) -> bool`` is asked for every notice (a switch turned off in Settings takes
    effect at once); ``gap_s``: least time between two messages (s); ``clock``: monotonic seconds.
    """

    def __init__(self, enabled: Callable[[str], bool], gap_s: float = DEFAULT_GAP_S,
                 clock: Callable[[], float] = time.monotonic, max_lines: int = 5) -> None:
        self.enabled = enabled
        self.gap_s = gap_s
        self.clock = clock
        self.max_lines = max_lines
        self._pending: Dict[str, _Pending] = {}
        self._last_sent: Optional[float] = None
        self.sent = 0  # messages handed out so far

    def offer(self, event: object) -> bool:
        """File a bus event; returns whether it became a pending notice."""
        notice = notice_of(event)
        return notice is not None and self.add(notice)

    def add(self, notice: Notice) -> bool:
        """File ``notice`` unless its kind is switched off; returns whether it was kept."""
        if not self.enabled(notice.kind):
            return False
        p = self._pending.setdefault(notice.kind, _Pending())
        p.count += 1
        p.per_connection[notice.connection] = p.per_connection.get(notice.connection, 0) + 1
        p.last = notice
        return True

    @property
    def pending(self) -> int:
        """Notices waiting for the next message."""
        return sum(p.count for p in self._pending.values())

    def due(self) -> Optional[Message]:
        """The message to show now, or None (nothing pending, or the last one was less than
        ``gap_s`` ago). Kinds switched off since their notices arrived are dropped."""
        self._pending = {k: p for k, p in self._pending.items() if self.enabled(k)}
        if not self._pending:
            return None
        now = self.clock()
        if self._last_sent is not None and now - self._last_sent < self.gap_s:
            return None
        self._last_sent = now
        pending, self._pending = self._pending, {}
        self.sent += 1
        return summarize(pending, self.max_lines)


def summarize(pending: Dict[str, _Pending], max_lines: int = 5) -> Message:
    """One message for the notices ``pending`` (kind -> counts and latest), most urgent kind first."""
    kinds = [k for k in KINDS if k in pending]
    total = sum(pending[k].count for k in kinds)
    urgent = any(k in URGENT for k in kinds)
    first = pending[kinds[0]]
    if total == 1 and first.last is not None:
        return Message(TITLES[kinds[0]][0], first.last.line, urgent, 1)
    if len(kinds) == 1:
        title = f"{total:,} {TITLES[kinds[0]][1]}"
    else:
        title = ", ".join(f"{pending[k].count:,} {TITLES[k][1] if pending[k].count > 1 else TITLES[k][0].lower()}"
                          for k in kinds)
    lines: List[str] = []
    for k in kinds:
        p = pending[k]
        if p.last is None:
            continue
        if p.count == 1:
            lines.append(p.last.line)
        elif len(p.per_connection) == 1:
            lines.append(f"{p.count:,} {TITLES[k][1]} on {p.last.connection}; latest: {p.last.text}")
        else:
            top = sorted(p.per_connection.items(), key=lambda kv: -kv[1])
            where = ", ".join(f"{name} {n:,}" for name, n in top[:3])
            more = f" and {len(top) - 3} more" if len(top) > 3 else ""
            lines.append(f"{p.count:,} {TITLES[k][1]} ({where}{more}); latest: {p.last.line}")
    return Message(title, "\n".join(lines[:max_lines]), urgent, total)
