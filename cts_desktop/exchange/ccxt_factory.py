"""Building ccxt exchange clients from a :class:`~cts_desktop.core.connection.ConnectionConfig`.

:func:`create_exchange` (REST, ``ccxt.async_support``) and :func:`create_pro_exchange`
(websocket streams, ``ccxt.pro``) configure a client exactly the same way: market type,
testnet, base URL, rate limit, timeout and credentials. Credential values are handed to the
log filter of :mod:`cts_desktop.exchange.request_log` so ccxt's debug lines never show them.

Credentials (``secrets``): a dict of field name -> value, as kept in the keyring. The names ccxt
uses are accepted (``apiKey``, ``secret``, ``password``, ``uid``, ``privateKey``,
``walletAddress``, ``token``) plus the aliases ``api_key``, ``api_secret`` and
``passphrase``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional
from urllib.parse import urlsplit

from cts_desktop.core.connection import PAPER_EXCHANGE, ConnectionConfig
from cts_desktop.exchange.capabilities import BINANCE_FAMILY
from cts_desktop.exchange.errors import GatewayError
from cts_desktop.exchange.request_log import remember_secrets

if TYPE_CHECKING:
    import ccxt.async_support as ccxt_async

# ccxt is imported inside the functions that build a client: ``import ccxt`` loads every exchange
# class (~60 MB, ``ccxt.async_support`` and ``ccxt.pro`` as much again each), which a paper replay
# and the GUI at start never need. The bundle still holds them (packaging/cts-desktop.spec).

CREDENTIAL_ALIASES = {
    "apiKey": "apiKey", "api_key": "apiKey", "key": "apiKey",
    "secret": "secret", "api_secret": "secret", "apiSecret": "secret",
    "password": "password", "passphrase": "password",
    "uid": "uid", "privateKey": "privateKey", "walletAddress": "walletAddress", "token": "token",
}
DEFAULT_TIMEOUT_MS = 10_000


def ccxt_credentials(secrets: Dict[str, str]) -> Dict[str, str]:
    """Map keyring field names onto ccxt's credential attribute names (unknown names dropped)."""
    out: Dict[str, str] = {}
    for name, value in (secrets or {}).items():
        target = CREDENTIAL_ALIASES.get(name)
        if target and value:
            out[target] = value
    return out


def _rewrite_urls(node: Any, base_url: str) -> Any:
    """Every URL string in ``node`` (str or nested dict) moved to ``base_url``, path kept."""
    if isinstance(node, str):
        return base_url.rstrip("/") + urlsplit(node).path if "://" in node else node
    if isinstance(node, dict):
        return {k: _rewrite_urls(v, base_url) for k, v in node.items()}
    return node


def create_exchange(conn: ConnectionConfig, secrets: Dict[str, str], *, timeout_ms: Optional[int] = None) -> ccxt_async.Exchange:
    """A configured, not yet connected ``ccxt.async_support`` exchange for ``conn``.

    * id: ``conn.exchange``; ``options.defaultType``: ``conn.market_type``.
    * ``conn.testnet``: ccxt's sandbox URLs when the exchange has them. Without a sandbox a
      *live* connection is refused (``GatewayError('not-supported')``) rather than silently
      sent to production; a paper connection (``live == False``) only reads public data and
      proceeds against production.
    * ``conn.base_url``: every URL in ``urls['api']`` (production and, with testnet, sandbox
      entries; sandbox wins) is rewritten to that scheme/host/port keeping its path, e.g.
      ``https://api.binance.com/sapi/v1`` -> ``<base_url>/sapi/v1``. Used for self-hosted
      gateways and the local test venue.
    * ``conn.rate_limit_per_second``: ccxt ``rateLimit`` = 1000 / rps milliseconds between
      requests; ``enableRateLimit`` is always on.
    * Binance family: markets of the configured type only, no currency or margin-pair calls
      (one ``exchangeInfo`` request per ``load_markets``), no warning for ``fetchOpenOrders``
      without a symbol.

    Raises :class:`GatewayError` ``not-supported`` for ``"paper"`` or an id ccxt does not know.
    """
    import ccxt.async_support

    return _configured(ccxt.async_support, conn, secrets, timeout_ms)


def pro_supports(exchange_id: str, capability: str = "watchOHLCV") -> bool:
    """Whether ccxt.pro has a websocket client for ``exchange_id`` with ``capability``
    (``exchange.has``; default: candles)."""
    import ccxt.pro as ccxt_pro

    cls = getattr(ccxt_pro, exchange_id, None) if exchange_id in ccxt_pro.exchanges else None
    if cls is None:
        return False
    try:
        return bool(cls().has.get(capability))
    except Exception:  # noqa: BLE001  # pragma: no cover - a ccxt class that cannot be built: no support
        return False


def _ws_scheme(node: Any) -> Any:
    """Every ``http(s)://`` URL in ``node`` (str or nested dict) as ``ws(s)://``."""
    if isinstance(node, str):
        if node.startswith("https://"):
            return "wss://" + node[len("https://"):]
        if node.startswith("http://"):
            return "ws://" + node[len("http://"):]
        return node
    if isinstance(node, dict):
        return {k: _ws_scheme(v) for k, v in node.items()}
    return node


def create_pro_exchange(conn: ConnectionConfig, secrets: Dict[str, str], *,
                        timeout_ms: Optional[int] = None) -> Any:
    """A configured, not yet connected ``ccxt.pro`` exchange for ``conn`` (websocket streams plus
    the same REST API), with exactly the configuration of :func:`create_exchange` (options,
    rate limit, credentials, testnet, timeout).

    ``conn.base_url``: the REST URLs are rewritten as by :func:`create_exchange`, and every
    websocket URL (``urls['api']['ws']``, sandbox entries winning) goes to the base URL's
    websocket equivalent keeping its path: ``http://127.0.0.1:8765`` ->
    ``ws://127.0.0.1:8765/ws`` for ``wss://stream.binance.com:9443/ws``; ``https`` -> ``wss``.
    The websocket connection timeout follows ``timeout_ms``.

    Raises :class:`GatewayError` ``not-supported`` when ccxt.pro has no client for the exchange.
    The caller closes it (``await exchange.close()``).
    """
    import ccxt
    import ccxt.pro as ccxt_pro

    if conn.exchange != PAPER_EXCHANGE and conn.exchange not in ccxt_pro.exchanges:
        raise GatewayError("not-supported", f"ccxt.pro {ccxt.__version__} has no websocket client for {conn.exchange}.")
    exchange = _configured(ccxt_pro, conn, secrets, timeout_ms)
    exchange.streaming = {**(getattr(exchange, "streaming", None) or {}),
                          "connectionTimeout": int(timeout_ms or DEFAULT_TIMEOUT_MS)}
    if conn.base_url:
        api = exchange.urls.get("api")
        if isinstance(api, dict) and "ws" in api:
            api["ws"] = _ws_scheme(api["ws"])
    return exchange


def _configured(module: Any, conn: ConnectionConfig, secrets: Dict[str, str], timeout_ms: Optional[int]) -> Any:
    """:func:`create_exchange`'s work for the exchange classes of ``module`` (``ccxt.async_support``
    or ``ccxt.pro``)."""
    import ccxt

    exchange_id = conn.exchange
    if exchange_id == PAPER_EXCHANGE:
        raise GatewayError("not-supported", "The built-in paper exchange has no ccxt connection.")
    cls = getattr(module, exchange_id, None) if exchange_id in module.exchanges else None
    if cls is None:
        raise GatewayError("not-supported", f"Unknown exchange {exchange_id!r}: not an exchange id of ccxt {ccxt.__version__}.")
    options: Dict[str, Any] = {"defaultType": conn.market_type}
    if exchange_id in BINANCE_FAMILY:
        types = {"spot": ["spot"], "margin": ["spot"], "swap": ["linear"], "future": ["linear"], "linear": ["linear"],
                 "inverse": ["inverse"], "delivery": ["inverse"]}.get(conn.market_type, ["spot"])
        options.update({"fetchMarkets": {"types": types}, "fetchCurrencies": False, "fetchMargins": False,
                        "warnOnFetchOpenOrdersWithoutSymbol": False})
    config: Dict[str, Any] = {"enableRateLimit": True, "options": options, "timeout": int(timeout_ms or DEFAULT_TIMEOUT_MS)}
    if conn.rate_limit_per_second:
        config["rateLimit"] = 1000.0 / float(conn.rate_limit_per_second)
    config.update(ccxt_credentials(secrets))
    remember_secrets(secrets)
    exchange = cls(config)
    production_api = exchange.urls.get("api")
    if conn.testnet:
        if exchange.urls.get("test"):
            exchange.set_sandbox_mode(True)
        elif conn.live and not conn.base_url:
            raise GatewayError("not-supported", f"{exchange.name} has no testnet in ccxt; turn 'testnet' off to trade live, "
                               "or set a base URL.")
    if conn.base_url:
        current = exchange.urls.get("api")
        if isinstance(production_api, dict) and isinstance(current, dict):
            merged = {**production_api, **current}
        else:
            merged = current
        exchange.urls["api"] = _rewrite_urls(merged, conn.base_url)
    return exchange

