"""The Market tab: live candle chart, watchlist and order book of the selected connection."""
from .tab import MarketTab

__all__ = ["MarketTab"]
