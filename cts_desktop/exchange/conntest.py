""""Test Connection": check a connection end to end and explain what is wrong, if anything.

:func:`test_connection` loads the markets, measures latency and clock offset, checks the
system status, fetches the balance with the credentials, reads the API key's permissions where
the exchange exposes them (Binance), and returns a :class:`ConnectionTestResult` the UI shows
and the settings store keeps (``ConnectionConfig.last_test = result.to_json()``).

Nothing in the result contains a secret: the request log holds method and path only, and every
text goes through :func:`cts_desktop.exchange.errors.redact` with the actual secret values.
"""
from __future__ import annotations

import asyncio
import logging
import statistics
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional, Tuple

from cts_desktop.exchange.ccxt_gateway import BINANCE_FAMILY, create_exchange, install_request_log
from cts_desktop.exchange.errors import GatewayError, map_exception, redact
from cts_desktop.core.credentials import credentials_fingerprint
from cts_desktop.core.connection import ConnectionConfig

CAPABILITIES = ("createOrder", "createMarketOrder", "createLimitOrder", "cancelOrder", "fetchOrder", "fetchOpenOrders",
                "fetchMyTrades", "fetchOHLCV", "fetchBalance", "fetchTime")
CLOCK_SAMPLES = 3
CLOCK_WARN_MS = 1000.0

ProgressCallback = Callable[[str, float], None]

log = logging.getLogger(__name__)


@dataclass
class ConnectionTestResult:
    """Outcome of :func:`test_connection`.

    ``ok``: everything needed for this connection works. ``status``: one short line for the UI.
    ``error_kind``: a :data:`cts_desktop.exchange.errors.KINDS` value when not ok.
    ``balances``: currency -> total (non-zero only). ``capabilities``: ccxt ``has`` flags that
    matter to us (``True``/``"emulated"``/``False``) plus ``ws``/``watchOHLCV`` from ccxt.pro.
    ``latency_ms``: median round trip of the time requests. ``clock_offset_ms``: exchange time
    minus the local midpoint of the request (positive = the exchange is ahead).
    ``rate_limits``: ``ccxt_rate_limit_ms`` (ms between requests), ``requests_per_second`` and,
    where the exchange publishes them, ``exchange`` (Binance exchangeInfo ``rateLimits``) and
    ``used_weight_1m``. ``permissions``: the API key's permissions (Binance apiRestrictions)
    or None. ``warnings``: things to know even when ok. ``log``: one dict per HTTP request
    (``time`` ms, ``request`` "METHOD /path", ``outcome``, ``ms``). ``tested_at``: ms.
    ``credentials_fingerprint``: see :func:`cts_desktop.core.credentials.credentials_fingerprint`.
    ``system_status``: ``"normal"``, ``"maintenance"`` or ``"unknown"`` (the exchange, or a proxy
    in front of it, has no status endpoint or it failed: a warning says which), None when not checked.
    ``withdrawal_checked``: True when the key's permissions were read, so the withdrawal warning
    could be given; False when they could not be (a warning says so).
    """

    ok: bool
    status: str
    error_kind: Optional[str] = None
    balances: Dict[str, float] = field(default_factory=dict)
    capabilities: Dict[str, Any] = field(default_factory=dict)
    latency_ms: Optional[float] = None
    clock_offset_ms: Optional[float] = None
    rate_limits: Dict[str, Any] = field(default_factory=dict)
    permissions: Optional[Dict[str, Any]] = None
    warnings: List[str] = field(default_factory=list)
    log: List[Dict[str, Any]] = field(default_factory=list)
    tested_at: int = 0
    credentials_fingerprint: str = ""
    system_status: Optional[str] = None
    withdrawal_checked: Optional[bool] = None

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "ConnectionTestResult":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def _ws_capabilities(exchange_id: str) -> Dict[str, Any]:
    """``ws`` and ``watchOHLCV`` from ccxt.pro, if ccxt.pro has the exchange."""
    try:
        import ccxt.pro as ccxtpro
    except ImportError:  # pragma: no cover - ccxt.pro ships with ccxt >= 4
        return {"ws": False, "watchOHLCV": False}
    cls = getattr(ccxtpro, exchange_id, None)
    if cls is None:
        return {"ws": False, "watchOHLCV": False}
    has = cls().has  # constructing opens nothing; the session is created lazily
    return {"ws": bool(has.get("ws", True)), "watchOHLCV": has.get("watchOHLCV") or False}


async def test_connection(conn: ConnectionConfig, secrets: Dict[str, str], *, timeout: float = 15.0,
                          on_progress: Optional[ProgressCallback] = None) -> ConnectionTestResult:
    """Test ``conn`` with ``secrets`` (keyring field name -> value) against its exchange.

    Steps (progress fraction): markets (0.1), clock and latency (0.35), system status (0.5),
    balance (0.65), key permissions (0.85), done (1.0). ``on_progress(step_text, fraction)`` is
    called before each step; its exceptions are ignored. Without an API key only the public
    steps run (ok, with a warning).

    Never raises for exchange problems: they come back as ``ok=False`` with ``error_kind`` and a
    human ``status``. The whole test is bounded by ``timeout`` seconds (``error_kind ==
    "timeout"``); each request by min(10 s, ``timeout``). Cancelling the calling task closes the
    exchange session and re-raises ``CancelledError``.
    """
    secret_values = tuple(v for v in (secrets or {}).values() if v)
    result = ConnectionTestResult(ok=False, status="", tested_at=int(time.time() * 1000),
                                  credentials_fingerprint=credentials_fingerprint(conn.name, secrets))
    try:
        exchange = create_exchange(conn, secrets, timeout_ms=int(min(10.0, timeout) * 1000))
    except GatewayError as err:
        result.status, result.error_kind = err.message, err.kind
        return result
    probe = _Probe(exchange, conn, secrets, secret_values, result, on_progress)
    try:
        await probe.settle(timeout)
    finally:
        try:
            await exchange.close()
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - closing must not hide the result
            log.debug("closing %s after the test failed: %s", exchange.id, type(exc).__name__)
    result.log = [{k: e[k] for k in ("time", "request", "outcome", "ms")} for e in probe.log]
    result.status = redact(result.status, secret_values)
    result.warnings = [redact(w, secret_values) for w in result.warnings]
    return result


test_connection.__test__ = False  # type: ignore[attr-defined]  # pytest reads this marker: not a test, despite the name


class _Probe:
    """One run of :func:`test_connection` against a created exchange: the steps, each filling
    in ``result``; ``action`` says what was being done when a step fails or times out."""

    def __init__(self, exchange: Any, conn: ConnectionConfig, secrets: Dict[str, str], secret_values: Tuple[str, ...],
                 result: ConnectionTestResult, on_progress: Optional[ProgressCallback]) -> None:
        self.ex = exchange
        self.conn = conn
        self.secrets = secrets
        self.secret_values = secret_values
        self.result = result
        self.on_progress = on_progress
        self.action = "connecting"
        self.log: List[Dict[str, Any]] = []
        self.captured: Dict[str, Any] = {}
        install_request_log(exchange, self.log.append, secret_values, on_response=self._on_response)

    def _on_response(self, path: str, data: Any) -> None:
        if path.endswith("/exchangeInfo") and isinstance(data, dict) and data.get("rateLimits"):
            self.captured["rateLimits"] = data["rateLimits"]

    def progress(self, text: str, fraction: float) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(text, fraction)
            except Exception as exc:  # noqa: BLE001 - the caller's progress display must not break the test
                log.debug("connection test progress callback failed: %s", type(exc).__name__)

    def step(self, action: str, text: str, fraction: float) -> None:
        self.action = action
        self.progress(text, fraction)

    async def settle(self, timeout: float) -> None:
        """Run the steps within ``timeout`` seconds and write the outcome into ``result``."""
        result, ex = self.result, self.ex
        try:
            await asyncio.wait_for(self.run(), timeout)
        except asyncio.TimeoutError:
            result.status = (f"{ex.name} did not complete the test within {timeout:g} s "
                             f"(stuck while {self.action}). The exchange may be slow or unreachable.")
            result.error_kind = "timeout"
        except GatewayError as err:
            result.status, result.error_kind = err.message, err.kind
        except Exception as exc:  # noqa: BLE001 - every failure is reported in the result, never raised
            mapped = map_exception(exc, secrets=self.secret_values, exchange=ex, action=self.action,
                                   timeout_s=ex.timeout / 1000)
            if mapped.kind == "clock" and result.clock_offset_ms is not None:
                mapped.message += f" Measured offset: {result.clock_offset_ms / 1000:+.1f} s (exchange minus this computer)."
            result.status, result.error_kind = mapped.message, mapped.kind
        else:
            result.ok = True
            n = len(ex.markets or {})
            lat = f", {result.latency_ms:.0f} ms" if result.latency_ms is not None else ""
            auth = "credentials OK" if self.secrets and ex.apiKey else "public data only"
            result.status = f"Connected to {ex.name}: {n} markets, {auth}{lat}."
            self.progress("Done", 1.0)

    async def run(self) -> None:
        await self.markets()
        if self.ex.has.get("fetchTime"):
            await self.clock()
        if self.ex.has.get("fetchStatus") is True and self._binance_sapi():
            await self.system_status()
        if not self.secrets or not self.ex.apiKey:
            self.result.warnings.append("No API key configured: only public market data was tested.")
        else:
            await self.credentials()
        headers = getattr(self.ex, "last_response_headers", None) or {}
        used = next((v for k, v in headers.items() if k.lower() == "x-mbx-used-weight-1m"), None)
        if used is not None:
            self.result.rate_limits["used_weight_1m"] = int(used)

    def _binance_sapi(self) -> bool:
        return self.ex.id in BINANCE_FAMILY and "sapi" in self.ex.urls.get("api", {})

    async def markets(self) -> None:
        ex, result = self.ex, self.result
        self.step("loading the markets", "Loading markets", 0.1)
        await ex.load_markets()
        result.capabilities = {k: ex.has.get(k) or False for k in CAPABILITIES}
        result.capabilities.update(_ws_capabilities(ex.id))
        result.rate_limits = {"ccxt_rate_limit_ms": ex.rateLimit,
                              "requests_per_second": round(1000.0 / ex.rateLimit, 3) if ex.rateLimit else None}
        if self.captured.get("rateLimits"):
            result.rate_limits["exchange"] = self.captured["rateLimits"]

    async def clock(self) -> None:
        ex, result, log_ = self.ex, self.result, self.log
        self.step("checking the clock", "Measuring latency and clock offset", 0.35)
        rtts, offsets = [], []
        for _ in range(CLOCK_SAMPLES):
            server = await ex.fetch_time()
            entry = log_[-1] if log_ else None  # the request just made: HTTP round trip only, no throttle wait
            if server and entry is not None and entry["request"].endswith("/time"):
                rtts.append(entry["ms"])
                offsets.append(server - (entry["t0"] + entry["ms"] / 2))
        if not rtts:
            return
        result.latency_ms = round(statistics.median(rtts), 2)
        result.clock_offset_ms = offset = round(statistics.median(offsets), 1)
        if abs(offset) > CLOCK_WARN_MS:
            result.warnings.append(
                f"This computer's clock is {abs(offset) / 1000:.1f} s "
                f"{'behind' if offset > 0 else 'ahead of'} {ex.name}; signed requests may be rejected. "
                "Turn on automatic time synchronisation.")

    async def system_status(self) -> None:
        """``GET /sapi/v1/system/status``. Optional: without the endpoint (404 from the exchange or a
        proxy) or when it fails, the status is ``"unknown"`` with a warning, and the test goes on
        (the other steps tell whether trading works). Only a reported maintenance fails the test."""
        self.step("checking the system status", "Checking exchange status", 0.5)
        try:
            status = await self.ex.fetch_status()
        except Exception as exc:  # noqa: BLE001 - optional step: its failure is a warning, never a pass or fail
            err = map_exception(exc, secrets=self.secret_values, exchange=self.ex, action="checking the system status")
            if err.kind == "maintenance" and err.http_status == 503:
                raise err from None
            self.result.system_status = "unknown"
            if err.http_status in (404, 405, 501):
                why = (f"{self.ex.name} (or a proxy in front of it) has no system status endpoint "
                       f"(HTTP {err.http_status})")
            else:
                why = f"the system status could not be read: {err.message}"
            self.result.warnings.append(f"Exchange status unknown: {why}. The other checks decide the result.")
            return
        self.result.system_status = "maintenance" if status.get("status") == "maintenance" else "normal"
        if status.get("status") == "maintenance":
            raise GatewayError("maintenance", f"{self.ex.name} reports system maintenance; trading is unavailable. Try again later.")

    async def credentials(self) -> None:
        ex, result = self.ex, self.result
        self.step("fetching the balance", "Checking credentials (balance)", 0.65)
        balance = await ex.fetch_balance()
        result.balances = {c: float(t) for c, t in (balance.get("total") or {}).items() if t}
        if not self._binance_sapi():
            return
        self.step("reading the API key permissions", "Reading API key permissions", 0.85)
        try:
            perms = await ex.sapi_get_account_apirestrictions()
        except Exception as exc:  # noqa: BLE001 - not fatal: the key works, only its rights are unknown
            err = map_exception(exc, secrets=self.secret_values, exchange=ex, action="reading the API key permissions")
            result.withdrawal_checked = False
            result.warnings.insert(0, "WITHDRAWAL CHECK NOT DONE: the API key's permissions could not be read, so "
                                      "this test cannot tell whether the key can withdraw funds. Run the test again, "
                                      "or check the key's permissions on the exchange's website. Reason: "
                                      + err.message)
        else:
            result.withdrawal_checked = True
            result.permissions = {k: v for k, v in perms.items() if k != "info"}
            _permission_warnings(result, self.conn)


def _permission_warnings(result: ConnectionTestResult, conn: ConnectionConfig) -> None:
    p = result.permissions or {}
    if p.get("enableWithdrawals"):
        result.warnings.insert(0, "DANGER: this API key can WITHDRAW funds. A trading app never needs that; create a key "
                               "without the withdrawal permission and delete this one.")
    if p.get("enableSpotAndMarginTrading") is False and conn.market_type in ("spot", "margin"):
        result.warnings.append("This API key cannot trade spot (Spot & Margin trading is disabled): live orders will be refused.")
    if p.get("ipRestrict") is False:
        result.warnings.append("This API key is not restricted to your IP address; restricting it limits the damage if it leaks.")
