"""The HEP listener as a PBX event source: bound at start-up, its counters read into a
SourceStatus once a second (counting on the hot path would cost every datagram).

Its bounds come from [sip]: capture times further than `max_clock_skew_seconds` from our
clock are replaced by the time received; the translator keeps twice `max_open_calls`
dialogs and twice `max_legs_per_call` legs a dialog (the tracker's own caps, with room for
the finished dialogs kept for retransmissions and the legs no event came from)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from callcenter.config import PbxSettings, SipSettings
from callcenter.telephony.hep.listener import HepListener
from callcenter.telephony.hep.translate import KnownExtension, SipTranslator
from callcenter.telephony.source import OnEvent, SourceStatus


class HepSource:
    """`known_extension` tells agents' extensions from other SIP users: a leg is the phone
    the proxy dialled when that is an extension (see translate.py)."""

    def __init__(
        self,
        settings: PbxSettings,
        on_event: OnEvent,
        clock: Callable[[], datetime],
        known_extension: KnownExtension | None = None,
        sip: SipSettings | None = None,
    ):
        self.settings = settings
        sip = sip or SipSettings()
        self.translator = SipTranslator(
            settings.id,
            known_extension,
            max_dialogs=2 * sip.max_open_calls,
            max_legs=2 * sip.max_legs_per_call,
        )
        self.listener = HepListener(
            on_event,
            self.translator,
            settings.password,
            clock,
            max_clock_skew=sip.max_clock_skew_seconds,
        )
        self.status = SourceStatus(settings.id, "hep", settings.address)
        self.address: tuple[str, int] | None = None

    async def start(self) -> tuple[str, int]:
        """Bind now, so a port in use stops start-up instead of failing later."""
        self.address = await self.listener.start(self.settings.host, self.settings.port)
        self.status.address = f"{self.address[0]}:{self.address[1]}"
        self.status.state = "listening"
        return self.address

    async def run(self) -> None:
        seen_events = 0
        seen_errors = 0
        try:
            while True:
                await asyncio.sleep(1.0)
                stats = self.listener.stats
                if stats.events > seen_events:
                    self.status.count_events(stats.events - seen_events)
                    seen_events = stats.events
                errors = sum(stats.errors.values())
                if errors > seen_errors:
                    self.status.errors = errors
                    worst = max(stats.errors.items(), key=lambda kv: kv[1])
                    self.status.last_error = f"dropped bad input: {worst[0]} ×{worst[1]}"
                    seen_errors = errors
        finally:
            self.listener.close()
