"""The resources both instances of a pair hold, standby too: the speech extra's check, the
database, the address book and spot-check sheets, MQTT, the outdoor temperature."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from callcenter import db
from callcenter.app.services import Services
from callcenter.config import TicketsSettings
from callcenter.errors import ConfigError, StartupError
from callcenter.ha.service import CleanupCtx
from callcenter.mqtt.broker import start_embedded_broker
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.mqtt.temperature import follow_temperature
from callcenter.priority.poll import poll_temperature
from callcenter.qa import checklists as qa_checklists
from callcenter.qa.settings import QaSettings
from callcenter.speech.evidence import Spotter
from callcenter.speech.queue import TranscriptionQueue
from callcenter.speech.service import Transcribe, engine_transcriber
from callcenter.stations import service as stations_service
from callcenter.stations.store import AddressBookError
from callcenter.tasks import owned, stop_all

# The composition root logs under one name, as when it was one module (app.py).
log = logging.getLogger("callcenter.app")


def speech_check(svc: Services, transcribe: Transcribe | None, spotter: Spotter) -> CleanupCtx:
    """The transcription queue on `transcribe`, or on the engine when callcenter[speech] is
    installed; `spotter` gives each transcript its first pass."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # First of all: speech.enabled = true without the extra stops start-up before
        # anything is opened.
        settings = svc.settings
        s = settings.speech
        if s.enabled == "off":
            svc.speech_off = 'transcription off (speech.enabled = "off")'
            yield
            return
        run, why = (transcribe, "") if transcribe else engine_transcriber(s.chunk_seconds)
        if run is None:
            if s.enabled == "required":
                raise StartupError(f"speech.enabled: true, but {why}")
            svc.speech_off = why
            log.warning("%s; recordings are queued until it is", why)
        else:
            svc.speech_queue = TranscriptionQueue(
                svc.db,
                svc.clock,
                settings.recordings_root,
                run,
                workers=s.workers,
                nice=s.nice,
                idle=s.idle,
                first_pass=spotter.first_pass,
            )
        yield

    return ctx


def database(svc: Services, migrate: bool) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        settings = svc.settings
        svc.engine = await db.open_database(settings.database_url, migrate)
        if svc.pair is not None:
            svc.pair_engine = db.create_engine(settings.database_url, svc.pair.session_settings())
        yield
        await svc.engine.dispose()
        if svc.pair_engine is not None:
            await svc.pair_engine.dispose()

    return ctx


def stations_ctx(svc: Services) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        settings = svc.settings
        try:
            # An explicitly configured book must exist; the default may be absent.
            default = settings.tickets.stations_file == TicketsSettings().stations_file
            svc.book = stations_service.load_for_service(
                settings.stations_path, required=not default
            )
        except AddressBookError as exc:
            raise StartupError(f"tickets.stations_file: {exc}") from exc
        # As the address book: a configured directory must hold both sheets; the default may
        # be absent (a service run elsewhere than the repository), and spot checks are off.
        if (
            settings.checklists_dir.exists()
            or settings.qa.checklists_dir != QaSettings().checklists_dir
        ):
            try:
                svc.checklists = qa_checklists.load(settings.checklists_dir)
            except ConfigError as exc:
                raise StartupError(str(exc)) from exc
        else:
            log.warning(
                "no spot-check sheets in %s: recording spot checks are off", settings.checklists_dir
            )
        yield

    return ctx


def mqtt_ctx(svc: Services, mqtt: bool) -> CleanupCtx:
    """The MQTT publisher (and the embedded broker when mqtt.url is empty); `mqtt` False:
    neither."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        settings = svc.settings
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
            # Each instance of a pair its own client id: the broker drops a repeated one.
            client = f"callcenter-{settings.ha.name}" if svc.pair is not None else "callcenter"
            svc.publisher = MqttPublisher(
                m.broker.host, m.broker.port, m.username, m.password, client_id=client
            )
            tasks.append(owned("mqtt-publisher", svc.publisher.run()))
        yield
        if svc.publisher is not None:
            # After the last save: its alerts and violations go out before the connection.
            left = await svc.publisher.drain(settings.database.shutdown_flush_seconds)
            if left:
                log.warning("MQTT messages not sent at shutdown count=%d", left)
        await stop_all(tasks)
        if svc.broker is not None:
            await svc.broker.shutdown()

    return ctx


def temperature_ctx(svc: Services, mqtt: bool) -> CleanupCtx:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        # On both instances of a pair: reading the weather writes nothing.
        settings = svc.settings
        p, tasks = settings.priority, []
        assert svc.temperature is not None
        if p.temperature_source == "mqtt" and mqtt:
            run = follow_temperature(settings.mqtt, p.mqtt_topic, svc.temperature)
            tasks.append(owned("temperature-mqtt", run))
        elif p.temperature_source == "mqtt":
            svc.temperature.failed("mqtt-off", "MQTT is off in this service")
        elif p.temperature_source == "http":
            run = poll_temperature(
                p.http_url, p.http_interval_seconds, p.http_timeout_seconds, svc.temperature
            )
            tasks.append(owned("temperature-http", run))
        yield
        await stop_all(tasks)

    return ctx
