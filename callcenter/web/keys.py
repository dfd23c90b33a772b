"""Typed application keys shared by the routes and the composition root."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.calls.actions import RingLimitActions
from callcenter.calls.rings import RingRule
from callcenter.calls.service import AgentDirectory, CallTracker
from callcenter.clock import Clock
from callcenter.config import Settings
from callcenter.mqtt.publisher import MqttPublisher
from callcenter.telephony.hep.listener import HepListener
from callcenter.telephony.hep.source import HepSource
from callcenter.telephony.source import PbxSource
from callcenter.web.live import LiveHub


@dataclass
class Services:
    """Everything long-lived: built in app.build, filled in as each resource starts."""

    settings: Settings
    clock: Clock
    rule: RingRule
    hub: LiveHub
    directory: AgentDirectory
    engine: AsyncEngine | None = None
    tracker: CallTracker | None = None
    publisher: MqttPublisher | None = None
    broker: Any = None
    sources: dict[str, PbxSource] = field(default_factory=dict)
    actions: RingLimitActions | None = None
    demo: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

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

    def calls(self) -> CallTracker:
        assert self.tracker is not None, "the call tracker is not started"
        return self.tracker


SERVICES = web.AppKey("services", Services)
