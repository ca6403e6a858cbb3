"""Stop orders and OCO order lists of the local venue (a mixin of :class:`tests.venue.state.VenueState`).

Order types (POST /api/v3/order, ``stopPrice`` required):

* ``STOP_LOSS_LIMIT`` / ``TAKE_PROFIT_LIMIT`` (``price``, ``timeInForce``, ``quantity``) and the
  market variants ``STOP_LOSS`` / ``TAKE_PROFIT`` (``quantity``).
* A stop order rests untriggered (``isWorking`` false) and reserves what it would spend (base on
  a sell, quote at ``price`` -- or ``stopPrice`` for the market variants -- on a buy).
* Trigger: a SELL stop-loss when the price path's low reaches ``stopPrice`` (BUY: the high), a
  SELL take-profit when the high reaches it (BUY: the low); a ``set_price`` is a path of one
  price. Once triggered, a market variant fills in full at ``stopPrice`` (taker); a limit variant
  fills at ``stopPrice`` (taker) when its limit is marketable there (sell: ``price <= stopPrice``,
  buy: ``price >= stopPrice``), otherwise it rests as a plain limit order.
* An order whose trigger is already crossed when placed is refused: ``-2010 Stop price would
  trigger immediately.``

OCO (POST /api/v3/orderList/oco, as ccxt 4.5's ``private_post_orderlist_oco`` calls it):
``symbol, side, quantity, listClientOrderId, aboveType, abovePrice, aboveStopPrice,
aboveTimeInForce, aboveClientOrderId`` and the same ``below*`` fields. SELL: above is
``LIMIT_MAKER`` / ``TAKE_PROFIT`` / ``TAKE_PROFIT_LIMIT``, below ``STOP_LOSS`` /
``STOP_LOSS_LIMIT``; BUY the other way round. The two legs share one reservation of the quantity
(sell) or of the larger quote amount (buy). When one leg triggers or fills, the other expires
(status ``EXPIRED``), as on Binance; canceling one leg (DELETE /api/v3/order) or the list
(DELETE /api/v3/orderList, by ``orderListId`` or ``listClientOrderId``) cancels both.
"""
from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any, List, Optional

STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
ABOVE_SELL = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
BELOW_SELL = ("STOP_LOSS", "STOP_LOSS_LIMIT")
_list_ids = itertools.count(9_100)


def _missing(name: str) -> Exception:
    from .state import bad_request

    return bad_request(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


class StopOrders:
    """Stop orders and OCO lists on top of the plain order book (module docstring). Uses the
    host's ``lock``, ``accounts``, ``orders``, ``paths`` and its helpers."""

    lock: Any
    accounts: Any
    orders: Any
    paths: Any

    # -- placing -------------------------------------------------------------------------------
    def _stop_order(self, acct: Any, rules: Any, p: dict, otype: str, cid: str, *, side: str,
                    list_id: int = -1, list_cid: str = "", reserve: bool = True) -> Any:
        from .state import ZERO, VenueOrder, bad_request, dec

        if otype not in STOP_TYPES and otype != "LIMIT_MAKER":
            raise bad_request(-1116, "Invalid orderType.")
        price_now = Decimal(repr(self.paths[rules.symbol].price))
        if not p.get("quantity"):
            raise _missing("quantity")
        qty = dec(p["quantity"], "quantity")
        self._check_lot(rules, qty)  # type: ignore[attr-defined]
        stop = price = ZERO
        if otype != "LIMIT_MAKER":
            if not p.get("stopPrice"):
                raise _missing("stopPrice")
            stop = dec(p["stopPrice"], "stopPrice")
            self._check_price(rules, stop, price_now)  # type: ignore[attr-defined]
        if otype.endswith("_LIMIT") or otype == "LIMIT_MAKER":
            if otype != "LIMIT_MAKER" and not p.get("timeInForce"):
                raise _missing("timeInForce")
            if not p.get("price"):
                raise _missing("price")
            price = dec(p["price"], "price")
            self._check_price(rules, price, price_now)  # type: ignore[attr-defined]
        if otype == "LIMIT_MAKER":
            if (side == "BUY" and price >= price_now) or (side == "SELL" and price <= price_now):
                raise bad_request(-2010, "Order would immediately match and take.")
        elif self._crossed(side, otype, stop, price_now, price_now):
            raise bad_request(-2010, "Stop price would trigger immediately.")
        ref = price if price else stop
        if rules.min_notional and ref * qty < rules.min_notional:
            raise bad_request(-1013, "Filter failure: MIN_NOTIONAL")
        need_asset, need = (rules.quote, qty * ref) if side == "BUY" else (rules.base, qty)
        if reserve and acct.free.get(need_asset, ZERO) < need:
            raise bad_request(-2010, "Account has insufficient balance for requested action.")
        now = self.now()  # type: ignore[attr-defined]
        order = VenueOrder(account=acct.api_key, symbol=rules.symbol, order_id=next(self._order_ids),  # type: ignore[attr-defined]
                           client_order_id=cid, side=side, type=otype, time_in_force=p.get("timeInForce") or "GTC",
                           price=price, orig_qty=qty, orig_quote_qty=ZERO, time=now, update_time=now)
        order.stop_price, order.triggered = stop, otype == "LIMIT_MAKER"
        order.order_list_id, order.list_client_id = list_id, list_cid
        order.locked_asset = need_asset
        if reserve:
            acct.free[need_asset] -= need
            acct.add(need_asset, locked=need)
            order.locked_left = need
        self.orders[order.order_id] = order
        return order

    def new_oco(self, api_key: str, p: dict) -> List[Any]:
        """Place an OCO list from POST /api/v3/orderList/oco parameters; returns its two legs
        (above, below)."""
        from .state import bad_request

        with self.lock:
            acct = self.accounts[api_key]
            rules = self.rules_for(p.get("symbol"))  # type: ignore[attr-defined]
            side = p.get("side", "")
            if side not in ("BUY", "SELL"):
                raise _missing("side")
            above_t, below_t = p.get("aboveType", ""), p.get("belowType", "")
            if not above_t:
                raise _missing("aboveType")
            if not below_t:
                raise _missing("belowType")
            ok_above, ok_below = (ABOVE_SELL, BELOW_SELL) if side == "SELL" else (
                ("STOP_LOSS", "STOP_LOSS_LIMIT"), ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"))
            if above_t not in ok_above or below_t not in ok_below:
                raise bad_request(-1167, "Unsupported order list type combination.")
            list_id = next(_list_ids)
            list_cid = p.get("listClientOrderId") or f"venuelist{list_id}"
            legs = []
            for where, otype in (("above", above_t), ("below", below_t)):
                leg_p = {"quantity": p.get("quantity"), "price": p.get(f"{where}Price"),
                         "stopPrice": p.get(f"{where}StopPrice"), "timeInForce": p.get(f"{where}TimeInForce")}
                cid = p.get(f"{where}ClientOrderId") or f"venue{list_id}{where}"
                legs.append((otype, cid, leg_p))
            placed: List[Any] = []
            try:
                for i, (otype, cid, leg_p) in enumerate(legs):
                    placed.append(self._stop_order(acct, rules, leg_p, otype, cid, side=side, list_id=list_id,
                                                   list_cid=list_cid, reserve=i == 0))
            except Exception:
                for o in placed:  # all or nothing
                    self._release(o)  # type: ignore[attr-defined]
                    del self.orders[o.order_id]
                raise
            if side == "BUY" and placed[1].price * placed[1].orig_qty > placed[0].locked_left:
                extra = placed[1].orig_qty * (placed[1].price or placed[1].stop_price) - placed[0].locked_left
                acct.free[rules.quote] -= extra
                acct.add(rules.quote, locked=extra)
                placed[0].locked_left += extra
            return placed

    def list_legs(self, order: Any) -> List[Any]:
        """Every leg of ``order``'s OCO list (just ``order`` when it is not in one)."""
        if order.order_list_id < 0:
            return [order]
        return [o for o in self.orders.values() if o.order_list_id == order.order_list_id]

    def cancel_list(self, api_key: str, symbol: str, list_id: Optional[str], list_cid: Optional[str]) -> List[Any]:
        """Cancel an OCO list (DELETE /api/v3/orderList); returns its legs."""
        from .state import bad_request

        with self.lock:
            self.rules_for(symbol)  # type: ignore[attr-defined]
            if not list_id and not list_cid:
                raise bad_request(-1102, "Param 'orderListId' or 'listClientOrderId' must be sent, but both were empty/null!")
            legs = [o for o in self.orders.values() if o.account == api_key and o.symbol == symbol
                    and o.order_list_id >= 0 and (str(o.order_list_id) == list_id or o.list_client_id == list_cid)]
            if not legs or not any(o.is_open for o in legs):
                raise bad_request(-2011, "Unknown order list sent.")
            for o in legs:
                if o.is_open:
                    self._cancel(o)  # type: ignore[attr-defined]
            return legs

    # -- matching ------------------------------------------------------------------------------
    @staticmethod
    def _crossed(side: str, otype: str, stop: Decimal, low: Decimal, high: Decimal) -> bool:
        if otype.startswith("STOP_LOSS"):
            return low <= stop if side == "SELL" else high >= stop
        return high >= stop if side == "SELL" else low <= stop

    def _expire_siblings(self, order: Any) -> None:
        """``order`` of an OCO list is about to execute: the other legs expire, their share of
        the list's reservation moves to ``order``."""
        for o in self.list_legs(order):
            if o is not order and o.is_open:
                order.locked_left += o.locked_left
                o.locked_left = Decimal(0)
                self._cancel(o, status="EXPIRED")  # type: ignore[attr-defined]

    def _trigger_stops(self, symbol: str, low: float, high: float) -> None:
        """Trigger the stop orders of ``symbol`` that the range ``[low, high]`` reaches."""
        lo, hi = Decimal(repr(low)), Decimal(repr(high))
        for order in list(self.orders.values()):
            if order.symbol != symbol or not order.is_open or order.triggered:
                continue
            if not self._crossed(order.side, order.type, order.stop_price, lo, hi):
                continue
            order.triggered = True
            self._expire_siblings(order)
            marketable = not order.type.endswith("_LIMIT") or (
                order.price <= order.stop_price if order.side == "SELL" else order.price >= order.stop_price)
            if marketable:
                self._fill(order, order.stop_price, maker=False)  # type: ignore[attr-defined]
