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
from typing import Any

from aiohttp import web

from callcenter import db
from callcenter.bus import Bus, Handler
from callcenter.calls import schemas
from callcenter.calls.rings import RingRule
from callcenter.calls.service import AgentDirectory, CallTracker
from callcenter.clock import Clock, SystemClock
from callcenter.config import Settings
from callcenter.events import (
    CallClosed,
    PhoneRang,
    PhoneStopped,
    RingLimitReached,
    ViolationRecorded,
)
from callcenter.mqtt.broker import start_embedded_broker
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.telephony.hep.listener import HepListener
from callcenter.telephony.hep.translate import SipTranslator
from callcenter.web import routes
from callcenter.web.errors import error_middleware
from callcenter.web.keys import SERVICES, Services
from callcenter.web.live import LiveHub

log = logging.getLogger(__name__)

RING_LIMIT_TOPIC = "alerts/ring-limit"
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

    return {
        PhoneRang: [to_live],
        PhoneStopped: [to_live],
        CallClosed: [to_live],
        ViolationRecorded: [violation_to_mqtt, to_live],
        RingLimitReached: [ring_limit_to_mqtt, to_live],
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
        hub=LiveHub(),
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

    async def hep_ctx(_app: web.Application) -> AsyncIterator[None]:
        if not hep:
            yield
            return
        tracker = svc.calls()
        translator = SipTranslator("hep")
        for call in tracker.open_calls("hep"):
            translator.restore(
                call.call_id,
                call.call_tag,
                {
                    ref: (leg.extension, leg.answered_at is not None)
                    for ref, leg in call.legs.items()
                },
            )
        listener = HepListener(tracker.handle, translator, settings.sip.hep_password, svc.clock.now)
        address = settings.sip.hep_listen
        try:
            svc.hep_address = await listener.start(address.host, address.port)
        except OSError as exc:
            raise StartupError(f"sip.hep_listen: cannot listen on {address}: {exc}") from exc
        svc.listener = listener

        async def expire_dialogs() -> None:
            while True:
                await asyncio.sleep(5)
                translator.expire(
                    svc.clock.now().timestamp(), idle_open=settings.sip.max_call_seconds
                )

        tasks = [_owned("sip-dialog-expiry", expire_dialogs())]
        yield
        await _stop(tasks)
        listener.close()

    async def demo_ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [_owned("demo", demo(svc))] if demo is not None else []
        yield
        await _stop(tasks)

    async def hub_ctx(_app: web.Application) -> AsyncIterator[None]:
        yield
        await svc.hub.close()

    app.cleanup_ctx.extend([database, mqtt_ctx, tracker_ctx, hep_ctx, demo_ctx, hub_ctx])
    routes.add_routes(app)
    return app
