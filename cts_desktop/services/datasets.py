"""The recorded markets shipped in ``resources/data``, as the screens and commands list them.

One listing for every screen: the Connections tab picks a paper connection's market from it (with
its symbols), the backtest window and ``cts-desktop backtest --dataset`` pick a data set (with the
currency its cash is counted in).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Tuple

from ..exchange.replay import DATASETS

DOLLARS = ("USD", "USDT", "USDC", "BUSD")


@dataclass(frozen=True)
class Dataset:
    """A shipped recorded market: ``key`` (``ConnectionConfig.dataset``, ``--dataset``), ``title``
    (its name in a list), ``quote`` (quote currency of its symbols), ``symbols`` (unified symbols,
    in the dataset's order)."""

    key: str
    title: str
    quote: str
    symbols: Tuple[str, ...]

    @property
    def label(self) -> str:
        """The title, as a list shows it."""
        return self.title

    @property
    def cash_note(self) -> str:
        """What a backtest's cash setting means on this dataset (a tool tip): the starting balance is
        given in US dollars and converted to a non-dollar quote currency at the first candle."""
        if self.quote in DOLLARS:
            return f"US dollars ({self.quote})"
        return f"US dollars, converted to {self.quote} at the first candle"


def datasets() -> Dict[str, Dataset]:
    """The shipped recorded markets by key, in the order they are offered."""
    return {key: Dataset(key, d.title, d.quote, tuple(d.symbols)) for key, d in DATASETS.items()}


def dataset_symbols(key: str) -> List[str]:
    """The symbols of recorded market ``key``; ``[]`` for an unknown key."""
    ds = DATASETS.get(key)
    return list(ds.symbols) if ds is not None else []
