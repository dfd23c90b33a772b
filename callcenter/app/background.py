"""The active instance's background work, each a cleanup context owning its tasks: the
orders' outbox, the deadline timers, recordings and their transcription, the line probe,
the daily draws and archives, the live feeds, and the closing of live pages at shutdown."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiohttp import web

from callcenter.app.services import Services
from callcenter.auth import service as auth_service
from callcenter.errors import StartupError
from callcenter.ha.service import CleanupCtx
from callcenter.orders.outbox import OutboxSender
from callcenter.probe.phone import NOT_INSTALLED, ProbeCall, place_probe_call
from callcenter.probe.service import LineProbe
from callcenter.recordings.service import Recordings
from callcenter.recordings.spool import Spool
from callcenter.tasks import owned, stop_all

# The composition root logs under one name, as when it was one module (app.py).
log = logging.getLogger("callcenter.app")


def auth_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [
            owned("token-last-used", auth_service.run_last_used_flusher(svc.db, svc.token_usage))
        ]
        yield
        await stop_all(tasks)

    return ctx


def alerts_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [owned("alert-log", svc.alert_log.run())] if svc.alert_log is not None else []
        yield
        await stop_all(tasks)
        if svc.alert_log is not None:
            await svc.alert_log.flush()

    return ctx


def anomalies_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # After MQTT: a deadline that passed while the service was down is raised at start.
        assert svc.deadlines is not None
        await svc.deadlines.start()
        yield
        await svc.deadlines.stop()

    return ctx


def outbox_ctx(svc: Services, mqtt: bool) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # Webhooks need no broker: the sender runs without MQTT too.
        settings = svc.settings
        svc.outbox = OutboxSender(
            svc.order_service(), svc.db, svc.clock, settings.orders, settings.mqtt if mqtt else None
        )
        tasks = [owned("orders-outbox", svc.outbox.run())]
        yield
        await stop_all(tasks)

    return ctx


def recordings_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        settings = svc.settings
        recs = Recordings(
            svc.db,
            svc.clock,
            settings.recordings,
            settings.recordings_root,
            tickets=svc.tickets,
            on_stored=svc.bus.publish,
        )
        await asyncio.to_thread(recs.sweep)
        svc.recordings = recs
        tasks = [
            owned("recordings-inbox", recs.run_inbox()),
            owned("recordings-linker", recs.run_linker()),
        ]
        spool_dir, r = settings.spool_dir, settings.recordings
        if spool_dir is not None:
            svc.spool = Spool(recs, spool_dir, r.spool_pattern, r.spool_settle_seconds)
            tasks.append(owned("recordings-spool", svc.spool.run()))
        yield
        await recs.finish_inbox(settings.database.shutdown_flush_seconds)
        await stop_all(tasks)

    return ctx


def speech_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = []
        if svc.settings.speech.enabled != "off":
            # A recording of the last day whose queueing was lost (a crash just after it was
            # stored, a `recording add` that could not queue it) is queued now.
            await svc.transcript_service().queue_stored(svc.clock.now() - timedelta(days=1))
        if svc.speech_queue is not None:
            tasks.append(owned("speech-queue", svc.speech_queue.run()))
        yield
        await stop_all(tasks)
        if svc.speech_queue is not None:
            await svc.speech_queue.close()

    return ctx


def probe_ctx(svc: Services, probe_call: ProbeCall | None) -> CleanupCtx:
    """The line probe when probe.enabled, placing its calls with `probe_call` or, by
    default, pyVoIP (callcenter[probe])."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # After the sources: the service sees the probe's first call (and leaves it out).
        settings = svc.settings
        tasks = []
        if settings.probe.enabled:
            if probe_call is None and importlib.util.find_spec("pyVoIP") is None:
                raise StartupError(f"probe.enabled: true, but {NOT_INSTALLED}")
            svc.probe = LineProbe(
                svc.db, svc.clock, settings.probe, probe_call or place_probe_call, svc.bus.publish
            )
            tasks.append(owned("line-probe", svc.probe.run()))
        yield
        await stop_all(tasks)

    return ctx


def qa_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # Each day's samples at qa.draw_hour; with spot checks off (no sheets), none.
        tasks = [owned("qa-draw", svc.draw_service().run())] if svc.checklists else []
        yield
        await stop_all(tasks)

    return ctx


def reports_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # Yesterday's report (and last week's, last month's) archived at archive_hour.
        tasks = [owned("reports-archive", svc.archivist_service().run())]
        yield
        await stop_all(tasks)

    return ctx


def incidents_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # The live incidents each screen-pop names, read again every 2 s off the pops' path.
        tasks = [owned("incidents-live", svc.incident_service().copy.run())]
        yield
        await stop_all(tasks)

    return ctx


def wallboard_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [owned("wallboard-feed", svc.wallboard_hub().run())]
        yield
        await stop_all(tasks)

    return ctx


def demo_ctx(
    svc: Services, demo: Callable[[Services], Coroutine[Any, Any, None]] | None
) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [owned("demo", demo(svc))] if demo is not None else []
        yield
        await stop_all(tasks)

    return ctx


def close_live_clients(svc: Services) -> Callable[[web.Application], Coroutine[Any, Any, None]]:
    async def close(_app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for open handlers: a live page's WebSocket
        # never ends by itself, and would hold SIGTERM for the whole shutdown timeout.
        log.info("stopping: no new requests; the PBX sources stop next, then what is "
                 "pending is saved")  # fmt: skip
        await svc.hub.close()
        await svc.wallboard_hub().close()

    return close
