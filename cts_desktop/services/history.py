"""Exchange history downloads (stand-in: re-exports the cache's download until services/history lands)."""
from ..store.candle_cache import HistoryError, download_for_connection

__all__ = ["HistoryError", "download_for_connection"]
