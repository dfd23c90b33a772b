"""Each capability's routes, given only the services it uses, and /metrics when configured."""

from __future__ import annotations

from aiohttp import web

from callcenter.anomalies import http as anomalies_http
from callcenter.app.glue import (
    incidents_at,
    line_now,
    order_priority,
    recordings_for_calls,
    ticket_for,
    ticket_priority,
)
from callcenter.app.health import components, problems
from callcenter.app.services import Services
from callcenter.auth import http as auth_http
from callcenter.callbacks import http as callbacks_http
from callcenter.calls import http as calls_http
from callcenter.incidents import http as incidents_http
from callcenter.metrics import http as metrics_http
from callcenter.metrics.collect import Live, LiveCollector
from callcenter.metrics.service import Metrics
from callcenter.orders import http as orders_http
from callcenter.priority import http as priority_http
from callcenter.probe import http as probe_http
from callcenter.qa import http as qa_http
from callcenter.qa import http_assessment as qa_assessment_http
from callcenter.qa import http_evaluations as qa_evaluations_http
from callcenter.recordings import http as recordings_http
from callcenter.reports import http as reports_http
from callcenter.reports import http_charts as reports_charts_http
from callcenter.speech import http as speech_http
from callcenter.stations import http as stations_http
from callcenter.tickets import http as tickets_http
from callcenter.timeline import http as timeline_http
from callcenter.wallboard import http as wallboard_http
from callcenter.web import desk, routes


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
