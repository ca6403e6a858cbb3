"""The loaded candle file (:class:`CandleSeries`) and the error of a file that cannot be used
(:class:`CandleFileError`). Loading is :func:`cts_desktop.exchange.candles.load_candles_csv`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..core.columns import CandleColumns
from ..core.models import TIMEFRAME_MS

MAX_REPORTED = 10  # problems (and gaps) named one by one; the rest are counted


class CandleFileError(Exception):
    """The candle file cannot be used. ``problems`` lists ``"line N: what"`` strings (at most
    :data:`MAX_REPORTED`; ``total`` counts them all)."""

    def __init__(self, path: Path, problems: List[str], total: Optional[int] = None):
        self.path = Path(path)
        self.problems = problems
        more = (total or len(problems)) - len(problems)
        text = "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
        super().__init__(f"{self.path.name}: {text}")


@dataclass
class CandleSeries:
    """Candles of one symbol, sorted by time, as columns (:class:`CandleColumns`, which is also a
    sequence of ``(ts_ms, open, high, low, close, volume)`` tuples). ``timeframe_ms`` is the most
    common spacing. ``layout`` says which kind of file it was and how its times were read (for
    the user: "Binance archive klines (12 columns, no header), open time in microseconds,
    converted to ms"); ``unit_note`` is set only when times were converted to ms."""

    path: Path
    candles: CandleColumns
    timeframe_ms: int
    warnings: List[str] = field(default_factory=list)
    gaps: int = 0
    unit_note: str = ""
    layout: str = ""

    @property
    def timeframe(self) -> str:
        for name, ms in TIMEFRAME_MS.items():
            if ms == self.timeframe_ms:
                return name
        return f"{self.timeframe_ms // 1000}s"

    @property
    def start(self) -> int:
        return int(self.candles.ts[0])

    @property
    def end(self) -> int:
        return int(self.candles.ts[-1])
