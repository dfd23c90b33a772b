"""The composition root: builds the configured resources and the web app, in order.

`handlers` answers "what happens when X?" for every domain event; `build` wires each
capability's routes and resources. Nothing else imports the edges and the domain together.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import importlib.util
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter import db
from callcenter.anomalies import http as anomalies_http
from callcenter.anomalies import schemas as anomalies_schemas
from callcenter.anomalies.model import AnomalyOverdue, AnomalyRaised
from callcenter.anomalies.service import Anomalies
from callcenter.anomalies.timers import DeadlineTimers
from callcenter.auth import http as auth_http
from callcenter.auth import service as auth_service
from callcenter.auth.model import Principal
from callcenter.bus import Bus, Handler
from callcenter.callbacks import http as callbacks_http
from callcenter.callbacks import schemas as callbacks_schemas
from callcenter.callbacks.service import CallbackRecorded, Callbacks
from callcenter.calls import http as calls_http
from callcenter.calls import schemas
from callcenter.calls.actions import RingLimitActions
from callcenter.calls.intake import Limits
from callcenter.calls.rings import RingRule
from callcenter.calls.service import AgentDirectory, CallTracker
from callcenter.clock import Clock, SystemClock
from callcenter.config import PbxSettings, Settings, TicketsSettings
from callcenter.errors import ConfigError, StartupError
from callcenter.events import (
    CallClosed,
    OverflowAttempted,
    PhoneRang,
    PhoneStopped,
    RecordingStored,
    RingLimitReached,
    TicketTouched,
    ViolationRecorded,
)
from callcenter.ha.alerts import AlertLog
from callcenter.ha.feed import Feed
from callcenter.ha.http import standby_middleware
from callcenter.ha.leader import Leadership
from callcenter.ha.messages import describe_alerts, witness_for
from callcenter.ha.service import CleanupCtx, Pair, StandbyHooks
from callcenter.incidents import http as incidents_http
from callcenter.incidents import schemas as incidents_schemas
from callcenter.incidents.reporting import IncidentReports
from callcenter.incidents.service import IncidentChanged, Incidents
from callcenter.metrics import http as metrics_http
from callcenter.metrics.collect import Live, LiveCollector
from callcenter.metrics.service import Metrics
from callcenter.mqtt.broker import start_embedded_broker
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.mqtt.temperature import follow_temperature
from callcenter.orders import http as orders_http
from callcenter.orders import schemas as orders_schemas
from callcenter.orders.model import Deadlines
from callcenter.orders.outbox import OutboxSender
from callcenter.orders.service import OrderChanged, Orders
from callcenter.priority import http as priority_http
from callcenter.priority import schemas as priority_schemas
from callcenter.priority.poll import poll_temperature
from callcenter.priority.service import OutdoorTemperature, Prioritizer
from callcenter.privacy import NumberPolicy
from callcenter.probe import http as probe_http
from callcenter.probe import schemas as probe_schemas
from callcenter.probe.model import LineAlerted
from callcenter.probe.phone import NOT_INSTALLED, ProbeCall, place_probe_call
from callcenter.probe.service import LineProbe
from callcenter.qa import checklists as qa_checklists
from callcenter.qa import http as qa_http
from callcenter.qa import http_assessment as qa_assessment_http
from callcenter.qa import http_evaluations as qa_evaluations_http
from callcenter.qa.checklists import Checklist, Sheet
from callcenter.qa.draw import Draws
from callcenter.qa.service import Evaluations
from callcenter.qa.settings import QaSettings
from callcenter.recordings import http as recordings_http
from callcenter.recordings.schemas import recording_json
from callcenter.recordings.service import Recordings
from callcenter.recordings.spool import Spool
from callcenter.reports import http as reports_http
from callcenter.reports import http_charts as reports_charts_http
from callcenter.reports.archiving import Archivist
from callcenter.reports.service import Reports
from callcenter.signals import CallRedirector
from callcenter.speech import http as speech_http
from callcenter.speech.evidence import Spotter
from callcenter.speech.queue import TranscriptionQueue
from callcenter.speech.service import Transcribe, Transcripts, engine_transcriber
from callcenter.stations import http as stations_http
from callcenter.stations import service as stations_service
from callcenter.stations.model import AddressBook
from callcenter.stations.store import AddressBookError
from callcenter.tasks import owned, stop_all
from callcenter.telephony.hep.listener import HepListener
from callcenter.telephony.hep.source import HepSource
from callcenter.telephony.source import PbxSource
from callcenter.telephony.sources import build_source, configured_sources
from callcenter.tickets import http as tickets_http
from callcenter.tickets import schemas as tickets_schemas
from callcenter.tickets.model import Ticket
from callcenter.tickets.service import Tickets
from callcenter.timeline import http as timeline_http
from callcenter.timeline.service import Clocks, Pauses
from callcenter.wallboard import http as wallboard_http
from callcenter.wallboard.live import WallboardHub
from callcenter.wallboard.service import Wallboards
from callcenter.web import desk, routes, security
from callcenter.web.errors import error_middleware
from callcenter.web.live import LiveHub

__all__ = ["SERVICES", "Services", "StartupError", "build"]

log = logging.getLogger(__name__)

RING_LIMIT_TOPIC = "alerts/ring-limit"
OVERFLOW_TOPIC = "actions/overflow"
OVERFLOW_FAILED_TOPIC = "alerts/overflow-failed"
VIOLATIONS_TOPIC = "violations"
ANOMALIES_TOPIC = "anomalies"
LINE_TOPIC = "alerts/line"


@dataclass
class Services:
    """The composition root's own state: everything long-lived, filled in as each resource
    starts. Only app.py (and tests, benchmarks, the demo driving the whole service) use it;
    each route module gets the few services it needs instead."""

    settings: Settings
    clock: Clock
    rule: RingRule
    hub: LiveHub
    directory: AgentDirectory
    # Domain events after their commit; the table of who hears what is `handlers` below.
    bus: Bus = field(default_factory=Bus)
    engine: AsyncEngine | None = None
    # A pair's engine for the call tracker and the deadline timers (ha/service.py).
    pair_engine: AsyncEngine | None = None
    tracker: CallTracker | None = None
    publisher: MqttPublisher | None = None
    broker: Any = None
    sources: dict[str, PbxSource] = field(default_factory=dict)
    actions: RingLimitActions | None = None
    recordings: Recordings | None = None
    spool: Spool | None = None
    token_usage: auth_service.TokenUsage = field(default_factory=auth_service.TokenUsage)
    book: AddressBook | None = None
    tickets: Tickets | None = None
    orders: Orders | None = None
    anomalies: Anomalies | None = None
    deadlines: DeadlineTimers | None = None
    outbox: OutboxSender | None = None
    callbacks: Callbacks | None = None
    # The spot-check sheets (录音抽查测评), read and checked at start-up.
    checklists: dict[Sheet, Checklist] = field(default_factory=dict)
    draws: Draws | None = None
    evaluations: Evaluations | None = None
    reports: Reports | None = None
    archivist: Archivist | None = None
    # Only with [metrics] set: its registry, told of calls and of published events.
    metrics: Metrics | None = None
    # The TVs in the hotline room (大屏): their tokens and their live feed.
    wallboards: Wallboards | None = None
    wallhub: WallboardHub | None = None
    # Transcripts (issue 16): read and searched always; the queue worked only with the
    # extra callcenter[speech] (or a tests' transcribe); `speech_off` says why not.
    transcripts: Transcripts | None = None
    speech_queue: TranscriptionQueue | None = None
    speech_off: str = ""
    # The line probe (拨测), when [probe] enabled runs it inside the service.
    probe: LineProbe | None = None
    # With [ha] enabled: the active/standby pair and the log that raises each alert once.
    pair: Pair | None = None
    alert_log: AlertLog | None = None
    incidents: Incidents | None = None
    incident_reports: IncidentReports | None = None
    incidents_told: asyncio.Task[None] | None = None
    # Priority by the cold (issue 18): the outdoor temperature and each repair's priority.
    temperature: OutdoorTemperature | None = None
    prioritizer: Prioritizer | None = None
    # One clock (issue 18): the stations' waits on the resident, tickets' timelines.
    pauses: Pauses | None = None
    clocks: Clocks | None = None

    def _first_hep(self) -> HepSource | None:
        return next((s for s in self.sources.values() if isinstance(s, HepSource)), None)

    @property
    def listener(self) -> HepListener | None:
        """The first HEP source's listener (health, the demo and the benchmark use it)."""
        source = self._first_hep()
        return source.listener if source is not None else None

    @property
    def hep_address(self) -> tuple[str, int] | None:
        source = self._first_hep()
        return source.address if source is not None else None

    def db(self) -> AsyncEngine:
        assert self.engine is not None, "the database is not started"
        return self.engine

    def timers_db(self) -> AsyncEngine:
        """Where call state, alerts and deadlines are written: with [ha], on connections
        whose transactions PostgreSQL ends if they are left open (a frozen active's)."""
        return self.pair_engine or self.db()

    def calls(self) -> CallTracker:
        assert self.tracker is not None, "the call tracker is not started"
        return self.tracker

    def address_book(self) -> AddressBook:
        assert self.book is not None, "the address book is not loaded"
        return self.book

    def ticket_service(self) -> Tickets:
        assert self.tickets is not None, "the tickets are not set up"
        return self.tickets

    def order_service(self) -> Orders:
        assert self.orders is not None, "the orders are not set up"
        return self.orders

    def incident_service(self) -> Incidents:
        assert self.incidents is not None, "the incidents are not set up"
        return self.incidents

    def incident_report_service(self) -> IncidentReports:
        assert self.incident_reports is not None, "the incidents are not set up"
        return self.incident_reports

    def anomaly_service(self) -> Anomalies:
        assert self.anomalies is not None, "the anomalies are not set up"
        return self.anomalies

    def callback_service(self) -> Callbacks:
        assert self.callbacks is not None, "the callbacks are not set up"
        return self.callbacks

    def evaluation_service(self) -> Evaluations:
        assert self.evaluations is not None, "the spot-check evaluations are not set up"
        return self.evaluations

    def draw_service(self) -> Draws:
        assert self.draws is not None, "the spot-check draws are not set up"
        return self.draws

    def report_service(self) -> Reports:
        assert self.reports is not None, "the reports are not set up"
        return self.reports

    def archivist_service(self) -> Archivist:
        assert self.archivist is not None, "the report archive is not set up"
        return self.archivist

    def recording_service(self) -> Recordings:
        assert self.recordings is not None, "the recordings are not started"
        return self.recordings

    def wallboard_service(self) -> Wallboards:
        assert self.wallboards is not None, "the wallboards are not set up"
        return self.wallboards

    def wallboard_hub(self) -> WallboardHub:
        assert self.wallhub is not None, "the wallboards' feed is not set up"
        return self.wallhub

    def transcript_service(self) -> Transcripts:
        assert self.transcripts is not None, "the transcripts are not set up"
        return self.transcripts

    def pause_service(self) -> Pauses:
        assert self.pauses is not None, "the pauses are not set up"
        return self.pauses

    def clock_service(self) -> Clocks:
        assert self.clocks is not None, "the timelines are not set up"
        return self.clocks


SERVICES = web.AppKey("services", Services)


def handlers(svc: Services) -> dict[type, list[Handler]]:
    """Who receives each domain event, after it is committed."""

    async def to_live(event: object) -> None:
        message = schemas.live_json(event, svc.rule)
        if message is not None:
            if isinstance(event, ViolationRecorded | RingLimitReached):
                svc.hub.broadcast(message, private=True, agent_id=event.agent_id)
            else:
                svc.hub.broadcast(message)

    def claimed_to_mqtt(event: object) -> bool:
        # An alert the pair claimed goes out as claimed; its acknowledgement is recorded.
        claimed = svc.alert_log.outgoing(event) if svc.alert_log is not None else None
        if claimed is None or svc.publisher is None:
            return False
        on_sent = svc.alert_log.on_sent(claimed.id) if svc.alert_log is not None else None
        guard = svc.pair.leader.current if svc.pair is not None else None
        svc.publisher.publish(claimed.topic, claimed.payload, 1, on_sent=on_sent, guard=guard)
        return True

    async def ring_limit_to_mqtt(event: object) -> None:
        assert isinstance(event, RingLimitReached)
        if svc.publisher is not None and not claimed_to_mqtt(event):
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

    async def link_recordings(event: object) -> None:
        assert isinstance(event, CallClosed)
        if svc.recordings is not None:
            svc.recordings.call_closed(event.call_pk)

    async def overflow_to_mqtt(event: object) -> None:
        assert isinstance(event, OverflowAttempted)
        if svc.publisher is not None:
            topic = OVERFLOW_TOPIC if event.ok else OVERFLOW_FAILED_TOPIC
            message = schemas.live_json(event, svc.rule)
            assert message is not None
            svc.publisher.publish(f"{svc.settings.mqtt.topic_prefix}/{topic}", message, qos=1)

    async def order_to_live(event: object) -> None:
        assert isinstance(event, OrderChanged)
        svc.hub.broadcast(orders_schemas.live_json(event))

    async def order_to_outbox(event: object) -> None:
        assert isinstance(event, OrderChanged)
        # Committed with a message for the station: send it now, not at the next look.
        if svc.outbox is not None and event.action in ("dispatched", "recalled"):
            svc.outbox.wake()

    async def order_callbacks(event: object) -> None:
        assert isinstance(event, OrderChanged)
        if svc.incidents is not None and await svc.incidents.owns(event.order.ticket_id):
            # An incident's own order: its return books a callback per household instead.
            await svc.incidents.order_changed(event)
            return
        if svc.callbacks is not None:
            await svc.callbacks.order_changed(event)

    async def incidents_to_live(event: object) -> None:
        assert isinstance(event, IncidentChanged)
        live = await svc.incident_service().live()
        svc.hub.broadcast(incidents_schemas.live_json(event, live))

    async def incidents_to_mqtt(event: object) -> None:
        # Retained: an IVR connecting later learns at once what to play.
        assert isinstance(event, IncidentChanged)
        if svc.publisher is not None and svc.settings.incidents.announce:
            live = [i for i, _ in await svc.incident_service().live()]
            topic = f"{svc.settings.mqtt.topic_prefix}/{incidents_schemas.MQTT_TOPIC}"
            message = incidents_schemas.mqtt_json(event, live, event.at)
            svc.publisher.publish(topic, message, qos=1, retain=True)

    async def ticket_incidents(event: object) -> None:
        # One more report towards a proposal; and the calls an incident took, on the live
        # page (at most once a second in a flood).
        assert isinstance(event, TicketTouched)
        if svc.incidents is None or event.kind != "repair":
            return
        if event.action == "taken":
            await svc.incidents.linker.ticket_taken(event)
        if svc.incidents_told is None or svc.incidents_told.done():
            svc.incidents_told = asyncio.get_running_loop().create_task(incident_counts())

    async def incident_counts() -> None:
        await asyncio.sleep(1.0)
        live = await svc.incident_service().live()
        if live:
            svc.hub.broadcast(incidents_schemas.counts_json(live, svc.clock.now()))

    async def complaint_callback(event: object) -> None:
        # Complaints are called back within 3 days too (002 第3篇).
        assert isinstance(event, TicketTouched)
        if svc.callbacks is not None and event.action == "taken" and event.kind == "complaint":
            await svc.callbacks.book(
                event.ticket_id, "complaint", event.agent_id, event.station, None, event.at
            )

    async def callback_to_live(event: object) -> None:
        assert isinstance(event, CallbackRecorded)
        message = callbacks_schemas.live_json(event)
        svc.hub.broadcast(message, private=True, agent_id=event.callback.agent_id)

    async def ticket_to_live(event: object) -> None:
        assert isinstance(event, TicketTouched)
        # An agent hears of the tickets they took (their follow-up), the leads of every one.
        message = tickets_schemas.live_json(event)
        svc.hub.broadcast(message, private=True, agent_id=event.agent_id)

    async def order_deadlines(event: object) -> None:
        assert isinstance(event, OrderChanged)
        if svc.deadlines is not None:
            await svc.deadlines.on_order_changed(event)

    async def anomaly_to_live(event: object) -> None:
        assert isinstance(event, AnomalyRaised | AnomalyOverdue)
        # The department head and the leads see every one; an agent those of their tickets.
        message = anomalies_schemas.live_json(event, svc.clock.now())
        svc.hub.broadcast(message, private=True, agent_id=event.anomaly.agent_id)

    async def anomaly_to_mqtt(event: object) -> None:
        assert isinstance(event, AnomalyRaised | AnomalyOverdue)
        if svc.publisher is not None and not claimed_to_mqtt(event):
            message = anomalies_schemas.live_json(event, svc.clock.now())
            topic = f"{svc.settings.mqtt.topic_prefix}/{ANOMALIES_TOPIC}"
            svc.publisher.publish(topic, message, qos=1)

    async def to_metrics(event: object) -> None:
        if svc.metrics is not None:
            svc.metrics.published(event, svc.clock.now())

    async def queue_transcript(event: object) -> None:
        # Every new recording is queued, even with no worker yet (the extra not installed):
        # installing it later transcribes the backlog.
        assert isinstance(event, RecordingStored)
        if svc.transcripts is not None and svc.settings.speech.enabled != "off":
            if await svc.transcripts.on_recording_stored(event) and svc.speech_queue is not None:
                svc.speech_queue.wake()

    async def line_to_mqtt(event: object) -> None:
        # Retained: whoever subscribes later still learns whether the line is down now.
        assert isinstance(event, LineAlerted)
        if svc.publisher is not None:
            topic = f"{svc.settings.mqtt.topic_prefix}/{LINE_TOPIC}"
            message = probe_schemas.alert_json(event, svc.settings.probe.username)
            svc.publisher.publish(topic, message, qos=1, retain=True)

    async def line_to_live(event: object) -> None:
        # Everyone on the live page: a hotline that does not answer concerns every desk.
        assert isinstance(event, LineAlerted)
        svc.hub.broadcast(probe_schemas.alert_json(event, svc.settings.probe.username))

    async def to_wallboards(_event: object) -> None:
        # A figure the boards show may have moved: they read them again (at most once a second).
        if svc.wallhub is not None:
            svc.wallhub.changed()

    return {
        AnomalyRaised: [anomaly_to_mqtt, anomaly_to_live, to_metrics, to_wallboards],
        AnomalyOverdue: [anomaly_to_mqtt, anomaly_to_live, to_metrics, to_wallboards],
        # Callbacks before the live pages: a desk told of a return finds its callback booked.
        OrderChanged: [
            order_deadlines,
            order_callbacks,
            order_to_outbox,
            order_to_live,
            to_metrics,
            to_wallboards,
        ],
        # After the complaint's callback is booked: the boards count callbacks due.
        TicketTouched: [ticket_to_live, complaint_callback, ticket_incidents, to_wallboards],
        IncidentChanged: [incidents_to_live, incidents_to_mqtt, to_wallboards],
        CallbackRecorded: [callback_to_live, to_wallboards],
        OverflowAttempted: [overflow_to_mqtt, to_live],
        PhoneRang: [to_live, to_wallboards],
        PhoneStopped: [to_live, to_wallboards],
        CallClosed: [to_live, link_recordings, to_wallboards],
        RecordingStored: [queue_transcript],
        LineAlerted: [line_to_mqtt, line_to_live],
        ViolationRecorded: [violation_to_mqtt, to_live, to_metrics, to_wallboards],
        # Metrics first: the alert's lateness is timed as it goes out, not after the others.
        RingLimitReached: [
            to_metrics,
            ring_limit_to_mqtt,
            to_live,
            ring_limit_action,
            to_wallboards,
        ],
    }


def alert_topics(settings: Settings) -> tuple[str, str]:
    prefix = settings.mqtt.topic_prefix
    return f"{prefix}/{RING_LIMIT_TOPIC}", f"{prefix}/{ANOMALIES_TOPIC}"


def components(svc: Services) -> dict[str, Any]:
    """Each component's status for /api/health (the database is checked by the route)."""
    mqtt: dict[str, Any] = {"enabled": svc.publisher is not None}
    if svc.publisher is not None:
        mqtt |= {
            "connected": svc.publisher.connected,
            "published": svc.publisher.published,
            "queued": svc.publisher.queue.qsize(),
            "dropped": svc.publisher.dropped,
            "embedded_broker": svc.broker is not None,
        }
    hep: dict[str, Any] = {"enabled": svc.listener is not None}
    if svc.listener is not None and svc.hep_address is not None:
        st = svc.listener.stats
        hep |= {
            "listen": f"{svc.hep_address[0]}:{svc.hep_address[1]}",
            "datagrams": st.datagrams,
            "sip_messages": st.sip_messages,
            "events": st.events,
            "ignored": st.ignored,
            "untracked": st.untracked,
            "errors": dict(st.errors),
        }
    tracker = svc.tracker
    calls: dict[str, Any] = {}
    if tracker is not None:
        writer = tracker.writer.stats
        calls = {
            "in_memory": len(tracker.calls),
            "events_handled": tracker.events_handled,
            "flush_failures": writer.failures,
            "writer_lag_seconds": round(tracker.writer.lag_seconds(), 3),
            "parked": sum(writer.parked.values()),
            "spilled": writer.spilled,
            "replayed": writer.replayed,
            "refused": dict(tracker.refused),
        }
    return {
        "mqtt": mqtt,
        "hep": hep,
        "calls": calls,
        "sources": {k: v.status.state for k, v in svc.sources.items()},
        "recordings": recordings_status(svc),
        "orders": svc.outbox.status() if svc.outbox is not None else {},
        "anomalies": deadlines_status(svc),
        "speech": speech_status(svc),
        "probe": svc.probe.status() if svc.probe is not None else {"enabled": False},
        "live_clients": len(svc.hub.clients),
        "ha": svc.pair.status() if svc.pair is not None else {"enabled": False},
        # Shown, never "degraded": a weather feed that is down must not take the hotline out
        # of a load balancer; priorities then say the temperature is unknown.
        "temperature": svc.temperature.status() if svc.temperature is not None else {},
    }


def speech_status(svc: Services) -> dict[str, Any]:
    if svc.speech_queue is None:
        return {"enabled": False, "message": svc.speech_off}
    return {"enabled": True, **svc.speech_queue.status()}


def deadlines_status(svc: Services) -> dict[str, Any]:
    timers = svc.deadlines
    if timers is None:
        return {}
    return {
        "timers": timers.pending,
        "raised": timers.raised,
        "unreported": timers.unreported,
        "follow_ups_missed": timers.follow_ups_missed,
    }


def recordings_status(svc: Services) -> dict[str, Any]:
    if svc.recordings is None:
        return {}
    status = svc.recordings.status()
    if svc.spool is not None:
        status["spool"] = svc.spool.status()
    return status


def problems(svc: Services) -> list[str]:
    """Why the service is degraded, if it is: saving failing or behind, a source down, MQTT
    backing up. Empty when healthy."""
    limits = svc.settings.health
    out: list[str] = []
    if svc.tracker is not None:
        writer = svc.tracker.writer
        if writer.stats.consecutive_failures:
            out.append(f"calls: saving has failed {writer.stats.consecutive_failures} times")
        lag = writer.lag_seconds()
        if lag > limits.writer_lag_seconds:
            out.append(f"calls: saving is {lag:.0f} s behind")
    for source in svc.sources.values():
        down = source.status.down_for()
        if down > limits.source_down_seconds:
            out.append(f"source {source.status.id}: {source.status.state} for {down:.0f} s")
    publisher = svc.publisher
    if publisher is not None:
        if publisher.queue.qsize() > limits.mqtt_backlog:
            out.append(f"mqtt: {publisher.queue.qsize()} messages waiting")
        if publisher.down_for() > limits.source_down_seconds:
            out.append(f"mqtt: no broker connection for {publisher.down_for():.0f} s")
    if svc.outbox is not None:
        out.extend(svc.outbox.problems(limits.source_down_seconds))
    if svc.pair is not None:
        out.extend(svc.pair.problems())
    return out


async def current_call(svc: Services, extension: str) -> str | None:
    """The call the agent on `extension` is talking on (answered, not ended), once saved:
    the call a ticket typed now was taken on."""
    tracker = svc.tracker
    if tracker is None:
        return None
    for call in reversed(tracker.calls.values()):  # the most recently active first
        if call.closed:
            continue
        for leg in call.legs.values():
            if leg.extension == extension and leg.answered_at is not None and leg.ended_at is None:
                await tracker.wait_saved(call.id)
                return call.id
    return None


async def recordings_for_calls(svc: Services, call_ids: list[str]) -> list[dict[str, Any]]:
    """A ticket's recordings: those of its calls, newest first."""
    if svc.recordings is None:
        return []
    return [recording_json(r) for r in await svc.recordings.page(limit=200, call_ids=call_ids)]


def line_now(svc: Services) -> dict[str, Any] | None:
    """The hotline as the probe last saw it, for the live page's snapshot (None: no probe)."""
    if svc.probe is None:
        return None
    return probe_schemas.line_json(svc.probe.line, svc.probe.last, svc.settings.probe.number)


async def incidents_at(svc: Services, standards: list[str | None]) -> list[dict[str, Any]]:
    found = await svc.incident_service().covering(standards)
    return [incidents_schemas.incident_json(i) for i in found]


async def ticket_for(svc: Services, user: Principal, ticket_id: str) -> dict[str, Any]:
    """A ticket as GET /api/tickets lists it, its number shown as the user may see it."""
    detail = await svc.ticket_service().detail(ticket_id)
    own = detail.found.ticket.agent_id == user.id
    return tickets_schemas.ticket_json(detail.found, svc.hub.numbers.full(user.role, own_call=own))


def station_name(svc: Services, code: str) -> str:
    """宏城 (hongcheng): how spot-check evidence names a station."""
    station = svc.book.station(code) if svc.book is not None else None
    return f"{station.name} ({code})" if station is not None else code


def ticket_priority(svc: Services, ticket: Ticket) -> dict[str, Any] | None:
    """A repair still waiting: its priority now; anything else: None."""
    if svc.prioritizer is None:
        return None
    return priority_schemas.priority_json(svc.prioritizer.of_waiting(ticket))


def order_priority(svc: Services, ticket: Ticket) -> dict[str, Any] | None:
    """An order at its station: its ticket's priority now."""
    if svc.prioritizer is None:
        return None
    return priority_schemas.priority_json(svc.prioritizer.of(ticket))


def dispatch_deadlines(
    svc: Services, ticket: Ticket, base: Deadlines
) -> tuple[Deadlines, dict[str, Any] | None]:
    """An order's deadlines by its priority band at dispatch, and the band in its history."""
    if svc.prioritizer is None:
        return base, None
    deadlines, p = svc.prioritizer.deadlines(ticket, base)
    f = svc.settings.priority.factors(p.band)
    why = {
        "band": p.band,
        "score": p.score,
        "temperature": "ok" if p.outdoor.known else "unknown",
        "deadline_factors": {"accept": f.accept, "contact": f.contact, "repair": f.repair},
    }
    return deadlines, why


def add_routes(app: web.Application, svc: Services) -> None:
    """Each capability's routes, given the few services it uses."""
    routes.add_routes(
        app,
        routes.SiteDeps(
            db=svc.db,
            components=lambda: components(svc),
            problems=lambda: problems(svc),
            public=lambda: {"role": svc.pair.leader.role} if svc.pair is not None else {},
        ),
    )
    desk.add_routes(app, desk.DeskDeps(svc.settings.desk, svc.settings.web.timezone, svc.clock))
    auth_http.add_routes(
        app,
        auth_http.AuthDeps(
            db=svc.db,
            clock=svc.clock,
            web=svc.settings.web,
            usage=svc.token_usage,
            auth=svc.settings.auth,
        ),
    )
    calls_http.add_routes(
        app,
        calls_http.CallsDeps(
            db=svc.db,
            tracker=svc.calls,
            clock=svc.clock,
            rule=svc.rule,
            timezone=svc.settings.web.timezone,
            hub=svc.hub,
            sources=lambda: [source.status.as_json() for source in svc.sources.values()],
            line=lambda: line_now(svc),
        ),
    )
    probe_http.add_routes(app, probe_http.ProbeDeps(svc.db, svc.settings.web.timezone))
    stations_http.add_routes(app, stations_http.StationsDeps(book=svc.address_book))
    incidents_http.add_routes(
        app,
        incidents_http.IncidentsDeps(
            incidents=svc.incident_service,
            reports=svc.incident_report_service,
            ticket_json=lambda user, ticket_id: ticket_for(svc, user, ticket_id),
        ),
    )
    tickets_http.add_routes(
        app,
        tickets_http.TicketsDeps(
            tickets=svc.ticket_service,
            numbers=svc.hub.numbers,
            timezone=svc.settings.web.timezone,
            recordings_for_calls=lambda ids: recordings_for_calls(svc, ids),
            incidents_at=lambda standards: incidents_at(svc, standards),
            priority=lambda t: ticket_priority(svc, t),
        ),
    )
    callbacks_http.add_routes(
        app,
        callbacks_http.CallbacksDeps(
            callbacks=svc.callback_service, clock=svc.clock, timezone=svc.settings.web.timezone
        ),
    )
    orders_http.add_routes(
        app,
        orders_http.OrdersDeps(
            orders=svc.order_service,
            book=svc.address_book,
            numbers=svc.hub.numbers,
            priority=lambda t: order_priority(svc, t),
        ),
    )
    if svc.temperature is not None:
        priority_http.add_routes(app, priority_http.PriorityDeps(svc.temperature))
    anomalies_http.add_routes(
        app,
        anomalies_http.AnomaliesDeps(
            anomalies=svc.anomaly_service, timezone=svc.settings.web.timezone
        ),
    )
    qa_assessment_http.add_routes(
        app,
        qa_assessment_http.AssessmentDeps(
            db=svc.db,
            clock=svc.clock,
            timezone=svc.settings.web.timezone,
            qa=svc.settings.qa,
            checklists=lambda: svc.checklists,
        ),
    )
    recordings_http.add_routes(
        app,
        recordings_http.RecordingsDeps(
            recordings=svc.recording_service,
            max_upload_bytes=svc.settings.recordings.max_upload_mb * 1024 * 1024,
            said=speech_http.searcher(svc.transcript_service),
        ),
    )
    speech_http.add_routes(
        app, speech_http.SpeechDeps(svc.recording_service, svc.transcript_service)
    )
    qa_http.add_routes(app, qa_http.QaDeps(draws=svc.draw_service))
    # Before the reports: /api/reports/clock is not one of their {kind}s.
    timeline_http.add_routes(
        app,
        timeline_http.TimelineDeps(
            svc.pause_service, svc.clock_service, svc.address_book, svc.settings.web.timezone
        ),
    )
    reports_http.add_routes(
        app, reports_http.ReportsDeps(reports=svc.report_service, archivist=svc.archivist_service)
    )
    reports_charts_http.add_routes(app)
    qa_evaluations_http.add_routes(
        app,
        qa_evaluations_http.EvaluationsDeps(
            evaluations=svc.evaluation_service,
            checklists=lambda: svc.checklists,
            numbers=svc.hub.numbers,
            timezone=svc.settings.web.timezone,
        ),
    )
    wallboard_http.add_routes(
        app,
        wallboard_http.WallboardDeps(
            svc.wallboard_service, svc.wallboard_hub(), svc.report_service
        ),
    )


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate: bool = False,
    hep: bool = True,
    mqtt: bool = True,
    demo: Callable[[Services], Coroutine[Any, Any, None]] | None = None,
    transcribe: Transcribe | None = None,
    probe_call: ProbeCall | None = None,
) -> web.Application:
    """The app on `settings`. `transcribe`: what the transcription workers run on a
    recording (tests give their own); by default the engine, when callcenter[speech] is
    installed. `probe_call`: how the line probe places its call (tests give their own); by
    default pyVoIP, when callcenter[probe] is installed."""
    svc = Services(
        settings=settings,
        clock=clock or SystemClock(),
        rule=RingRule(settings.rings.cycle_seconds, settings.rings.limit),
        hub=LiveHub(NumberPolicy(frozenset(settings.privacy.full_number_roles))),
        directory=AgentDirectory(),
    )
    if settings.ha.enabled:
        leader = Leadership(settings.database_url, settings.ha)
        describe = describe_alerts(svc.rule, *alert_topics(settings), svc.clock.now)
        svc.alert_log = AlertLog(svc.db, svc.clock, describe, leader.name, lambda: leader.fence)
        svc.pair = Pair(settings.ha, leader, svc.alert_log)
    standby = [standby_middleware(svc.pair.leader)] if svc.pair is not None else []
    app = web.Application(
        middlewares=[error_middleware, *standby, security.origin_middleware],
        client_max_size=1024**2,
    )
    app.on_response_prepare.append(security.add_headers)
    app[SERVICES] = svc
    svc.bus = Bus(handlers(svc))
    svc.tickets = Tickets(
        svc.db,
        svc.clock,
        svc.address_book,
        timedelta(minutes=settings.tickets.link_window_minutes),
        current_call=lambda extension: current_call(svc, extension),
        on_change=svc.bus.publish,
    )
    svc.temperature = OutdoorTemperature(settings.priority, svc.clock)
    svc.prioritizer = Prioritizer(settings.priority, svc.temperature)
    svc.orders = Orders(
        svc.db,
        svc.clock,
        svc.address_book,
        settings.orders,
        on_change=svc.bus.publish,
        deadlines_for=lambda ticket, base: dispatch_deadlines(svc, ticket, base),
    )
    svc.incidents = Incidents(
        svc.db,
        svc.clock,
        svc.address_book,
        svc.order_service,
        settings.incidents,
        ZoneInfo(settings.web.timezone),
        on_change=svc.bus.publish,
    )
    svc.incidents.linker.recall = functools.partial(svc.orders.recall, for_incident=True)
    svc.tickets.incident_for = svc.incidents.linker.link_for
    svc.incident_reports = IncidentReports(svc.ticket_service, svc.incidents)
    svc.callbacks = Callbacks(
        svc.db,
        svc.clock,
        svc.order_service,
        link_call=svc.ticket_service().link_follow_up,
        on_recorded=svc.bus.publish,
    )
    svc.deadlines = DeadlineTimers(
        svc.timers_db, svc.clock, svc.bus.publish, settings.orders.report_within, svc.alert_log
    )
    svc.anomalies = Anomalies(svc.db, svc.clock, svc.deadlines, svc.bus.publish)
    svc.pauses = Pauses(svc.db, svc.clock, on_change=svc.bus.publish)
    svc.clocks = Clocks(svc.db, svc.clock, svc.rule, settings.timeline, settings.web.timezone)
    svc.draws = Draws(svc.db, svc.clock, settings.qa, settings.web.timezone)
    svc.reports = Reports(
        svc.db, svc.clock, settings.reports, svc.rule, settings.web.timezone, svc.address_book
    )
    svc.archivist = Archivist(svc.reports)
    svc.wallboards = Wallboards(
        svc.db, svc.clock, svc.rule, settings.web.timezone, svc.address_book, lambda: svc.tracker
    )
    svc.wallhub = WallboardHub(
        read=lambda: wallboard_http.read_figures(svc.wallboard_service()),
        revoked_among=svc.wallboards.revoked_among,
        seen=svc.wallboards.seen,
    )
    svc.transcripts = Transcripts(svc.db, svc.clock)
    # Phrase spotting: a first pass stored with each transcript, and again on the desk.
    spotter = Spotter(
        lambda: svc.checklists,
        settings.desk.holidays,
        settings.web.timezone,
        settings.speech.pinyin_tolerance,
    )
    svc.evaluations = Evaluations(
        svc.db,
        svc.clock,
        lambda: svc.checklists,
        station_name=lambda code: station_name(svc, code),
        rule=svc.rule,
        holidays=settings.desk.holidays,
        timezone=settings.web.timezone,
        spotter=spotter if settings.speech.enabled != "off" else None,
    )

    async def database(_app: web.Application) -> AsyncIterator[None]:
        svc.engine = await db.open_database(settings.database_url, migrate)
        if svc.pair is not None:
            svc.pair_engine = db.create_engine(settings.database_url, svc.pair.session_settings())
        yield
        await svc.engine.dispose()
        if svc.pair_engine is not None:
            await svc.pair_engine.dispose()

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

    async def temperature_ctx(_app: web.Application) -> AsyncIterator[None]:
        # On both instances of a pair: reading the weather writes nothing.
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

    async def outbox_ctx(_app: web.Application) -> AsyncIterator[None]:
        # Webhooks need no broker: the sender runs without MQTT too.
        svc.outbox = OutboxSender(
            svc.order_service(), svc.db, svc.clock, settings.orders, settings.mqtt if mqtt else None
        )
        tasks = [owned("orders-outbox", svc.outbox.run())]
        yield
        await stop_all(tasks)

    async def anomalies_ctx(_app: web.Application) -> AsyncIterator[None]:
        # After MQTT: a deadline that passed while the service was down is raised at start.
        assert svc.deadlines is not None
        await svc.deadlines.start()
        yield
        await svc.deadlines.stop()

    async def tracker_ctx(_app: web.Application) -> AsyncIterator[None]:
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
                tasks.append(owned(f"sip-dialog-expiry-{pbx.id}", _expire(source)))
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

    def publish(topic: str, payload: dict[str, Any]) -> None:
        if svc.publisher is not None:
            svc.publisher.publish(topic, payload)

    async def _start_hep(
        source: HepSource, tracker: CallTracker | None, pbx: PbxSettings, from_table: bool
    ) -> None:
        for call in tracker.open_calls(pbx.id) if tracker is not None else ():
            source.translator.restore(
                call.call_id,
                call.call_tag,
                {
                    ref: (leg.extension, leg.answered_at is not None)
                    for ref, leg in call.legs.items()
                },
            )
        if source.address is not None:
            return  # listening since this instance was the standby
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

    async def recordings_ctx(_app: web.Application) -> AsyncIterator[None]:
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

    async def speech_check(_app: web.Application) -> AsyncIterator[None]:
        # First of all: speech.enabled = true without the extra stops start-up before
        # anything is opened.
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

    async def speech_ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = []
        if settings.speech.enabled != "off":
            # A recording of the last day whose queueing was lost (a crash just after it was
            # stored, a `recording add` that could not queue it) is queued now.
            await svc.transcript_service().queue_stored(svc.clock.now() - timedelta(days=1))
        if svc.speech_queue is not None:
            tasks.append(owned("speech-queue", svc.speech_queue.run()))
        yield
        await stop_all(tasks)
        if svc.speech_queue is not None:
            await svc.speech_queue.close()

    async def probe_ctx(_app: web.Application) -> AsyncIterator[None]:
        # After the sources: the service sees the probe's first call (and leaves it out).
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

    async def demo_ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [owned("demo", demo(svc))] if demo is not None else []
        yield
        await stop_all(tasks)

    async def stations_ctx(_app: web.Application) -> AsyncIterator[None]:
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

    async def reports_ctx(_app: web.Application) -> AsyncIterator[None]:
        # Yesterday's report (and last week's, last month's) archived at archive_hour.
        tasks = [owned("reports-archive", svc.archivist_service().run())]
        yield
        await stop_all(tasks)

    async def qa_ctx(_app: web.Application) -> AsyncIterator[None]:
        # Each day's samples at qa.draw_hour; with spot checks off (no sheets), none.
        tasks = [owned("qa-draw", svc.draw_service().run())] if svc.checklists else []
        yield
        await stop_all(tasks)

    async def incidents_ctx(_app: web.Application) -> AsyncIterator[None]:
        # The live incidents each screen-pop names, read again every 2 s off the pops' path.
        tasks = [owned("incidents-live", svc.incident_service().copy.run())]
        yield
        await stop_all(tasks)

    async def wallboard_ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [owned("wallboard-feed", svc.wallboard_hub().run())]
        yield
        await stop_all(tasks)

    async def auth_ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [
            owned("token-last-used", auth_service.run_last_used_flusher(svc.db, svc.token_usage))
        ]
        yield
        await stop_all(tasks)

    async def close_live_clients(_app: web.Application) -> None:
        # on_shutdown runs before aiohttp waits for open handlers: a live page's WebSocket
        # never ends by itself, and would hold SIGTERM for the whole shutdown timeout.
        log.info("stopping: no new requests; the PBX sources stop next, then what is "
                 "pending is saved")  # fmt: skip
        await svc.hub.close()
        await svc.wallboard_hub().close()

    app.on_shutdown.append(close_live_clients)

    async def alerts_ctx(_app: web.Application) -> AsyncIterator[None]:
        tasks = [owned("alert-log", svc.alert_log.run())] if svc.alert_log is not None else []
        yield
        await stop_all(tasks)
        if svc.alert_log is not None:
            await svc.alert_log.flush()

    async def listen_standby(feed: Feed) -> list[asyncio.Task[None]]:
        # The standby hears the HEP mirrored to it and keeps it (docs/failover.md); AMI, ESL
        # and MQTT sources connect once it is active, and resync as after any reconnect.
        await svc.directory.reload(svc.db())
        tasks = [owned("agent-directory", _reload_directory())]
        for pbx in configured_sources(settings):
            if pbx.kind == "hep" and hep:
                source = HepSource(pbx, feed.handle, svc.clock.now, known_extension, settings.sip)
                await _start_hep(source, None, pbx, bool(settings.pbx))
                svc.sources[pbx.id] = source
                tasks.append(owned(f"sip-dialog-expiry-{pbx.id}", _expire(source)))
        return tasks

    def known_extension(extension: str) -> bool:
        return svc.directory.lookup(extension) is not None

    async def _reload_directory() -> None:
        while True:
            await asyncio.sleep(10)
            await svc.directory.reload(svc.db())

    # Everything that writes or raises: on the active instance only (callcenter/ha).
    active: list[CleanupCtx] = [
        auth_ctx,
        alerts_ctx,
        anomalies_ctx,
        outbox_ctx,
        tracker_ctx,
        recordings_ctx,
        speech_ctx,
        sources_ctx,
        probe_ctx,
        qa_ctx,
        reports_ctx,
        incidents_ctx,
        wallboard_ctx,
        demo_ctx,
    ]
    if svc.pair is not None:
        watch = witness_for(settings.mqtt, settings.ha.name, list(alert_topics(settings)))
        hooks = StandbyHooks(listen_standby, lambda: svc.publisher, watch)
        active = [svc.pair.gate(active, hooks)]
    app.cleanup_ctx.extend(
        [speech_check, database, stations_ctx, mqtt_ctx, temperature_ctx, *active]
    )
    add_routes(app, svc)
    add_metrics(app, svc)
    return app


def add_metrics(app: web.Application, svc: Services) -> None:
    """GET /metrics on the main listener behind metrics.token, and/or alone on
    metrics.listen; nothing at all when neither is set."""
    settings = svc.settings.metrics
    if not settings.enabled:
        return
    svc.metrics = Metrics(svc.rule)
    live = Live(
        tracker=lambda: svc.tracker,
        sources=lambda: svc.sources.values(),
        publisher=lambda: svc.publisher,
        live_clients=lambda: len(svc.hub.clients),
        now=svc.clock.now,
        rule=svc.rule,
    )
    collector = LiveCollector(live)
    svc.metrics.registry.register(collector)
    deps = metrics_http.MetricsDeps(svc.metrics, collector, svc.db, settings.token)
    if settings.token:
        metrics_http.add_routes(app, deps)
    if settings.listen is not None:
        web_listen = (svc.settings.web.listen.host, svc.settings.web.listen.port)
        app.cleanup_ctx.append(metrics_http.separate_listener(settings, deps, web_listen))
