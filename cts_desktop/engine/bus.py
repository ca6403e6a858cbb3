"""In-process event bus: the engine publishes, the UI bridge, the store and headless runs listen.

Synchronous and cheap: ``publish`` calls each handler in turn on the caller's thread (the
asyncio loop's). A handler that raises is logged and skipped; it never stops the others or the
engine (an event thread that dies on one handler's exception is a habit we avoid).

Publishers that would build an event nobody reads check :attr:`EventBus.has_subscribers` first
(the trading core does on its hot path).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, List

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class EventBus:
    __slots__ = ("_handlers",)

    def __init__(self) -> None:
        self._handlers: List[Handler] = []

    def subscribe(self, handler: Handler) -> Callable[[], None]:
        """Register ``handler(event)``; returns a function that unsubscribes it."""
        self._handlers.append(handler)

        def unsubscribe() -> None:
            if handler in self._handlers:
                self._handlers.remove(handler)

        return unsubscribe

    @property
    def has_subscribers(self) -> bool:
        """True when at least one handler listens (events are worth building)."""
        return bool(self._handlers)

    def publish(self, event: Any) -> None:
        for handler in tuple(self._handlers):
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - isolate every handler
                log.exception("event handler %r failed on %s", handler, type(event).__name__)
