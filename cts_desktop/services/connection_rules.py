"""Rules for exchange connections shared by the GUI (``ui/connections/``) and the CLI
(``cli/connections.py``), so both decide the same way. No Qt, no asyncio, no I/O of its own
except reading ccxt's static exchange descriptions (ccxt is imported on first use only: the
app's start-up must not pay for it). What is *done* with a connection (save, rename, delete,
test) is :mod:`cts_desktop.services.connections`.

* :func:`exchange_facts`: what ccxt says about an exchange (required credentials, testnet,
  websocket support in ccxt.pro, its own rate limit).
* :func:`check_complete`: either no credentials (public data only) or every required one.
* :func:`invalidate_test`: a change of credentials or venue clears the stored connection test
  and switches live trading off.
* :func:`live_refusal`: why live trading may not be switched on (``None``: it may, after the
  typed confirmation the caller asks for).
* :func:`test_record`: a test result as stored in ``ConnectionConfig.last_test``.
* :func:`connection_symbols`, :func:`market_label`: the recorded
  markets a paper connection replays, for screens that must not import the exchange layer.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from ..exchange.replay import DATASETS
from .datasets import dataset_symbols
from ..core.live_gate import LiveRefusal, live_refusal  # noqa: F401 - the gate, for the screens and the CLI
from ..store.secrets import CREDENTIAL_FIELDS, credentials_fingerprint
from ..store.settings import PAPER_EXCHANGE, ConnectionConfig

#: Changing any of these invalidates a connection test (it ran against another venue/account).
TEST_RELEVANT_FIELDS = ("name", "exchange", "testnet", "market_type", "base_url")

ACCOUNT_NAMES = {"spot": "spot account", "margin": "margin account", "swap": "perpetual futures (swap) account"}


#: Engine states in which a connection is in use (not to be renamed or deleted).
BUSY_STATES = ("initializing", "running", "paused", "stopping")


class RuleError(ValueError):
    """An input breaks a rule; the message is for the user and never contains a secret."""


# -- what ccxt knows about an exchange ------------------------------------------------------------
@dataclass(frozen=True)
class ExchangeFacts:
    """``required``: credential fields in ccxt's order; ``has_testnet``: ccxt has sandbox URLs;
    ``websocket``: ccxt.pro supports it; ``rate_limit_ms``: ccxt's delay between requests."""

    id: str
    name: str
    required: Tuple[str, ...]
    has_testnet: bool
    websocket: bool
    rate_limit_ms: float

    @property
    def requests_per_second(self) -> Optional[float]:
        return round(1000.0 / self.rate_limit_ms, 3) if self.rate_limit_ms else None


def exchange_ids() -> List[str]:
    """Every ccxt exchange id (imports ccxt)."""
    import ccxt

    return list(ccxt.exchanges)


@lru_cache(maxsize=None)
def _pro_exchanges() -> FrozenSet[str]:
    try:
        import ccxt.pro as ccxtpro
    except ImportError:  # pragma: no cover - ccxt.pro ships with ccxt >= 4
        return frozenset()
    return frozenset(ccxtpro.exchanges)


def preload() -> None:
    """Import ccxt and ccxt.pro (about a second); call it off the GUI thread before the facts are needed."""
    exchange_ids()
    _pro_exchanges()


@lru_cache(maxsize=None)
def exchange_facts(exchange: str) -> ExchangeFacts:
    """Facts of ccxt exchange ``exchange``; :class:`RuleError` for an unknown id. Constructing
    the ccxt object opens no connection."""
    import ccxt

    if exchange not in ccxt.exchanges:
        raise RuleError(unknown_exchange_message(exchange))
    ex = getattr(ccxt, exchange)()
    required = tuple(f for f in CREDENTIAL_FIELDS if ex.requiredCredentials.get(f))
    return ExchangeFacts(id=exchange, name=str(getattr(ex, "name", exchange) or exchange), required=required,
                         has_testnet=bool(ex.urls.get("test")), websocket=exchange in _pro_exchanges(),
                         rate_limit_ms=float(ex.rateLimit or 0))


def unknown_exchange_message(exchange: str) -> str:
    import ccxt

    close = difflib.get_close_matches(exchange, list(ccxt.exchanges) + [PAPER_EXCHANGE], n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else " See `python -c 'import ccxt; print(ccxt.exchanges)'`."
    return f"unknown exchange {exchange!r}: it is neither a ccxt exchange id nor 'paper'.{hint}"


def check_exchange(exchange: str) -> str:
    """The normalised id (a ccxt id or 'paper'); :class:`RuleError` with close matches otherwise."""
    exchange = exchange.strip().lower()
    if exchange == PAPER_EXCHANGE:
        return exchange
    if exchange in exchange_ids():
        return exchange
    raise RuleError(unknown_exchange_message(exchange))


def required_credentials(exchange: str) -> List[str]:
    """Credential fields ``exchange`` (a ccxt id) requires, in ccxt's order; ``[]`` for 'paper'."""
    if exchange == PAPER_EXCHANGE:
        return []
    return list(exchange_facts(exchange).required)


def check_complete(exchange: str, fields: Iterable[str]) -> None:
    """Either no credentials (public data only) or every required one (``fields``: names present)."""
    present = set(fields)
    if not present:
        return
    required = required_credentials(exchange)
    missing = [f for f in required if f not in present]
    if missing:
        raise RuleError(f"{exchange} needs {', '.join(required)}; missing: {', '.join(missing)}")


def testnet_warning(conn: ConnectionConfig) -> Optional[str]:
    """A note when testnet is on but ccxt knows no sandbox URL for the exchange (and no base URL is given)."""
    if conn.exchange == PAPER_EXCHANGE or not conn.testnet or conn.base_url:
        return None
    if not exchange_facts(conn.exchange).has_testnet:
        return (f"ccxt knows no testnet for {conn.exchange}; the connection test will fail until you "
                "give a base URL or turn testnet off")
    return None


# -- descriptions -----------------------------------------------------------------------------------
def account(conn: ConnectionConfig) -> str:
    return ACCOUNT_NAMES.get(conn.market_type, f"{conn.market_type} account")


def venue(conn: ConnectionConfig) -> str:
    return f"{conn.exchange} {'TESTNET' if conn.testnet else 'MAINNET'}, {account(conn)}"


def fmt_time(value: Any) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 1e11 else value  # milliseconds or seconds since epoch
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return str(value).replace("T", " ")[:16]


def test_summary(last_test: Mapping[str, Any]) -> str:
    if not last_test:
        return "never tested"
    when = fmt_time(last_test.get("tested_at"))
    if last_test.get("ok"):
        text = "ok"
    else:
        text = f"FAILED ({last_test.get('error_kind') or last_test.get('status') or 'error'})"
    return f"{text} {when}".strip()


test_summary.__test__ = False  # type: ignore[attr-defined]  # not a pytest test (mypy does not model function attributes)


# -- the stored test and the live gate -------------------------------------------------------------
def invalidate_test(before: ConnectionConfig, edited: ConnectionConfig, creds_changed: bool) -> Optional[str]:
    """Clear ``edited.last_test`` and the live confirmation (and switch live off) when the credentials or a
    :data:`TEST_RELEVANT_FIELDS` field changed from ``before``; returns the note to show, or None."""
    venue_changed = [f for f in TEST_RELEVANT_FIELDS if getattr(before, f) != getattr(edited, f)]
    if not ((creds_changed or venue_changed) and (before.last_test or before.live)):
        return None
    why = "credentials" if creds_changed else ", ".join(f.replace("_", " ") for f in venue_changed)
    edited.last_test = {}
    edited.live_confirmation = {}
    if edited.live:
        edited.live = False
        return f"live trading switched OFF: {why} changed; test the connection again before going live"
    return f"connection test cleared: {why} changed"


def confirmation_lines(conn: ConnectionConfig) -> List[str]:
    """What the trader must read before typing the connection name to go live."""
    funds = "TESTNET funds" if conn.testnet else "REAL FUNDS"
    return [
        f"exchange: {conn.exchange} ({'testnet' if conn.testnet else 'mainnet'})",
        f"account:  {account(conn)}, position mode {conn.position_mode}",
        f"REAL ORDERS will be sent with {funds} by strategy {conn.strategy!r} whenever this connection runs.",
    ]


def confirmed(conn: ConnectionConfig, typed: str) -> bool:
    return typed.strip() == conn.name


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (str / nested dicts and lists) with each secret replaced by ``<hidden>``."""
    secrets = [s for s in secrets if s]
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, "<hidden>")
        return value
    if isinstance(value, Mapping):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) for v in value]
    return value


def test_record(conn: ConnectionConfig, result: Any, secrets: Mapping[str, str]) -> Dict[str, Any]:
    """``result.to_json()`` ready for ``conn.last_test``: scrubbed of the secrets, and with the
    canonical fingerprint of the credentials the test ran with (what :func:`live_refusal` compares)."""
    record = scrub(result.to_json(), [v for v in secrets.values() if len(v) >= 4])
    record["credentials_fingerprint"] = credentials_fingerprint(conn.name, secrets)
    return record


test_record.__test__ = False  # type: ignore[attr-defined]  # not a pytest test (mypy does not model function attributes)


# -- the recorded markets of paper connections ------------------------------------------------------
def connection_symbols(conn: ConnectionConfig) -> List[str]:
    """The symbols a connection trades: its dataset's for a replay, its configured ones otherwise."""
    if conn.is_paper_replay:
        return dataset_symbols(conn.dataset)
    return list(conn.symbols)


def market_label(conn: ConnectionConfig) -> str:
    """What the connection trades, in a few words: "Bittrex (3 symbols)", "FTX BTC-PERP 1m",
    "swap (testnet)"."""
    if conn.is_paper_replay:
        ds = DATASETS.get(conn.dataset)
        if ds is None:
            return conn.dataset
        if len(ds.symbols) > 1:  # "Bittrex ETH, LTC, ADA vs BTC 5m, ..." -> "Bittrex (3 symbols)", not "Bittrex ETH"
            return f"{ds.title.split()[0]} ({len(ds.symbols)} symbols)"
        return ds.title.split(",")[0].split(" (")[0]
    return f"{conn.market_type}{' (testnet)' if conn.testnet else ''}"
