"""The request budgets of a connection's gateway, told on the engine's bus for the Activity
tab's gauge (:class:`~cts_desktop.core.events.RequestBudgetChanged`)."""
from __future__ import annotations

from typing import Any, Callable

from ..core import events as ev
from ..exchange import budget
from .bus import EventBus


def watch_budgets(gateway: Any, connection: str, bus: EventBus) -> Callable[[], None]:
    """Publish the state of ``gateway.budgets`` (none: nothing) on ``bus`` as it changes, and once
    now; returns the function that stops it."""
    labels = {b.label for b in getattr(gateway, "budgets", ())}
    if not labels:
        return lambda: None

    def on_status(st: budget.BudgetStatus) -> None:
        if st.label in labels:
            bus.publish(ev.RequestBudgetChanged(connection, st.label, st.used, st.limit, st.state, st.until))

    unsubscribe = budget.subscribe(on_status)
    for b in gateway.budgets:
        on_status(b.status())
    return unsubscribe
