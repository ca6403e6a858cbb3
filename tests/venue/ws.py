"""Binance-spot-compatible websocket market streams of the local venue: klines and trades.

Trades (``<symbol>@trade``, Binance's ``trade`` events) exist where the venue has a recorded
trade tape (XRPETH): subscribing sends the trades inside the forming candle, and every
``advance()`` step the trades inside the new forming candle.

Paths, as Binance serves them (``wss://stream.binance.com:9443``):

* ``/ws`` and ``/ws/<stream>[/<stream>...]``: raw streams; each event is sent as is. ccxt.pro
  connects to ``<urls['api']['ws']['spot']>/<n>`` (``/ws/0``): a name that is no stream is
  ignored, as Binance does, and the client subscribes afterwards.
* ``/stream?streams=<stream>/<stream>``: combined streams; each event is wrapped as
  ``{"stream": "<name>", "data": <event>}``.

Requests on an open connection (JSON text frames), answered with the same ``id``:
``{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}`` -> ``{"result": null, "id": 1}``,
``UNSUBSCRIBE`` likewise, ``LIST_SUBSCRIPTIONS`` -> ``{"result": [names], "id": N}``. Anything
else gets Binance's error shape (``{"code": 2, "msg": "Invalid request: ...", "id": N}``, or
code 3 for a frame that is not JSON). Like Binance, a stream name that names nothing (another
stream type, an unknown symbol) is accepted and simply never sends: only ``<symbol>@kline_<interval>``
streams carry events here.

Kline events have Binance's shape (see ``data/spot_ws_kline_frames_2021-10-12.txt``, recorded)::

    {"e": "kline", "E": <event ms>, "s": "BTCUSDT",
     "k": {"t": <open ms>, "T": <close ms>, "s": "BTCUSDT", "i": "5m", "f": -1, "L": -1,
           "o": "...", "c": "...", "h": "...", "l": "...", "v": "...", "n": 0, "x": false,
           "q": "...", "V": "0.00000000", "Q": "0.00000000", "B": "0"}}

with the same numbers (same 8-decimal strings) as ``GET /api/v3/klines`` serves for the candle.
They are driven by the venue's price path: subscribing sends the forming candle at once; every
``advance()`` step sends the candle that closed with ``"x": true`` and then the new forming one
(``"x": false``); ``set_price()`` sends the updated forming candle. An interval that is a multiple
of the recorded one is aggregated exactly as the REST klines are (``"x": true`` when its bucket
ends). The venue sends no periodic updates (Binance sends one every 2 s); the price path only
moves when the test or ``--tick`` moves it.

Faults: :meth:`tests.venue.server.Faults.ws_drop` drops every open websocket connection (TCP
abort, no close frame: what a network failure looks like, or a close frame with a given code)
and can refuse the next handshakes. The usual request faults (``drop``, ``status``, ``delay``)
also apply to the handshake request when their path matches (``/ws/0``).
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Dict, List, Optional, Set

from aiohttp import WSMsgType, web

from .state import fmt

if TYPE_CHECKING:  # pragma: no cover
    from .server import VenueServer

KLINE_RE = re.compile(r"^([a-z0-9]+)@kline_(\d+)([smhdwM])$")
TRADE_RE = re.compile(r"^([a-z0-9]+)@trade$")
UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def _d(x: float) -> str:
    return fmt(Decimal(repr(x)))


def interval_ms(interval: str) -> Optional[int]:
    m = re.fullmatch(r"(\d+)([smhdw])", interval)
    return int(m.group(1)) * UNITS[m.group(2)] if m else None


def aggregate(candles: list, index: int, tf: int) -> tuple:
    """The ``tf`` candle holding ``candles[index]``, built from the candles up to ``index``
    (the same grouping as ``GET /api/v3/klines``)."""
    ts = candles[index][0]
    bucket = ts - ts % tf
    group = []
    j = index
    while j >= 0 and candles[j][0] >= bucket:
        group.append(candles[j])
        j -= 1
    group.reverse()
    return (bucket, group[0][1], max(c[2] for c in group), min(c[3] for c in group), group[-1][4],
            sum(c[5] for c in group))


class _Conn:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse, combined: bool):
        self.request = request
        self.ws = ws
        self.combined = combined
        self.streams: Set[str] = set()
        self.outbox: "asyncio.Queue[Optional[str]]" = asyncio.Queue()


class KlineStreams:
    """The websocket side of one :class:`~tests.venue.server.VenueServer` (same loop)."""

    def __init__(self, server: "VenueServer"):
        self.server = server
        self.state = server.state
        self.conns: List[_Conn] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._lock = threading.Lock()
        self._wanted: Dict[str, Set[str]] = {}  # venue symbol -> intervals some connection subscribed
        self.connections_opened = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def install(self, app: web.Application) -> None:
        app.router.add_get("/ws", self.handle)
        app.router.add_get("/ws/{streams:.*}", self.handle)
        app.router.add_get("/stream", self.handle)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.state.listeners.append(self._on_market)
        self.server.faults.ws_drop_listeners.append(self._on_drop)

    async def stop(self) -> None:
        if self._on_market in self.state.listeners:
            self.state.listeners.remove(self._on_market)
        if self._on_drop in self.server.faults.ws_drop_listeners:
            self.server.faults.ws_drop_listeners.remove(self._on_drop)
        for c in list(self.conns):
            await c.ws.close()

    # -- handshake and requests --------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        from .server import _drop, _json  # the REST layer's helpers

        path = request.path
        self.server.requests.append(("GET", path))
        if self.server.faults.take_ws_refusal():
            return _drop(request)
        rule = self.server.faults.match("GET", path)
        if rule is not None:
            if rule.kind == "delay":
                await asyncio.sleep(rule.params["seconds"])
            elif rule.kind == "drop":
                return _drop(request)
            elif rule.kind == "status":
                return _json({"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
                             status=rule.params["status"])
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        account = self.server.user.account_of_listen_key(request.match_info.get("streams", ""))
        if account is not None:  # /ws/<listenKey>: the account's user data stream
            await self.server.user.serve(request, ws, account)
            return ws
        combined = path == "/stream"
        conn = _Conn(request, ws, combined)
        if combined:
            initial = [s for s in request.query.get("streams", "").split("/") if s]
        else:
            # /ws/<name>: a raw stream; ccxt's "/ws/0" names none (Binance ignores it too)
            initial = [s for s in request.match_info.get("streams", "").split("/") if "@" in s]
        self.conns.append(conn)
        self.connections_opened += 1
        writer = asyncio.get_running_loop().create_task(self._writer(conn))
        try:
            self._subscribe(conn, initial)
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._request(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            if conn in self.conns:
                self.conns.remove(conn)
            self._recount()
            conn.outbox.put_nowait(None)
            writer.cancel()
        return ws

    async def _writer(self, conn: _Conn) -> None:
        try:
            while True:
                text = await conn.outbox.get()
                if text is None or conn.ws.closed:
                    return
                await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return

    def _send(self, conn: _Conn, data: dict) -> None:
        conn.outbox.put_nowait(json.dumps(data, separators=(",", ":")))

    def _request(self, conn: _Conn, text: str) -> None:
        try:
            req = json.loads(text)
        except ValueError:
            self._send(conn, {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 1"})
            return
        if not isinstance(req, dict):
            self._send(conn, {"code": 3, "msg": "Invalid JSON: expected an object"})
            return
        rid = req.get("id")
        method = req.get("method")
        if "method" not in req:
            self._send(conn, {"code": 2, "msg": "Invalid request: missing field `method`", "id": rid})
            return
        params = req.get("params") or []
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                self._send(conn, {"code": 2, "msg": "Invalid request: params must be a list of stream names", "id": rid})
                return
            self._send(conn, {"result": None, "id": rid})
            if method == "SUBSCRIBE":
                self._subscribe(conn, params)
            else:
                conn.streams.difference_update(params)
                self._recount()
        elif method == "LIST_SUBSCRIPTIONS":
            self._send(conn, {"result": sorted(conn.streams), "id": rid})
        else:
            self._send(conn, {"code": 2, "msg": f"Invalid request: unknown variant `{method}`, expected one of "
                                                "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, "
                                                "`GET_PROPERTY`", "id": rid})

    def _subscribe(self, conn: _Conn, names: List[str]) -> None:
        fresh = [n for n in names if n not in conn.streams]
        conn.streams.update(names)
        self._recount()
        for name in fresh:  # the forming candle at once (Binance: within its 2 s update period)
            m = TRADE_RE.match(name)
            if m and m.group(1).upper() in self.state.paths:  # the forming candle's trades so far
                for event in self._trade_events(m.group(1).upper()):
                    self._send(conn, {"stream": name, "data": event} if conn.combined else event)
            target = self._kline_target(name)
            if target is None:
                continue
            symbol, interval = target
            with self.state.lock:
                p = self.state.paths[symbol]
                event = self._event(symbol, interval, p.candles, p.cursor, closed=False)
            if event is not None:
                self._send(conn, {"stream": name, "data": event} if conn.combined else event)

    def _kline_target(self, name: str) -> Optional[tuple]:
        m = KLINE_RE.match(name)
        if not m:
            return None
        symbol = m.group(1).upper()
        if symbol not in self.state.paths:
            return None
        return symbol, m.group(2) + m.group(3)

    def _recount(self) -> None:
        wanted: Dict[str, Set[str]] = {}
        for c in self.conns:
            for name in c.streams:
                target = self._kline_target(name)
                if target is not None:
                    wanted.setdefault(target[0], set()).add(target[1])
        with self._lock:
            self._wanted = wanted

    # -- events ------------------------------------------------------------------------------
    def _event(self, symbol: str, interval: str, candles: list, index: int, *, closed: bool) -> Optional[dict]:
        """The kline event of ``interval`` for the candle at ``index`` (caller holds the state lock)."""
        tf = interval_ms(interval)
        native = self.state.paths[symbol].tf
        if tf is None or tf % native:
            return None  # the venue serves the recorded timeframe and its multiples
        c = candles[index] if tf == native else aggregate(candles, index, tf)
        if closed and tf != native:
            nxt = index + 1
            ends = nxt >= len(candles) or candles[nxt][0] - candles[nxt][0] % tf != c[0]
            if not ends:
                return None  # the bucket goes on: no close event yet
        return {"e": "kline", "E": self.state.now(), "s": symbol,
                "k": {"t": c[0], "T": c[0] + tf - 1, "s": symbol, "i": interval, "f": -1, "L": -1,
                      "o": _d(c[1]), "c": _d(c[4]), "h": _d(c[2]), "l": _d(c[3]), "v": _d(c[5]), "n": 0,
                      "x": closed, "q": _d(c[5] * c[4]), "V": "0.00000000", "Q": "0.00000000", "B": "0"}}

    def _on_market(self, symbol: str, closed_index: Optional[int]) -> None:
        """State listener (any thread, state lock held): the candle at ``closed_index`` closed
        (None: the forming candle changed). Builds the events now, sends them on the loop."""
        with self._lock:
            intervals = set(self._wanted.get(symbol, ()))
            trades = any(f"{symbol.lower()}@trade" in c.streams for c in self.conns)
        if (not intervals and not trades) or self._loop is None:
            return
        p = self.state.paths[symbol]
        events = [("@trade", e) for e in self._trade_events(symbol)] if trades and closed_index is not None else []
        for interval in sorted(intervals):
            if closed_index is not None:
                e = self._event(symbol, interval, p.candles, closed_index, closed=True)
                if e is not None:
                    events.append(("@kline_" + interval, e))
            e = self._event(symbol, interval, p.candles, p.cursor, closed=False)
            if e is not None:
                events.append(("@kline_" + interval, e))
        if events:
            try:
                self._loop.call_soon_threadsafe(self._publish, symbol, events)
            except RuntimeError:  # loop closed: the venue is stopping
                pass

    def _publish(self, symbol: str, events: list) -> None:
        for conn in self.conns:
            for suffix, event in events:
                name = symbol.lower() + suffix
                if name in conn.streams:
                    self._send(conn, {"stream": name, "data": event} if conn.combined else event)

    def _trade_events(self, symbol: str) -> list:
        """Binance ``trade`` events of the recorded trades in ``symbol``'s forming candle."""
        now = self.state.now()
        return [{"e": "trade", "E": now, "s": symbol, "t": tid, "p": price, "q": amount, "T": ts,
                 "m": side == "sell", "M": True}
                for ts, tid, side, price, amount in self.state.trades_at(symbol, self.state.paths[symbol].cursor)]

    # -- faults ------------------------------------------------------------------------------
    def _on_drop(self, close_code: Optional[int]) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._drop_all, close_code)
        except RuntimeError:  # pragma: no cover - loop closed
            pass

    def _drop_all(self, close_code: Optional[int]) -> None:
        for conn in list(self.conns):
            if close_code is None:
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                asyncio.get_running_loop().create_task(conn.ws.close(code=close_code, message=b"closed by the venue"))
            if conn in self.conns:
                self.conns.remove(conn)
        self._recount()
