"""Binance-spot-compatible user data stream of the local venue: order updates as they happen.

Two ways in, as Binance offers them:

* The WebSocket API (``/ws-api/v3``), which ccxt.pro uses for spot: the request
  ``{"id": .., "method": "userDataStream.subscribe.signature", "params": {"apiKey", "timestamp",
  ["recvWindow"], "signature"}}`` (HMAC-SHA256 of the sorted ``key=value&...`` parameters,
  timestamp and recvWindow checked as for REST) is answered
  ``{"id": .., "status": 200, "result": {"subscriptionId": N}}``; events then arrive as
  ``{"subscriptionId": N, "event": {...}}``. ``ping`` and ``userDataStream.unsubscribe`` are
  answered; anything else gets ``{"id": .., "status": 400, "error": {"code", "msg"}}``.
* A listenKey: ``POST /api/v3/userDataStream`` (API key header only, no signature) returns
  ``{"listenKey": ..}``; ``PUT`` keeps it alive, ``DELETE`` closes it; ``/ws/<listenKey>`` then
  carries the raw events.

Events: ``executionReport`` in Binance's shape for every order change of the account: ``x``
``NEW`` when placed, ``TRADE`` per execution (``t`` trade id, ``l``/``L`` last quantity and price,
``n``/``N`` commission and its asset, ``z``/``Z`` cumulative quantity and quote), ``CANCELED`` /
``EXPIRED``. Faults: :meth:`~tests.venue.server.Faults.ws_drop` drops these connections too;
:attr:`UserDataStreams.muted` (a set of API keys) holds an account's events back (they are
lost, as on a dropped connection), so REST must find the fills.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
from typing import TYPE_CHECKING, Dict, List, Optional, Set

from aiohttp import WSMsgType, web

from .state import VenueError, VenueOrder, fmt

if TYPE_CHECKING:  # pragma: no cover
    from .server import VenueServer


class _UserConn:
    def __init__(self, request: web.Request, ws: web.WebSocketResponse):
        self.request = request
        self.ws = ws
        self.accounts: Dict[int, str] = {}  # subscription id -> API key (WebSocket API)
        self.listen_account: Optional[str] = None  # /ws/<listenKey>
        self.outbox: "asyncio.Queue[Optional[str]]" = asyncio.Queue()


class UserDataStreams:
    """The user data side of one :class:`~tests.venue.server.VenueServer` (same loop)."""

    def __init__(self, server: "VenueServer"):
        self.server = server
        self.state = server.state
        self.conns: List[_UserConn] = []
        self.listen_keys: Dict[str, str] = {}  # listenKey -> API key
        self.muted: Set[str] = set()  # API keys whose events are held back (lost)
        self.events_sent = 0
        self._next_sub = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._lock = threading.Lock()

    def install(self, app: web.Application) -> None:
        app.router.add_get("/ws-api/v3", self.handle_api)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.state.order_listeners.append(self._on_order)
        self.server.faults.ws_drop_listeners.append(self._on_drop)

    async def stop(self) -> None:
        if self._on_order in self.state.order_listeners:
            self.state.order_listeners.remove(self._on_order)
        for c in list(self.conns):
            await c.ws.close()

    # -- listenKey (REST) ---------------------------------------------------------------------
    def new_listen_key(self, api_key: str) -> dict:
        key = secrets.token_hex(32)
        with self._lock:
            self.listen_keys[key] = api_key
        return {"listenKey": key}

    def keep_alive(self, api_key: str, listen_key: Optional[str], close: bool = False) -> dict:
        with self._lock:
            if self.listen_keys.get(listen_key or "") != api_key:
                raise VenueError(400, -1125, "This listenKey does not exist.")
            if close:
                del self.listen_keys[listen_key or ""]
        return {}

    def account_of_listen_key(self, name: str) -> Optional[str]:
        with self._lock:
            return self.listen_keys.get(name)

    # -- the WebSocket API ----------------------------------------------------------------------
    async def handle_api(self, request: web.Request) -> web.StreamResponse:
        from .server import _drop

        self.server.requests.append(("GET", request.path))
        if self.server.faults.take_ws_refusal():
            return _drop(request)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await self.serve(request, ws)
        return ws

    async def serve(self, request: web.Request, ws: web.WebSocketResponse, listen_account: Optional[str] = None) -> None:
        """Serve one connection (WebSocket API requests, or a listenKey stream's events)."""
        conn = _UserConn(request, ws)
        conn.listen_account = listen_account
        self.conns.append(conn)
        writer = asyncio.get_running_loop().create_task(self._writer(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and listen_account is None:
                    self._request(conn, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            if conn in self.conns:
                self.conns.remove(conn)
            conn.outbox.put_nowait(None)
            writer.cancel()

    async def _writer(self, conn: _UserConn) -> None:
        try:
            while True:
                text = await conn.outbox.get()
                if text is None or conn.ws.closed:
                    return
                await conn.ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return

    def _send(self, conn: _UserConn, data: dict) -> None:
        conn.outbox.put_nowait(json.dumps(data, separators=(",", ":")))

    def _request(self, conn: _UserConn, text: str) -> None:
        try:
            req = json.loads(text)
        except ValueError:
            self._send(conn, {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed JSON request."}})
            return
        rid, method, params = req.get("id"), req.get("method"), req.get("params") or {}
        try:
            if method == "userDataStream.subscribe.signature":
                api_key = self._check_signature(params)
                with self._lock:
                    sub, self._next_sub = self._next_sub, self._next_sub + 1
                conn.accounts[sub] = api_key
                self._send(conn, {"id": rid, "status": 200, "result": {"subscriptionId": sub}, "rateLimits": []})
            elif method == "userDataStream.unsubscribe":
                conn.accounts.clear()
                self._send(conn, {"id": rid, "status": 200, "result": {}})
            elif method == "ping":
                self._send(conn, {"id": rid, "status": 200, "result": {}})
            else:
                raise VenueError(400, -1100, f"Unknown method {method!r}.")
        except VenueError as err:
            self._send(conn, {"id": rid, "status": err.status, "error": {"code": err.code, "msg": err.msg}})

    def _check_signature(self, params: dict) -> str:
        api_key = str(params.get("apiKey") or "")
        account = self.state.accounts.get(api_key)
        if account is None:
            raise VenueError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        signature = str(params.get("signature") or "")
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not signature or not hmac.compare_digest(expected, signature.lower()):
            raise VenueError(400, -1022, "Signature for this request is not valid.")
        timestamp, window = int(params.get("timestamp") or 0), int(params.get("recvWindow") or 5000)
        now = self.state.now()
        if timestamp >= now + 1000 or now - timestamp > window:
            raise VenueError(400, -1021, "Timestamp for this request is outside of the recvWindow.")
        return api_key

    # -- events -------------------------------------------------------------------------------
    def _on_order(self, order: VenueOrder, exec_type: str, trade: object) -> None:
        """State listener (state lock held, any thread): one execution report of ``order``."""
        if self._loop is None or order.account in self.muted:
            return
        event = execution_report(order, exec_type, trade, self.state.now())
        try:
            self._loop.call_soon_threadsafe(self._publish, order.account, event)
        except RuntimeError:  # loop closed: the venue is stopping
            pass

    def _publish(self, account: str, event: dict) -> None:
        for conn in self.conns:
            if conn.listen_account == account:
                self._send(conn, event)
                self.events_sent += 1
            for sub, acct in conn.accounts.items():
                if acct == account:
                    self._send(conn, {"subscriptionId": sub, "event": event})
                    self.events_sent += 1

    def _on_drop(self, close_code: Optional[int]) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._drop_all)
        except RuntimeError:
            pass

    def _drop_all(self) -> None:
        for c in list(self.conns):
            transport = c.request.transport
            if transport is not None:
                transport.abort()


def execution_report(order: VenueOrder, exec_type: str, trade: object, now: int) -> dict:
    """Binance's ``executionReport`` for ``order`` after ``exec_type`` (``trade``: the venue
    Trade of an execution, else None)."""
    last_qty = getattr(trade, "qty", None)
    last_price = getattr(trade, "price", None)
    commission = getattr(trade, "commission", None)
    zero = fmt(type(order.price)(0))
    return {
        "e": "executionReport", "E": now, "s": order.symbol, "c": order.client_order_id, "S": order.side,
        "o": order.type, "f": order.time_in_force, "q": fmt(order.orig_qty), "p": fmt(order.price), "P": zero,
        "F": zero, "g": -1, "C": "", "x": exec_type, "X": order.status, "r": "NONE", "i": order.order_id,
        "l": fmt(last_qty) if last_qty is not None else zero, "z": fmt(order.executed),
        "L": fmt(last_price) if last_price is not None else zero,
        "n": fmt(commission) if commission is not None else zero,
        "N": getattr(trade, "commission_asset", None), "T": getattr(trade, "time", order.update_time or now),
        "t": getattr(trade, "trade_id", -1), "I": 0, "w": order.is_open, "m": bool(getattr(trade, "is_maker", False)),
        "M": False, "O": order.time, "Z": fmt(order.quote_executed),
        "Y": fmt(last_qty * last_price) if last_qty is not None and last_price is not None else zero,
        "Q": fmt(order.orig_quote_qty), "W": order.time, "V": "NONE",
    }
