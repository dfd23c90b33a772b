"""`callcenter probe`: the line probe on its own (on another host, or beside a service that
does not run it), and `--once`, one call printed, to set the probe up by hand."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.bus import Bus
from callcenter.clock import SystemClock
from callcenter.config import Settings
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.probe import schemas
from callcenter.probe.model import LineAlerted, judge
from callcenter.probe.phone import place_probe_call
from callcenter.probe.service import LineProbe
from callcenter.tasks import owned, stop_all

EXIT_USAGE = 2
LINE_TOPIC = "alerts/line"


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "probe",
        parents=[common],
        help="the line probe (拨测): call the hotline on [probe]'s schedule, record each call, "
        "alert line_down / line_up over MQTT",
    )
    p.add_argument(
        "--once",
        action="store_true",
        help="place one call, print what was heard and exit (0 answered, 1 not); "
        "nothing is recorded or alerted",
    )


def _unconfigured(settings: Settings) -> str | None:
    s = settings.probe
    missing = [k for k, v in (("registrar", s.registrar), ("username", s.username),
                              ("number", s.number)) if not v]  # fmt: skip
    if missing:
        return f"probe.{missing[0]} is not set ([probe] in the config file)"
    return None


async def once(settings: Settings) -> int:
    """One call, printed as JSON; the exit status says whether the line answered."""
    problem = _unconfigured(settings)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    s = settings.probe
    heard = await place_probe_call(s)
    verdict = judge(heard, s.ring_limit_seconds, s.answer_limit_seconds)
    print(
        json.dumps(
            {
                "number": s.number,
                "outcome": verdict.outcome,
                "detail": verdict.detail,
                "sip_status": heard.final_status,
                "ring_seconds": heard.ring,
                "answer_seconds": heard.answer,
                "sip_call_id": heard.sip_call_id,
            },
            ensure_ascii=False,
        )
    )
    return 0 if verdict.ok else 1


async def run(settings: Settings, engine: AsyncEngine) -> int:
    """Probe on the schedule until stopped: results in the database, alerts over MQTT."""
    problem = _unconfigured(settings)
    if settings.probe.enabled:
        problem = (
            "probe.enabled is true: `callcenter serve` runs the probe already "
            "(`callcenter probe --once` checks the line by hand)"
        )
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    m = settings.mqtt
    publisher = MqttPublisher(
        m.broker.host, m.broker.port, m.username, m.password, client_id=f"{m.topic_prefix}-probe"
    )

    async def to_mqtt(event: object) -> None:
        assert isinstance(event, LineAlerted)
        message = schemas.alert_json(event, settings.probe.username)
        publisher.publish(f"{m.topic_prefix}/{LINE_TOPIC}", message, qos=1, retain=True)

    probe = LineProbe(
        lambda: engine,
        SystemClock(),
        settings.probe,
        place_probe_call,
        Bus({LineAlerted: [to_mqtt]}).publish,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [owned("mqtt-publisher", publisher.run()), owned("line-probe", probe.run())]
    try:
        await stop.wait()  # SIGTERM, or Ctrl-C cancelling this
    finally:
        # The probe's phone unregisters before the process ends.
        await stop_all(tasks)
    return 0
