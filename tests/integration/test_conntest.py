""""Test Connection" end to end with the real ccxt binance client against the local venue:
the passing case and every failure a trader can meet, each with its error kind and a message
that contains no secret."""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import time

import ccxt
import pytest

from cts_desktop.exchange import conntest
from cts_desktop.exchange.conntest import ConnectionTestResult, credentials_fingerprint
from cts_desktop.exchange.errors import map_exception
from tests.venue.harness import API_KEY, API_SECRET, READ_ONLY_KEY, READ_ONLY_SECRET, connection_for
from tests.waits import until

pytestmark = pytest.mark.timeout(60)
SECRETS = {"apiKey": API_KEY, "secret": API_SECRET}
ALL_SECRETS = (API_KEY, API_SECRET, READ_ONLY_KEY, READ_ONLY_SECRET)


def run_test(conn, secrets=SECRETS, **kw) -> ConnectionTestResult:
    result = asyncio.run(conntest.test_connection(conn, secrets, **kw))
    assert_clean(result, secrets)
    return result


def assert_clean(result: ConnectionTestResult, secrets) -> None:
    text = json.dumps(result.to_json())
    for s in (*ALL_SECRETS, *secrets.values()):
        assert s not in text
    assert "signature=" not in text and "timestamp=" not in text
    for entry in result.log:
        assert set(entry) == {"time", "request", "outcome", "ms"}
        method, path = entry["request"].split(" ")
        assert method in ("GET", "POST", "DELETE") and path.startswith("/") and "?" not in path
    if not result.ok:
        assert result.error_kind and result.status and "Traceback" not in result.status


@pytest.fixture
def funded(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 2_500, "BTC": 0.25, "DOGE": 0})
    venue.add_account(READ_ONLY_KEY, READ_ONLY_SECRET, {"USDT": 100}, permissions=("read",))
    return venue


def test_passing_connection_end_to_end(funded):
    conn = connection_for(funded, name="My Binance")
    progress = []
    before_ms = time.time() * 1000
    result = run_test(conn, on_progress=lambda text, frac: progress.append((text, frac)))
    after_ms = time.time() * 1000
    assert result.ok and result.error_kind is None, result.status
    assert "6 markets" in result.status and "credentials OK" in result.status
    assert result.balances == {"USDT": 2500.0, "BTC": 0.25}
    assert result.capabilities["createOrder"] is True and result.capabilities["fetchOHLCV"] is True
    assert result.capabilities["ws"] is True and result.capabilities["watchOHLCV"] is True
    # the venue's clock is this machine's: the measured offset is only the measuring error
    assert result.latency_ms > 0 and abs(result.clock_offset_ms) < 500
    assert result.rate_limits["ccxt_rate_limit_ms"] == 50 and result.rate_limits["requests_per_second"] == 20
    assert {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200} in result.rate_limits["exchange"]
    assert result.rate_limits["used_weight_1m"] > 0
    assert result.permissions["enableSpotAndMarginTrading"] is True and result.permissions["enableWithdrawals"] is False
    assert not any("WITHDRAW" in w for w in result.warnings)
    assert any("not restricted to your IP" in w for w in result.warnings)
    requests = [e["request"] for e in result.log]
    assert requests == ["GET /api/v3/exchangeInfo", "GET /api/v3/time", "GET /api/v3/time", "GET /api/v3/time",
                        "GET /sapi/v1/system/status", "GET /api/v3/account", "GET /sapi/v1/account/apiRestrictions"]
    assert all(e["outcome"] == "200" for e in result.log)
    fracs = [f for _, f in progress]
    assert fracs == sorted(fracs) and fracs[-1] == 1.0
    assert result.credentials_fingerprint == credentials_fingerprint("My Binance", SECRETS)
    assert before_ms - 1 <= result.tested_at <= after_ms + 1  # stamped during the test (how long it takes: bench_conntest)
    again = ConnectionTestResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again == result


def test_fingerprint_changes_with_any_credential():
    a = credentials_fingerprint("c", {"apiKey": "k1", "secret": "s1"})
    assert a == credentials_fingerprint("c", {"secret": "s1", "apiKey": "k1"})
    assert a != credentials_fingerprint("c", {"apiKey": "k1", "secret": "s2"})
    assert a != credentials_fingerprint("d", {"apiKey": "k1", "secret": "s1"})


def test_withdrawal_permission_gives_a_loud_warning(venue):
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1}, permissions=("read", "trade", "withdraw"))
    result = run_test(connection_for(venue, rate_limit_per_second=500))
    assert result.ok and result.permissions["enableWithdrawals"] is True
    assert result.warnings[0].startswith("DANGER") and "WITHDRAW" in result.warnings[0]


def test_key_without_trade_permission_passes_with_warning(funded):
    result = run_test(connection_for(funded, rate_limit_per_second=500), {"apiKey": READ_ONLY_KEY, "secret": READ_ONLY_SECRET})
    assert result.ok and result.balances == {"USDT": 100.0}
    assert any("cannot trade" in w for w in result.warnings)


def test_wrong_key(funded):
    secrets = {"apiKey": "NotARegisteredKey0123456789abcdef", "secret": API_SECRET}
    result = run_test(connection_for(funded, rate_limit_per_second=500), secrets)
    assert not result.ok and result.error_kind == "auth" and "API key" in result.status
    assert result.log[-1]["request"] == "GET /api/v3/account" and result.log[-1]["outcome"] == "401 AuthenticationError"


def test_malformed_key(funded):
    result = run_test(connection_for(funded, rate_limit_per_second=500), {"apiKey": "has spaces in it", "secret": API_SECRET})
    assert result.error_kind == "auth" and "malformed" in result.status


def test_wrong_secret(funded):
    secrets = {"apiKey": API_KEY, "secret": "TheWrongSecretValue0123456789"}
    result = run_test(connection_for(funded, rate_limit_per_second=500), secrets)
    assert not result.ok and result.error_kind == "auth" and "secret" in result.status
    assert "TheWrongSecretValue0123456789" not in json.dumps(result.to_json())


def test_wrong_passphrase_maps_to_auth():
    """Binance has no passphrase, and the local venue speaks only Binance's protocol, so a wrong
    passphrase cannot be produced end to end here. Exchanges that need one (OKX, KuCoin) report
    it through ccxt's AuthenticationError, which the same mapping turns into ``auth``; a missing
    passphrase is ccxt's client-side AuthenticationError, also ``auth``."""
    okx = ccxt.okx({"apiKey": "k" * 20, "secret": "s" * 20, "password": "WrongPassphrase1"})
    wrong = ccxt.AuthenticationError('okx {"msg":"Passphrase incorrect","code":"50105"}')
    err = map_exception(wrong, secrets=("WrongPassphrase1",), exchange=okx)
    assert err.kind == "auth" and "passphrase" in err.message.lower()
    okx.password = ""
    with pytest.raises(ccxt.AuthenticationError) as info:
        okx.check_required_credentials()
    assert map_exception(info.value, exchange=okx).kind == "auth"


def test_clock_skew(funded):
    funded.set_clock_offset(120_000)
    result = run_test(connection_for(funded, rate_limit_per_second=500))
    assert not result.ok and result.error_kind == "clock"
    assert abs(result.clock_offset_ms - 120_000) < 1_000
    assert "Measured offset: +120." in result.status
    assert any("clock is 120.0 s behind" in w for w in result.warnings)


def test_unreachable_host_closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = connection_for(type("V", (), {"base_url": f"http://127.0.0.1:{port}"})())
    result = run_test(conn)
    assert not result.ok and result.error_kind == "network"
    assert f"127.0.0.1:{port}" in result.status and "refused" in result.status
    assert result.log[0]["outcome"] == "ExchangeNotAvailable"


def test_dns_failure():
    conn = connection_for(type("V", (), {"base_url": "http://cts-venue.invalid:8765"})())
    result = run_test(conn)
    assert not result.ok and result.error_kind == "dns" and "cts-venue.invalid" in result.status


def test_timeout_is_bounded(funded):
    """The markets request hangs 30 s; a 0.6 s timeout gives up on it instead of waiting for the
    answer (which would pass the test). How soon: benchmarks/bench_conntest.py."""
    funded.faults.delay(30.0, path="/api/v3/exchangeInfo")
    result = run_test(connection_for(funded), timeout=0.6)
    assert not result.ok and result.error_kind == "timeout" and "0.6 s" in result.status
    assert "loading the markets" in result.status


def test_per_request_timeout(funded):
    funded.faults.delay(1.5, path="/api/v3/account")
    result = run_test(connection_for(funded, rate_limit_per_second=500), timeout=1.0)
    assert result.error_kind == "timeout"


def test_maintenance(funded):
    funded.faults.maintenance()
    result = run_test(connection_for(funded, rate_limit_per_second=500))
    assert not result.ok and result.error_kind == "maintenance" and "maintenance" in result.status


def test_maintenance_reported_by_system_status_only(funded):
    funded.state.maintenance = True  # public and private endpoints still answer
    result = run_test(connection_for(funded, rate_limit_per_second=500))
    assert not result.ok and result.error_kind == "maintenance"


def test_rate_limited(funded):
    funded.faults.rate_limit(retry_after=30, path="/api/v3/account")
    result = run_test(connection_for(funded, rate_limit_per_second=500))
    assert not result.ok and result.error_kind == "rate-limit" and "30 s" in result.status
    assert result.log[-1]["outcome"] == "429 DDoSProtection"


def test_no_credentials_tests_public_data_only(funded):
    result = run_test(connection_for(funded, rate_limit_per_second=500), {})
    assert result.ok and "public data only" in result.status and result.balances == {}
    assert any("No API key" in w for w in result.warnings)


def test_cancellation_closes_the_exchange(funded, caplog):
    """Cancelled while the markets request hangs (30 s), the test ends at once, without waiting
    for the answer, and closes its ccxt client. How soon: benchmarks/bench_conntest.py."""
    funded.faults.delay(30.0, path="/api/v3/exchangeInfo")

    async def main():
        task = asyncio.create_task(conntest.test_connection(connection_for(funded), SECRETS))
        await until(lambda: ("GET", "/api/v3/exchangeInfo") in funded.requests, what="the markets request")
        assert not task.done()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=15.0)  # a deadline well inside the 30 s hang
        assert task in done, "cancelling waited for the hung request"
        assert task.cancelled()
    caplog.set_level(logging.WARNING)
    asyncio.run(main())
    gc.collect()
    assert not [r for r in caplog.records if "release all resources" in r.getMessage()]


def test_passes_without_the_system_status_endpoint(funded):
    """An exchange or proxy without /sapi/v1/system/status answers 404 (an HTML page): the test
    passes, the status is "unknown" and the warning says the endpoint is missing, not "server
    error, try again later"."""
    funded.faults.status(404, body="<html><body><h2>404 Not found</h2></body></html>", path="/sapi/v1/system/status")
    result = run_test(connection_for(funded, rate_limit_per_second=500))
    assert result.ok, result.status
    assert result.system_status == "unknown"
    warning = next(w for w in result.warnings if w.startswith("Exchange status unknown"))
    assert "no system status endpoint (HTTP 404)" in warning
    assert "server error" not in json.dumps(result.to_json()) and "try again later" not in warning.lower()
    assert "GET /api/v3/account" in [e["request"] for e in result.log]  # the later steps ran


def test_system_status_normal_when_the_endpoint_answers(funded):
    result = run_test(connection_for(funded, rate_limit_per_second=500))
    assert result.ok and result.system_status == "normal" and result.withdrawal_checked is True


def test_rate_limited_permissions_read_says_the_withdrawal_check_was_not_done(venue):
    """A 429 while reading the key's permissions: the key can withdraw, but that cannot be seen;
    the test must say so loudly instead of passing silently without the warning."""
    venue.add_account(API_KEY, API_SECRET, {"USDT": 1}, permissions=("read", "trade", "withdraw"))
    venue.faults.rate_limit(retry_after=30, path="/sapi/v1/account/apiRestrictions")
    result = run_test(connection_for(venue, rate_limit_per_second=500))
    assert result.ok and result.permissions is None and result.withdrawal_checked is False
    assert result.warnings[0].startswith("WITHDRAWAL CHECK NOT DONE")
    assert "whether the key can withdraw" in result.warnings[0] and "30 s" in result.warnings[0]
    assert result.log[-1]["outcome"] == "429 DDoSProtection"


def test_failed_permissions_read_of_any_kind_warns(funded):
    funded.faults.status(500, path="/sapi/v1/account/apiRestrictions", count=5)
    result = run_test(connection_for(funded, rate_limit_per_second=500))
    assert result.ok and result.withdrawal_checked is False
    assert result.warnings[0].startswith("WITHDRAWAL CHECK NOT DONE")
