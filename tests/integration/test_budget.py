"""Request budgets shared by every gateway of one key / one IP (exchange/budget.py), with the
real ccxt client against the local venue: weights from X-MBX-USED-WEIGHT-1M, 429 Retry-After
for everyone on the budget, 418 stops every request until the ban ends."""
from __future__ import annotations

import asyncio
import time

import pytest

from cts_desktop.exchange import budget
from cts_desktop.exchange.ccxt_gateway import CcxtGateway
from cts_desktop.exchange.errors import GatewayError
from tests.venue.harness import API_KEY, API_SECRET, connection_for

pytestmark = pytest.mark.timeout(60)
SECRETS = {"apiKey": API_KEY, "secret": API_SECRET}


def two_gateways(venue):
    """Two connections (say an engine and a history download) on one API key."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 10_000})
    gws = [CcxtGateway(connection_for(venue, name, rate_limit_per_second=500), SECRETS) for name in ("engine", "download")]
    for gw in gws:
        gw.exchange.timeout_on_exit = 0
    return gws


def run(gws, body):
    async def main():
        try:
            return await body(*gws)
        finally:
            for gw in gws:
                await gw.close()
    return asyncio.run(main())


def test_two_gateways_on_one_key_share_one_budget_and_its_weight(venue):
    a, b = two_gateways(venue)
    assert [x.label for x in a.budgets] == [x.label for x in b.budgets]
    assert all(x is y for x, y in zip(a.budgets, b.budgets))
    ip = a.budgets[0]
    assert "IP" in ip.label and ip.limit == 6000  # Binance counts weight per IP
    assert API_KEY not in " ".join(x.label for x in a.budgets)  # the key is only hashed
    seen = []
    unsubscribe = budget.subscribe(seen.append)

    async def body(a, b):
        await a.fetch_ohlcv("BTC/USDT", "5m", limit=5)
        after_a = ip.status().used
        await b.fetch_balance()
        return after_a, ip.status().used

    try:
        after_a, after_b = run((a, b), body)
    finally:
        unsubscribe()
    # the venue's X-MBX-USED-WEIGHT-1M counts both clients' requests: b sees a's weight too
    assert 0 < after_a < after_b
    assert any(s.label == ip.label and s.used > 0 for s in seen)


def test_a_429_makes_every_gateway_on_the_budget_wait_retry_after(venue):
    a, b = two_gateways(venue)
    venue.faults.rate_limit(retry_after=2, path="/api/v3/klines", count=1)

    async def body(a, b):
        with pytest.raises(GatewayError) as info:
            await a.fetch_ohlcv("BTC/USDT", "5m", limit=5)
        assert info.value.kind == "rate-limit"
        status = b.budgets[0].status()
        assert status.state == budget.BACKING_OFF
        sent = len(venue.requests)
        task = asyncio.ensure_future(b.fetch_balance())
        await asyncio.sleep(0)
        assert len(venue.requests) == sent and not task.done()  # b waits too: nothing left
        await asyncio.wait_for(task, 20)
        assert time.time() >= status.until  # and it went only once the back-off had ended
        assert b.budgets[0].status().state == budget.OK

    run((a, b), body)


def test_a_418_stops_every_request_until_the_ban_ends_and_says_until_when(venue):
    a, b = two_gateways(venue)
    venue.faults.ban(retry_after=300, path="/api/v3/klines", count=1)
    seen = []
    unsubscribe = budget.subscribe(seen.append)

    async def body(a, b):
        with pytest.raises(GatewayError) as info:
            await a.fetch_ohlcv("BTC/USDT", "5m", limit=5)
        assert info.value.kind == "banned"
        sent = len(venue.requests)
        for gw, call in ((b, b.fetch_balance), (a, a.fetch_balance), (b, lambda: b.fetch_ohlcv("BTC/USDT", "5m"))):
            with pytest.raises(GatewayError) as info:
                await call()
            assert info.value.kind == "banned" and "until" in info.value.message and "UTC" in info.value.message
            assert "HTTP 418" in info.value.message and info.value.__cause__ is None
        assert len(venue.requests) == sent  # not one request reached the exchange during the ban
        ip = a.budgets[0]
        assert ip.status().state == budget.BANNED
        ip.banned_until = time.time() - 1  # the ban ends
        await b.fetch_balance()
        assert venue.requests[sent:][-1] == ("GET", "/api/v3/account") and ip.status().state == budget.OK

    try:
        run((a, b), body)
    finally:
        unsubscribe()
    assert any(s.state == budget.BANNED and s.until > 0 for s in seen)


def test_the_connection_test_draws_on_the_same_budget(venue):
    """A ban seen by an engine's gateway also holds the connection test back: nothing is sent."""
    from cts_desktop.exchange.conntest import test_connection

    a, b = two_gateways(venue)
    venue.faults.ban(retry_after=300, path="/api/v3/klines", count=1)

    async def body(a, b):
        with pytest.raises(GatewayError):
            await a.fetch_ohlcv("BTC/USDT", "5m", limit=5)
        sent = len(venue.requests)
        result = await test_connection(connection_for(venue, "tested", rate_limit_per_second=500), SECRETS, timeout=10)
        return sent, result

    sent, result = run((a, b), body)
    assert not result.ok and len(venue.requests) == sent
    assert result.error_kind == "banned" and "until" in result.status, (result.error_kind, result.status)


def test_a_request_with_tokens_to_spare_leaves_without_waiting_for_the_loop(venue):
    """With tokens in ccxt's bucket and nobody queued, the request is not parked behind ccxt's
    throttler task: nothing else scheduled on the loop runs between asking and sending (a live
    order does not wait behind a replay's slice); an empty bucket still makes it wait as ccxt does."""
    a, b = two_gateways(venue)

    async def body(a, b):
        ex = a.exchange
        ran = []
        asyncio.get_running_loop().call_soon(ran.append, "other work")
        ex.throttler.config["tokens"] = ex.throttler.config["capacity"]
        await ex.throttle(1)
        before_other = list(ran)
        ex.throttler.config["tokens"] = -1.0  # an empty bucket: ccxt's loop refills it first
        await ex.throttle(1)
        return before_other, list(ran), ex.throttler.config["tokens"]

    before_other, after, tokens = run((a, b), body)
    assert before_other == []  # left at once
    assert after == ["other work"]  # the empty bucket waited on the loop
    assert tokens < 1.0
