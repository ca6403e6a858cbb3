"""CcxtGateway against the local venue with the real ccxt binance client: markets, order
lifecycle, fills, balances, candles, error kinds, and no secret in any error."""
from __future__ import annotations

import asyncio

import ccxt
import pytest

from cts_desktop.core.models import CANCELED, CLOSED, FILLED, OPEN, STATE_CANCELED, STATE_OPEN, Order
from cts_desktop.exchange.ccxt_gateway import CcxtGateway, create_exchange
from cts_desktop.exchange.errors import GatewayError, map_exception, redact
from tests.venue.harness import API_KEY, API_SECRET, READ_ONLY_KEY, READ_ONLY_SECRET, connection_for

pytestmark = pytest.mark.timeout(60)
SECRETS = {"apiKey": API_KEY, "secret": API_SECRET}


@pytest.fixture
def funded(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1, "ETH": 5})
    venue.add_account(READ_ONLY_KEY, READ_ONLY_SECRET, {"USDT": 100}, permissions=("read",))
    return venue


def gateway(v, secrets=SECRETS, **conn) -> CcxtGateway:
    conn.setdefault("rate_limit_per_second", 500)
    gw = CcxtGateway(connection_for(v, **conn), secrets)
    gw.exchange.timeout_on_exit = 0  # no linger on close in tests
    return gw


def with_gateway(v, body, secrets=SECRETS, **conn):
    async def main():
        async with gateway(v, secrets, **conn) as gw:
            return await body(gw)
    return asyncio.run(main())


def gateway_error(v, body, secrets=SECRETS, **conn) -> GatewayError:
    async def wrapped(gw):
        with pytest.raises(GatewayError) as info:
            await body(gw)
        return info.value
    err = with_gateway(v, wrapped, secrets, **conn)
    assert err.__cause__ is None and err.__suppress_context__  # no ccxt message chained into tracebacks
    for secret in (API_KEY, API_SECRET, READ_ONLY_KEY, READ_ONLY_SECRET):
        assert secret not in err.message and secret not in repr(err)
    assert "signature=" not in err.message and "?" not in err.message.split("said:")[0]
    return err


# --------------------------------------------------------------------------- create_exchange


def test_create_exchange_configuration(venue):
    ex = create_exchange(connection_for(venue, rate_limit_per_second=4, market_type="spot"), SECRETS)
    try:
        assert ex.id == "binance" and ex.enableRateLimit and ex.rateLimit == 250
        assert ex.options["defaultType"] == "spot" and ex.apiKey == API_KEY
        assert ex.urls["api"]["public"] == venue.base_url + "/api/v3"
        assert ex.urls["api"]["sapi"] == venue.base_url + "/sapi/v1"  # kept from production urls
        assert all(u.startswith(venue.base_url) for u in ex.urls["api"].values())
        assert ex.isSandboxModeEnabled
    finally:
        asyncio.run(ex.close())
    plain = create_exchange(connection_for(venue, base_url="", testnet=True), {})
    assert plain.urls["api"]["public"].startswith("https://testnet.binance.vision")
    with pytest.raises(GatewayError) as info:
        create_exchange(connection_for(venue, exchange="paper"), {})
    assert info.value.kind == "not-supported"
    with pytest.raises(GatewayError) as info:
        create_exchange(connection_for(venue, exchange="nosuchexchange"), {})
    assert info.value.kind == "not-supported"
    with pytest.raises(GatewayError) as info:  # a live connection must not silently fall back to production
        create_exchange(connection_for(venue, exchange="bitstamp", base_url="", testnet=True, live=True), {})
    assert info.value.kind == "not-supported"


def test_markets_are_our_market_type(funded):
    async def body(gw):
        await gw.load_markets()
        return gw.markets()
    markets = with_gateway(funded, body)
    btc = markets["BTC/USDT"]
    assert (btc.base, btc.quote, btc.type) == ("BTC", "USDT", "spot")
    assert btc.amount_step == 1e-05 and btc.price_step == 0.01
    assert btc.min_amount == 1e-05 and btc.min_cost == 10.0
    assert btc.taker_fee == 0.001 and btc.maker_fee == 0.001
    ada = markets["ADA/BTC"]
    assert ada.amount_step == 0.1 and ada.price_step == 1e-08 and ada.min_cost == 0.0001
    assert with_gateway(funded, body, fee=0.00075)["BTC/USDT"].taker_fee == 0.00075


# --------------------------------------------------------------------------- orders


def test_market_order_lifecycle(funded):
    price = funded.price("BTCUSDT")

    async def body(gw):
        order = Order(clientOrderId="cts-m-1", symbol="BTC/USDT", side="buy", type="market", amount=0.0123456)
        placed = await gw.create_order(order)
        trades = await gw.fetch_my_trades("BTC/USDT")
        balance = await gw.fetch_balance()
        return placed, trades, balance
    order, trades, balance = with_gateway(funded, body)
    assert order.amount == 0.01234  # truncated to the 1e-5 lot step by ccxt's amount_to_precision
    assert order.id and order.status == CLOSED and order.state == FILLED
    assert order.filled == 0.01234 and order.remaining == 0 and order.average == price
    assert order.cost == pytest.approx(0.01234 * price)
    # Binance takes the buy fee in BTC; the order reports it in USDT (quote)
    assert order.fee == pytest.approx(0.01234 * 0.001 * price, rel=1e-6) and order.fee_currency == "USDT"
    assert len(trades) == 1
    fill = trades[0]
    assert (fill.order_id, fill.side, fill.amount, fill.price, fill.takerOrMaker) == (order.id, "buy", 0.01234, price, "taker")
    assert fill.fee == pytest.approx(order.fee) and fill.fee_currency == "USDT"
    assert balance["BTC"]["total"] == pytest.approx(1 + 0.01234 * 0.999)
    assert balance["USDT"]["free"] == pytest.approx(10_000 - 0.01234 * price)


def test_limit_order_place_query_fill_cancel(funded):
    price = funded.price("BTCUSDT")

    async def place(gw):
        buy = Order(clientOrderId="cts-l-1", symbol="BTC/USDT", side="buy", type="limit", amount=0.05, price=price * 0.97 + 0.004)
        other = Order(clientOrderId="cts-l-2", symbol="BTC/USDT", side="sell", type="limit", amount=0.05, price=price * 1.03)
        await gw.create_order(buy)
        await gw.create_order(other)
        return buy, other, await gw.fetch_open_orders("BTC/USDT"), await gw.fetch_open_orders()
    buy, other, open_btc, open_all = with_gateway(funded, place)
    assert buy.price == round(price * 0.97 + 0.004, 2)  # price_to_precision: 0.01 tick
    assert buy.status == OPEN and buy.state == STATE_OPEN and buy.filled == 0 and buy.remaining == 0.05
    assert {o.clientOrderId for o in open_btc} == {"cts-l-1", "cts-l-2"} == {o.clientOrderId for o in open_all}
    assert next(o for o in open_btc if o.clientOrderId == "cts-l-1").price == buy.price

    funded.set_price("BTCUSDT", buy.price - 0.5)  # the market trades through the bid

    async def settle(gw):
        by_client_id = Order(clientOrderId="cts-l-1", symbol="BTC/USDT", side="buy", type="limit", amount=0.05, price=buy.price)
        await gw.fetch_order(by_client_id)
        await gw.cancel_order(other)
        with pytest.raises(GatewayError) as info:
            await gw.cancel_order(other)  # already canceled: the exchange does not know it as open
        fills = await gw.fetch_my_trades("BTC/USDT")
        return by_client_id, info.value, fills
    filled, err, fills = with_gateway(funded, settle)
    assert filled.id == buy.id and filled.status == CLOSED and filled.state == FILLED and filled.average == buy.price
    assert other.status == CANCELED and other.state == STATE_CANCELED
    assert err.kind == "order-not-found"
    assert [(f.order_id, f.takerOrMaker) for f in fills] == [(buy.id, "maker")]


def test_cancel_and_query_by_client_id_only(funded):
    price = funded.price("ETHBTC")

    async def body(gw):
        o = Order(clientOrderId="cts-c-1", symbol="ETH/BTC", side="sell", type="limit", amount=0.5, price=price * 1.1)
        await gw.create_order(o)
        anonymous = Order(clientOrderId="cts-c-1", symbol="ETH/BTC", side="sell", type="limit", amount=0.5, price=o.price)
        await gw.cancel_order(anonymous)  # no exchange id: canceled by origClientOrderId
        return o, anonymous
    placed, canceled = with_gateway(funded, body)
    assert canceled.id == placed.id and canceled.status == CANCELED


def test_ohlcv(funded):
    candles = with_gateway(funded, lambda gw: gw.fetch_ohlcv("XRP/ETH", "1m", limit=5))
    assert len(candles) == 5 and all(isinstance(c, tuple) and len(c) == 6 for c in candles)
    assert candles[-1][4] == funded.price("XRPETH")
    gaps = [b[0] - a[0] for a, b in zip(candles, candles[1:])]
    assert all(g > 0 and g % 60_000 == 0 for g in gaps)  # the recording has gaps; spacing stays 1m-aligned


def test_lost_response_order_is_found_by_client_id(funded):
    funded.faults.lose_response(path="/api/v3/order", method="POST", count=1)
    order = Order(clientOrderId="cts-lost-1", symbol="BTC/USDT", side="buy", type="market", amount=0.01)

    async def body(gw):
        with pytest.raises(GatewayError) as info:
            await gw.create_order(order)
        assert order.id is None  # nothing known yet
        await gw.fetch_order(order)
        return info.value
    err = with_gateway(funded, body)
    assert err.kind == "network" and err.transient
    assert order.id and order.status == CLOSED and order.filled == 0.01
    assert [r for r in funded.requests if r == ("POST", "/api/v3/order")] == [("POST", "/api/v3/order")]  # never re-sent


# --------------------------------------------------------------------------- errors


def order(symbol="BTC/USDT", side="buy", type="market", amount=0.01, price=None, cid="cts-e-1"):
    return Order(clientOrderId=cid, symbol=symbol, side=side, type=type, amount=amount, price=price)


def test_insufficient_funds(funded):
    err = gateway_error(funded, lambda gw: gw.create_order(order(amount=5)))
    assert err.kind == "insufficient-funds" and "insufficient balance" in err.message.lower()


def test_order_under_min_notional(funded):
    err = gateway_error(funded, lambda gw: gw.create_order(order(amount=0.0002)))
    assert err.kind == "min-notional" and "minimum" in err.message


def test_amount_below_lot_step_is_invalid_order(funded):
    err = gateway_error(funded, lambda gw: gw.create_order(order(amount=0.000001)))
    assert err.kind == "invalid-order"


def test_price_filter_is_invalid_order(funded):
    price = funded.price("BTCUSDT")
    err = gateway_error(funded, lambda gw: gw.create_order(order(type="limit", amount=0.01, price=price * 10)))
    assert err.kind == "invalid-order" and "PERCENT_PRICE" in err.message


def test_unknown_symbol(funded):
    err = gateway_error(funded, lambda gw: gw.create_order(order(symbol="FOO/USDT")))
    assert err.kind == "bad-symbol" and "FOO/USDT" in err.message
    err = gateway_error(funded, lambda gw: gw.fetch_ohlcv("FOO/USDT", "5m"))
    assert err.kind == "bad-symbol"


def test_order_not_found(funded):
    missing = order(cid="never-placed")
    err = gateway_error(funded, lambda gw: gw.fetch_order(missing))
    assert err.kind == "order-not-found"


def test_key_without_trade_permission(funded):
    ro = {"apiKey": READ_ONLY_KEY, "secret": READ_ONLY_SECRET}
    # first call is the order: the gateway settles Binance's ambiguous -2015 with one read
    err = gateway_error(funded, lambda gw: gw.create_order(order()), ro)
    assert err.kind == "permission" and "trading permission" in err.message

    async def after_read(gw):
        await gw.fetch_balance()
        await gw.create_order(order())
    err = gateway_error(funded, after_read, ro)
    assert err.kind == "permission"


def test_wrong_key_and_wrong_secret(funded):
    err = gateway_error(funded, lambda gw: gw.fetch_balance(), {"apiKey": "unknownKey0123456789", "secret": API_SECRET})
    assert err.kind == "auth" and err.code == -2015
    err = gateway_error(funded, lambda gw: gw.fetch_balance(), {"apiKey": API_KEY, "secret": "wrongSecret0123456789"})
    assert err.kind == "auth" and err.code == -1022 and "secret" in err.message


def test_clock_skew(funded):
    """The trading gateway measures the exchange's clock and signs with the corrected time
    (exchange/clock.py); without that correction the refusal is a "clock" error."""
    funded.set_clock_offset(90_000)

    async def corrected(gw):
        balance = await gw.fetch_balance()
        return balance, gw.clock.offset_ms
    balance, offset = with_gateway(funded, corrected)
    assert "USDT" in balance and abs(offset - 90_000) < 1_000

    def uncorrected(gw):
        gw.clock.enabled = False
        gw.exchange.options["adjustForTimeDifference"] = False
        return gw.fetch_balance()
    err = gateway_error(funded, uncorrected)
    assert err.kind == "clock" and "clock" in err.message


def test_transport_errors(funded):
    funded.faults.rate_limit(retry_after=5, path="/api/v3/klines")
    err = gateway_error(funded, lambda gw: gw.fetch_ohlcv("BTC/USDT", "5m"))
    assert err.kind == "rate-limit" and err.retry_after == 5 and "5 s" in err.message
    funded.faults.clear()
    funded.faults.ban(retry_after=90, path="/api/v3/klines")
    err = gateway_error(funded, lambda gw: gw.fetch_ohlcv("BTC/USDT", "5m"))
    assert err.kind == "banned" and err.retry_after == 90
    funded.faults.clear()
    funded.faults.maintenance()
    assert gateway_error(funded, lambda gw: gw.fetch_balance()).kind == "maintenance"
    funded.faults.clear()
    funded.faults.status(503, body="Service Unavailable", path="/api/v3/account")
    assert gateway_error(funded, lambda gw: gw.fetch_balance()).kind == "maintenance"
    funded.faults.clear()
    funded.faults.delay(1.0, path="/api/v3/account", count=1)

    async def slow(gw):
        gw.exchange.timeout = 200
        await gw.fetch_balance()
    err = gateway_error(funded, slow)
    assert err.kind == "timeout" and err.transient


def test_secrets_never_appear_in_errors_or_redaction(funded):
    """Every error kind above, plus raw ccxt messages that embed the signed URL, are clean."""
    funded.set_clock_offset(90_000)
    ex = create_exchange(connection_for(funded), SECRETS)

    async def raw_ccxt_error():
        try:
            await ex.fetch_balance()
        except ccxt.BaseError as exc:  # ccxt's own error, unmapped, is what this test inspects
            return exc
        finally:
            await ex.close()
        pytest.fail("fetch_balance with the clock 90 s off did not raise")
    exc = asyncio.run(raw_ccxt_error())
    err = map_exception(exc, secrets=SECRETS.values(), exchange=ex)
    assert err.kind == "clock"
    for s in SECRETS.values():
        assert s not in err.message
    leaky = f"binance GET {funded.base_url}/api/v3/account?timestamp=1&signature=abcdef0123 401 {{'X-MBX-APIKEY': '{API_KEY}'}} {API_SECRET}"
    clean = redact(leaky, SECRETS.values())
    assert API_KEY not in clean and API_SECRET not in clean and "abcdef0123" not in clean and "timestamp=1" not in clean
