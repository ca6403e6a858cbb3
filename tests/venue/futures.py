"""USD-M perpetual futures of the local venue (Binance ``/fapi``): one market, BTCUSDT perpetual,
one-way position mode, cross margin, the USDT wallet of each account.

Only what ccxt 4.5's ``binance`` client with ``defaultType: swap`` requests for markets, candles,
tickers, the balance, positions, market/limit orders and their trades is served (the venue's
request log showed which; see ``tests/integration/test_futures_positions.py``):

* ``GET /fapi/v1/ping``, ``/fapi/v1/time``, ``/fapi/v1/exchangeInfo``, ``/fapi/v1/klines``,
  ``/fapi/v1/ticker/24hr``, ``/fapi/v1/ticker/price`` (public). Market data: the BTCUSDT price path
  of the venue, which *is* a recorded Binance BTC/USDT perpetual series. The exchangeInfo entry is
  written from the documented shape with BTCUSDT's published filters (tick 0.10, step 0.001, min
  notional 100 USDT; *not* a recording; the order types under ``orderTypes``, as the live API
  and ccxt spell it, where the page's example says ``OrderType``):
  https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Exchange-Information
* ``GET /fapi/v3/account`` (balance): the wallet (USDT), unrealized profit, initial margin (notional
  / leverage, 20x), available balance = wallet + unrealized - initial margin:
  https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Account-Information-V3
* ``GET /fapi/v1/leverageBracket`` (ccxt reads it before parsing positions): BTCUSDT's first
  three brackets as published:
  https://developers.binance.com/docs/derivatives/usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets
* ``GET /fapi/v3/positionRisk``: the symbols with a position (one row, ``positionSide`` ``BOTH``):
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Position-Information-V3
* ``POST/GET/DELETE /fapi/v1/order``, ``GET /fapi/v1/openOrders``, ``GET /fapi/v1/userTrades``:
  MARKET (fills at the mark price = the last price, taker) and LIMIT (fills at once at the last
  price when marketable, else rests and fills at its price when a candle reaches it, maker);
  ``reduceOnly=true`` is refused (-2022) when it would not reduce the position, and an order that
  reduces more than the position holds is cut to it. The default ``newOrderRespType`` is ``ACK``
  (the answer says ``NEW``, nothing executed; the order is queried for its fills), ``RESULT``
  answers with the final state:
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Order
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Account-Trade-List
* ``POST/GET/DELETE /fapi/v1/algoOrder``, ``GET /fapi/v1/openAlgoOrders``: conditional orders (``algoType=CONDITIONAL``), where
  Binance moved ``STOP_MARKET`` / ``TAKE_PROFIT_MARKET`` in December 2025 and where ccxt 4.5 sends
  them. ``triggerPrice``, ``quantity`` (or ``closePosition=true``: the whole position), ``reduceOnly``,
  ``clientAlgoId``. A SELL ``STOP_MARKET`` triggers when the price path's low reaches the trigger (BUY:
  the high), a SELL ``TAKE_PROFIT_MARKET`` when the high reaches it (BUY: the low); one already
  crossed when placed is refused (-2021 "Order would immediately trigger."). On the trigger the algo
  order places a MARKET order (reduce-only when it is), filled at the trigger price (taker; the
  venue's spot stops fill the same way), and its ``algoStatus`` goes ``NEW`` -> ``FINISHED`` with
  ``actualOrderId`` set (the order's trades carry that id); a reduce-only one that finds nothing to
  reduce is ``EXPIRED``. A canceled one is ``CANCELED``. The triggered order's clientOrderId is
  not documented: the venue gives it ``clientAlgoId`` (the app finds it by ``actualOrderId`` only).
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/New-Algo-Order
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Query-Algo-Order
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Cancel-Algo-Order
  https://developers.binance.com/docs/derivatives/usds-margined-futures/trade/rest-api/Current-All-Algo-Open-Orders
* Fees: taker 0.05 %, maker 0.02 % (Binance's regular USD-M tier), in USDT, from the wallet;
  realized profit of a reducing fill goes to the wallet too.

A trader acting "by hand" at the exchange is :meth:`Futures.trade_by_hand` (or an order sent by
another client with the same key).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Optional

from .state import ZERO, bad_request, dec

SYMBOL = "BTCUSDT"
TICK, STEP, MIN_QTY, MAX_QTY, MIN_NOTIONAL = Decimal("0.10"), Decimal("0.001"), Decimal("0.001"), Decimal("1000"), Decimal("100")
LEVERAGE = 20
TAKER, MAKER = Decimal("0.0005"), Decimal("0.0002")
# (initial leverage, notional floor, cap, maintenance margin ratio, cum): BTCUSDT's first brackets as published
BRACKETS = ((125, 0, 50_000, 0.004, 0.0), (100, 50_000, 600_000, 0.005, 50.0), (75, 600_000, 3_000_000, 0.0065, 950.0))
_order_ids = itertools.count(4_051_000_000)
_trade_ids = itertools.count(310_000_000)


def _f(value: Decimal, places: int = 8) -> str:
    return format(Decimal(value).quantize(Decimal(1).scaleb(-places)), "f")


def exchange_info_symbol() -> dict:
    """The BTCUSDT perpetual as ``GET /fapi/v1/exchangeInfo`` lists it (module docstring)."""
    return {
        "symbol": SYMBOL, "pair": SYMBOL, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8,
        "underlyingType": "COIN", "underlyingSubType": ["PoW"], "settlePlan": 0, "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


@dataclass
class FPosition:
    amt: Decimal = ZERO  # signed: > 0 long, < 0 short (one-way mode)
    entry: Decimal = ZERO
    update_time: int = 0


@dataclass
class FOrder:
    account: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    orig_qty: Decimal
    price: Decimal
    time: int
    reduce_only: bool = False
    time_in_force: str = "GTC"
    status: str = "NEW"
    executed: Decimal = ZERO
    quote: Decimal = ZERO
    update_time: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    def to_json(self) -> dict:
        avg = self.quote / self.executed if self.executed else ZERO
        return {"orderId": self.order_id, "symbol": SYMBOL, "status": self.status, "clientOrderId": self.client_order_id,
                "price": _f(self.price, 2), "avgPrice": _f(avg, 5), "origQty": _f(self.orig_qty, 3),
                "executedQty": _f(self.executed, 3), "cumQty": _f(self.executed, 3), "cumQuote": _f(self.quote, 5),
                "timeInForce": self.time_in_force, "type": self.type, "origType": self.type,
                "reduceOnly": self.reduce_only, "closePosition": False, "side": self.side, "positionSide": "BOTH",
                "stopPrice": "0.00", "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": self.time,
                "updateTime": self.update_time or self.time}


@dataclass
class FAlgo:
    account: str
    algo_id: int
    client_algo_id: str
    side: str
    order_type: str  # STOP_MARKET / TAKE_PROFIT_MARKET
    quantity: Decimal
    trigger: Decimal
    reduce_only: bool
    close_position: bool
    create_time: int
    status: str = "NEW"
    actual_order_id: str = ""
    actual_price: Decimal = ZERO
    update_time: int = 0
    trigger_time: int = 0

    def crossed(self, low: Decimal, high: Decimal) -> bool:
        """Whether a price move between ``low`` and ``high`` reaches the trigger."""
        falls = (self.order_type == "STOP_MARKET") == (self.side == "SELL")  # sell stop / buy take-profit
        return low <= self.trigger if falls else high >= self.trigger

    def to_json(self) -> dict:
        return {"algoId": self.algo_id, "clientAlgoId": self.client_algo_id, "algoType": "CONDITIONAL",
                "orderType": self.order_type, "symbol": SYMBOL, "side": self.side, "positionSide": "BOTH",
                "timeInForce": "GTC", "quantity": _f(self.quantity, 3), "algoStatus": self.status,
                "actualOrderId": self.actual_order_id, "actualPrice": _f(self.actual_price, 5),
                "triggerPrice": _f(self.trigger, 2), "price": "0.00", "icebergQuantity": None,
                "tpTriggerPrice": "0.000", "tpPrice": "0.000", "slTriggerPrice": "0.000", "slPrice": "0.000",
                "tpOrderType": "", "selfTradePreventionMode": "EXPIRE_MAKER", "workingType": "CONTRACT_PRICE",
                "priceMatch": "NONE", "closePosition": self.close_position, "priceProtect": False,
                "reduceOnly": self.reduce_only, "createTime": self.create_time,
                "updateTime": self.update_time or self.create_time, "triggerTime": self.trigger_time, "goodTillDate": 0}


@dataclass
class FAccount:
    wallet: Decimal
    positions: Dict[str, FPosition] = field(default_factory=dict)


class Futures:
    """The futures side of one :class:`~tests.venue.state.VenueState` (its lock, clock, price path)."""

    def __init__(self, state: Any):
        self.state = state
        self.accounts: Dict[str, FAccount] = {}
        self.orders: Dict[int, FOrder] = {}
        self.trades: List[dict] = []
        self.algos: Dict[int, FAlgo] = {}
        state.listeners.append(self._on_price)

    # -- accounts and prices ---------------------------------------------------------------------
    def fund(self, api_key: str, usdt: float) -> None:
        """Give ``api_key`` (an account of the venue) a futures wallet of ``usdt``."""
        with self.state.lock:
            self.accounts[api_key] = FAccount(Decimal(str(usdt)))

    def account(self, api_key: str) -> FAccount:
        acct = self.accounts.get(api_key)
        if acct is None:
            self.accounts[api_key] = acct = FAccount(ZERO)
        return acct

    def mark(self) -> Decimal:
        return Decimal(repr(self.state.paths[SYMBOL].price))

    def position(self, api_key: str) -> float:
        """The signed position (BTC) of ``api_key`` on BTCUSDT."""
        with self.state.lock:
            return float(self.account(api_key).positions.get(SYMBOL, FPosition()).amt)

    def wallet(self, api_key: str) -> float:
        with self.state.lock:
            return float(self.account(api_key).wallet)

    # -- orders ----------------------------------------------------------------------------------
    def new_order(self, api_key: str, p: dict) -> FOrder:
        """POST /fapi/v1/order (MARKET / LIMIT; module docstring). Raises VenueError."""
        with self.state.lock:
            if p.get("symbol") != SYMBOL:
                raise bad_request(-1121, "Invalid symbol.")
            side, otype = p.get("side", ""), p.get("type", "")
            if side not in ("BUY", "SELL"):
                raise bad_request(-1117, "Invalid side.")
            if otype not in ("MARKET", "LIMIT"):
                raise bad_request(-1116, "Invalid orderType.")
            if p.get("positionSide", "BOTH") != "BOTH":
                raise bad_request(-4061, "Order's position side does not match user's setting.")
            qty = dec(p.get("quantity") or "0", "quantity")
            if qty < MIN_QTY or qty > MAX_QTY or (qty % STEP) != 0:
                raise bad_request(-1111, "Precision is over the maximum defined for this asset.")
            price = ZERO
            if otype == "LIMIT":
                price = dec(p.get("price") or "0", "price")
                if price <= 0 or price % TICK != 0:
                    raise bad_request(-1111, "Precision is over the maximum defined for this asset.")
            reduce_only = str(p.get("reduceOnly", "false")).lower() == "true"
            acct = self.account(api_key)
            pos = acct.positions.get(SYMBOL, FPosition())
            signed = qty if side == "BUY" else -qty
            if reduce_only:
                if pos.amt == 0 or (pos.amt > 0) == (signed > 0):
                    raise bad_request(-2022, "ReduceOnly Order is rejected.")
                qty = min(qty, abs(pos.amt))
            elif (price or self.mark()) * qty < MIN_NOTIONAL:
                raise bad_request(-4164, f"Order's notional must be no smaller than {MIN_NOTIONAL} (unless you choose reduce only).")
            cid = p.get("newClientOrderId") or f"web_{next(_order_ids)}"
            if any(o.client_order_id == cid and o.is_open for o in self.orders.values() if o.account == api_key):
                raise bad_request(-4015, "Client order id is not valid.")
            now = self.state.now()
            order = FOrder(api_key, next(_order_ids), cid, side, otype, qty, price, now, reduce_only,
                           p.get("timeInForce", "GTC") if otype == "LIMIT" else "GTC")
            mark = self.mark()
            if not reduce_only and self._margin_needed(acct, signed, mark) > self._available(acct, mark):
                raise bad_request(-2019, "Margin is insufficient.")
            self.orders[order.order_id] = order
            if otype == "MARKET" or (side == "BUY" and price >= mark) or (side == "SELL" and price <= mark):
                self._fill(order, mark, maker=False)
            return order

    def _margin_needed(self, acct: FAccount, signed: Decimal, mark: Decimal) -> Decimal:
        pos = acct.positions.get(SYMBOL, FPosition())
        grows = abs(pos.amt + signed) - abs(pos.amt)
        return max(grows, ZERO) * mark / LEVERAGE

    def _available(self, acct: FAccount, mark: Decimal) -> Decimal:
        upnl = sum(((mark - p.entry) * p.amt for p in acct.positions.values()), ZERO)
        im = sum((abs(p.amt) * mark / LEVERAGE for p in acct.positions.values()), ZERO)
        return acct.wallet + upnl - im

    def _fill(self, order: FOrder, price: Decimal, *, maker: bool) -> None:
        acct = self.account(order.account)
        pos = acct.positions.setdefault(SYMBOL, FPosition())
        qty = order.orig_qty - order.executed
        if order.reduce_only:
            qty = min(qty, abs(pos.amt))
        signed = qty if order.side == "BUY" else -qty
        realized = ZERO
        if pos.amt and (pos.amt > 0) != (signed > 0):  # reduces (and maybe flips)
            closed = min(abs(signed), abs(pos.amt))
            realized = (price - pos.entry) * closed * (1 if pos.amt > 0 else -1)
        new_amt = pos.amt + signed
        if new_amt == 0:
            pos.entry = ZERO
        elif pos.amt == 0 or (pos.amt > 0) != (new_amt > 0):
            pos.entry = price  # opened or flipped: the rest opens at this price
        elif abs(new_amt) > abs(pos.amt):
            pos.entry = (pos.entry * abs(pos.amt) + price * qty) / abs(new_amt)
        pos.amt, pos.update_time = new_amt, self.state.now()
        fee = (price * qty * (MAKER if maker else TAKER)).quantize(Decimal("0.00000001"))
        acct.wallet += realized - fee
        order.executed += qty
        order.quote += price * qty
        order.status = "FILLED" if order.executed >= order.orig_qty or order.reduce_only else "PARTIALLY_FILLED"
        order.update_time = pos.update_time
        self.trades.append({"symbol": SYMBOL, "id": next(_trade_ids), "orderId": order.order_id, "side": order.side,
                            "price": _f(price, 2), "qty": _f(qty, 3), "realizedPnl": _f(realized),
                            "quoteQty": _f(price * qty, 5), "commission": _f(fee), "commissionAsset": "USDT",
                            "time": pos.update_time, "positionSide": "BOTH", "buyer": order.side == "BUY",
                            "maker": maker, "_account": order.account})

    def new_algo(self, api_key: str, p: dict) -> FAlgo:
        """POST /fapi/v1/algoOrder (module docstring). Raises VenueError."""
        with self.state.lock:
            if p.get("symbol") != SYMBOL:
                raise bad_request(-1121, "Invalid symbol.")
            if p.get("algoType") != "CONDITIONAL":
                raise bad_request(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
            side, otype = p.get("side", ""), p.get("type", "")
            if side not in ("BUY", "SELL"):
                raise bad_request(-1117, "Invalid side.")
            if otype not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
                raise bad_request(-1116, "Invalid orderType.")
            if not p.get("triggerPrice"):
                raise bad_request(-1102, "Mandatory parameter 'triggerPrice' was not sent, was empty/null, or malformed.")
            trigger = dec(p["triggerPrice"], "triggerPrice")
            if trigger % TICK != 0:
                raise bad_request(-1111, "Precision is over the maximum defined for this asset.")
            close = str(p.get("closePosition", "false")).lower() == "true"
            reduce_only = str(p.get("reduceOnly", "false")).lower() == "true"
            if close and (p.get("quantity") or reduce_only):
                raise bad_request(-1106, "Parameter 'quantity' sent when not required." if p.get("quantity")
                                  else "Parameter 'reduceOnly' sent when not required.")
            qty = ZERO if close else dec(p.get("quantity") or "0", "quantity")
            if not close and (qty < MIN_QTY or qty > MAX_QTY or qty % STEP != 0):
                raise bad_request(-1111, "Precision is over the maximum defined for this asset.")
            mark = self.mark()
            algo = FAlgo(api_key, next(_order_ids), p.get("clientAlgoId") or f"web_{next(_order_ids)}", side, otype,
                         qty, trigger, reduce_only, close, self.state.now())
            if algo.crossed(mark, mark):
                raise bad_request(-2021, "Order would immediately trigger.")
            self.algos[algo.algo_id] = algo
            return algo

    def find_algo(self, api_key: str, p: dict) -> FAlgo:
        with self.state.lock:
            for a in self.algos.values():
                if a.account == api_key and (str(a.algo_id) == p.get("algoId")
                                             or (not p.get("algoId") and a.client_algo_id == p.get("clientAlgoId"))):
                    return a
        raise bad_request(-2013, "Order does not exist.")

    def _trigger(self, algo: FAlgo) -> None:
        pos = self.account(algo.account).positions.get(SYMBOL, FPosition())
        qty = abs(pos.amt) if algo.close_position else algo.quantity
        reduces = pos.amt != 0 and (pos.amt > 0) == (algo.side == "SELL")
        now = self.state.now()
        algo.trigger_time = algo.update_time = now
        if (algo.reduce_only or algo.close_position) and not reduces:
            algo.status = "EXPIRED"  # nothing to reduce: the triggered order is refused
            return
        order = FOrder(algo.account, next(_order_ids), algo.client_algo_id, algo.side, "MARKET", qty, ZERO, now,
                       algo.reduce_only or algo.close_position)
        self.orders[order.order_id] = order
        self._fill(order, algo.trigger, maker=False)
        algo.status, algo.actual_order_id, algo.actual_price = "FINISHED", str(order.order_id), algo.trigger

    def _on_price(self, symbol: str, closed_index: Optional[int]) -> None:
        """Conditional orders trigger, resting LIMIT orders fill at their price, when the new
        candle reaches them (state lock held)."""
        if symbol != SYMBOL:
            return
        _, _, high, low, _, _ = self.state.paths[SYMBOL].current
        for a in list(self.algos.values()):
            if a.status == "NEW" and a.crossed(Decimal(repr(low)), Decimal(repr(high))):
                self._trigger(a)
        for o in list(self.orders.values()):
            if o.is_open and o.type == "LIMIT" and (
                    (o.side == "BUY" and Decimal(repr(low)) <= o.price) or (o.side == "SELL" and Decimal(repr(high)) >= o.price)):
                self._fill(o, o.price, maker=True)

    def trade_by_hand(self, api_key: str, side: str, qty: float) -> None:
        """A market order placed at the exchange by the trader (not through this app)."""
        self.new_order(api_key, {"symbol": SYMBOL, "side": side.upper(), "type": "MARKET", "quantity": str(qty)})

    def find(self, api_key: str, p: dict) -> FOrder:
        if p.get("symbol") != SYMBOL:
            raise bad_request(-1121, "Invalid symbol.")
        with self.state.lock:
            for o in self.orders.values():
                if o.account == api_key and (str(o.order_id) == p.get("orderId")
                                             or (not p.get("orderId") and o.client_order_id == p.get("origClientOrderId"))):
                    return o
        raise bad_request(-2013, "Order does not exist.")

    # -- answers ---------------------------------------------------------------------------------
    def account_json(self, api_key: str) -> dict:
        """GET /fapi/v3/account (module docstring)."""
        with self.state.lock:
            acct, mark = self.account(api_key), self.mark()
            pos = [p for p in acct.positions.values() if p.amt]
            upnl = sum(((mark - p.entry) * p.amt for p in pos), ZERO)
            im = sum((abs(p.amt) * mark / LEVERAGE for p in pos), ZERO)
            mm = sum((abs(p.amt) * mark * Decimal("0.004") for p in pos), ZERO)
            avail = acct.wallet + upnl - im
            now = self.state.now()
            asset = {"asset": "USDT", "walletBalance": _f(acct.wallet), "unrealizedProfit": _f(upnl),
                     "marginBalance": _f(acct.wallet + upnl), "maintMargin": _f(mm), "initialMargin": _f(im),
                     "positionInitialMargin": _f(im), "openOrderInitialMargin": "0.00000000",
                     "crossWalletBalance": _f(acct.wallet), "crossUnPnl": _f(upnl), "availableBalance": _f(avail),
                     "maxWithdrawAmount": _f(min(avail, acct.wallet)), "updateTime": now}
            return {"totalInitialMargin": _f(im), "totalMaintMargin": _f(mm), "totalWalletBalance": _f(acct.wallet),
                    "totalUnrealizedProfit": _f(upnl), "totalMarginBalance": _f(acct.wallet + upnl),
                    "totalPositionInitialMargin": _f(im), "totalOpenOrderInitialMargin": "0.00000000",
                    "totalCrossWalletBalance": _f(acct.wallet), "totalCrossUnPnl": _f(upnl),
                    "availableBalance": _f(avail), "maxWithdrawAmount": _f(min(avail, acct.wallet)),
                    "assets": [asset],
                    "positions": [{"symbol": SYMBOL, "positionSide": "BOTH", "positionAmt": _f(p.amt, 3),
                                   "unrealizedProfit": _f((mark - p.entry) * p.amt), "isolatedMargin": "0",
                                   "notional": _f(p.amt * mark), "isolatedWallet": "0",
                                   "initialMargin": _f(abs(p.amt) * mark / LEVERAGE),
                                   "maintMargin": _f(abs(p.amt) * mark * Decimal("0.004")),
                                   "updateTime": p.update_time} for p in pos]}

    def position_risk(self, api_key: str, p: dict) -> list:
        """GET /fapi/v3/positionRisk (module docstring)."""
        with self.state.lock:
            if p.get("symbol") and p["symbol"] != SYMBOL:
                raise bad_request(-1121, "Invalid symbol.")
            mark, out = self.mark(), []
            for sym, pos in self.account(api_key).positions.items():
                if not pos.amt:
                    continue
                notional = pos.amt * mark
                out.append({"symbol": sym, "positionSide": "BOTH", "positionAmt": _f(pos.amt, 3),
                            "entryPrice": _f(pos.entry), "breakEvenPrice": _f(pos.entry), "markPrice": _f(mark),
                            "unRealizedProfit": _f((mark - pos.entry) * pos.amt), "liquidationPrice": "0",
                            "isolatedMargin": "0", "notional": _f(notional), "marginAsset": "USDT",
                            "isolatedWallet": "0", "initialMargin": _f(abs(notional) / LEVERAGE),
                            "maintMargin": _f(abs(notional) * Decimal("0.004")),
                            "positionInitialMargin": _f(abs(notional) / LEVERAGE), "openOrderInitialMargin": "0",
                            "adl": 1, "bidNotional": "0", "askNotional": "0", "updateTime": pos.update_time})
            return out

    def user_trades(self, api_key: str, p: dict) -> list:
        """GET /fapi/v1/userTrades (``orderId``, ``startTime``, ``endTime``, ``fromId``, ``limit``)."""
        with self.state.lock:
            if p.get("symbol") != SYMBOL:
                raise bad_request(-1121, "Invalid symbol.")
            rows = [t for t in self.trades if t["_account"] == api_key]
            if p.get("orderId"):
                rows = [t for t in rows if str(t["orderId"]) == p["orderId"]]
            if p.get("fromId"):
                rows = [t for t in rows if t["id"] >= int(p["fromId"])]
            if p.get("startTime"):
                rows = [t for t in rows if t["time"] >= int(p["startTime"])]
            if p.get("endTime"):
                rows = [t for t in rows if t["time"] <= int(p["endTime"])]
            return [{k: v for k, v in t.items() if k != "_account"} for t in rows[: min(int(p.get("limit") or 500), 1000)]]


def endpoints(public: str, user_data: str, trade: str) -> Dict[tuple, tuple]:
    """(method, path) -> (handler(server, params, api_key), security, weight) of the /fapi routes."""

    def order_answer(o: FOrder, p: dict) -> dict:
        j = o.to_json()
        if p.get("newOrderRespType", "ACK") == "ACK":  # accepted, nothing executed yet in the answer
            j.update(status="NEW", executedQty="0.000", cumQty="0.000", cumQuote="0.00000", avgPrice="0.00")
        return j

    def cancel(s: Any, p: dict, k: str) -> dict:
        o = s.state.futures.find(k, p)
        with s.state.lock:
            if not o.is_open:
                raise bad_request(-2011, "Unknown order sent.")
            o.status, o.update_time = "CANCELED", s.state.now()
        return o.to_json()

    def klines(s: Any, p: dict, k: Optional[str]) -> list:
        if p.get("symbol") != SYMBOL:
            raise bad_request(-1121, "Invalid symbol.")
        return s.h_klines(p, k)

    def ticker(s: Any, p: dict, k: Optional[str]) -> Any:
        if p.get("symbol") not in (None, SYMBOL):
            raise bad_request(-1121, "Invalid symbol.")
        t = s._ticker(SYMBOL)
        keep = ("symbol", "priceChange", "priceChangePercent", "weightedAvgPrice", "lastPrice", "lastQty",
                "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume", "openTime", "closeTime",
                "firstId", "lastId", "count")
        t = {key: v for key, v in t.items() if key in keep}
        return t if p.get("symbol") else [t]

    def exchange_info(s: Any, p: dict, k: Optional[str]) -> dict:
        return {"timezone": "UTC", "serverTime": s.state.now(), "futuresType": "U_MARGINED",
                "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                               {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}],
                "exchangeFilters": [], "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
                "symbols": [exchange_info_symbol()]}

    def open_orders(s: Any, p: dict, k: str) -> list:
        if p.get("symbol") not in (None, SYMBOL):
            raise bad_request(-1121, "Invalid symbol.")
        with s.state.lock:
            return [o.to_json() for o in s.state.futures.orders.values() if o.account == k and o.is_open]

    def brackets(s: Any, p: dict, k: str) -> list:
        if p.get("symbol") not in (None, SYMBOL):
            raise bad_request(-1121, "Invalid symbol.")
        return [{"symbol": SYMBOL, "notionalCoef": 1.0, "brackets": [
            {"bracket": i + 1, "initialLeverage": lev, "notionalCap": cap, "notionalFloor": floor,
             "maintMarginRatio": mmr, "cum": cum}
            for i, (lev, floor, cap, mmr, cum) in enumerate(BRACKETS)]}]

    def new_order(s: Any, p: dict, k: str) -> dict:
        return order_answer(s.state.futures.new_order(k, p), p)

    def open_algos(s: Any, p: dict, k: str) -> list:
        if p.get("symbol") not in (None, SYMBOL):
            raise bad_request(-1121, "Invalid symbol.")
        with s.state.lock:
            return [a.to_json() for a in s.state.futures.algos.values() if a.account == k and a.status == "NEW"]

    def cancel_algo(s: Any, p: dict, k: str) -> dict:
        a = s.state.futures.find_algo(k, p)
        with s.state.lock:
            if a.status != "NEW":
                raise bad_request(-2011, "Unknown order sent.")
            a.status, a.update_time = "CANCELED", s.state.now()
        return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}

    return {
        ("GET", "/fapi/v1/ping"): (lambda s, p, k: {}, public, 1),
        ("GET", "/fapi/v1/time"): (lambda s, p, k: {"serverTime": s.state.now()}, public, 1),
        ("GET", "/fapi/v1/exchangeInfo"): (exchange_info, public, 1),
        ("GET", "/fapi/v1/klines"): (klines, public, 5),
        ("GET", "/fapi/v1/ticker/24hr"): (ticker, public, lambda p: 1 if p.get("symbol") else 40),
        ("GET", "/fapi/v1/leverageBracket"): (brackets, user_data, 1),
        ("GET", "/fapi/v3/account"): (lambda s, p, k: s.state.futures.account_json(k), user_data, 5),
        ("GET", "/fapi/v3/positionRisk"): (lambda s, p, k: s.state.futures.position_risk(k, p), user_data, 5),
        ("POST", "/fapi/v1/order"): (new_order, trade, 0),
        ("GET", "/fapi/v1/order"): (lambda s, p, k: s.state.futures.find(k, p).to_json(), user_data, 1),
        ("DELETE", "/fapi/v1/order"): (cancel, trade, 1),
        ("GET", "/fapi/v1/openOrders"): (open_orders, user_data, lambda p: 1 if p.get("symbol") else 40),
        ("POST", "/fapi/v1/algoOrder"): (lambda s, p, k: s.state.futures.new_algo(k, p).to_json(), trade, 0),
        ("GET", "/fapi/v1/algoOrder"): (lambda s, p, k: s.state.futures.find_algo(k, p).to_json(), user_data, 1),
        ("DELETE", "/fapi/v1/algoOrder"): (cancel_algo, trade, 1),
        ("GET", "/fapi/v1/openAlgoOrders"): (open_algos, user_data, lambda p: 1 if p.get("symbol") else 40),
        ("GET", "/fapi/v1/userTrades"): (lambda s, p, k: s.state.futures.user_trades(k, p), user_data, 5),
    }
