"""The line probe's use cases: place a probe call, judge it, record it, and announce the line
going down or coming back (after the commit, on the bus)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.clock import Clock
from callcenter.probe import store
from callcenter.probe.model import Line, LineAlerted, ProbeResult, after, judge
from callcenter.probe.phone import ProbeCall
from callcenter.probe.settings import ProbeSettings

log = logging.getLogger(__name__)

Publish = Callable[[object], Awaitable[None]]


class LineProbe:
    """Calls the hotline every `interval_seconds` (the first at start), one call at a time."""

    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        settings: ProbeSettings,
        call: ProbeCall,
        publish: Publish,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.call = call
        self.publish = publish
        self.line = Line()
        self.last: ProbeResult | None = None
        self.probes = 0
        self._lock = asyncio.Lock()

    async def restore(self) -> None:
        """The line as the last recorded probe left it: a restart neither raises line_down
        again nor misses line_up."""
        async with self.db().connect() as conn:
            self.last = await store.latest(conn)
        if self.last is not None:
            self.line = self.last.line

    async def probe_once(self) -> ProbeResult:
        """One probe call, recorded; its alert published after the commit."""
        async with self._lock:
            s = self.settings
            started = self.clock.now()
            try:
                heard = await self.call(s)
            except RuntimeError as exc:  # pyVoIP missing: said once per probe, not a crash
                log.error("line probe: %s", exc)
                raise
            verdict = judge(heard, s.ring_limit_seconds, s.answer_limit_seconds)
            line, alert = after(self.line, verdict.ok, started, s.down_after)
            detail = verdict.detail
            if heard.bye_status is not None and heard.bye_status != 200:
                detail += f"; BYE answered {heard.bye_status}"
            if heard.problem and heard.problem not in detail:
                detail += f"; {heard.problem}"
            result = ProbeResult(
                id=0,
                started_at=started,
                number=s.number,
                outcome=verdict.outcome,
                sip_status=heard.final_status,
                ring_seconds=heard.ring,
                answer_seconds=heard.answer,
                detail=detail,
                sip_call_id=heard.sip_call_id,
                line=line,
                alert=alert,
            )
            async with self.db().begin() as conn:
                result = await store.insert(conn, result)
            before, self.line, self.last = self.line, line, result
            self.probes += 1
            log.info(
                "line probe number=%s outcome=%s status=%s ring=%s answer=%s line=%s",
                s.number,
                result.outcome,
                result.sip_status,
                _round(result.ring_seconds),
                _round(result.answer_seconds),
                line.state,
            )
            if alert is not None:
                since = line.since if alert == "line_down" else before.since
                assert since is not None
                if alert == "line_down":
                    log.warning("line_down number=%s: %s", s.number, detail)
                await self.publish(LineAlerted(alert, result, since, self.clock.now()))
            return result

    async def run(self) -> None:
        """Probe at start, then every interval (from the start of one probe to the next)."""
        await self.restore()
        while True:
            began = time.monotonic()
            try:
                await self.probe_once()
            except RuntimeError:
                pass  # logged: pyVoIP is missing, the next interval says so again
            except Exception:
                # A database hiccup must not end the probing: the next probe tries again.
                log.exception("line probe failed")
            took = time.monotonic() - began
            await asyncio.sleep(max(0.0, self.settings.interval_seconds - took))

    def status(self) -> dict[str, Any]:
        """For /api/health."""
        last = self.last
        return {
            "enabled": True,
            "number": self.settings.number,
            "line": self.line.state,
            "failures": self.line.failures,
            "probes": self.probes,
            "last_outcome": last.outcome if last is not None else None,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
