"""Who hears each domain event after its commit: the one table that answers "what
happens when X?", and the MQTT topics the alerts go out on."""

from __future__ import annotations

import asyncio

from callcenter.anomalies import schemas as anomalies_schemas
from callcenter.anomalies.model import AnomalyOverdue, AnomalyRaised
from callcenter.app.services import Services
from callcenter.bus import Handler
from callcenter.callbacks import schemas as callbacks_schemas
from callcenter.callbacks.service import CallbackRecorded
from callcenter.calls import schemas
from callcenter.config import Settings
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
from callcenter.incidents import schemas as incidents_schemas
from callcenter.incidents.service import IncidentChanged
from callcenter.orders import schemas as orders_schemas
from callcenter.orders.service import OrderChanged
from callcenter.probe import schemas as probe_schemas
from callcenter.probe.model import LineAlerted
from callcenter.tickets import schemas as tickets_schemas

RING_LIMIT_TOPIC = "alerts/ring-limit"
OVERFLOW_TOPIC = "actions/overflow"
OVERFLOW_FAILED_TOPIC = "alerts/overflow-failed"
VIOLATIONS_TOPIC = "violations"
ANOMALIES_TOPIC = "anomalies"
LINE_TOPIC = "alerts/line"


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
        await svc.incidents.ticket_touched(event)
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
