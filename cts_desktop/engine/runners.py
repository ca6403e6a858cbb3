"""One strategy inside a run: its symbols, whether it still runs, and the candles it aggregates.

A strategy whose timeframe is longer than the data's gets its candles built from the data's:
:meth:`StrategyRunner.aggregate` collects a bucket of the strategy's timeframe and hands back
each bucket it completes (with the bucket's close time), including a bucket a gap in the data
left unclosed.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Set, Tuple, cast

from ..core.models import Candle, timeframe_ms
from .strategies import Strategy

Completed = Tuple[Tuple[Candle, int], ...]  # (aggregated candle, its close time ms), oldest first
_NONE: Completed = ()


class StrategyRunner:
    """One strategy with its candle aggregation state. ``data_tf_ms``: spacing of the input
    candles. ``tf_ms`` is 0 when the strategy takes the data's candles as they are. Raises
    ``ValueError`` when the strategy's timeframe is not a whole multiple of the data's."""

    __slots__ = ("strategy", "name", "tf_ms", "agg", "active", "error", "symbols")

    def __init__(self, strategy: Strategy, data_tf_ms: int):
        self.strategy = strategy
        self.name = strategy.name
        self.symbols: Optional[Set[str]] = getattr(strategy, "symbols", None)  # None: every symbol
        self.agg: Dict[str, Optional[List[float]]] = {}  # symbol -> [open time, o, h, l, c, v] being built
        self.active = True
        self.error = ""
        if strategy.timeframe == "auto":
            self.tf_ms = 0
            return
        tf = timeframe_ms(strategy.timeframe)
        if tf < data_tf_ms or tf % data_tf_ms:
            raise ValueError(
                f"{strategy.name}: timeframe {strategy.timeframe} cannot be built from "
                f"{data_tf_ms // 60000}m candles (needs a whole multiple)"
            )
        self.tf_ms = tf if tf != data_tf_ms else 0  # 0: no aggregation

    def aggregate(self, symbol: str, c: Candle, data_tf_ms: int) -> Completed:
        """Add data candle ``c`` of ``symbol`` to its bucket; the buckets this completes."""
        tf = self.tf_ms
        bucket = c[0] - c[0] % tf
        agg = self.agg.get(symbol)
        done = _NONE
        if agg is not None and agg[0] != bucket:  # a gap left the previous bucket unclosed
            self.agg[symbol] = None
            done = ((_candle(agg), int(agg[0]) + tf),)
            agg = None
        if agg is None:
            agg = [bucket, c[1], c[2], c[3], c[4], c[5]]
            self.agg[symbol] = agg
        else:
            if c[2] > agg[2]:
                agg[2] = c[2]
            if c[3] < agg[3]:
                agg[3] = c[3]
            agg[4] = c[4]
            agg[5] += c[5]
        if c[0] + data_tf_ms >= bucket + tf:
            self.agg[symbol] = None
            done = done + ((_candle(agg), bucket + tf),)
        return done


def _candle(agg: List[float]) -> Candle:
    return cast(Candle, tuple(agg))  # the list holds exactly [ts, o, h, l, c, v]
