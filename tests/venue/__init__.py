"""A local Binance-spot-compatible exchange for tests and development.

``python -m tests.venue --port 8765`` serves it; tests use the ``venue`` fixture of
``tests/conftest.py`` (a :class:`tests.venue.harness.Venue`). See :mod:`tests.venue.server`
(HTTP, auth, errors, faults) and :mod:`tests.venue.state` (markets, recorded price paths,
accounts, matching).
"""
from .server import Faults, VenueServer
from .state import VenueState

__all__ = ["Faults", "VenueServer", "VenueState"]
