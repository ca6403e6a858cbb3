"""The exchange state behind the local Binance-spot-compatible venue: markets, price paths,
accounts, orders and the matching rules. Synchronous and thread-safe (one lock); the HTTP
layer in :mod:`tests.venue.server` only translates requests into calls on :class:`VenueState`.

Data (all recorded, none synthetic except where said):

* Markets: the real ``exchangeInfo`` entries (filters untouched) of BTCUSDT, ETHUSDT, ETHBTC,
  LTCBTC, ADABTC and XRPETH from ``spot_exchangeInfo_2021-10-12.json``.
* Price paths (one candle list per symbol, the "market" moves along it):

  - BTCUSDT: Binance BTC/USDT perpetual 5m, Jan 2023 (the closest recorded Binance BTC/USDT).
  - ETHBTC, LTCBTC, ADABTC: Bittrex 5m, Jan 2018.
  - XRPETH: Binance spot 1m, Oct 2019.
  - ETHUSDT: *derived*: Bittrex ETH/BTC 5m times the Coinbase BTC/USD 1h close of the same hour
    (volume is the ETH volume). Documented as the one derived series.

* Timestamps are shifted: when the venue starts, each path's starting candle (index
  ``START_INDEX``) is moved to the current 5m/1m slot of the wall clock; every served candle
  gets the same per-symbol shift, so candle spacing and prices are exactly as recorded.
* The "current price" of a symbol is the close of the candle at its cursor. ``advance()`` moves
  cursors on; ``set_price()`` rewrites the current candle (close = price, high/low widened).
* Order book (depth, bid/ask in tickers) is synthetic: levels one tick apart around the current
  price. Market orders fill in full at the current price (taker); limit orders that are
  marketable when placed fill at the current price (taker), otherwise rest and fill in full
  at their limit price (maker) when a later candle's low (buy) / high (sell) reaches it.
* Public trades: XRPETH has its recorded trade tape (``data/BINANCE_XRP-ETH_trades_2019-10.csv``,
  the trades inside its candles): :meth:`VenueState.trades_at`, the ``xrpeth@trade`` stream.
* Data outages (:meth:`VenueState.data_outage` / :meth:`VenueState.end_outage`): a symbol's
  klines and kline stream stop while its market moves on, then resume with the piled-up candles.
* Fees: the account's commission (default 0.1 % maker and taker) is taken from the received
  asset, as Binance does without BNB: base on buys, quote on sells. With
  :meth:`VenueState.enable_bnb_fees` an account holding BNB pays them in BNB instead (Binance's
  "use BNB to pay fees"), valued at the BNB price in the trade's quote (*synthetic*: a BNBUSDT
  market with a flat price is added for that, its filters copied from BTCUSDT).
* Partial fills: with ``fill_parts`` N > 1 (:attr:`VenueState.fill_parts` for every account, or
  :attr:`Account.fill_parts` for one), a marketable order fills in N trades (distinct trade ids):
  the first part when placed, one more part at the then current price on each ``advance()`` step
  of its symbol (or :meth:`VenueState.step_fills`), the last part taking the rest; the order is
  ``PARTIALLY_FILLED`` in between.
"""
from __future__ import annotations

import csv
import functools
import itertools
import json
import os
import threading
import time
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

from .stops import STOP_TYPES, StopOrders

REPO = Path(__file__).resolve().parents[2]
OHLCV_DIR = REPO / "resources" / "data"
"""Recorded candles shipped with the app; override with ``CTS_OHLCV_DIR``."""
EXCHANGE_INFO = Path(__file__).resolve().parent / "data" / "spot_exchangeInfo_2021-10-12_subset.json"
"""The recorded exchangeInfo, reduced to :data:`SYMBOLS` (see data/README.md)."""
if os.environ.get("CTS_OHLCV_DIR"):
    OHLCV_DIR = Path(os.environ["CTS_OHLCV_DIR"])

SYMBOLS = ("BTCUSDT", "ETHUSDT", "ETHBTC", "LTCBTC", "ADABTC", "XRPETH")
START_INDEX = 1000  # candles of history before the starting candle
E8 = Decimal("0.00000001")
ZERO = Decimal(0)

PERMISSIONS = frozenset({"read", "trade", "withdraw", "margin", "futures"})


class VenueError(Exception):
    """A Binance error answer: HTTP ``status``, Binance ``code`` and ``msg``."""

    def __init__(self, status: int, code: int, msg: str, headers: Optional[dict] = None):
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


def bad_request(code: int, msg: str) -> VenueError:
    return VenueError(400, code, msg)


def fmt(value: Decimal) -> str:
    """Binance's 8-decimal string form of a number."""
    return format(Decimal(value).quantize(E8), "f")


def dec(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except Exception:
        raise bad_request(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.") from None
    if not value.is_finite():
        raise bad_request(-1100, f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.")
    return value


# --------------------------------------------------------------------------- recorded data


def _read_csv(name: str) -> List[tuple]:
    rows = []
    with open(OHLCV_DIR / name, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows.append((int(r["timestamp"]), float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"]), float(r["volume"])))
    return rows


@functools.lru_cache(maxsize=None)
def exchange_info() -> dict:
    """The recorded exchangeInfo reduced to :data:`SYMBOLS` (cached)."""
    with open(EXCHANGE_INFO, encoding="utf-8") as fh:
        full = json.load(fh)
    keep = [s for s in full["symbols"] if s["symbol"] in SYMBOLS]
    return {**{k: v for k, v in full.items() if k != "symbols"}, "symbols": keep}


TRADES_CSV = {"XRPETH": Path(__file__).resolve().parent / "data" / "BINANCE_XRP-ETH_trades_2019-10.csv"}
"""Recorded public trades of a path (the same span as its candles): its ``<symbol>@trade`` stream."""


@functools.lru_cache(maxsize=None)
def recorded_trades(symbol: str) -> Dict[int, tuple]:
    """Candle open time (recorded, ms) -> ((ts, id, taker side, price, amount), ...) of
    ``symbol``'s recorded trades at 1m (empty for a symbol without a trade tape)."""
    path = TRADES_CSV.get(symbol)
    out: Dict[int, list] = {}
    if path is not None:
        with open(path, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                ts = int(r["timestamp"])
                out.setdefault(ts - ts % 60_000, []).append((ts, int(r["id"]), r["side"], r["price"], r["amount"]))
    return {k: tuple(v) for k, v in out.items()}


@functools.lru_cache(maxsize=None)
def recorded_paths() -> Dict[str, tuple]:
    """symbol -> (timeframe_ms, tuple of candles), loaded once per process."""
    eth_btc = _read_csv("BITTREX_ETH-BTC_5m_2018-01.csv")
    btc_usd_1h = {r[0]: r[4] for r in _read_csv("COINBASE_BTC-USD_1h_2017-2019.csv")}
    eth_usdt = []
    for ts, o, h, l, c, v in eth_btc:
        btc = btc_usd_1h.get(ts - ts % 3_600_000)
        if btc is not None:
            eth_usdt.append((ts, o * btc, h * btc, l * btc, c * btc, v))
    return {
        "BTCUSDT": (300_000, tuple(_read_csv("BINANCE_BTC-USDT-PERP_5m_2023-01.csv"))),
        "ETHUSDT": (300_000, tuple(eth_usdt)),
        "ETHBTC": (300_000, tuple(eth_btc)),
        "LTCBTC": (300_000, tuple(_read_csv("BITTREX_LTC-BTC_5m_2018-01.csv"))),
        "ADABTC": (300_000, tuple(_read_csv("BITTREX_ADA-BTC_5m_2018-01.csv"))),
        "XRPETH": (60_000, tuple(_read_csv("BINANCE_XRP-ETH_1m_2019-10.csv"))),
    }


# --------------------------------------------------------------------------- model


@dataclass
class SymbolRules:
    symbol: str
    base: str
    quote: str
    tick: Decimal
    min_price: Decimal
    max_price: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    notional_to_market: bool
    percent_up: Optional[Decimal]
    percent_down: Optional[Decimal]
    order_types: tuple

    @classmethod
    def from_info(cls, info: dict) -> "SymbolRules":
        f = {x["filterType"]: x for x in info["filters"]}
        pf, ls, mn = f.get("PRICE_FILTER", {}), f.get("LOT_SIZE", {}), f.get("MIN_NOTIONAL", f.get("NOTIONAL", {}))
        pp = f.get("PERCENT_PRICE")
        return cls(
            symbol=info["symbol"], base=info["baseAsset"], quote=info["quoteAsset"],
            tick=Decimal(pf.get("tickSize", "0")), min_price=Decimal(pf.get("minPrice", "0")), max_price=Decimal(pf.get("maxPrice", "0")),
            step=Decimal(ls.get("stepSize", "0")), min_qty=Decimal(ls.get("minQty", "0")), max_qty=Decimal(ls.get("maxQty", "0")),
            min_notional=Decimal(mn.get("minNotional", "0")), notional_to_market=bool(mn.get("applyToMarket", True)),
            percent_up=Decimal(str(pp["multiplierUp"])) if pp else None,
            percent_down=Decimal(str(pp["multiplierDown"])) if pp else None,
            order_types=tuple(info.get("orderTypes", ())),
        )


@dataclass
class PricePath:
    tf: int
    candles: list  # (ts, o, h, l, c, v) with ts already shifted
    cursor: int

    @property
    def current(self) -> tuple:
        return self.candles[self.cursor]

    @property
    def price(self) -> float:
        return self.current[4]


@dataclass
class Account:
    api_key: str
    secret: str
    permissions: frozenset
    free: Dict[str, Decimal] = field(default_factory=dict)
    locked: Dict[str, Decimal] = field(default_factory=dict)
    maker_bps: int = 10
    taker_bps: int = 10
    ip_restrict: bool = False
    fill_parts: Optional[int] = None  # partial fills for this account (None: the venue's setting)
    created: int = field(default_factory=lambda: int(time.time() * 1000))

    def add(self, asset: str, free: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        self.free[asset] = self.free.get(asset, ZERO) + free
        self.locked[asset] = self.locked.get(asset, ZERO) + locked


@dataclass
class VenueOrder:
    account: str
    symbol: str
    order_id: int
    client_order_id: str
    side: str  # BUY / SELL
    type: str  # LIMIT / MARKET / LIMIT_MAKER
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    orig_quote_qty: Decimal
    time: int
    executed: Decimal = ZERO
    quote_executed: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    locked_asset: str = ""
    locked_left: Decimal = ZERO
    fills: list = field(default_factory=list)
    stop_price: Decimal = ZERO  # stop orders (tests.venue.stops): the trigger price
    triggered: bool = True  # False while a stop order waits for its trigger
    order_list_id: int = -1  # OCO legs: the list's id
    list_client_id: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    def to_json(self) -> dict:
        """GET /api/v3/order shape."""
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": self.order_list_id,
            "clientOrderId": self.client_order_id, "price": fmt(self.price), "origQty": fmt(self.orig_qty),
            "executedQty": fmt(self.executed), "cummulativeQuoteQty": fmt(self.quote_executed),
            "status": self.status, "timeInForce": self.time_in_force, "type": self.type, "side": self.side,
            "stopPrice": fmt(self.stop_price), "icebergQty": fmt(ZERO), "time": self.time,
            "updateTime": self.update_time or self.time, "isWorking": self.triggered, "workingTime": self.time, "origQuoteOrderQty": fmt(self.orig_quote_qty),
            "selfTradePreventionMode": "NONE",
        }


@dataclass
class Trade:
    symbol: str
    trade_id: int
    order_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool

    def fill_json(self) -> dict:
        return {"price": fmt(self.price), "qty": fmt(self.qty), "commission": fmt(self.commission),
                "commissionAsset": self.commission_asset, "tradeId": self.trade_id}

    def my_trade_json(self) -> dict:
        return {
            "symbol": self.symbol, "id": self.trade_id, "orderId": self.order_id, "orderListId": -1,
            "price": fmt(self.price), "qty": fmt(self.qty), "quoteQty": fmt(self.price * self.qty),
            "commission": fmt(self.commission), "commissionAsset": self.commission_asset, "time": self.time,
            "isBuyer": self.is_buyer, "isMaker": self.is_maker, "isBestMatch": True,
        }


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def _is_multiple(value: Decimal, step: Decimal, base: Decimal = ZERO) -> bool:
    return step <= 0 or (value - base) % step == 0


# --------------------------------------------------------------------------- the state


class VenueState(StopOrders):
    """Markets, prices, accounts and orders of one venue instance. All public methods are
    thread-safe; the test thread and the server thread may call them concurrently. Stop orders
    and OCO lists: :mod:`tests.venue.stops`."""

    def __init__(self, *, start_index: int = START_INDEX, now_ms: Optional[int] = None):
        self.lock = threading.RLock()
        info = exchange_info()
        self.info = info
        self.rules: Dict[str, SymbolRules] = {s["symbol"]: SymbolRules.from_info(s) for s in info["symbols"]}
        now = int(time.time() * 1000) if now_ms is None else now_ms
        self.paths: Dict[str, PricePath] = {}
        self.shifts: Dict[str, int] = {}  # symbol -> ms added to every recorded timestamp
        for sym, (tf, rows) in recorded_paths().items():
            idx = min(start_index, len(rows) - 1)
            shift = self.shifts[sym] = (now - now % tf) - rows[idx][0]
            self.paths[sym] = PricePath(tf, [(r[0] + shift, *r[1:]) for r in rows], idx)
        self.accounts: Dict[str, Account] = {}
        self.orders: Dict[int, VenueOrder] = {}
        self.trades: List[Trade] = []
        self._order_ids = itertools.count(28_457_000)
        self._trade_ids = itertools.count(1_840_000)
        self.clock_offset_ms = 0
        self.maintenance = False
        #: data outages: symbol -> the cursor its klines (REST and stream) are frozen at
        self.outages: Dict[str, int] = {}
        #: marketable orders fill in this many parts (module docstring); per account: Account.fill_parts
        self.fill_parts = 1
        self._filling: Dict[int, int] = {}  # order id -> parts still to fill
        #: quote asset -> BNB price in it, once enable_bnb_fees() was called (fees paid in BNB)
        self.bnb_prices: Dict[str, Decimal] = {}
        #: ``fn(symbol, closed_index)`` called (state lock held, caller's thread) after each
        #: ``advance()`` step (``closed_index``: the candle that just closed) and ``set_price()``
        #: (``None``: the forming candle changed); the websocket streams listen here
        self.listeners: List[Callable[[str, Optional[int]], None]] = []
        #: ``fn(order, exec_type, trade)`` after every order change (state lock held): ``"NEW"``,
        #: ``"TRADE"`` (with the Trade), ``"CANCELED"`` / ``"EXPIRED"``; the user data stream listens
        self.order_listeners: List[Callable[["VenueOrder", str, Optional["Trade"]], None]] = []
        from .futures import Futures

        #: USD-M perpetual futures (BTCUSDT, the /fapi routes): tests.venue.futures
        self.futures = Futures(self)

    # -- clock -------------------------------------------------------------------------------
    def now(self) -> int:
        """Server time in ms (wall clock plus ``clock_offset_ms``)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    # -- accounts ----------------------------------------------------------------------------
    def add_account(self, api_key: str, secret: str, balances: Optional[dict] = None,
                    permissions: Iterable[str] = ("read", "trade")) -> Account:
        perms = frozenset(permissions)
        unknown = perms - PERMISSIONS
        if unknown:
            raise ValueError(f"unknown permissions {sorted(unknown)}; known: {sorted(PERMISSIONS)}")
        acct = Account(api_key=api_key, secret=secret, permissions=perms)
        for asset, amount in (balances or {}).items():
            acct.add(asset, Decimal(str(amount)))
        with self.lock:
            self.accounts[api_key] = acct
        return acct

    def balance(self, api_key: str, asset: str) -> tuple:
        """``(free, locked)`` as floats."""
        with self.lock:
            a = self.accounts[api_key]
            return float(a.free.get(asset, ZERO)), float(a.locked.get(asset, ZERO))

    # -- prices ------------------------------------------------------------------------------
    def price(self, symbol: str) -> float:
        with self.lock:
            return self.paths[symbol].price

    def set_price(self, symbol: str, price: float) -> None:
        """Rewrite the current candle of ``symbol`` so its close is ``price`` (high/low widened),
        then fill resting limit orders that the price reached."""
        with self.lock:
            p = self.paths[symbol]
            ts, o, h, l, c, v = p.current
            p.candles[p.cursor] = (ts, o, max(h, price), min(l, price), float(price), v)
            self._match(symbol, low=float(price), high=float(price))
            self._notify(symbol, None)

    def advance(self, steps: int = 1, symbol: Optional[str] = None) -> None:
        """Move the price path of ``symbol`` (or of every symbol) ``steps`` candles on, matching
        resting limit orders against each new candle's high and low."""
        with self.lock:
            for sym in ([symbol] if symbol else list(self.paths)):
                p = self.paths[sym]
                for _ in range(steps):
                    if p.cursor + 1 >= len(p.candles):
                        break
                    p.cursor += 1
                    _, _, h, l, _, _ = p.current
                    self._step_partials(sym)
                    self._match(sym, low=l, high=h)
                    self._notify(sym, p.cursor - 1)

    # -- data outages --------------------------------------------------------------------------
    def data_outage(self, symbol: Optional[str] = None) -> None:
        """Market data of ``symbol`` (None: every symbol) stops: the klines endpoint serves the
        candles as they are now and the kline stream sends nothing, while the market itself moves
        on (``advance()``, matching). :meth:`end_outage` resumes it with the candles piled up."""
        with self.lock:
            for sym in ([symbol] if symbol else list(self.paths)):
                self.outages.setdefault(sym, self.paths[sym].cursor)

    def end_outage(self, symbol: Optional[str] = None) -> None:
        """Market data of ``symbol`` (None: every symbol) flows again: REST serves every candle
        up to now, and the stream sends the forming candle (a client sees the gap and fills it)."""
        with self.lock:
            for sym in ([symbol] if symbol else list(self.outages)):
                if self.outages.pop(sym, None) is not None:
                    self._notify(sym, None)

    def _notify(self, symbol: str, closed_index: Optional[int]) -> None:
        if symbol in self.outages:
            return  # the data feed is out: the stream says nothing
        for fn in list(self.listeners):
            fn(symbol, closed_index)

    def candles(self, symbol: str) -> list:
        """Served candles of ``symbol``: recorded rows up to the cursor, shifted timestamps."""
        with self.lock:
            p = self.paths[symbol]
            return p.candles[: self.outages.get(symbol, p.cursor) + 1]

    def trades_at(self, symbol: str, index: int) -> list:
        """The recorded public trades inside ``symbol``'s candle ``index`` (shifted like the
        candles): ``[(ts, id, taker side, price str, amount str)]``; empty without a trade tape."""
        with self.lock:
            p, shift = self.paths[symbol], self.shifts[symbol]
            if not 0 <= index < len(p.candles):
                return []
            rows = recorded_trades(symbol).get(p.candles[index][0] - shift, ())
        return [(ts + shift, tid, side, price, amount) for ts, tid, side, price, amount in rows]

    def rules_for(self, symbol: Optional[str]) -> SymbolRules:
        if not symbol:
            raise bad_request(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        rules = self.rules.get(symbol)
        if rules is None:
            raise bad_request(-1121, "Invalid symbol.")
        return rules

    # -- orders ------------------------------------------------------------------------------
    def new_order(self, api_key: str, p: dict) -> VenueOrder:
        """Validate and place an order from POST /api/v3/order parameters (strings)."""
        with self.lock:
            acct = self.accounts[api_key]
            rules = self.rules_for(p.get("symbol"))
            side = p.get("side", "")
            if side not in ("BUY", "SELL"):
                raise bad_request(-1102 if not side else -1117, "Mandatory parameter 'side' was not sent, was empty/null, or malformed." if not side else "Invalid side.")
            otype = p.get("type", "")
            if not otype:
                raise bad_request(-1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed.")
            if otype not in ("LIMIT", "MARKET", "LIMIT_MAKER") + STOP_TYPES:
                raise bad_request(-1116, "Invalid orderType.")
            cid = p.get("newClientOrderId") or f"venue{next(self._order_ids)}"
            if any(o.client_order_id == cid and o.account == api_key and o.is_open for o in self.orders.values()):
                raise bad_request(-2010, "Duplicate order sent.")
            if otype in STOP_TYPES:
                return self._stop_order(acct, rules, p, otype, cid, side=side)
            price_now = Decimal(repr(self.paths[rules.symbol].price))
            tif = ""
            qty = quote_qty = price = ZERO
            if otype in ("LIMIT", "LIMIT_MAKER"):
                if otype == "LIMIT":
                    tif = p.get("timeInForce", "")
                    if not tif:
                        raise bad_request(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
                    if tif not in ("GTC", "IOC", "FOK"):
                        raise bad_request(-1115, "Invalid timeInForce.")
                for name in ("quantity", "price"):
                    if not p.get(name):
                        raise bad_request(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
                qty, price = dec(p["quantity"], "quantity"), dec(p["price"], "price")
                self._check_price(rules, price, price_now)
                self._check_lot(rules, qty)
                if rules.min_notional and price * qty < rules.min_notional:
                    raise bad_request(-1013, "Filter failure: MIN_NOTIONAL")
            else:  # MARKET
                if p.get("quantity"):
                    qty = dec(p["quantity"], "quantity")
                    self._check_lot(rules, qty)
                elif p.get("quoteOrderQty"):
                    quote_qty = dec(p["quoteOrderQty"], "quoteOrderQty")
                    qty = _floor_to(quote_qty / price_now, rules.step)
                    if qty <= 0:
                        raise bad_request(-1013, "Filter failure: LOT_SIZE")
                else:
                    raise bad_request(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
                if rules.min_notional and rules.notional_to_market and price_now * qty < rules.min_notional:
                    raise bad_request(-1013, "Filter failure: MIN_NOTIONAL")
            marketable = otype == "MARKET" or (side == "BUY" and price >= price_now) or (side == "SELL" and price <= price_now)
            if otype == "LIMIT_MAKER" and marketable:
                raise bad_request(-2010, "Order would immediately match and take.")
            # balance check and lock
            if side == "BUY":
                need_asset, need = rules.quote, qty * (price_now if otype == "MARKET" else price)
            else:
                need_asset, need = rules.base, qty
            if acct.free.get(need_asset, ZERO) < need:
                raise bad_request(-2010, "Account has insufficient balance for requested action.")
            now = self.now()
            order = VenueOrder(
                account=api_key, symbol=rules.symbol, order_id=next(self._order_ids), client_order_id=cid,
                side=side, type=otype, time_in_force=tif or "GTC", price=price, orig_qty=qty,
                orig_quote_qty=quote_qty, time=now, update_time=now,
            )
            acct.free[need_asset] -= need
            acct.add(need_asset, locked=need)
            order.locked_asset, order.locked_left = need_asset, need
            self.orders[order.order_id] = order
            self._report(order, "NEW")
            parts = acct.fill_parts if acct.fill_parts is not None else self.fill_parts
            if marketable and parts > 1 and qty > rules.step:
                self._filling[order.order_id] = parts - 1
                self._fill(order, price_now, maker=False, qty=self._part_qty(order, rules, parts))
            elif marketable:
                self._fill(order, price_now, maker=False)  # at or better than the limit
            elif tif in ("IOC", "FOK"):
                self._cancel(order, status="EXPIRED")
            return order

    def _check_price(self, rules: SymbolRules, price: Decimal, price_now: Decimal) -> None:
        if price <= 0 or (rules.min_price and price < rules.min_price) or (rules.max_price and price > rules.max_price) \
                or not _is_multiple(price, rules.tick, rules.min_price):
            raise bad_request(-1013, "Filter failure: PRICE_FILTER")
        if rules.percent_up is not None and not (price_now * rules.percent_down <= price <= price_now * rules.percent_up):
            raise bad_request(-1013, "Filter failure: PERCENT_PRICE")

    def _check_lot(self, rules: SymbolRules, qty: Decimal) -> None:
        if qty <= 0 or qty < rules.min_qty or (rules.max_qty and qty > rules.max_qty) or not _is_multiple(qty, rules.step, rules.min_qty):
            raise bad_request(-1013, "Filter failure: LOT_SIZE")

    @staticmethod
    def _part_qty(order: VenueOrder, rules: SymbolRules, parts: int) -> Decimal:
        """One part of ``order`` (its quantity / ``parts``, floored to the lot step, at least one step)."""
        return max(_floor_to(order.orig_qty / parts, rules.step), rules.step or order.orig_qty / parts)

    def _step_partials(self, symbol: str) -> None:
        price_now = Decimal(repr(self.paths[symbol].price))
        for oid, left in list(self._filling.items()):
            order = self.orders[oid]
            if order.symbol != symbol:
                continue
            if not order.is_open or left <= 1:
                self._filling.pop(oid)
                if order.is_open:
                    self._fill(order, price_now, maker=False)
                continue
            self._filling[oid] = left - 1
            rules = self.rules[symbol]
            parts = len(order.fills) + left
            self._fill(order, price_now, maker=False, qty=min(self._part_qty(order, rules, parts),
                                                              order.orig_qty - order.executed))

    def step_fills(self, symbol: Optional[str] = None) -> None:
        """Fill the next part of every order filling in parts (of ``symbol`` or all), at the
        current price, without moving prices."""
        with self.lock:
            for sym in ([symbol] if symbol else list(self.paths)):
                self._step_partials(sym)

    def enable_bnb_fees(self, price_usdt: float = 300.0) -> None:
        """Accounts holding BNB pay their fees in BNB from now on, valued at ``price_usdt`` USDT
        per BNB (other quotes: through BTCUSDT / ETHUSDT's current price). Adds a synthetic
        BNBUSDT market (flat price ``price_usdt``, BTCUSDT's filters) so clients can price BNB."""
        with self.lock:
            self.bnb_prices["USDT"] = Decimal(repr(price_usdt))
            if "BNBUSDT" in self.rules:
                return
            src = next(s for s in self.info["symbols"] if s["symbol"] == "BTCUSDT")
            info = {**src, "symbol": "BNBUSDT", "baseAsset": "BNB"}
            self.info = {**self.info, "symbols": [*self.info["symbols"], info]}
            self.rules["BNBUSDT"] = SymbolRules.from_info(info)
            now = self.now()
            tf = 300_000
            rows = [(now - now % tf - (START_INDEX - i) * tf, price_usdt, price_usdt, price_usdt, price_usdt, 1000.0)
                    for i in range(START_INDEX + 2000)]
            self.paths["BNBUSDT"] = PricePath(tf, rows, START_INDEX)

    def _bnb_fee(self, acct: Account, rules: SymbolRules, quote_value: Decimal, rate: Decimal) -> Optional[Decimal]:
        """The fee in BNB for a trade worth ``quote_value`` (quote), or None (paid as usual)."""
        if not self.bnb_prices or acct.free.get("BNB", ZERO) <= 0:
            return None
        bnb_in_quote = self.bnb_prices.get(rules.quote)
        if bnb_in_quote is None and rules.quote + "USDT" in self.paths:  # e.g. BTC: BNB/USDT / BTC/USDT
            bnb_in_quote = self.bnb_prices["USDT"] / Decimal(repr(self.paths[rules.quote + "USDT"].price))
        if not bnb_in_quote:
            return None
        fee = (quote_value * rate / bnb_in_quote).quantize(E8)
        return fee if acct.free["BNB"] >= fee else None

    def _fill(self, order: VenueOrder, price: Decimal, *, maker: bool, qty: Optional[Decimal] = None) -> None:
        """Fill ``qty`` of ``order`` (default: the rest) at ``price``; settle balances and fees."""
        acct = self.accounts[order.account]
        rules = self.rules[order.symbol]
        qty = order.orig_qty - order.executed if qty is None else qty
        quote = qty * price
        rate = Decimal(acct.maker_bps if maker else acct.taker_bps) / Decimal(10_000)
        # release what this fill consumes from the lock (a later part may cost more than locked)
        spend = quote if order.side == "BUY" else qty
        from_lock = min(spend, order.locked_left)
        acct.locked[order.locked_asset] -= from_lock
        order.locked_left -= from_lock
        acct.free[order.locked_asset] = acct.free.get(order.locked_asset, ZERO) - (spend - from_lock)
        bnb = self._bnb_fee(acct, rules, quote, rate)
        if bnb is not None:
            commission, asset = bnb, "BNB"
            acct.free["BNB"] -= bnb
            acct.add(rules.base if order.side == "BUY" else rules.quote, qty if order.side == "BUY" else quote)
        elif order.side == "BUY":
            commission, asset = (qty * rate).quantize(E8), rules.base
            acct.add(rules.base, qty - commission)
        else:
            commission, asset = (quote * rate).quantize(E8), rules.quote
            acct.add(rules.quote, quote - commission)
        now = self.now()
        trade = Trade(order.symbol, next(self._trade_ids), order.order_id, price, qty, commission, asset, now,
                      is_buyer=order.side == "BUY", is_maker=maker)
        self.trades.append(trade)
        order.fills.append(trade)
        order.executed += qty
        order.quote_executed += quote
        order.update_time = now
        if order.executed < order.orig_qty:
            order.status = "PARTIALLY_FILLED"
            self._report(order, "TRADE", trade)
            return
        order.status = "FILLED"
        self._release(order)
        self._report(order, "TRADE", trade)

    def _report(self, order: VenueOrder, exec_type: str, trade: Optional[Trade] = None) -> None:
        for fn in list(self.order_listeners):
            fn(order, exec_type, trade)

    def _release(self, order: VenueOrder) -> None:
        if order.locked_left:
            acct = self.accounts[order.account]
            acct.locked[order.locked_asset] -= order.locked_left
            acct.free[order.locked_asset] += order.locked_left
            order.locked_left = ZERO

    def _cancel(self, order: VenueOrder, status: str = "CANCELED") -> None:
        order.status = status
        order.update_time = self.now()
        self._release(order)
        self._report(order, status)

    def _match(self, symbol: str, *, low: float, high: float) -> None:
        self._trigger_stops(symbol, low, high)
        for order in list(self.orders.values()):
            if order.symbol != symbol or not order.is_open or order.order_id in self._filling or not order.triggered:
                continue  # an order filling in parts is not a resting limit order, nor is an untriggered stop
            if (order.side == "BUY" and Decimal(repr(low)) <= order.price) or (order.side == "SELL" and Decimal(repr(high)) >= order.price):
                self._expire_siblings(order)
                self._fill(order, order.price, maker=True)

    def find_order(self, api_key: str, symbol: str, order_id: Optional[str], client_id: Optional[str]) -> Optional[VenueOrder]:
        with self.lock:
            if order_id:
                try:
                    o = self.orders.get(int(order_id))
                except ValueError:
                    raise bad_request(-1100, "Illegal characters found in parameter 'orderId'; legal range is '^[0-9]{1,20}$'.") from None
                return o if o and o.account == api_key and o.symbol == symbol else None
            if client_id:
                hits = [o for o in self.orders.values() if o.account == api_key and o.symbol == symbol and o.client_order_id == client_id]
                return max(hits, key=lambda o: o.order_id) if hits else None
            raise bad_request(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")

    def cancel(self, api_key: str, symbol: str, order_id: Optional[str], client_id: Optional[str]) -> VenueOrder:
        with self.lock:
            self.rules_for(symbol)
            order = self.find_order(api_key, symbol, order_id, client_id)
            if order is None or not order.is_open:
                raise bad_request(-2011, "Unknown order sent.")
            for leg in self.list_legs(order):  # an OCO leg cancels its whole list
                if leg.is_open:
                    self._cancel(leg)
            return order

    def open_orders(self, api_key: str, symbol: Optional[str]) -> List[VenueOrder]:
        with self.lock:
            if symbol:
                self.rules_for(symbol)
            return [o for o in self.orders.values() if o.account == api_key and o.is_open and (not symbol or o.symbol == symbol)]

    def my_trades(self, api_key: str, p: dict) -> List[Trade]:
        with self.lock:
            rules = self.rules_for(p.get("symbol"))
            mine = [t for t in self.trades if t.symbol == rules.symbol and self.orders[t.order_id].account == api_key]
            if p.get("orderId"):
                mine = [t for t in mine if t.order_id == int(p["orderId"])]
            if p.get("fromId"):
                mine = [t for t in mine if t.trade_id >= int(p["fromId"])]
            if p.get("startTime"):
                mine = [t for t in mine if t.time >= int(p["startTime"])]
            if p.get("endTime"):
                mine = [t for t in mine if t.time <= int(p["endTime"])]
            limit = min(int(p.get("limit") or 500), 1000)
            return mine[:limit]
