"""The composition root: builds the configured resources and the web app, in order.

HANDLERS below answers "what happens when X?" for every domain event.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import timedelta
from typing import Any, cast

from aiohttp import web

from callcenter import db
from callcenter.bus import Bus, Handler
from callcenter.calls import schemas
from callcenter.calls.actions import RingLimitActions
from callcenter.calls.rings import RingRule
from callcenter.calls.service import AgentDirectory, CallTracker
from callcenter.clock import Clock, SystemClock
from callcenter.config import PbxSettings, Settings
from callcenter.events import (
    CallClosed,
    OverflowAttempted,
    PhoneRang,
    PhoneStopped,
    RingLimitReached,
    ViolationRecorded,
)
from callcenter.mqtt.broker import start_embedded_broker
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.privacy import NumberPolicy
from callcenter.telephony.hep.source import HepSource
from callcenter.telephony.source import CallRedirector
from callcenter.telephony.sources import build_source, configured_sources
from callcenter.web import routes
from callcenter.web.errors import error_middleware
from callcenter.web.keys import SERVICES, Services
from callcenter.web.live import LiveHub

log = logging.getLogger(__name__)

RING_LIMIT_TOPIC = "alerts/ring-limit"
OVERFLOW_TOPIC = "actions/overflow"
OVERFLOW_FAILED_TOPIC = "alerts/overflow-failed"
VIOLATIONS_TOPIC = "violations"


class StartupError(Exception):
    """The service cannot start; the message says what to do."""


def handlers(svc: Services) -> dict[type, list[Handler]]:
    """Who receives each domain event, after it is committed."""

    async def to_live(event: object) -> None:
        message = schemas.live_json(event, svc.rule)
        if message is not None:
            if isinstance(event, ViolationRecorded | RingLimitReached):
                svc.hub.broadcast(message, private=True, agent_id=event.agent_id)
            else:
                svc.hub.broadcast(message)

    async def ring_limit_to_mqtt(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        if svc.publisher is not None:
            topic = f"{svc.settings.mqtt.topic_prefix}/{RING_LIMIT_TOPIC}"
            svc.publisher.publish(topic, schemas.alert_json(event, svc.rule), qos=1)

    async def violation_to_mqtt(event: object) -> None:
        assert isinstance(event, ViolationRecorded)
        if svc.publisher is not None:
            message = schemas.live_json(event, svc.rule)
            assert message is not None
            message["caller"] = schemas.number(event.caller, full=False)
            svc.publisher.publish(f"{svc.settings.mqtt.topic_prefix}/{VIOLATIONS_TOPIC}", message)

    async def ring_limit_action(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        if svc.actions is not None:
            await svc.actions.on_ring_limit(event)

    async def overflow_to_mqtt(event: object) -> None:
        assert isinstance(event, OverflowAttempted)
        if svc.publisher is not None:
            topic = OVERFLOW_TOPIC if event.ok else OVERFLOW_FAILED_TOPIC
            message = schemas.live_json(event, svc.rule)
            assert message is not None
            svc.publisher.publish(f"{svc.settings.mqtt.topic_prefix}/{topic}", message, qos=1)

    return {
        OverflowAttempted: [overflow_to_mqtt, to_live],
        PhoneRang: [to_live],
        PhoneStopped: [to_live],
        CallClosed: [to_live],
        ViolationRecorded: [violation_to_mqtt, to_live],
        RingLimitReached: [ring_limit_to_mqtt, to_live, ring_limit_action],
    }


def _owned(name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    task = asyncio.get_running_loop().create_task(coro, name=name)

    def done(t: asyncio.Task[None]) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.error("background task %s died", name, exc_info=t.exception())

    task.add_done_callback(done)
    return task


async def _stop(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = False,
    hep: bool = True,
    mqtt: bool = True,
    demo: Callable[[Services], Coroutine[Any, Any, None]] | None = None,
) -> web.Application:
    svc = Services(
        settings=settings,
        clock=clock or SystemClock(),
        rule=RingRule(settings.rings.cycle_seconds, settings.rings.limit),
        hub=LiveHub(NumberPolicy(frozenset(settings.privacy.full_number_roles))),
        directory=AgentDirectory(),
    )
    app = web.Application(middlewares=[error_middleware], client_max_size=1024**2)
    app[SERVICES] = svc

    async def database(_app: web.Application) -> AsyncIterator[None]:
        engine = db.create_engine(settings.database_url)
        try:
            current = await db.current_revision(engine)
            head = db.head_revision()
            if current != head:
                if not migrate:
                    raise StartupError(
                        f"the database is not migrated (at {current or 'an empty schema'}, "
                        f"needs {head}): run `callcenter db upgrade` "
                        "or `callcenter serve --migrate`"
                    )
                log.info("migrating the database from %s to %s", current, head)
                await db.upgrade(engine)
        except BaseException:
            await engine.dispose()
            raise
        svc.engine = engine
        yield
        await engine.dispose()

    async def mqtt_ctx(_app: web.Application) -> AsyncIterator[None]:
        m = settings.mqtt
        tasks = []
        if mqtt:
            if m.embedded:
                try:
                    svc.broker = await start_embedded_broker(m.broker.host, m.broker.port)
                except OSError as exc:
                    raise StartupError(
                        "mqtt.embedded_listen: cannot start the embedded broker "
                        f"on {m.broker}: {exc}"
                    ) from exc
            svc.publisher = MqttPublisher(m.broker.host, m.broker.port, m.username, m.password)
            tasks.append(_owned("mqtt-publisher", svc.publisher.run()))
        yield
        await _stop(tasks)
        if svc.broker is not None:
            await svc.broker.shutdown()

    async def tracker_ctx(_app: web.Application) -> AsyncIterator[None]:
        bus = Bus(handlers(svc))
        tracker = CallTracker(
            svc.db(),
            bus,
            svc.clock,
            svc.rule,
            svc.directory,
            max_ring=timedelta(seconds=settings.sip.max_ring_seconds),
            max_call=timedelta(seconds=settings.sip.max_call_seconds),
        )
        resumed = await tracker.restore()
        if resumed:
            log.info("resumed open calls count=%d", resumed)
        svc.tracker = tracker
        # Tens of thousands of live calls make full collections slow; the start-up objects
        # (modules, tables, restored calls) never die, so take them out of collection.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        tasks = [
            _owned("ring-limit-alerts", tracker.run_alerts()),
            _owned("call-flusher", tracker.run_flusher()),
            _owned("call-sweeper", tracker.run_sweeper()),
            _owned("agent-directory", tracker.reload_directory_periodically()),
        ]
        yield
        await _stop(tasks)
        tracker.close()
        with contextlib.suppress(Exception):
            await tracker.flush()

    async def sources_ctx(_app: web.Application) -> AsyncIterator[None]:
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
            source = build_source(
                pbx,
                settings,
                tracker.handle,
                svc.clock.now,
                publish,
                known_extension=lambda ext: svc.directory.lookup(ext) is not None,
            )
            svc.sources[pbx.id] = source
            if isinstance(source, HepSource):
                await _start_hep(source, tracker, pbx, bool(settings.pbx))
                tasks.append(_owned(f"sip-dialog-expiry-{pbx.id}", _expire(source)))
            tasks.append(_owned(f"source-{pbx.id}", source.run()))
        redirectors = {
            k: cast(CallRedirector, v) for k, v in svc.sources.items() if hasattr(v, "redirect")
        }
        svc.actions = RingLimitActions(
            settings.rings, redirectors, svc.db(), tracker.bus, svc.clock, tracker.wait_saved
        )
        yield
        await _stop(tasks)
        await svc.actions.close()

    def publish(topic: str, payload: dict[str, Any]) -> None:
        if svc.publisher is not None:
            svc.publisher.publish(topic, payload)

    async def _start_hep(
        source: HepSource, tracker: CallTracker, pbx: PbxSettings, from_table: bool
    ) -> None:
        for call in tracker.open_calls(pbx.id):
            source.translator.restore(
                call.call_id,
                call.call_tag,
                {
                    ref: (leg.extension, leg.answered_at is not None)
                    for ref, leg in call.legs.items()
                },
            )
        try:
            await source.start()
        except OSError as exc:
            key = f"pbx.{pbx.id}.port" if from_table else "sip.hep_listen"
            raise StartupError(f"{key}: cannot listen on {pbx.address}: {exc}") from exc

    async def _expire(source: HepSource) -> None:
        while True:
            await asyncio.sleep(5)
            source.translator.expire(
                svc.clock.now().timestamp(), idle_open=settings.sip.max_call_seconds
            )

    async def demo_ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [_owned("demo", demo(svc))] if demo is not None else []
        yield
        await _stop(tasks)

    async def hub_ctx(_app: web.Application) -> AsyncIterator[None]:
        yield
        await svc.hub.close()

    app.cleanup_ctx.extend([database, mqtt_ctx, tracker_ctx, sources_ctx, demo_ctx, hub_ctx])
    routes.add_routes(app)
    return app
