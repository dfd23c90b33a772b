"""In-process event bus: publish awaits every handler of the event's type, logging failures.

The table of handlers is built in one place, app.handlers, so "what happens when X" is one read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


class Bus:
    def __init__(self, handlers: Mapping[type, Sequence[Handler]] | None = None) -> None:
        self._handlers: dict[type, list[Handler]] = {
            k: list(v) for k, v in (handlers or {}).items()
        }

    def subscribe(self, event_type: type, handler: Handler) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    async def publish(self, event: object) -> None:
        for handler in self._handlers.get(type(event), ()):
            try:
                await handler(event)
            except Exception:
                # One failing consumer (a closed socket, a broker down) must not stop the others.
                log.exception("handler failed event=%s handler=%s", type(event).__name__, handler)

    async def publish_all(self, events: Iterable[object]) -> None:
        for event in events:
            await self.publish(event)
