"""One configured connection: the plain :class:`ConnectionConfig` record and its allowed values.

Plain data with no I/O, so every layer can hold one: the settings file (``store/settings.py``)
reads and writes it, the exchange layer builds a ccxt client from it, the engine runs it.
:class:`SettingsError` is raised by :meth:`ConnectionConfig.validate` and by the settings store.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional

PAPER_EXCHANGE = "paper"
BUILTIN_PAPER_NAME = "Paper - recorded market"

# Replay speeds: candles are replayed at ``speed`` times real time; 0 means as fast as possible.
SPEEDS = {"real time": 1.0, "x10": 10.0, "x100": 100.0, "x1000": 1000.0, "max": 0.0}

# Allowed values of the enumerated ConnectionConfig fields (checked by ConnectionConfig.validate).
MARKET_TYPES = ("spot", "margin", "swap")  # ccxt defaultType; "swap" is perpetual futures
MARKET_TYPE_ALIASES = {"futures": "swap", "future": "swap", "perp": "swap", "perpetual": "swap"}
POSITION_MODES = ("one-way", "hedge")
API_TYPES = ("rest", "websocket")


class SettingsError(Exception):
    """The settings file cannot be read or written, or a connection's settings are invalid; the
    message says which file or field and why."""


@dataclass
class ConnectionConfig:
    """One connection as the trader configured it.

    ``exchange`` is a ccxt exchange id (``"binance"``) or ``"paper"`` for the built-in replay.
    ``live``: when False every order goes to the paper exchange (fed by the exchange's public
    data, or by the recorded ``dataset`` for ``exchange == "paper"``); when True orders go to the
    exchange. ``starting_balance`` is in the account's quote currency, expressed as its
    USDT-equivalent (converted at the replay's first price where the quote is not a dollar).
    ``speed``: a key of :data:`SPEEDS`. ``strategy_params`` are validated by the strategy class.
    ``risk``: ``max_position_fraction`` (largest position notional as a fraction of equity) and
    ``max_open_positions``. ``credential_fields``: names of the secrets kept in the keyring.
    """

    name: str
    exchange: str = PAPER_EXCHANGE
    dataset: str = "ftx-btc-perp-1m"
    symbols: List[str] = field(default_factory=list)
    market_type: str = "spot"  # ccxt defaultType: spot / margin / swap (futures)
    position_mode: str = "one-way"
    testnet: bool = True
    api_type: str = "rest"  # rest / websocket
    rate_limit_per_second: Optional[float] = None
    max_concurrency: int = 4
    batch_size: int = 100
    base_url: str = ""
    enabled: bool = True
    live: bool = False
    speed: str = "x100"
    starting_balance: float = 10_000.0
    fee: Optional[float] = None  # taker fee fraction; None = the market's fee schedule
    strategy: str = "ma_cross"
    strategy_params: Dict[str, Any] = field(default_factory=dict)
    # More strategies on the same connection: [{"strategy": name, "params": {...},
    # "symbols": [...]}] (empty "symbols" = every symbol). See strategy_specs().
    extra_strategies: List[Dict[str, Any]] = field(default_factory=list)
    strategy_symbols: List[str] = field(default_factory=list)  # the main strategy's symbols; empty = all
    risk: Dict[str, Any] = field(default_factory=lambda: {"max_position_fraction": 0.5, "max_open_positions": 3})
    credential_fields: List[str] = field(default_factory=list)
    last_test: Dict[str, Any] = field(default_factory=dict)
    # the typed confirmation of the live switch: {"at": ms, "typed": name, "credentials_fingerprint": ...}
    live_confirmation: Dict[str, Any] = field(default_factory=dict)
    builtin: bool = False
    stale_after_s: Optional[float] = None  # market data silent this long (s) = stale; None: 2 timeframes
    # live orders by hand (ticket, amend, close at limit) ask first; False: this connection does not
    # (set from the confirmation's "don't ask again" or the connection's settings)
    confirm_orders: bool = True

    @property
    def is_paper_replay(self) -> bool:
        return self.exchange == PAPER_EXCHANGE

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "ConnectionConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def strategy_specs(self) -> List[Dict[str, Any]]:
        """Every strategy of the connection as ``{"strategy", "params", "symbols"}`` dicts, the
        main one first. Positions are per symbol (one-way): two strategies trading the same
        symbol share its position."""
        main = {"strategy": self.strategy, "params": dict(self.strategy_params), "symbols": list(self.strategy_symbols)}
        extra = [{"strategy": e.get("strategy", ""), "params": dict(e.get("params", {})),
                  "symbols": list(e.get("symbols", []))} for e in self.extra_strategies]
        return [main] + extra

    def validate(self) -> None:
        """Check the fields a user edits; raises :class:`SettingsError` naming the first bad one.

        Does not check that ``exchange`` is a ccxt id (that needs ccxt; the CLI and UI do it).
        """
        if not isinstance(self.name, str) or not self.name.strip():
            raise SettingsError("connection name must not be empty")
        if self.name != self.name.strip():
            raise SettingsError(f"connection name {self.name!r} must not start or end with spaces")
        if not self.exchange:
            raise SettingsError(f"{self.name!r}: exchange must not be empty")
        if self.market_type not in MARKET_TYPES:
            raise SettingsError(f"{self.name!r}: market type {self.market_type!r} is not one of {', '.join(MARKET_TYPES)}")
        if self.position_mode not in POSITION_MODES:
            raise SettingsError(f"{self.name!r}: position mode {self.position_mode!r} is not one of {', '.join(POSITION_MODES)}")
        if self.api_type not in API_TYPES:
            raise SettingsError(f"{self.name!r}: API type {self.api_type!r} is not one of {', '.join(API_TYPES)}")
        if self.rate_limit_per_second is not None and not self.rate_limit_per_second > 0:
            raise SettingsError(f"{self.name!r}: rate limit must be a positive number of requests per second")
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise SettingsError(f"{self.name!r}: max concurrency must be a whole number of at least 1")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise SettingsError(f"{self.name!r}: batch size must be a whole number of at least 1")
        if self.base_url and not self.base_url.startswith(("http://", "https://", "ws://", "wss://")):
            raise SettingsError(f"{self.name!r}: base URL {self.base_url!r} must start with http(s):// or ws(s)://")
        if self.speed not in SPEEDS:
            raise SettingsError(f"{self.name!r}: speed {self.speed!r} is not one of {', '.join(SPEEDS)}")
        if self.live and self.is_paper_replay:
            raise SettingsError(f"{self.name!r}: the recorded-market paper exchange has no live mode")


def builtin_paper_connection() -> ConnectionConfig:
    return ConnectionConfig(name=BUILTIN_PAPER_NAME, builtin=True, speed="x1000")
