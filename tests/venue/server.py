"""A local Binance-spot-compatible REST server (aiohttp) for tests and development.

It answers the endpoints the real ``ccxt.binance`` client calls for spot trading, with Binance's
JSON shapes, error codes and HTTP statuses, and verifies HMAC-SHA256 signatures, ``timestamp``
and ``recvWindow`` exactly as the exchange documents (``timestamp < serverTime + 1000`` and
``serverTime - timestamp <= recvWindow``, ``recvWindow`` <= 60000, default 5000).

Endpoints (all under the server's base URL)::

    GET  /api/v3/ping  /api/v3/time  /api/v3/exchangeInfo  /api/v3/ticker/24hr
    GET  /api/v3/ticker/price  /api/v3/ticker/bookTicker  /api/v3/avgPrice
    GET  /api/v3/klines  /api/v3/depth
    GET  /api/v3/account                       (USER_DATA, signed)
    POST|GET|DELETE /api/v3/order              (POST/DELETE: TRADE, GET: USER_DATA)
    GET  /api/v3/openOrders  /api/v3/myTrades  (USER_DATA)
    POST /api/v3/orderList/oco                 (TRADE: an OCO list, see tests.venue.stops)
    GET|DELETE /api/v3/orderList               (GET: USER_DATA, DELETE: TRADE)

Order types: LIMIT, MARKET, LIMIT_MAKER, and the stop orders STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT,
STOP_LOSS, TAKE_PROFIT (``stopPrice``; triggered when the price path crosses it; see
:mod:`tests.venue.stops`, which also holds the OCO rules).
    GET  /sapi/v1/account/apiRestrictions      (USER_DATA)
    GET  /sapi/v1/system/status                (public)
    POST|PUT|DELETE /api/v3/userDataStream     (USER_STREAM: API key only; listenKey)

User data (``executionReport`` events): the WebSocket API ``/ws-api/v3`` and ``/ws/<listenKey>``;
see :mod:`tests.venue.user_stream`.

Errors: ``-2014`` malformed API key and ``-2015`` unknown key / key without the permission
(HTTP 401), ``-1022`` bad signature, ``-1021`` timestamp outside ``recvWindow``, ``-1102``
missing parameter, ``-1121`` invalid symbol, ``-1013`` filter failures (``LOT_SIZE``,
``MIN_NOTIONAL``, ``PRICE_FILTER``, ``PERCENT_PRICE``), ``-2010`` insufficient balance or
duplicate order, ``-2011`` unknown order on cancel, ``-2013`` order does not exist (HTTP 400);
``-1003`` with HTTP 429 + ``Retry-After`` (request weight over the limit, or injected) and
HTTP 418 (ban); HTTP 503 during maintenance. Every answer carries ``X-MBX-USED-WEIGHT-1M``.

Websocket market streams (kline): ``/ws``, ``/ws/<streams>``, ``/stream?streams=``; see
:mod:`tests.venue.ws`.

Faults (:class:`Faults`) are injected per request, optionally limited to a method/path and a
number of requests: delay, drop the connection, answer an HTTP status, lose the response after
the request was processed (an order then exists but the client gets no answer), 429, 418,
maintenance; :meth:`Faults.ws_drop` drops the websocket connections.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl

from aiohttp import web

from .futures import endpoints as futures_endpoints
from .state import VenueError, VenueState, bad_request, fmt
from .user_stream import UserDataStreams
from .ws import KlineStreams

PUBLIC, USER_DATA, TRADE, USER_STREAM = "public", "user-data", "trade", "user-stream"
API_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
WEIGHT_LIMIT_1M = 1200


# --------------------------------------------------------------------------- faults


@dataclass
class FaultRule:
    kind: str
    method: Optional[str] = None
    path: Optional[str] = None
    count: Optional[int] = None  # None = until cleared
    params: Dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or self.path == path)


class Faults:
    """Fault injection rules, checked in order for every request; the first match applies.

    Every method takes ``path`` (e.g. ``"/api/v3/order"``), ``method`` (``"POST"``) to restrict
    the rule, and ``count`` (apply to that many matching requests, then expire; None = until
    :meth:`clear`). Thread-safe.
    """

    KINDS = ("delay", "drop", "status", "lose_response", "rate_limit", "ban", "maintenance")

    def __init__(self) -> None:
        self._rules: List[FaultRule] = []
        self._lock = threading.Lock()
        self._ws_refuse = 0  # websocket handshakes still to refuse; -1: until clear()
        self.ws_drop_listeners: List[Callable[[Optional[int]], None]] = []  # the websocket streams

    def add(self, kind: str, *, path: Optional[str] = None, method: Optional[str] = None,
            count: Optional[int] = None, **params: Any) -> FaultRule:
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(self.KINDS)}")
        rule = FaultRule(kind, method.upper() if method else None, path, count, params)
        with self._lock:
            self._rules.append(rule)
        return rule

    def delay(self, seconds: float, **where: Any) -> FaultRule:
        """Answer normally after ``seconds``."""
        return self.add("delay", seconds=seconds, **where)

    def drop(self, **where: Any) -> FaultRule:
        """Close the connection without answering (before the request is processed). Note that
        aiohttp's client retries an idempotent request (GET) once on a dropped connection, so
        ``count=1`` is invisible to a GET; use ``count=2`` or more."""
        return self.add("drop", **where)

    def status(self, status: int = 500, body: Optional[str] = None, **where: Any) -> FaultRule:
        """Answer HTTP ``status`` with ``body`` (default: Binance's -1001 internal error JSON)."""
        return self.add("status", status=status, body=body, **where)

    def lose_response(self, **where: Any) -> FaultRule:
        """Process the request (an order is placed) and then drop the connection unanswered."""
        return self.add("lose_response", **where)

    def rate_limit(self, retry_after: int = 2, **where: Any) -> FaultRule:
        """HTTP 429, ``Retry-After: retry_after`` seconds, Binance code -1003."""
        return self.add("rate_limit", retry_after=retry_after, **where)

    def ban(self, retry_after: int = 120, **where: Any) -> FaultRule:
        """HTTP 418 (IP auto-banned), ``Retry-After``, code -1003 with the ban end time."""
        return self.add("ban", retry_after=retry_after, **where)

    def maintenance(self, **where: Any) -> FaultRule:
        """HTTP 503 and system status 1 ("system_maintenance")."""
        return self.add("maintenance", **where)

    def ws_drop(self, refuse: Optional[int] = 0, close_code: Optional[int] = None) -> None:
        """Drop every open websocket connection now and refuse the next ``refuse`` websocket
        handshakes (``None``: until :meth:`clear`). ``close_code`` None: the TCP connection is
        aborted without a close frame (a network failure); a code (e.g. 1001): the venue closes
        with that code, as Binance does at its 24 h limit or in maintenance."""
        with self._lock:
            self._ws_refuse = -1 if refuse is None else max(int(refuse), 0)
            listeners = list(self.ws_drop_listeners)
        for fn in listeners:
            fn(close_code)

    def take_ws_refusal(self) -> bool:
        """True when this websocket handshake must be refused (counts it)."""
        with self._lock:
            if self._ws_refuse == 0:
                return False
            if self._ws_refuse > 0:
                self._ws_refuse -= 1
            return True

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._ws_refuse = 0

    def match(self, method: str, path: str) -> Optional[FaultRule]:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count <= 0:
                            self._rules.remove(rule)
                    return rule
            return None

    def active(self, kind: str) -> bool:
        with self._lock:
            return any(r.kind == kind for r in self._rules)


# --------------------------------------------------------------------------- helpers


def _json(data: Any, status: int = 200, headers: Optional[dict] = None) -> web.Response:
    return web.Response(text=json.dumps(data, separators=(",", ":")), status=status,
                        content_type="application/json", headers=headers)


def _error(err: VenueError, headers: Optional[dict] = None) -> web.Response:
    return _json({"code": err.code, "msg": err.msg}, status=err.status, headers={**(headers or {}), **err.headers})


def _drop(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    return web.Response(text="")  # never written: the transport is gone


def _int_param(p: dict, name: str, default: Optional[int] = None) -> Optional[int]:
    raw = p.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_request(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.") from None


@dataclass
class Endpoint:
    handler: Callable[["VenueServer", dict, Optional[str]], Any]
    security: str
    weight: Any  # int, or callable(params) -> int


class VenueServer:
    """The aiohttp application around one :class:`VenueState`.

    Run it in the current loop with :meth:`start` / :meth:`stop` (async), or in a background
    thread with :class:`tests.venue.harness.Venue`. ``base_url`` is known after start.
    """

    def __init__(self, state: Optional[VenueState] = None, *, host: str = "127.0.0.1", port: int = 0,
                 weight_limit: int = WEIGHT_LIMIT_1M):
        self.state = state or VenueState()
        self.faults = Faults()
        self.host, self.port = host, port
        self.weight_limit = weight_limit
        self.requests: List[Tuple[str, str]] = []  # (method, path) of every request, for tests
        self._weight_window = (0, 0)  # (minute, used weight)
        self._runner: Optional[web.AppRunner] = None
        self.base_url = ""
        self.ws = KlineStreams(self)  # websocket kline streams (tests.venue.ws)
        self.user = UserDataStreams(self)  # user data stream: executionReport events (tests.venue.user_stream)
        self.endpoints: Dict[Tuple[str, str], Endpoint] = {
            ("GET", "/api/v3/ping"): Endpoint(VenueServer.h_ping, PUBLIC, 1),
            ("GET", "/api/v3/time"): Endpoint(VenueServer.h_time, PUBLIC, 1),
            ("GET", "/api/v3/exchangeInfo"): Endpoint(VenueServer.h_exchange_info, PUBLIC, 10),
            ("GET", "/api/v3/ticker/24hr"): Endpoint(VenueServer.h_ticker_24hr, PUBLIC, lambda p: 1 if p.get("symbol") else 40),
            ("GET", "/api/v3/ticker/price"): Endpoint(VenueServer.h_ticker_price, PUBLIC, lambda p: 1 if p.get("symbol") else 2),
            ("GET", "/api/v3/ticker/bookTicker"): Endpoint(VenueServer.h_book_ticker, PUBLIC, lambda p: 1 if p.get("symbol") else 2),
            ("GET", "/api/v3/avgPrice"): Endpoint(VenueServer.h_avg_price, PUBLIC, 1),
            ("GET", "/api/v3/klines"): Endpoint(VenueServer.h_klines, PUBLIC, 1),
            ("GET", "/api/v3/depth"): Endpoint(VenueServer.h_depth, PUBLIC, VenueServer.depth_weight),
            ("GET", "/api/v3/aggTrades"): Endpoint(VenueServer.h_agg_trades, PUBLIC, 2),
            ("GET", "/api/v3/account"): Endpoint(VenueServer.h_account, USER_DATA, 10),
            ("POST", "/api/v3/order"): Endpoint(VenueServer.h_new_order, TRADE, 1),
            ("GET", "/api/v3/order"): Endpoint(VenueServer.h_get_order, USER_DATA, 2),
            ("DELETE", "/api/v3/order"): Endpoint(VenueServer.h_cancel_order, TRADE, 1),
            ("GET", "/api/v3/openOrders"): Endpoint(VenueServer.h_open_orders, USER_DATA, lambda p: 3 if p.get("symbol") else 40),
            ("GET", "/api/v3/myTrades"): Endpoint(VenueServer.h_my_trades, USER_DATA, 10),
            ("POST", "/api/v3/orderList/oco"): Endpoint(VenueServer.h_new_oco, TRADE, 1),
            ("GET", "/api/v3/orderList"): Endpoint(VenueServer.h_get_order_list, USER_DATA, 4),
            ("DELETE", "/api/v3/orderList"): Endpoint(VenueServer.h_cancel_order_list, TRADE, 1),
            ("GET", "/sapi/v1/account/apiRestrictions"): Endpoint(VenueServer.h_api_restrictions, USER_DATA, 1),
            ("GET", "/sapi/v1/system/status"): Endpoint(VenueServer.h_system_status, PUBLIC, 1),
            ("POST", "/api/v3/userDataStream"): Endpoint(lambda s, p, k: s.user.new_listen_key(k), USER_STREAM, 2),
            ("PUT", "/api/v3/userDataStream"): Endpoint(lambda s, p, k: s.user.keep_alive(k, p.get("listenKey")), USER_STREAM, 2),
            ("DELETE", "/api/v3/userDataStream"): Endpoint(lambda s, p, k: s.user.keep_alive(k, p.get("listenKey"), close=True),
                                                           USER_STREAM, 2),
        }
        for route, (handler, security, weight) in futures_endpoints(PUBLIC, USER_DATA, TRADE).items():
            self.endpoints[route] = Endpoint(handler, security, weight)  # USD-M futures: tests.venue.futures

    # -- lifecycle ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        self.ws.install(app)  # before the catch-all REST route
        self.user.install(app)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def start(self) -> str:
        """Listen on ``host:port`` (port 0 = a free port); returns ``base_url``."""
        # short shutdown: requests held by a delay fault must not keep a test waiting
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self.ws.start(asyncio.get_running_loop())
        self.user.start(asyncio.get_running_loop())
        return self.base_url

    @property
    def ws_url(self) -> str:
        """``ws://host:port``: base of the websocket streams (``/ws``, ``/stream``)."""
        return "ws" + self.base_url[len("http"):]

    async def stop(self) -> None:
        await self.ws.stop()
        await self.user.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- request pipeline --------------------------------------------------------------------
    def _use_weight(self, weight: int) -> int:
        minute = int(time.time() // 60)
        current_minute, used = self._weight_window
        used = used + weight if minute == current_minute else weight
        self._weight_window = (minute, used)
        return used

    async def dispatch(self, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        self.requests.append((method, path))
        rule = self.faults.match(method, path)
        lose = False
        if rule is not None:
            if rule.kind == "delay":
                await asyncio.sleep(rule.params["seconds"])
            elif rule.kind == "drop":
                return _drop(request)
            elif rule.kind == "status":
                body = rule.params.get("body")
                if body is None:
                    return _json({"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}, status=rule.params["status"])
                return web.Response(text=body, status=rule.params["status"])
            elif rule.kind == "rate_limit":
                ra = int(rule.params["retry_after"])
                return _json({"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1) is 1200 requests per minute. Please use the websocket for live updates to avoid using up the limit."},
                             status=429, headers={"Retry-After": str(ra)})
            elif rule.kind == "ban":
                ra = int(rule.params["retry_after"])
                until = self.state.now() + ra * 1000
                return _json({"code": -1003, "msg": f"Way too many requests; IP(127.0.0.1) banned until {until}. Please use the websocket for live updates to avoid bans."},
                             status=418, headers={"Retry-After": str(ra)})
            elif rule.kind == "maintenance" and path != "/sapi/v1/system/status":
                return _json({"code": 1, "msg": "System is under maintenance."}, status=503)
            elif rule.kind == "lose_response":
                lose = True
        endpoint = self.endpoints.get((method, path))
        if endpoint is None:
            return web.Response(text="<html><body><h2>404 Not found</h2></body></html>", status=404, content_type="text/html")
        raw_query = request.rel_url.raw_query_string
        body = (await request.text()) if request.can_read_body else ""
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        weight = endpoint.weight(params) if callable(endpoint.weight) else endpoint.weight
        used = self._use_weight(weight)
        headers = {"X-MBX-USED-WEIGHT-1M": str(used), "X-MBX-USED-WEIGHT": str(used)}
        if used > self.weight_limit:
            return _json({"code": -1003, "msg": f"Too much request weight used; current limit is {self.weight_limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."},
                         status=429, headers={**headers, "Retry-After": str(60 - int(time.time()) % 60)})
        try:
            api_key = None
            if endpoint.security == USER_STREAM:  # the API key header only, no signature (as Binance)
                api_key = self.api_key_only(request)
            elif endpoint.security != PUBLIC:
                api_key = self.authenticate(request, raw_query, body, params, endpoint.security)
            data = endpoint.handler(self, params, api_key)
        except VenueError as err:
            if lose:
                return _drop(request)
            return _error(err, headers)
        if lose:
            return _drop(request)
        return _json(data, headers=headers)

    def api_key_only(self, request: web.Request) -> str:
        """The request's known API key (``USER_STREAM`` endpoints). Raises VenueError."""
        api_key = request.headers.get("X-MBX-APIKEY", "")
        if not api_key or not API_KEY_RE.match(api_key):
            raise VenueError(401, -2014, "API-key format invalid.")
        if api_key not in self.state.accounts:
            raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return api_key

    def authenticate(self, request: web.Request, raw_query: str, body: str, params: dict, security: str) -> str:
        """Check API key, signature and timestamp; return the API key. Raises VenueError."""
        api_key = request.headers.get("X-MBX-APIKEY", "")
        if not api_key or not API_KEY_RE.match(api_key):
            raise VenueError(401, -2014, "API-key format invalid.")
        account = self.state.accounts.get(api_key)
        if account is None:
            raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        # totalParams = query string followed by the body, without the signature itself
        parts = [p for p in (raw_query + ("&" if raw_query and body else "") + body).split("&") if p]
        signature = next((p.split("=", 1)[1] for p in parts if p.startswith("signature=")), "")
        if not signature:
            raise bad_request(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        payload = "&".join(p for p in parts if not p.startswith("signature="))
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise bad_request(-1022, "Signature for this request is not valid.")
        timestamp = _int_param(params, "timestamp")
        if timestamp is None:
            raise bad_request(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        recv_window = _int_param(params, "recvWindow", 5000)
        if recv_window > 60000:
            raise bad_request(-1131, "recvWindow must be less than 60000")
        server_time = self.state.now()
        if timestamp >= server_time + 1000:
            raise bad_request(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if server_time - timestamp > recv_window:
            raise bad_request(-1021, "Timestamp for this request is outside of the recvWindow.")
        needed = "trade" if security == TRADE else "read"
        if needed not in account.permissions:
            raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        return api_key

    @staticmethod
    def depth_weight(p: dict) -> int:
        limit = int(p.get("limit") or 100)
        return 1 if limit <= 100 else 5 if limit <= 500 else 10 if limit <= 1000 else 50

    # -- public handlers ---------------------------------------------------------------------
    def h_ping(self, p: dict, key: Optional[str]) -> dict:
        return {}

    def h_time(self, p: dict, key: Optional[str]) -> dict:
        return {"serverTime": self.state.now()}

    def h_system_status(self, p: dict, key: Optional[str]) -> dict:
        if self.state.maintenance or self.faults.active("maintenance"):
            return {"status": 1, "msg": "system_maintenance"}
        return {"status": 0, "msg": "normal"}

    def h_exchange_info(self, p: dict, key: Optional[str]) -> dict:
        info = self.state.info
        symbols = info["symbols"]
        wanted = p.get("symbol") or None
        if p.get("symbols"):
            try:
                wanted = json.loads(p["symbols"])
            except ValueError:
                raise bad_request(-1100, "Illegal characters found in parameter 'symbols'; legal range is '^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.") from None
        if wanted:
            names = [wanted] if isinstance(wanted, str) else wanted
            for n in names:
                self.state.rules_for(n)
            symbols = [s for s in symbols if s["symbol"] in names]
        return {**{k: v for k, v in info.items() if k != "symbols"}, "serverTime": self.state.now(), "symbols": symbols}

    def _ticker(self, symbol: str) -> dict:
        st = self.state
        with st.lock:
            path = st.paths[symbol]
            rules = st.rules[symbol]
            now_c = path.current
            day = [c for c in st.candles(symbol) if c[0] > now_c[0] - 86_400_000]
        open_, last = Decimal(repr(day[0][1])), Decimal(repr(now_c[4]))
        high = max(Decimal(repr(c[2])) for c in day)
        low = min(Decimal(repr(c[3])) for c in day)
        vol = sum(Decimal(repr(c[5])) for c in day)
        qvol = sum(Decimal(repr(c[5])) * Decimal(repr(c[4])) for c in day)
        change = last - open_
        return {
            "symbol": symbol, "priceChange": fmt(change), "priceChangePercent": f"{(change / open_ * 100):.3f}" if open_ else "0.000",
            "weightedAvgPrice": fmt(qvol / vol) if vol else fmt(last), "prevClosePrice": fmt(Decimal(repr(day[0][4]))),
            "lastPrice": fmt(last), "lastQty": fmt(Decimal("0")), "bidPrice": fmt(last - rules.tick), "bidQty": fmt(Decimal("1")),
            "askPrice": fmt(last + rules.tick), "askQty": fmt(Decimal("1")), "openPrice": fmt(open_), "highPrice": fmt(high),
            "lowPrice": fmt(low), "volume": fmt(vol), "quoteVolume": fmt(qvol), "openTime": day[0][0],
            "closeTime": now_c[0] + path.tf - 1, "firstId": -1, "lastId": -1, "count": 0,
        }

    def _symbols_param(self, p: dict) -> Optional[List[str]]:
        if p.get("symbol"):
            self.state.rules_for(p["symbol"])
            return [p["symbol"]]
        if p.get("symbols"):
            names = json.loads(p["symbols"])
            for n in names:
                self.state.rules_for(n)
            return names
        return None

    def h_ticker_24hr(self, p: dict, key: Optional[str]) -> Any:
        names = self._symbols_param(p)
        if p.get("symbol"):
            return self._ticker(p["symbol"])
        return [self._ticker(s) for s in (names or list(self.state.rules))]

    def h_ticker_price(self, p: dict, key: Optional[str]) -> Any:
        names = self._symbols_param(p)
        rows = [{"symbol": s, "price": fmt(Decimal(repr(self.state.price(s))))} for s in (names or list(self.state.rules))]
        return rows[0] if p.get("symbol") else rows

    def h_book_ticker(self, p: dict, key: Optional[str]) -> Any:
        names = self._symbols_param(p)
        rows = []
        for s in names or list(self.state.rules):
            last, tick = Decimal(repr(self.state.price(s))), self.state.rules[s].tick
            rows.append({"symbol": s, "bidPrice": fmt(last - tick), "bidQty": "1.00000000", "askPrice": fmt(last + tick), "askQty": "1.00000000"})
        return rows[0] if p.get("symbol") else rows

    def h_avg_price(self, p: dict, key: Optional[str]) -> dict:
        rules = self.state.rules_for(p.get("symbol"))
        last5 = self.state.candles(rules.symbol)[-5:]
        avg = sum(Decimal(repr(c[4])) for c in last5) / len(last5)
        return {"mins": 5, "price": fmt(avg)}

    def h_agg_trades(self, p: dict, key: Optional[str]) -> list:
        """The newest recorded public trades (oldest first) up to the current candle, as Binance's
        aggregate trades (one recorded trade each); empty for a symbol without a trade tape."""
        rules = self.state.rules_for(p.get("symbol"))
        limit = min(max(_int_param(p, "limit", 500), 1), 1000)
        cursor = self.state.paths[rules.symbol].cursor
        rows: list = []
        for index in range(cursor, max(cursor - 240, -1), -1):
            rows[:0] = self.state.trades_at(rules.symbol, index)
            if len(rows) >= limit:
                break
        return [{"a": tid, "p": price, "q": amount, "f": tid, "l": tid, "T": ts, "m": side == "sell", "M": True}
                for ts, tid, side, price, amount in rows[-limit:]]

    def h_klines(self, p: dict, key: Optional[str]) -> list:
        rules = self.state.rules_for(p.get("symbol"))
        interval = p.get("interval")
        if not interval:
            raise bad_request(-1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.")
        units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
        m = re.fullmatch(r"(\d+)([mhdw])", interval)
        if not m:
            raise bad_request(-1120, "Invalid interval.")
        tf = int(m.group(1)) * units[m.group(2)]
        candles = self.state.candles(rules.symbol)
        native = self.state.paths[rules.symbol].tf
        if tf % native:
            raise bad_request(-1120, "Invalid interval.")  # the venue serves the recorded timeframe and its multiples
        if tf != native:
            grouped: Dict[int, list] = {}
            for c in candles:
                grouped.setdefault(c[0] - c[0] % tf, []).append(c)
            candles = [(t, g[0][1], max(x[2] for x in g), min(x[3] for x in g), g[-1][4], sum(x[5] for x in g)) for t, g in grouped.items()]
        start, end = _int_param(p, "startTime"), _int_param(p, "endTime")
        limit = min(max(_int_param(p, "limit", 500), 1), 1000)
        if start is not None:
            candles = [c for c in candles if c[0] >= start]
        if end is not None:
            candles = [c for c in candles if c[0] <= end]
        candles = candles[:limit] if start is not None else candles[-limit:]
        d = lambda x: fmt(Decimal(repr(x)))  # noqa: E731
        return [[c[0], d(c[1]), d(c[2]), d(c[3]), d(c[4]), d(c[5]), c[0] + tf - 1, d(c[5] * c[4]), 0, "0.00000000", "0.00000000", "0"]
                for c in candles]

    def h_depth(self, p: dict, key: Optional[str]) -> dict:
        rules = self.state.rules_for(p.get("symbol"))
        limit = min(max(_int_param(p, "limit", 100), 1), 5000)
        last = Decimal(repr(self.state.price(rules.symbol)))
        tick = rules.tick
        levels = min(limit, 100)
        qty = lambda i: fmt(rules.min_qty * (i + 1) * 10 if rules.min_qty else Decimal(i + 1))  # noqa: E731
        return {
            "lastUpdateId": int(time.time() * 1000),
            "bids": [[fmt(last - tick * (i + 1)), qty(i)] for i in range(levels)],
            "asks": [[fmt(last + tick * (i + 1)), qty(i)] for i in range(levels)],
        }

    # -- private handlers --------------------------------------------------------------------
    def h_account(self, p: dict, key: Optional[str]) -> dict:
        st = self.state
        with st.lock:
            a = st.accounts[key]
            assets = sorted(set(a.free) | set(a.locked))
            balances = [{"asset": x, "free": fmt(a.free.get(x, 0)), "locked": fmt(a.locked.get(x, 0))} for x in assets]
        if p.get("omitZeroBalances") == "true":
            balances = [b for b in balances if Decimal(b["free"]) or Decimal(b["locked"])]
        rate = lambda bps: fmt(Decimal(bps) / 10_000)  # noqa: E731
        return {
            "makerCommission": a.maker_bps, "takerCommission": a.taker_bps, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": rate(a.maker_bps), "taker": rate(a.taker_bps), "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": "trade" in a.permissions, "canWithdraw": "withdraw" in a.permissions, "canDeposit": True,
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": False, "updateTime": st.now(),
            "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": 354937868,
        }

    def h_api_restrictions(self, p: dict, key: Optional[str]) -> dict:
        a = self.state.accounts[key]
        perms = a.permissions
        return {
            "ipRestrict": a.ip_restrict, "createTime": a.created, "enableReading": "read" in perms,
            "enableSpotAndMarginTrading": "trade" in perms, "enableWithdrawals": "withdraw" in perms,
            "enableInternalTransfer": False, "enableMargin": "margin" in perms, "enableFutures": "futures" in perms,
            "permitsUniversalTransfer": False, "enableVanillaOptions": False, "enableFixApiTrade": False,
            "enableFixReadOnly": False, "enablePortfolioMarginTrading": False,
        }

    def h_new_order(self, p: dict, key: Optional[str]) -> dict:
        order = self.state.new_order(key, p)
        resp_type = p.get("newOrderRespType") or ("FULL" if order.type in ("MARKET", "LIMIT") else "ACK")
        ack = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
               "clientOrderId": order.client_order_id, "transactTime": order.time}
        if resp_type == "ACK":
            return ack
        full = order.to_json()
        result = {**ack, **{k: full[k] for k in ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status",
                                                 "timeInForce", "type", "side", "workingTime", "origQuoteOrderQty", "selfTradePreventionMode")}}
        if resp_type == "FULL":
            result["fills"] = [t.fill_json() for t in order.fills]
        return result

    def h_get_order(self, p: dict, key: Optional[str]) -> dict:
        rules = self.state.rules_for(p.get("symbol"))
        order = self.state.find_order(key, rules.symbol, p.get("orderId"), p.get("origClientOrderId"))
        if order is None:
            raise bad_request(-2013, "Order does not exist.")
        return order.to_json()

    def h_cancel_order(self, p: dict, key: Optional[str]) -> dict:
        rules = self.state.rules_for(p.get("symbol"))
        order = self.state.cancel(key, rules.symbol, p.get("orderId"), p.get("origClientOrderId"))
        full = order.to_json()
        return {"symbol": order.symbol, "origClientOrderId": order.client_order_id, "orderId": order.order_id,
                "orderListId": -1, "clientOrderId": p.get("newClientOrderId") or f"cancel{order.order_id}",
                "transactTime": order.update_time,
                **{k: full[k] for k in ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce",
                                        "type", "side", "selfTradePreventionMode")}}

    def h_open_orders(self, p: dict, key: Optional[str]) -> list:
        return [o.to_json() for o in self.state.open_orders(key, p.get("symbol") or None)]

    def h_my_trades(self, p: dict, key: Optional[str]) -> list:
        return [t.my_trade_json() for t in self.state.my_trades(key, p)]

    # -- order lists (OCO) ---------------------------------------------------------------------
    @staticmethod
    def _list_json(legs: list, *, reports: bool) -> dict:
        first = legs[0]
        done = not any(o.is_open for o in legs)
        out = {"orderListId": first.order_list_id, "contingencyType": "OCO",
               "listStatusType": "ALL_DONE" if done else "EXEC_STARTED",
               "listOrderStatus": "ALL_DONE" if done else "EXECUTING", "listClientOrderId": first.list_client_id,
               "transactionTime": max(o.update_time for o in legs), "symbol": first.symbol,
               "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id} for o in legs]}
        if reports:
            out["orderReports"] = [{k: v for k, v in o.to_json().items() if k not in ("isWorking", "workingTime")}
                                   for o in legs]
        return out

    def h_new_oco(self, p: dict, key: Optional[str]) -> dict:
        return self._list_json(self.state.new_oco(key, p), reports=True)

    def h_get_order_list(self, p: dict, key: Optional[str]) -> dict:
        with self.state.lock:
            legs = [o for o in self.state.orders.values() if o.account == key and o.order_list_id >= 0
                    and (str(o.order_list_id) == p.get("orderListId") or o.list_client_id == p.get("origClientOrderId"))]
        if not legs:
            raise bad_request(-2018, "Order list does not exist.")
        return self._list_json(legs, reports=False)

    def h_cancel_order_list(self, p: dict, key: Optional[str]) -> dict:
        rules = self.state.rules_for(p.get("symbol"))
        legs = self.state.cancel_list(key, rules.symbol, p.get("orderListId"), p.get("listClientOrderId"))
        return self._list_json(legs, reports=True)
