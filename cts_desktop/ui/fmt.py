"""Number, money and time formatting shared by the tables, cards and status bar.

Pure functions (no Qt), so they are cheap to call from ``data()`` on every repaint.
Times are shown in UTC as ``YYYY-MM-DD HH:MM`` from milliseconds since the epoch: in a replay
they are the recorded market time, and UTC is how exchanges and recorded data label candles.
"""
from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from typing import Optional

# Quote currencies whose amounts read best with cents; everything else (BTC, ETH) gets 8 places.
_FIAT_LIKE = {"USD", "USDT", "USDC", "BUSD", "DAI", "EUR", "TUSD", "FDUSD", "GBP"}


def money_decimals(currency: str) -> int:
    return 2 if (currency or "USD").upper() in _FIAT_LIKE else 8


def quote_of(symbol: str) -> str:
    """``"BTC/USD:USD"`` -> ``"USD"``; ``"ETH/BTC"`` -> ``"BTC"``; ``""`` when not a pair."""
    if "/" not in symbol:
        return ""
    return symbol.split("/", 1)[1].split(":", 1)[0]


def money(value: Optional[float], currency: str = "", *, sign: bool = False, unit: bool = False) -> str:
    """``1234.5, "USD"`` -> ``"1,234.50"`` (``sign``: always show + or -; ``unit``: append the currency)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    d = money_decimals(currency)
    if round(value, d) == 0:
        value = 0.0  # no "-0.00"
    text = f"{value:+,.{d}f}" if sign and value else f"{value:,.{d}f}"
    return f"{text} {currency}" if unit and currency else text


def price(value: Optional[float]) -> str:
    """Prices of any magnitude: ``43,012.5``, ``0.0912345``, ``0.00001234``."""
    if value is None or value == 0 or (isinstance(value, float) and math.isnan(value)):
        return "–" if value is None or value != 0 else "0"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if a >= 1:
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{value:.8f}".rstrip("0").rstrip(".")


def amount(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return f"{value:,.8f}".rstrip("0").rstrip(".") or "0"


def pct(fraction: Optional[float], *, sign: bool = False, decimals: int = 2) -> str:
    """A fraction as percent: ``0.1234`` -> ``"12.34 %"``."""
    if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)):
        return "–"
    return f"{fraction * 100:+.{decimals}f} %" if sign else f"{fraction * 100:.{decimals}f} %"


def utc_ms(ts: Optional[int], *, seconds: bool = False) -> str:
    """Milliseconds since the epoch -> ``"YYYY-MM-DD HH:MM"`` UTC (``""`` for 0/None)."""
    if not ts:
        return ""
    dt = datetime.fromtimestamp(ts / 1000.0, tz=timezone.utc)
    return dt.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def wall_clock(t: Optional[float]) -> str:
    """A ``time.time()`` value as local ``HH:MM:SS`` (empty for None)."""
    if not t:
        return ""
    return time.strftime("%H:%M:%S", time.localtime(t))


def ago(t: Optional[float], now: Optional[float] = None) -> str:
    if not t:
        return "never"
    s = max(0.0, (now or time.time()) - t)
    if s < 1.5:
        return "just now"
    if s < 90:
        return f"{s:.0f} s ago"
    if s < 5400:
        return f"{s / 60:.0f} min ago"
    return f"{s / 3600:.1f} h ago"
