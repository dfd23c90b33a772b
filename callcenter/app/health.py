"""What /api/health shows: each component's status, and why the service is degraded
when it is."""

from __future__ import annotations

from typing import Any

from callcenter.app.services import Services


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
