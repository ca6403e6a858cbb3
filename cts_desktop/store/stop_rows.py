"""Stop orders from the ticket that a run left ``open`` in the database (the app ended without
winding the run down): :func:`end_leftover_stops` records them canceled, with the reason, before
the connection's next run starts. Such a stop is held by the app (``engine/stop_orders.py``), so
it ended with the process; it never reached an exchange."""
from __future__ import annotations

from ..core.manual import STOP_TYPES
from ..core.models import CANCELED, PENDING_CREATE, STATE_CANCELED, STATE_OPEN

LEFTOVER_REASON = "the app ended before the trigger was reached: stops from the ticket are held by the app"


def end_leftover_stops(connection: str, reason: str = LEFTOVER_REASON) -> int:
    """Mark ``connection``'s stop orders still open in the database canceled (``error``:
    ``reason``); returns how many. Needs the database opened (``store.db.open_database``)."""
    from .db import OrderRec

    q = (OrderRec.update(status=CANCELED, state=STATE_CANCELED, error=reason)
         .where((OrderRec.connection == connection) & OrderRec.type.in_(STOP_TYPES)
                & OrderRec.state.in_((PENDING_CREATE, STATE_OPEN))))
    return int(q.execute())
