"""Recorded-market replay: the built-in datasets and the candle stream the engine consumes.

A dataset is one or more candle files that share a time span (so a multi-symbol run is
possible), each with the market rules the paper exchange applies. The stream merges the
symbols by timestamp; at equal timestamps the order is the dataset's symbol order.
"""
from __future__ import annotations

import bisect
import heapq
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..core.models import Candle, Market
from ..core.resources import resources_dir
from .candles import CandleFileError, CandleSeries, load_candles_csv


@dataclass(frozen=True)
class DatasetFile:
    file: str
    market: Market


@dataclass(frozen=True)
class Dataset:
    """A named replay set. ``usd_reference`` names a file of a BTC/USD-like series used to express
    the starting balance's USDT-equivalent in a non-dollar quote currency (BTC for Bittrex)."""

    key: str
    title: str
    files: Tuple[DatasetFile, ...]
    usd_reference: Optional[str] = None

    @property
    def symbols(self) -> List[str]:
        return [f.market.symbol for f in self.files]

    @property
    def quote(self) -> str:
        return self.files[0].market.quote


def _m(symbol: str, type_: str, amount_step: float, price_step: float, min_amount: float = 0.0,
       min_cost: float = 0.0) -> Market:
    base, rest = symbol.split("/")
    quote = rest.split(":")[0]
    return Market(symbol, base, quote, type_, amount_step, price_step, min_amount, min_cost, 0.001, 0.001)


# Market rules: FTX BTC-PERP traded in 0.0001 BTC steps with a $1 tick; Bittrex's minimum
# order was 50,000 satoshi (0.0005 BTC) in 2018; Binance's from its exchangeInfo filters.
# Fees default to 0.1 % taker/maker for all (the default; configurable per connection).
DATASETS: Dict[str, Dataset] = {
    d.key: d
    for d in (
        Dataset("ftx-btc-perp-1m", "FTX BTC-PERP 1m, Jan 2022 (45,031 candles)",
                (DatasetFile("FTX_BTC-PERP_1m_2022-01.csv", _m("BTC/USD:USD", "swap", 0.0001, 1.0, 0.0001)),)),
        Dataset("bittrex-btc-5m", "Bittrex ETH, LTC, ADA vs BTC 5m, Jan 2018 (3 symbols)",
                (DatasetFile("BITTREX_ETH-BTC_5m_2018-01.csv", _m("ETH/BTC", "spot", 1e-8, 1e-8, 0.0, 0.0005)),
                 DatasetFile("BITTREX_LTC-BTC_5m_2018-01.csv", _m("LTC/BTC", "spot", 1e-8, 1e-8, 0.0, 0.0005)),
                 DatasetFile("BITTREX_ADA-BTC_5m_2018-01.csv", _m("ADA/BTC", "spot", 1e-8, 1e-8, 0.0, 0.0005))),
                usd_reference="COINBASE_BTC-USD_1h_2017-2019.csv"),
        Dataset("coinbase-btc-usd-1h", "Coinbase BTC/USD 1h, 2017-2019 (20,111 candles)",
                (DatasetFile("COINBASE_BTC-USD_1h_2017-2019.csv", _m("BTC/USD", "spot", 1e-8, 0.01, 0.0, 1.0)),)),
        Dataset("binance-btc-usdt-perp-5m", "Binance BTC/USDT perpetual 5m, Jan-Feb 2023",
                (DatasetFile("BINANCE_BTC-USDT-PERP_5m_2023-01.csv", _m("BTC/USDT:USDT", "swap", 0.001, 0.1, 0.001, 5.0)),)),
    )
}


def get_dataset(key: str) -> Dataset:
    """The dataset called ``key``; ``KeyError`` lists the known ones."""
    try:
        return DATASETS[key]
    except KeyError:
        raise KeyError(f"unknown dataset {key!r}; known: {', '.join(DATASETS)}") from None


def merge_streams(series: Mapping[str, Sequence[Candle]]) -> Iterator[Tuple[str, Candle]]:
    """Merge per-symbol candle sequences (lists or CandleColumns, each sorted by time) into one ``(symbol, candle)`` stream
    in time order; at equal timestamps, symbols come in the dict's order."""
    if len(series) == 1:
        ((symbol, candles),) = series.items()
        return ((symbol, c) for c in candles)

    def tagged(rank: int, symbol: str, candles: Sequence[Candle]) -> Iterator[Tuple[int, int, str, Candle]]:
        for c in candles:
            yield c[0], rank, symbol, c

    merged = heapq.merge(*(tagged(i, sym, cs) for i, (sym, cs) in enumerate(series.items())))
    return ((symbol, c) for _ts, _rank, symbol, c in merged)


_CACHE: Dict[tuple, CandleSeries] = {}
_CACHE_MAX = 8
_CACHE_LOCK = threading.Lock()
_FILE_LOCKS: Dict[str, threading.Lock] = {}


def load_series_cached(path: Path) -> CandleSeries:
    """:func:`load_candles_csv`, remembered per file (path, modification time and size), so a
    second start of the same replay, or a prefetch, costs nothing. Parsing 45,000 rows takes
    ~0.2 s of Python in a worker thread, enough to make the GUI's event loop stutter if it
    happens while a replay is being watched. Thread-safe; one load per file at a time.
    Raises :class:`CandleFileError` as the loader does."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return load_candles_csv(path)  # raises the loader's own clear error
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            return hit
        file_lock = _FILE_LOCKS.setdefault(str(path), threading.Lock())
    with file_lock:
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None:
            return hit
        series = load_candles_csv(path)
        with _CACHE_LOCK:
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = series
        return series


def prefetch(dataset_key: str, data_dir: Optional[Path] = None) -> None:
    """Load a dataset's files into the cache (for a worker thread, ahead of a Start); errors are
    left for the engine's start to report."""
    try:
        ReplaySource(get_dataset(dataset_key), data_dir)
    except (KeyError, CandleFileError):
        pass


class ReplaySource:
    """The loaded candles of a dataset, merged into one time-ordered stream.

    Raises :class:`CandleFileError` when a file is missing or corrupt.
    """

    def __init__(self, dataset: Dataset, data_dir: Optional[Path] = None):
        self.dataset = dataset
        self.data_dir = Path(data_dir) if data_dir else resources_dir() / "data"
        self.series: Dict[str, CandleSeries] = {
            f.market.symbol: load_series_cached(self.data_dir / f.file) for f in dataset.files
        }
        self.markets: Dict[str, Market] = {f.market.symbol: f.market for f in dataset.files}
        self.timeframe_ms = min(s.timeframe_ms for s in self.series.values())
        self.total = sum(len(s.candles) for s in self.series.values())

    @property
    def warnings(self) -> List[str]:
        return [f"{sym}: {w}" for sym, s in self.series.items() for w in s.warnings]

    @property
    def quote(self) -> str:
        return self.dataset.quote

    def stream(self, start_after: Optional[int] = None) -> Iterator[Tuple[str, Candle]]:
        """``(symbol, candle)`` in time order; with ``start_after`` (ms) only later candles."""
        series = {sym: s.candles for sym, s in self.series.items()}
        if start_after is not None:
            series = {sym: cs[bisect.bisect_right(cs, (start_after, float("inf"))):] for sym, cs in series.items()}
        return merge_streams(series)

    def quote_per_usd(self) -> float:
        """How much of the quote currency one US dollar bought at the replay's start.

        1.0 for dollar quotes (USD, USDT, USDC). For a BTC quote, from the dataset's USD
        reference series (the close of the last candle at or before the start). Raises
        :class:`CandleFileError` when the reference does not cover the start.
        """
        if self.quote in ("USD", "USDT", "USDC", "BUSD"):
            return 1.0
        ref = self.dataset.usd_reference
        if not ref:
            raise CandleFileError(self.data_dir / "?", [f"no USD reference price for quote {self.quote}"])
        series = load_series_cached(self.data_dir / ref)
        start = min(s.start for s in self.series.values())
        i = bisect.bisect_right(series.candles, (start, float("inf"))) - 1
        if i < 0:
            raise CandleFileError(series.path, [f"does not cover the replay start {start}"])
        return 1.0 / series.candles[i][4]
