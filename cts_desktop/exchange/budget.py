"""Request budgets shared by everything in the process that talks to one exchange account or IP.

An exchange limits requests per API key and, for exchanges that count by IP (Binance), per IP
address. Every :class:`~cts_desktop.exchange.ccxt_gateway.CcxtGateway` (engines, feeds,
connection test, history download, several connections on one key) draws on the process-wide
:class:`Budget` of ``(exchange id, "ip", host)`` and of ``(exchange id, "key", sha256(api key)[:16])``
(the key itself is never kept). A budget:

* counts request weight: ccxt's ``cost`` of each endpoint (converted to the exchange's weight
  units) as requests leave, corrected by the ``X-MBX-USED-WEIGHT-1M`` header of each answer;
  near the limit (:data:`HEADROOM` of it) requests wait for the next minute ("backing off");
* on HTTP 429 makes every user wait ``Retry-After`` seconds ("backing off");
* on HTTP 418 refuses every request until the ban ends ("banned"; the IP's budget where the
  exchange counts by IP, as Binance bans IP addresses): :meth:`Budget.acquire` raises
  ``GatewayError('banned')`` saying until when (UTC), and the ban is logged once;
* shares one ccxt throttler (token bucket) between the clients of one key with the same rate,
  and lets it burst up to one second of that rate (ccxt's bucket holds one request: a live order
  would otherwise wait behind the refill after a heavy read).

Listeners (:func:`subscribe`) get a :class:`BudgetStatus` when the state changes and at most
every :data:`REPORT_EVERY_S` seconds while weight is used. Times are wall-clock seconds (time.time()).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from cts_desktop.core.connection import ConnectionConfig
from cts_desktop.exchange.capabilities import capabilities_of
from cts_desktop.exchange.errors import GatewayError, map_exception

log = logging.getLogger(__name__)

OK, BACKING_OFF, BANNED = "ok", "backing off", "banned"
HEADROOM = 0.9  # fraction of the weight limit after which requests wait for the next minute
REPORT_EVERY_S = 0.5
WEIGHT_HEADERS = ("x-mbx-used-weight-1m", "x-mbx-used-weight")


@dataclass(frozen=True)
class BudgetStatus:
    """One budget's state: ``label`` (``"binance IP 127.0.0.1:8765"`` / ``"binance key 3fa2..."``),
    ``used`` and ``limit`` (request weight this minute; limit None: not published), ``state``
    (:data:`OK`, :data:`BACKING_OFF`, :data:`BANNED`), ``until`` (time.time() s when a back-off
    or ban ends; 0: none)."""

    label: str
    used: int
    limit: Optional[int]
    state: str
    until: float = 0.0


Listener = Callable[[BudgetStatus], None]
_listeners: List[Listener] = []
_registry: Dict[Tuple[str, str, str], "Budget"] = {}
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener(status)`` on budget changes (from the thread making the request);
    returns the function that unsubscribes it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


class Budget:
    """The shared request budget of one key or one IP (see the module docstring)."""

    def __init__(self, label: str, limit: Optional[int], weight_per_cost: float, *, bans: bool = True):
        self.label, self.limit, self.weight_per_cost, self.bans = label, limit, weight_per_cost, bans
        self.used, self.minute = 0, int(time.time() // 60)
        self.backoff_until = self.banned_until = 0.0
        self._reported = (OK, 0.0)
        self._throttlers: Dict[Tuple[int, float], Any] = {}
        self._lock = threading.Lock()

    # -- state ------------------------------------------------------------------------------
    def status(self, now: Optional[float] = None) -> BudgetStatus:
        now = time.time() if now is None else now
        if self.banned_until > now:
            return BudgetStatus(self.label, self.used, self.limit, BANNED, self.banned_until)
        if self.backoff_until > now:
            return BudgetStatus(self.label, self.used, self.limit, BACKING_OFF, self.backoff_until)
        return BudgetStatus(self.label, self._used_now(now), self.limit, OK)

    def _used_now(self, now: float) -> int:
        return self.used if int(now // 60) == self.minute else 0

    def _report(self, force: bool = False) -> None:
        st = self.status()
        last_state, last_at = self._reported
        now = time.monotonic()
        if force or st.state != last_state or now - last_at >= REPORT_EVERY_S:
            self._reported = (st.state, now)
            for fn in list(_listeners):
                fn(st)

    # -- requests ---------------------------------------------------------------------------
    async def acquire(self, exchange_name: str = "The exchange") -> None:
        """Wait while backing off; raise ``GatewayError('banned')`` while banned."""
        while True:
            now = time.time()
            if self.banned_until > now:
                until = time.strftime("%H:%M:%S", time.gmtime(self.banned_until))
                raise GatewayError("banned", f"{exchange_name} has banned this IP address for too many requests "
                                   f"(HTTP 418) until {until} UTC ({self.banned_until - now:.0f} s): no request is "
                                   "sent before then.", http_status=418, retry_after=self.banned_until - now)
            wait = self.backoff_until - now
            if wait <= 0 and self.limit and self._used_now(now) >= self.limit * HEADROOM:
                self.backoff_until = (int(now // 60) + 1) * 60.0
                self._report(force=True)
                continue
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 1.0))

    def spend(self, cost: Optional[float]) -> None:
        """A request of ccxt ``cost`` leaves: count its weight in this minute."""
        now = time.time()
        with self._lock:
            minute = int(now // 60)
            if minute != self.minute:
                self.minute, self.used = minute, 0
            self.used += max(1, round((cost if cost is not None else 1.0) * self.weight_per_cost))

    def observe(self, headers: Dict[str, Any], status: Optional[int], retry_after: Optional[float]) -> None:
        """An answer came: take the used weight from its headers; 429 -> everyone backs off
        ``retry_after`` s (default 60); 418 -> banned that long (default 120 s)."""
        now = time.time()
        for k, v in (headers or {}).items():
            if k.lower() in WEIGHT_HEADERS:
                try:
                    with self._lock:
                        self.minute, self.used = int(now // 60), int(v)
                except ValueError:
                    pass
                break
        if status == 429:
            self.backoff_until = max(self.backoff_until, now + (retry_after or 60.0))
            log.warning("%s: HTTP 429, every request on this budget waits %.0f s", self.label, retry_after or 60.0)
        elif status == 418 and self.bans:
            first = self.banned_until <= now
            self.banned_until = max(self.banned_until, now + (retry_after or 120.0))
            if first:
                log.error("%s: HTTP 418, the exchange banned this IP until %s UTC; no request is sent before then",
                          self.label, time.strftime("%H:%M:%S", time.gmtime(self.banned_until)))
        self._report(force=status in (418, 429))

    def throttler(self, exchange: Any) -> Any:
        """One ccxt throttler per (event loop, rate) for the clients of this budget."""
        loop = asyncio.get_running_loop()
        key = (id(loop), float(exchange.rateLimit))
        th = self._throttlers.get(key)
        if th is None or th.loop is not loop:
            th = self._throttlers[key] = exchange.throttler
        return th


def _label_key(exchange_id: str, conn: ConnectionConfig, exchange: Any, secrets: Dict[str, str]) -> List[Tuple[str, str, str]]:
    keys = []
    api = exchange.urls.get("api")
    first = api if isinstance(api, str) else next((v for v in (api or {}).values() if isinstance(v, str)), "")
    host = urlsplit(first).netloc or conn.base_url or exchange_id
    keys.append((exchange_id, "IP", host))
    key = secrets.get("apiKey") or secrets.get("api_key") or secrets.get("key") or ""
    if key:
        keys.append((exchange_id, "key", hashlib.sha256(key.encode()).hexdigest()[:12]))
    return keys


def budgets_for(exchange: Any, conn: ConnectionConfig, secrets: Dict[str, str]) -> List[Budget]:
    """The shared budgets of a ccxt client (its IP budget where the exchange counts by IP, else
    none; plus its API key's when it has one), made on first use; hooks the client's throttle
    so each request's ccxt ``cost`` is counted. Shares the key budget's throttler."""
    caps = capabilities_of(exchange)
    out: List[Budget] = []
    with _lock:
        for ex_id, kind, ident in _label_key(exchange.id, conn, exchange, secrets):
            if kind == "IP" and not caps.counts_by_ip:
                continue
            key = (ex_id, kind, ident)
            if key not in _registry:
                default_rate = float(exchange.describe().get("rateLimit") or 1000)
                per_cost = (caps.weight_limit_1m or 60_000 / default_rate) * default_rate / 60_000
                # where the IP carries the weight limit and the bans, the key's budget only
                # shares 429 back-offs and the throttler
                by_ip = caps.counts_by_ip and kind == "key"
                _registry[key] = Budget(f"{exchange.name} {kind} {ident}", None if by_ip else caps.weight_limit_1m,
                                        per_cost, bans=not by_ip)
            out.append(_registry[key])
    _hook_throttle(exchange, out)
    _hook_fetch(exchange, out)
    return out


def _hook_fetch(exchange: Any, budgets: List[Budget]) -> None:
    """Every HTTP answer of ``exchange`` reports its weight header and its 429 / 418 to ``budgets``."""
    original = exchange.fetch

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        try:
            result = await original(url, method, headers, body)
        except Exception as exc:
            err = map_exception(exc, exchange=exchange)
            for b in budgets:
                b.observe(dict(exchange.last_response_headers or {}), err.http_status, err.retry_after)
            raise
        for b in budgets:
            b.observe(dict(exchange.last_response_headers or {}), 200, None)
        return result

    exchange.fetch = fetch


def _hook_throttle(exchange: Any, budgets: List[Budget]) -> None:
    if exchange.throttler is not None:
        # ccxt's leaky bucket holds one request's worth of tokens: an order sent right after a
        # heavy read (Binance myTrades: cost 20) waits for the bucket to refill. Let it burst up to
        # one second of the configured rate; the per-minute weight stays guarded by the budget.
        burst = max(1.0, 1000.0 / float(exchange.rateLimit or 1000.0))
        exchange.throttler.config["capacity"] = burst
    original = exchange.throttle
    keyed = [b for b in budgets if " key " in b.label]
    idle_since = [time.time() * 1000]

    async def throttle(cost: Optional[float] = None) -> Any:
        for b in budgets:  # banned: raise before anything leaves; backing off: wait
            await b.acquire(exchange.name)
        for b in budgets:
            b.spend(cost)
        th = exchange.throttler
        if keyed and th is not None:
            th = exchange.throttler = keyed[0].throttler(exchange)
        if th is not None and not th.running:
            # ccxt refills its bucket only while requests queue: credit the idle time since the last one
            now, cfg = time.time() * 1000, th.config
            cfg["tokens"] = min(cfg["capacity"], cfg["tokens"] + (now - idle_since[0]) * cfg["refillRate"])
            if not th.queue and th.config.get("algorithm") == "leakyBucket" and th.config["tokens"] >= 0:
                # tokens to spare and nobody queued: take them here, as ccxt's loop would, without the
                # task it starts and the two loop turns a request then waits (anything else ready on
                # the loop, a replay's slice, ran in between, ahead of a live order)
                th.config["tokens"] -= th.config["cost"] if cost is None else cost
                idle_since[0] = now
                return None
        try:
            return await original(cost)
        finally:
            idle_since[0] = time.time() * 1000

    exchange.throttle = throttle


def reset() -> None:
    """Forget every budget (tests)."""
    with _lock:
        _registry.clear()
