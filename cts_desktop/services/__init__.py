"""What the GUI and the command line both do, in one place: connections and their secrets, the
live-trading gate, engines and the read model the screens show, backtests, history, reports.

No Qt here. A rule lives in one service so the GUI and the CLI can never differ; its messages are
raised from here, so both show the same words.
"""
from .engines import AppServices

__all__ = ["AppServices"]
