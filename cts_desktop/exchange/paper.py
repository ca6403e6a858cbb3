"""The paper exchange: a simulated account's order matching against candles.

Fill rules (the simulator's assumptions, also in the README):

* A **market order** placed on the close of candle *t* fills on the next candle of its symbol,
  *t+1*, at that candle's **open**, moved against the trader by ``slippage`` (a fraction:
  buy at ``open * (1 + slippage)``, sell at ``open * (1 - slippage)``), taker fee.
  Its fill timestamp is candle *t+1*'s open time.
* A **limit order** fills on the first later candle whose range reaches the limit: a buy when
  ``low <= price`` (at ``min(open, price)``: a candle that opens through the limit fills at the
  open), a sell when ``high >= price`` (at ``max(open, price)``); maker fee. Whole fills only.
* **Triggered exits** (stop-loss, take-profit) fill inside the candle that touches them at the
  trigger price, or at the open when the candle opens beyond it (a gap), taker fee; see
  ``engine/core.py`` for the order of checks when both are touched in one candle.
* Fee = notional * fee rate, charged in the quote currency (``Fill.fee``).
* Prices are rounded to the market's price step (ccxt ``ROUND``/``TICK_SIZE``).
* **Funds at the fill (spot only)**: an order is sized on the deciding candle's close but fills
  at the next open, so a buy that fitted the cash may no longer fit. A spot buy (not
  ``reduce_only``) whose cost plus fee exceeds the cash available at the fill (``funds()``,
  quote) is reduced to what fits: the amount truncated down to the market's amount step, fee
  included, and ``on_reduced(order, message, ts)`` says so; when nothing that fits is left (below
  one step, the minimum amount or the minimum cost) the order is refused:
  ``on_reject(order, reason)``. Perpetuals (``swap``) are not checked here: their rule is
  margin, not cash, and is left to the risk checks at the decision.

Synchronous on purpose: the same object serves the async replay engine and the backtest loop,
so the two give identical fills.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Tuple

from ..core.models import (BUY, CANCELED, CLOSED, FILLED, REJECTED, STATE_CANCELED, STATE_OPEN, FAILED,
                           Candle, Fill, Market, Order)


class PaperError(Exception):
    """An order the paper exchange refuses (unknown symbol, bad amount or price)."""


def round_price(price: float, step: float) -> float:
    """``price`` rounded to a multiple of ``step`` (quote)."""
    if step <= 0:
        return price
    # round() on the step count is exact enough for the step sizes markets use, and this sits on
    # the fill path, where ccxt's Decimal-based helper would cost ~7 us a call.
    return round(round(price / step) * step, 12)


class PaperExchange:
    """Matches orders of one simulated account.

    ``markets``: symbol -> :class:`Market`. ``fee``: taker/maker fee override (fraction), or
    None for each market's own schedule. ``slippage``: fraction applied to market fills.
    ``funds``: the quote cash a new spot buy may spend now (None: no check at the fill);
    ``on_reduced(order, message, ts)`` and ``on_reject(order, reason)``: told when a spot buy
    no longer fits at its fill (see the module docstring).
    """

    def __init__(self, markets: Dict[str, Market], *, fee: Optional[float] = None, slippage: float = 0.0,
                 funds: Optional[Callable[[], float]] = None,
                 on_reduced: Optional[Callable[[Order, str, int], None]] = None,
                 on_reject: Optional[Callable[[Order, str], None]] = None):
        if fee is not None and not 0 <= fee < 0.1:
            raise ValueError(f"fee must be a fraction in [0, 0.1), got {fee}")
        if not 0 <= slippage < 0.1:
            raise ValueError(f"slippage must be a fraction in [0, 0.1), got {slippage}")
        self.markets = markets
        self.fee_override = fee
        self.slippage = slippage
        self._pending: Dict[str, List[Order]] = {}
        self.funds = funds
        self.on_reduced = on_reduced
        self.on_reject = on_reject

    def taker_fee(self, symbol: str) -> float:
        return self.fee_override if self.fee_override is not None else self.markets[symbol].taker_fee

    def maker_fee(self, symbol: str) -> float:
        return self.fee_override if self.fee_override is not None else self.markets[symbol].maker_fee

    @property
    def resting(self) -> Dict[str, List[Order]]:
        """symbol -> the orders resting here (the same dict for the exchange's life: a hot loop
        may keep it and test ``resting.get(symbol)`` instead of calling :meth:`has_pending_on`)."""
        return self._pending

    @property
    def has_pending(self) -> bool:
        return any(self._pending.values())

    def has_pending_on(self, symbol: str) -> bool:
        """True when orders of ``symbol`` rest here (the next candle of ``symbol`` may fill them)."""
        return bool(self._pending.get(symbol))

    def open_orders(self) -> List[Order]:
        return [o for orders in self._pending.values() for o in orders]

    def submit(self, order: Order, timestamp: int) -> Order:
        """Accept ``order`` (it fills on a later candle). Raises :class:`PaperError`."""
        market = self.markets.get(order.symbol)
        if market is None:
            order.state, order.status, order.error = FAILED, REJECTED, f"unknown symbol {order.symbol}"
            raise PaperError(order.error)
        if not order.amount > 0:
            order.state, order.status, order.error = FAILED, REJECTED, f"amount must be > 0, got {order.amount}"
            raise PaperError(order.error)
        if order.type == "limit" and not (order.price and order.price > 0):
            order.state, order.status, order.error = FAILED, REJECTED, "a limit order needs a price > 0"
            raise PaperError(order.error)
        # Ids derive from the clientOrderId (unique across runs), not from a counter of this
        # process, so a resumed run can never reuse the id of an order or fill from before.
        order.id = order.id or f"paper-{order.clientOrderId}"
        order.timestamp = order.timestamp or timestamp
        order.state = STATE_OPEN
        order.status = "open"
        order.remaining = order.amount - order.filled
        self._pending.setdefault(order.symbol, []).append(order)
        return order

    def cancel(self, order: Order) -> bool:
        """Cancel a resting order; False when it is no longer open."""
        orders = self._pending.get(order.symbol, [])
        if order in orders:
            orders.remove(order)
            order.state, order.status = STATE_CANCELED, CANCELED
            return True
        return False

    def on_candle(self, symbol: str, candle: Candle) -> List[Tuple[Order, Fill]]:
        """Match the resting orders of ``symbol`` against ``candle``; return what filled."""
        orders = self._pending.get(symbol)
        if not orders:
            return []
        ts, o, h, low, _c, _v = candle
        done: List[Tuple[Order, Fill]] = []
        keep: List[Order] = []
        for order in orders:
            if order.timestamp > ts:
                keep.append(order)  # placed after this candle opened: not yet eligible
                continue
            if order.type == "market":
                price = o * (1 + self.slippage) if order.side == BUY else o * (1 - self.slippage)
                if self._fits(order, price, self.taker_fee(symbol), ts):
                    done.append((order, self._fill(order, price, ts, self.taker_fee(symbol), "taker")))
            elif order.price is None:
                keep.append(order)  # a limit order without a price (submit refuses one) never matches
            elif order.side == BUY and low <= order.price:
                if self._fits(order, min(o, order.price), self.maker_fee(symbol), ts):
                    done.append((order, self._fill(order, min(o, order.price), ts, self.maker_fee(symbol), "maker")))
            elif order.side != BUY and h >= order.price:
                done.append((order, self._fill(order, max(o, order.price), ts, self.maker_fee(symbol), "maker")))
            else:
                keep.append(order)
        self._pending[symbol] = keep
        return done

    def fill_now(self, order: Order, price: float, timestamp: int) -> Fill:
        """Fill ``order`` at once at ``price`` (a triggered stop-loss/take-profit), taker fee."""
        if order.symbol not in self.markets:
            raise PaperError(f"unknown symbol {order.symbol}")
        order.id = order.id or f"paper-{order.clientOrderId}"
        order.timestamp = order.timestamp or timestamp
        return self._fill(order, price, timestamp, self.taker_fee(order.symbol), "taker")

    def _fits(self, order: Order, price: float, fee_rate: float, ts: int) -> bool:
        """True when ``order`` may fill at ``price`` (after reducing it to what the funds pay for,
        spot buys only); False when it was refused for lack of funds."""
        market = self.markets[order.symbol]
        if self.funds is None or order.side != BUY or order.reduce_only or market.type != "spot":
            return True
        price = round_price(price, market.price_step)
        amount = order.amount - order.filled
        available = self.funds()
        if amount * price + amount * price * fee_rate <= available:
            return True
        fits = _affordable(available, price, fee_rate, market.amount_step)
        cost = f"{amount * price * (1 + fee_rate):,.2f} {market.quote} with the fee"
        if fits <= 0 or fits < market.min_amount or fits * price < market.min_cost:
            reason = (f"insufficient funds at the fill: {amount:g} {market.base} at {price:g} costs {cost}, "
                      f"{available:,.2f} {market.quote} available")
            order.state, order.status, order.error = FAILED, REJECTED, reason
            if self.on_reject is not None:
                self.on_reject(order, reason)
            return False
        message = (f"order {order.clientOrderId}: {amount:g} {market.base} at the fill price {price:g} costs {cost}, "
                   f"more than the {available:,.2f} {market.quote} available: reduced to {fits:g} {market.base}")
        order.amount = order.filled + fits
        if self.on_reduced is not None:
            self.on_reduced(order, message, ts)
        return True

    def _fill(self, order: Order, price: float, ts: int, fee_rate: float, liquidity: str) -> Fill:
        market = self.markets[order.symbol]
        price = round_price(price, market.price_step)
        amount = order.amount - order.filled
        fee = amount * price * fee_rate
        fill = Fill(
            # whole fills only: one fill per order
            id=f"{order.id}-fill", order_id=order.id or "", clientOrderId=order.clientOrderId,
            symbol=order.symbol, side=order.side, amount=amount, price=price, timestamp=ts,
            fee=fee, fee_currency=market.quote, takerOrMaker=liquidity,
        )
        order.filled = order.amount
        order.remaining = 0.0
        order.average = price
        order.cost = amount * price
        order.fee += fee
        order.fee_currency = market.quote
        order.status = CLOSED
        order.state = FILLED
        return fill


def _affordable(cash: float, price: float, fee_rate: float, step: float) -> float:
    """The largest amount (base), a multiple of ``step``, whose cost ``amount * price`` plus the
    fee ``amount * price * fee_rate`` is at most ``cash`` (quote); 0 when not even one step."""
    if cash <= 0 or price <= 0:
        return 0.0
    if step <= 0:
        return cash / (price * (1 + fee_rate))
    steps = math.floor(cash / (price * (1 + fee_rate)) / step)
    while steps > 0:
        amount = round(steps * step, 12)
        if amount * price + amount * price * fee_rate <= cash:
            return amount
        steps -= 1
    return 0.0
