"""The composition root's state: every long-lived service, filled in as each resource
starts, and the app key it is kept under."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.anomalies.service import Anomalies
from callcenter.anomalies.timers import DeadlineTimers
from callcenter.auth import service as auth_service
from callcenter.bus import Bus
from callcenter.callbacks.service import Callbacks
from callcenter.calls.actions import RingLimitActions
from callcenter.calls.rings import RingRule
from callcenter.calls.service import AgentDirectory, CallTracker
from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.ha.alerts import AlertLog
from callcenter.ha.service import Pair
from callcenter.incidents.reporting import IncidentReports
from callcenter.incidents.service import Incidents
from callcenter.metrics.service import Metrics
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.orders.outbox import OutboxSender
from callcenter.orders.service import Orders
from callcenter.priority.service import OutdoorTemperature, Prioritizer
from callcenter.probe.service import LineProbe
from callcenter.qa.checklists import Checklist, Sheet
from callcenter.qa.draw import Draws
from callcenter.qa.service import Evaluations
from callcenter.recordings.service import Recordings
from callcenter.recordings.spool import Spool
from callcenter.reports.archiving import Archivist
from callcenter.reports.service import Reports
from callcenter.speech.queue import TranscriptionQueue
from callcenter.speech.service import Transcripts
from callcenter.stations.model import AddressBook
from callcenter.telephony.hep.listener import HepListener
from callcenter.telephony.hep.source import HepSource
from callcenter.telephony.source import PbxSource
from callcenter.tickets.service import Tickets
from callcenter.timeline.service import Clocks, Pauses
from callcenter.wallboard.live import WallboardHub
from callcenter.wallboard.service import Wallboards
from callcenter.web.live import LiveHub


@dataclass
class Services:
    """The composition root's own state: everything long-lived, filled in as each resource
    starts. Only callcenter/app (and tests, benchmarks, the demo driving the whole service)
    use it;
    each route module gets the few services it needs instead."""

    settings: Settings
    clock: Clock
    rule: RingRule
    hub: LiveHub
    directory: AgentDirectory
    # Domain events after their commit; the table of who hears what is app/handlers.py.
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
