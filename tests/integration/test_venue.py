"""The local Binance-spot venue, exercised with the real ``ccxt.async_support.binance`` client
(and, for wire-format checks, plain aiohttp). Nothing leaves 127.0.0.1."""
from __future__ import annotations

import asyncio
import csv
import json

import aiohttp
import ccxt
import pytest

from cts_desktop.exchange.ccxt_gateway import create_exchange
from tests.venue.harness import API_KEY, API_SECRET, READ_ONLY_KEY, READ_ONLY_SECRET, Venue, connection_for
from tests.venue.state import OHLCV_DIR

pytestmark = pytest.mark.timeout(60)


def client(v: Venue, key: str = API_KEY, secret: str = API_SECRET):
    # a fast throttle and no linger on close keep the suite quick; the protocol is unchanged
    ex = create_exchange(connection_for(v, rate_limit_per_second=500), {"apiKey": key, "secret": secret})
    ex.timeout_on_exit = 0
    return ex


def run_with(v: Venue, body, key: str = API_KEY, secret: str = API_SECRET):
    """Run ``body(exchange)`` with a fresh ccxt binance client pointed at ``v``."""
    async def main():
        ex = client(v, key, secret)
        try:
            return await body(ex)
        finally:
            await ex.close()
    return asyncio.run(main())


def expect(v: Venue, body, exc_type, key: str = API_KEY, secret: str = API_SECRET) -> str:
    async def wrapped(ex):
        with pytest.raises(exc_type) as info:
            await body(ex)
        return str(info.value)
    return run_with(v, wrapped, key, secret)


@pytest.fixture
def funded(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000, "BTC": 1, "ETH": 5})
    venue.add_account(READ_ONLY_KEY, READ_ONLY_SECRET, {"USDT": 100}, permissions=("read",))
    return venue


def test_load_markets_is_one_exchange_info_call_with_real_filters(funded):
    markets = run_with(funded, lambda ex: ex.load_markets())
    assert set(markets) == {"BTC/USDT", "ETH/USDT", "ETH/BTC", "LTC/BTC", "ADA/BTC", "XRP/ETH"}
    btc = markets["BTC/USDT"]
    assert btc["precision"]["amount"] == 1e-05 and btc["precision"]["price"] == 0.01
    assert btc["limits"]["cost"]["min"] == 10.0 and btc["limits"]["amount"]["min"] == 1e-05
    assert funded.requests == [("GET", "/api/v3/exchangeInfo")]


def test_wire_format_numbers_are_json_numbers(funded):
    async def body():
        async with aiohttp.ClientSession() as s:
            async with s.get(funded.base_url + "/api/v3/time") as r:
                t = await r.json()
                assert r.headers["X-MBX-USED-WEIGHT-1M"] == "1"
            async with s.get(funded.base_url + "/api/v3/nowhere") as r:
                assert r.status == 404
        return t
    t = asyncio.run(body())
    assert isinstance(t["serverTime"], int)

    order = run_with(funded, lambda ex: ex.create_order("BTC/USDT", "market", "buy", 0.01))
    assert isinstance(order["info"]["orderId"], int) and isinstance(order["info"]["transactTime"], int)
    assert isinstance(order["info"]["origQty"], str)  # Binance sends quantities as strings


def test_klines_are_the_recorded_candles_shifted(funded):
    with open(OHLCV_DIR / "BINANCE_BTC-USDT-PERP_5m_2023-01.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    candles = run_with(funded, lambda ex: ex.fetch_ohlcv("BTC/USDT", "5m", limit=3))
    assert len(candles) == 3
    recorded = rows[998:1001]  # the cursor starts at index 1000
    assert [c[4] for c in candles] == [float(r["close"]) for r in recorded]
    assert candles[1][0] - candles[0][0] == 300_000
    shift = candles[0][0] - int(recorded[0]["timestamp"])
    assert shift % 300_000 == 0
    hourly = run_with(funded, lambda ex: ex.fetch_ohlcv("BTC/USDT", "1h", limit=2))
    assert hourly[-1][0] % 3_600_000 == 0
    since = run_with(funded, lambda ex: ex.fetch_ohlcv("BTC/USDT", "5m", since=candles[0][0], limit=2))
    assert [c[0] for c in since] == [candles[0][0], candles[1][0]]
    funded.advance()
    assert run_with(funded, lambda ex: ex.fetch_ohlcv("BTC/USDT", "5m", limit=1))[0][4] == float(rows[1001]["close"])


def test_ticker_depth_time_status(funded):
    async def body(ex):
        ticker = await ex.fetch_ticker("ETH/BTC")
        book = await ex.fetch_order_book("ETH/BTC", 5)
        status = await ex.fetch_status()
        server = await ex.fetch_time()
        return ticker, book, status, server
    ticker, book, status, server = run_with(funded, body)
    assert ticker["last"] == funded.price("ETHBTC")
    assert book["bids"][0][0] < ticker["last"] < book["asks"][0][0]
    assert status["status"] == "ok" and server > 0


def test_signature_key_and_timestamp_checks(funded):
    msg = expect(funded, lambda ex: ex.fetch_balance(), ccxt.AuthenticationError, secret="wrong-secret-value")
    assert "-1022" in msg
    msg = expect(funded, lambda ex: ex.fetch_balance(), ccxt.AuthenticationError, key="unknownKey123")
    assert "-2015" in msg
    msg = expect(funded, lambda ex: ex.fetch_balance(), ccxt.AuthenticationError, key="bad key!")
    assert "-2014" in msg
    funded.set_clock_offset(120_000)  # server ahead: our timestamp is older than recvWindow
    assert "-1021" in expect(funded, lambda ex: ex.fetch_balance(), ccxt.InvalidNonce)
    funded.set_clock_offset(-5_000)  # server behind: our timestamp is > 1 s in its future
    assert "ahead of the server" in expect(funded, lambda ex: ex.fetch_balance(), ccxt.InvalidNonce)
    funded.set_clock_offset(0)
    assert run_with(funded, lambda ex: ex.fetch_balance())["total"]["USDT"] == 10_000


def test_read_only_key_reads_but_cannot_trade(funded):
    async def body(ex):
        bal = await ex.fetch_balance()
        with pytest.raises(ccxt.BaseError) as info:  # ccxt: -2015 after a success -> DDoSProtection
            await ex.create_order("BTC/USDT", "market", "buy", 0.001)
        return bal, str(info.value)
    bal, msg = run_with(funded, body, READ_ONLY_KEY, READ_ONLY_SECRET)
    assert bal["total"]["USDT"] == 100 and "-2015" in msg
    restrictions = run_with(funded, lambda ex: ex.sapi_get_account_apirestrictions(), READ_ONLY_KEY, READ_ONLY_SECRET)
    assert restrictions["enableSpotAndMarginTrading"] is False and restrictions["enableWithdrawals"] is False


def test_market_order_fills_at_current_price_with_fee(funded):
    price = funded.price("BTCUSDT")
    order = run_with(funded, lambda ex: ex.create_order("BTC/USDT", "market", "buy", 0.1, params={"clientOrderId": "m-1"}))
    assert order["status"] == "closed" and order["filled"] == 0.1 and order["average"] == price
    assert order["clientOrderId"] == "m-1"
    assert order["fee"] == {"currency": "BTC", "cost": 0.0001}
    assert funded.balance(API_KEY, "BTC") == (pytest.approx(1.0999), 0.0)
    assert funded.balance(API_KEY, "USDT")[0] == pytest.approx(10_000 - 0.1 * price)
    sell = run_with(funded, lambda ex: ex.create_order("BTC/USDT", "market", "sell", 0.05))
    assert sell["fee"]["currency"] == "USDT" and sell["fee"]["cost"] == pytest.approx(0.05 * price * 0.001, abs=1e-8)


def test_limit_order_rests_locks_and_fills_when_price_crosses(funded):
    price = funded.price("BTCUSDT")
    limit = round(price * 0.98, 2)

    async def place(ex):
        o = await ex.create_order("BTC/USDT", "limit", "buy", 0.2, limit, params={"clientOrderId": "l-1"})
        return o, await ex.fetch_open_orders("BTC/USDT")
    order, open_orders = run_with(funded, place)
    assert order["status"] == "open" and [o["clientOrderId"] for o in open_orders] == ["l-1"]
    free, locked = funded.balance(API_KEY, "USDT")
    assert locked == pytest.approx(0.2 * limit) and free == pytest.approx(10_000 - 0.2 * limit)
    funded.set_price("BTCUSDT", price * 0.99)  # not reached yet
    assert run_with(funded, lambda ex: ex.fetch_order(order["id"], "BTC/USDT"))["status"] == "open"
    funded.set_price("BTCUSDT", limit - 1)
    filled = run_with(funded, lambda ex: ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "l-1"}))
    assert filled["status"] == "closed" and filled["average"] == limit
    assert funded.balance(API_KEY, "USDT")[1] == 0.0
    trades = run_with(funded, lambda ex: ex.fetch_my_trades("BTC/USDT"))
    assert trades[-1]["takerOrMaker"] == "maker" and trades[-1]["price"] == limit


def test_marketable_limit_fills_immediately_and_cancel(funded):
    price = funded.price("ETHBTC")

    async def body(ex):
        taker = await ex.create_order("ETH/BTC", "limit", "sell", 1, price * 0.99)
        resting = await ex.create_order("ETH/BTC", "limit", "sell", 1, price * 1.05)
        canceled = await ex.cancel_order(resting["id"], "ETH/BTC")
        return taker, canceled
    taker, canceled = run_with(funded, body)
    assert taker["status"] == "closed" and taker["average"] == price
    assert canceled["status"] == "canceled"
    assert funded.balance(API_KEY, "ETH") == (pytest.approx(4.0), 0.0)


def test_order_errors_have_binance_codes(funded):
    price = funded.price("BTCUSDT")
    cases = [
        (lambda ex: ex.create_order("BTC/USDT", "market", "buy", 0.0001), ccxt.BadRequest, "MIN_NOTIONAL"),
        (lambda ex: ex.create_order("BTC/USDT", "market", "buy", 5), ccxt.InsufficientFunds, "insufficient balance"),
        (lambda ex: ex.create_order("BTC/USDT", "limit", "buy", 0.01, price * 10), ccxt.BadRequest, "PERCENT_PRICE"),
        (lambda ex: ex.cancel_order("123", "BTC/USDT"), ccxt.OrderNotFound, "-2011"),
        (lambda ex: ex.fetch_order("123", "BTC/USDT"), ccxt.OrderNotFound, "-2013"),
        (lambda ex: ex.public_get_ticker_24hr({"symbol": "FOOBAR"}), ccxt.BadSymbol, "-1121"),
        (lambda ex: ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                            "quantity": "0.000015", "price": str(round(price, 2))}), ccxt.InvalidOrder, "LOT_SIZE"),
        (lambda ex: ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                            "quantity": "0.01", "price": f"{price:.2f}1"}), ccxt.InvalidOrder, "PRICE_FILTER"),
    ]
    for call, exc_type, text in cases:
        assert text in expect(funded, call, exc_type)


def test_rate_limit_ban_maintenance_and_5xx(funded):
    funded.faults.rate_limit(retry_after=7, path="/api/v3/ticker/24hr", count=1)

    async def headers_of(ex):
        with pytest.raises(ccxt.DDoSProtection):
            await ex.fetch_ticker("BTC/USDT")
        return ex.last_response_headers
    assert run_with(funded, headers_of)["Retry-After"] == "7"
    funded.faults.ban(retry_after=60, path="/api/v3/ticker/24hr", count=1)
    assert "banned until" in expect(funded, lambda ex: ex.fetch_ticker("BTC/USDT"), ccxt.DDoSProtection)
    funded.faults.maintenance()
    expect(funded, lambda ex: ex.fetch_ticker("BTC/USDT"), ccxt.OnMaintenance)
    assert run_with(funded, lambda ex: ex.fetch_status())["status"] == "maintenance"
    funded.faults.clear()
    funded.faults.status(502, body="<html>502 Bad Gateway</html>", path="/api/v3/time", count=1)
    expect(funded, lambda ex: ex.fetch_time(), ccxt.ExchangeNotAvailable)
    funded.faults.status(500, path="/api/v3/time", count=1)  # Binance's -1001 internal error body
    assert "-1001" in expect(funded, lambda ex: ex.fetch_time(), ccxt.OperationFailed)
    assert run_with(funded, lambda ex: ex.fetch_time()) > 0  # the fault expired


def test_request_weight_limit_answers_429():
    with Venue(weight_limit=25) as v:
        async def body(ex):
            await ex.load_markets()  # weight 10
            await ex.fetch_time()
            with pytest.raises(ccxt.DDoSProtection):  # ccxt.binance raises this for any 429
                for _ in range(20):
                    await ex.public_get_ticker_24hr()  # weight 40 without a symbol
        run_with(v, body)


def test_drop_delay_and_lost_response(funded):
    funded.faults.drop(path="/api/v3/time", count=1)
    assert run_with(funded, lambda ex: ex.fetch_time()) > 0  # aiohttp retries a GET once on a dropped connection
    funded.faults.drop(path="/api/v3/time", count=2)
    expect(funded, lambda ex: ex.fetch_time(), ccxt.NetworkError)

    funded.faults.delay(0.3, path="/api/v3/time", count=1)

    async def timed(ex):
        ex.timeout = 100  # ms
        with pytest.raises(ccxt.RequestTimeout):
            await ex.fetch_time()
    run_with(funded, timed)

    funded.faults.lose_response(path="/api/v3/order", method="POST", count=1)

    async def lost(ex):
        with pytest.raises(ccxt.NetworkError):
            await ex.create_order("BTC/USDT", "market", "buy", 0.01, params={"clientOrderId": "lost-1"})
        return await ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "lost-1"})
    found = run_with(funded, lost)
    assert found["status"] == "closed" and found["clientOrderId"] == "lost-1"


def test_exchange_info_json_is_valid_subset(funded):
    async def body():
        async with aiohttp.ClientSession() as s:
            async with s.get(funded.base_url + "/api/v3/exchangeInfo", params={"symbol": "XRPETH"}) as r:
                return json.loads(await r.text())
    info = asyncio.run(body())
    assert [s["symbol"] for s in info["symbols"]] == ["XRPETH"]
    assert {f["filterType"] for f in info["symbols"][0]["filters"]} >= {"PRICE_FILTER", "LOT_SIZE", "MIN_NOTIONAL"}
