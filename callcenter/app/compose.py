"""build(settings, **overrides) -> web.Application: the services made and wired to each
other and to the events' handlers, then each resource started in order as a cleanup
context: resources.py's on both instances of a pair, pbx.py's and background.py's on the
active one only."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter.anomalies.service import Anomalies
from callcenter.anomalies.timers import DeadlineTimers
from callcenter.app import background, pbx, resources
from callcenter.app.glue import current_call, dispatch_deadlines, station_name
from callcenter.app.handlers import alert_topics, handlers
from callcenter.app.routes import add_metrics, add_routes
from callcenter.app.services import SERVICES, Services
from callcenter.bus import Bus
from callcenter.callbacks.service import Callbacks
from callcenter.calls.rings import RingRule
from callcenter.calls.service import AgentDirectory
from callcenter.clock import Clock, SystemClock
from callcenter.config import Settings
from callcenter.ha.alerts import AlertLog
from callcenter.ha.http import standby_middleware
from callcenter.ha.leader import Leadership
from callcenter.ha.messages import describe_alerts, witness_for
from callcenter.ha.service import CleanupCtx, Pair, StandbyHooks
from callcenter.incidents.reporting import IncidentReports
from callcenter.incidents.service import Incidents
from callcenter.orders.service import Orders
from callcenter.priority.service import OutdoorTemperature, Prioritizer
from callcenter.privacy import NumberPolicy
from callcenter.probe.phone import ProbeCall
from callcenter.qa.draw import Draws
from callcenter.qa.service import Evaluations
from callcenter.reports.archiving import Archivist
from callcenter.reports.service import Reports
from callcenter.speech.evidence import Spotter
from callcenter.speech.service import Transcribe, Transcripts
from callcenter.tickets.service import Tickets
from callcenter.timeline.service import Clocks, Pauses
from callcenter.wallboard import http as wallboard_http
from callcenter.wallboard.live import WallboardHub
from callcenter.wallboard.service import Wallboards
from callcenter.web import security
from callcenter.web.errors import error_middleware
from callcenter.web.live import LiveHub


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
    spotter = make_services(svc)
    app.on_shutdown.append(background.close_live_clients(svc))
    # Everything that writes or raises: on the active instance only (callcenter/ha).
    active: list[CleanupCtx] = [
        background.auth_ctx(svc),
        background.alerts_ctx(svc),
        background.anomalies_ctx(svc),
        background.outbox_ctx(svc, mqtt),
        pbx.tracker_ctx(svc),
        background.recordings_ctx(svc),
        background.speech_ctx(svc),
        pbx.sources_ctx(svc, hep),
        background.probe_ctx(svc, probe_call),
        background.qa_ctx(svc),
        background.reports_ctx(svc),
        background.incidents_ctx(svc),
        background.wallboard_ctx(svc),
        background.demo_ctx(svc, demo),
    ]
    if svc.pair is not None:
        watch = witness_for(settings.mqtt, settings.ha.name, list(alert_topics(settings)))
        hooks = StandbyHooks(pbx.listen_standby(svc, hep), lambda: svc.publisher, watch)
        active = [svc.pair.gate(active, hooks)]
    app.cleanup_ctx.extend(
        [
            resources.speech_check(svc, transcribe, spotter),
            resources.database(svc, migrate),
            resources.stations_ctx(svc),
            resources.mqtt_ctx(svc, mqtt),
            resources.temperature_ctx(svc, mqtt),
            *active,
        ]
    )
    add_routes(app, svc)
    add_metrics(app, svc)
    return app


def make_services(svc: Services) -> Spotter:
    """The use cases, each given the few services and callables it needs (svc.bus is the
    handlers' already). Returns the phrase spotter the transcription queue shares."""
    settings = svc.settings
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
    weights = settings.priority.weights.vulnerability
    svc.incidents.weigh = lambda v: weights.get(v, 0.0)
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
    return spotter
