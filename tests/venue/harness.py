"""The local venue run in-process: :class:`Venue` (a running server in a background thread), the
test credentials and :func:`connection_for`.

Tests get a fresh running venue from the ``venue`` fixture of ``tests/conftest.py``; benchmarks
and tools use ``with Venue() as v: ...``. The server runs in a background thread with its own
event loop, so a test may drive its own coroutines with ``asyncio.run(...)`` while the venue
keeps answering.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Iterable, Optional

from .server import Faults, VenueServer
from .state import Account, VenueState


async def _cancel_leftovers() -> None:
    """End the requests still held by a delay fault when the venue stops (else each one is
    reported as "Task was destroyed but it is pending!" when the loop closes)."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Venue:
    """A running local Binance venue, spot and USD-M futures (background thread, 127.0.0.1, free port).

    ``base_url``: ``http://127.0.0.1:<port>``; ``faults``: :class:`tests.venue.server.Faults`;
    ``state``: the :class:`tests.venue.state.VenueState` (prices, accounts, orders);
    ``requests``: ``(method, path)`` of every request received.
    """

    def __init__(self, *, weight_limit: int = 1200):
        self.state = VenueState()
        self.server = VenueServer(self.state, weight_limit=weight_limit)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._started = threading.Event()
        self._error: Optional[BaseException] = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "Venue":
        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.server.start())
            except BaseException as exc:  # pragma: no cover - reported to the caller
                self._error = exc
                self._started.set()
                return
            self._started.set()
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
            loop.run_until_complete(_cancel_leftovers())
            loop.close()

        self._thread = threading.Thread(target=run, name="local-venue", daemon=True)
        self._thread.start()
        self._started.wait(10)
        if self._error is not None:
            raise RuntimeError(f"local venue failed to start: {self._error}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = self._thread = None

    def __enter__(self) -> "Venue":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- conveniences ------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def faults(self) -> Faults:
        return self.server.faults

    @property
    def requests(self) -> list:
        return self.server.requests

    def add_account(self, api_key: str, secret: str, balances: Optional[dict] = None,
                    permissions: Iterable[str] = ("read", "trade")) -> Account:
        """Register an API key. ``balances``: asset -> free amount. ``permissions``: any of
        ``read``, ``trade``, ``withdraw``, ``margin``, ``futures``."""
        return self.state.add_account(api_key, secret, balances, permissions)

    def set_price(self, symbol: str, price: float) -> None:
        """Venue symbol (``"BTCUSDT"``); see :meth:`VenueState.set_price`."""
        self.state.set_price(symbol, price)

    def price(self, symbol: str) -> float:
        return self.state.price(symbol)

    def advance(self, steps: int = 1, symbol: Optional[str] = None) -> None:
        self.state.advance(steps, symbol)

    def set_clock_offset(self, ms: int) -> None:
        """Make the server clock run ``ms`` ahead (negative: behind) of this machine's."""
        self.state.clock_offset_ms = int(ms)

    def data_outage(self, symbol: Optional[str] = None) -> None:
        """Stop the market data of venue ``symbol`` (None: all); see :meth:`VenueState.data_outage`."""
        self.state.data_outage(symbol)

    def end_outage(self, symbol: Optional[str] = None) -> None:
        """Resume it with the candles piled up meanwhile; see :meth:`VenueState.end_outage`."""
        self.state.end_outage(symbol)

    def balance(self, api_key: str, asset: str) -> tuple:
        """``(free, locked)`` of ``asset``."""
        return self.state.balance(api_key, asset)


# Realistic-looking (Binance keys are 64 alphanumerics) but fake credentials for tests.
API_KEY = "vmKf3P9cQx7LwR2tZb8NdY4hJs6Ae1GuTo5Xi0CvBn3Mq8Wr2Ty7Ui4Op9As6Dk"
API_SECRET = "Qp7Ws2Ed9Rf4Tg1Yh6Uj3Ik8Ol5Pz0Xc7Vb2Nm9As4Df6Gh1Jk3Lq8Zw5Ex2Rc7"
READ_ONLY_KEY = "rOk3Lm8Nb2Vc7Xz1As6Df4Gh9Jk5Lq0Wp3Eo8Ri2Tu7Yy1Ss6Aa4Dd9Ff5Gg0Hh"
READ_ONLY_SECRET = "rOs9Hh0Gg5Ff9Dd4Aa6Ss1Yy7Tu2Ri8Eo3Wp0Lq5Jk9Gh4Df6As1Xz7Vc2Nb8Lm3"


def connection_for(venue: Venue, name: str = "local venue", *, secrets=None, **overrides):
    """A ``ConnectionConfig`` for binance pointed at ``venue`` (testnet on, base_url set).

    With ``live=True`` it also carries what the live gate asks for (as the Connections tab records
    it): a passing test and the typed confirmation, both for ``secrets`` (default: the venue's test
    keys). Pass ``live_confirmation={}`` or ``last_test={}`` to leave one out."""
    from cts_desktop.core.credentials import credentials_fingerprint
    from cts_desktop.core.live_gate import confirmation_record
    from cts_desktop.store.settings import ConnectionConfig

    fields = {"name": name, "exchange": "binance", "market_type": "spot", "testnet": True, "base_url": venue.base_url,
              "symbols": ["BTC/USDT"], "credential_fields": ["apiKey", "secret"]}
    fields.update(overrides)
    conn = ConnectionConfig(**fields)
    if conn.live:
        creds = secrets if secrets is not None else {"apiKey": API_KEY, "secret": API_SECRET}
        if "last_test" not in overrides:
            conn.last_test = {"ok": True, "tested_at": 0, "credentials_fingerprint": credentials_fingerprint(name, creds)}
        if "live_confirmation" not in overrides:
            conn.live_confirmation = confirmation_record(conn, creds, name)
    return conn
