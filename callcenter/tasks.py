"""Owned background tasks: started by whoever owns them, their failures logged, cancelled
and awaited on stop (STYLE: never fire-and-forget)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


def owned(name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.get_running_loop().create_task(coro, name=name)

    def done(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.error("background task %s died", name, exc_info=t.exception())

    task.add_done_callback(done)
    return task


# A task still running this long after its cancellation is cancelled again; after the last
# wait it is logged and left (the event loop's own shutdown cancels it once more).
_RECANCEL_EVERY = 1.0
_GIVE_UP_AFTER = 10.0


async def stop_all(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and wait until each has ended.

    A task can swallow its cancellation: on Python 3.11 `asyncio.wait_for` returns a result
    that arrived together with the cancel (aiomqtt's publish awaits one per message), and
    the task carries on as if nothing happened. Under load that hung SIGTERM for ever; such
    a task is cancelled again until it ends."""
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    loop = asyncio.get_running_loop()
    give_up = loop.time() + _GIVE_UP_AFTER
    while pending:
        _, pending = await asyncio.wait(pending, timeout=_RECANCEL_EVERY)
        names = ", ".join(sorted(task.get_name() for task in pending))
        if pending and loop.time() >= give_up:
            log.error("background tasks did not stop tasks=%s", names)
            return
        if pending:
            log.warning("background tasks ignored their cancellation; cancelled again tasks=%s",
                        names)  # fmt: skip
            for task in pending:
                task.cancel()
