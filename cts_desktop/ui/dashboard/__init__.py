"""The Dashboard tab: a card per active connection (figures, PAPER / LIVE, Start / Stop / Kill)."""
from .active_dialog import ActiveConnectionsDialog
from .card import ConnectionCard
from .tab import DashboardTab

__all__ = ["ActiveConnectionsDialog", "ConnectionCard", "DashboardTab"]
