"""The exchange's clock as seen from this computer: the offset, measured and corrected.

Signed Binance requests carry a ``timestamp`` the exchange accepts only within ``recvWindow`` of
its own time (error ``-1021`` otherwise). Instead of failing when this computer's clock (or the
exchange's) jumps, the offset is measured and ccxt signs with the corrected time: ccxt's own
mechanism, ``options["timeDifference"]`` (local minus exchange, ms), which
``load_time_difference`` sets from one ``fetch_time``; ``adjustForTimeDifference`` makes ccxt
measure it when the markets are loaded.

:class:`ExchangeClock` keeps the measured offset for the rest of the app (``offset_ms``:
exchange minus local, positive = the exchange is ahead) and gives the exchange's time now
(:meth:`ExchangeClock.now_ms`), which the feeds use to tell how old a candle is.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Optional

log = logging.getLogger(__name__)


def supports_time_difference(exchange: Any) -> bool:
    """True when ccxt signs ``exchange``'s requests with ``options["timeDifference"]`` (the
    Binance family) and it can fetch the exchange's time."""
    options = getattr(exchange, "options", None) or {}
    return "timeDifference" in options and bool((getattr(exchange, "has", None) or {}).get("fetchTime"))


class ExchangeClock:
    """The offset between this computer's clock and ``exchange``'s (a ccxt async exchange).

    ``offset_ms``: exchange time minus local time (ms), 0 until measured (ccxt measures it when
    the markets load). ``syncs``: how many times it was re-measured after that.
    """

    def __init__(self, exchange: Any):
        self.exchange = exchange
        self.syncs = 0
        self.enabled = supports_time_difference(exchange)
        if self.enabled:
            exchange.options["adjustForTimeDifference"] = True  # measured with the markets

    @property
    def offset_ms(self) -> int:
        """Exchange time minus local time (ms): what ccxt signs with."""
        if not self.enabled:
            return 0
        return -int(self.exchange.options.get("timeDifference") or 0)

    async def sync(self) -> Optional[int]:
        """Measure the offset now (one ``fetch_time``) and let ccxt sign with it; returns
        ``offset_ms`` (None where the exchange has no such correction). Raises what ccxt raises."""
        if not self.enabled:
            return None
        before = self.offset_ms
        await self.exchange.load_time_difference()
        self.syncs += 1
        if abs(self.offset_ms - before) >= 1000:
            log.warning("%s clock offset now %+.1f s (was %+.1f s)", getattr(self.exchange, "id", "exchange"),
                        self.offset_ms / 1000, before / 1000)
        return self.offset_ms

    def now_ms(self) -> int:
        """The exchange's time now (ms since the epoch), by this computer's clock plus the offset."""
        return int(time.time() * 1000) + self.offset_ms
