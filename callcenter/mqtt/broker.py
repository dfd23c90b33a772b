"""The embedded MQTT broker (amqtt) for a single-machine install; production uses Mosquitto.

amqtt pins websockets, so it is an optional extra (`pip install callcenter[broker]`).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedBrokerMissing(RuntimeError):
    pass


async def start_embedded_broker(host: str, port: int) -> Any:
    try:
        from amqtt.broker import Broker
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedBrokerMissing(
            "mqtt.url is empty, which starts the embedded broker, but amqtt is not installed: "
            "pip install 'callcenter[broker]' or set mqtt.url to an external broker"
        ) from exc
    # amqtt logs every packet at INFO; keep our log for our events.
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
            },
        }
    )
    await broker.start()
    log.info("embedded MQTT broker on %s:%s", host, port)
    return broker
