"""The calls' side of the composition root: the call tracker, the PBX sources feeding it,
and what a standby of a pair listens to (the mirrored HEP) until it takes over."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, cast

from aiohttp import web

from callcenter.app.services import Services
from callcenter.calls.actions import RingLimitActions
from callcenter.calls.intake import Limits
from callcenter.calls.service import CallTracker
from callcenter.config import PbxSettings
from callcenter.errors import StartupError
from callcenter.ha.feed import Feed
from callcenter.ha.service import CleanupCtx
from callcenter.signals import CallRedirector
from callcenter.tasks import owned, stop_all
from callcenter.telephony.hep.source import HepSource
from callcenter.telephony.sources import build_source, configured_sources

# The composition root logs under one name, as when it was one module (app.py).
log = logging.getLogger("callcenter.app")


def tracker_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        settings = svc.settings
        tracker = CallTracker(
            svc.timers_db(),
            svc.bus,
            svc.clock,
            svc.rule,
            svc.directory,
            max_ring=timedelta(seconds=settings.sip.max_ring_seconds),
            max_call=timedelta(seconds=settings.sip.max_call_seconds),
            max_calls=settings.sip.max_open_calls,
            max_legs_per_call=settings.sip.max_legs_per_call,
            limits=Limits(
                settings.sip.max_field_length,
                timedelta(seconds=settings.sip.max_clock_skew_seconds),
            ),
            spill_dir=settings.spill_dir,
            shutdown_grace=settings.database.shutdown_flush_seconds,
            probe_callers=settings.probe.caller_numbers,
            alerts=svc.alert_log,
        )
        resumed = await tracker.restore()
        if svc.pair is not None:
            # What the standby heard and the database may lack, then everything live.
            window = timedelta(seconds=settings.ha.backlog_seconds)
            svc.pair.hand_over(lambda events: tracker.catch_up(events, window), tracker.handle)
        tracker.observer = svc.metrics
        if resumed:
            log.info("resumed open calls count=%d", resumed)
        svc.tracker = tracker
        # Tens of thousands of live calls make full collections slow; the start-up objects
        # (modules, tables, restored calls) never die, so take them out of collection.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        tracker.start()
        yield
        await tracker.stop()

    return ctx


def sources_ctx(svc: Services, hep: bool) -> CleanupCtx:
    """Each configured PBX source (`hep` False: none of the HEP ones), feeding the tracker,
    and the ring-limit actions redirecting calls through those that can."""

    def publish(topic: str, payload: dict[str, Any]) -> None:
        if svc.publisher is not None:
            svc.publisher.publish(topic, payload)

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        settings = svc.settings
        tracker = svc.calls()
        tasks = []
        for pbx in configured_sources(settings):
            if (pbx.kind == "hep" and not hep) or (pbx.kind == "mqtt" and svc.publisher is None):
                continue
            if pbx.kind == "mqtt" and settings.mqtt.embedded:
                log.warning(
                    "source=%s: the embedded broker does not queue events for us while we are "
                    "down; use an external broker (mqtt.url) for MQTT-bridged PBXs",
                    pbx.id,
                )
            # A standby's HEP source listens already: it is kept, never bound twice.
            source = svc.sources.get(pbx.id) or build_source(
                pbx,
                settings,
                svc.pair.feed.handle if svc.pair is not None else tracker.handle,
                svc.clock.now,
                publish,
                known_extension=lambda ext: svc.directory.lookup(ext) is not None,
                on_recording=svc.recording_service().on_recording_ready,
            )
            svc.sources[pbx.id] = source
            if isinstance(source, HepSource):
                await _start_hep(source, tracker, pbx, bool(settings.pbx))
                tasks.append(owned(f"sip-dialog-expiry-{pbx.id}", _expire(svc, source)))
            tasks.append(owned(f"source-{pbx.id}", source.run()))
        redirectors = {
            k: cast(CallRedirector, v) for k, v in svc.sources.items() if hasattr(v, "redirect")
        }
        svc.actions = RingLimitActions(
            settings.rings, redirectors, svc.db(), tracker.bus, svc.clock, tracker.wait_saved
        )
        yield
        await stop_all(tasks)
        await svc.actions.close()

    return ctx


def listen_standby(
    svc: Services, hep: bool
) -> Callable[[Feed], Awaitable[list[asyncio.Task[None]]]]:
    """What a standby of a pair starts (StandbyHooks.listen)."""

    def known_extension(extension: str) -> bool:
        return svc.directory.lookup(extension) is not None

    async def listen(feed: Feed) -> list[asyncio.Task[None]]:
        # The standby hears the HEP mirrored to it and keeps it (docs/failover.md); AMI, ESL
        # and MQTT sources connect once it is active, and resync as after any reconnect.
        settings = svc.settings
        await svc.directory.reload(svc.db())
        tasks = [owned("agent-directory", _reload_directory(svc))]
        for pbx in configured_sources(settings):
            if pbx.kind == "hep" and hep:
                source = HepSource(pbx, feed.handle, svc.clock.now, known_extension, settings.sip)
                await _start_hep(source, None, pbx, bool(settings.pbx))
                svc.sources[pbx.id] = source
                tasks.append(owned(f"sip-dialog-expiry-{pbx.id}", _expire(svc, source)))
        return tasks

    return listen


async def _start_hep(
    source: HepSource, tracker: CallTracker | None, pbx: PbxSettings, from_table: bool
) -> None:
    for call in tracker.open_calls(pbx.id) if tracker is not None else ():
        source.translator.restore(
            call.call_id,
            call.call_tag,
            {ref: (leg.extension, leg.answered_at is not None) for ref, leg in call.legs.items()},
        )
    if source.address is not None:
        return  # listening since this instance was the standby
    try:
        await source.start()
    except OSError as exc:
        key = f"pbx.{pbx.id}.port" if from_table else "sip.hep_listen"
        raise StartupError(f"{key}: cannot listen on {pbx.address}: {exc}") from exc


async def _expire(svc: Services, source: HepSource) -> None:
    while True:
        await asyncio.sleep(5)
        source.translator.expire(
            svc.clock.now().timestamp(), idle_open=svc.settings.sip.max_call_seconds
        )


async def _reload_directory(svc: Services) -> None:
    while True:
        await asyncio.sleep(10)
        await svc.directory.reload(svc.db())
