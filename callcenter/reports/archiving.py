"""Archiving the reports (报表档案制度): at [reports] archive_hour each day the service archives
yesterday's daily report, and last week's and last month's once they are over; a restart
after the hour archives what it missed. A report asked for later carries its archive's
verdict: the same figures, or the differences (late data)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from callcenter.clock import iso_z
from callcenter.reports import archive
from callcenter.reports.model import Period, ReportKind
from callcenter.reports.schemas import report_json
from callcenter.reports.service import Reports

log = logging.getLogger(__name__)

RETRY_SECONDS = 300.0
START_GRACE_SECONDS = 60.0
ARCHIVED_KINDS: tuple[ReportKind, ...] = ("daily", "weekly", "monthly")


class Archivist:
    def __init__(self, reports: Reports) -> None:
        self.reports = reports
        self.runs = 0  # scheduled runs done (health, tests)

    async def archive(self, period: Period) -> bool:
        """Archive the period's report if it is over and not archived yet."""
        if not self.reports.complete(period):
            return False
        report = await self.reports.build(period)
        body = archive.canonical(report_json(report, True))
        done = await archive.append(
            self.reports.db(), period.kind, period.key, self.reports.clock.now(), body
        )
        if done:
            log.info("report archived kind=%s period=%s", period.kind, period.key)
        return done

    async def archive_due(self) -> list[str]:
        """Yesterday's, last week's and last month's reports, those not archived yet."""
        out = []
        for kind in ARCHIVED_KINDS:
            period = self.reports.parse(kind, None)
            if await self.archive(period):
                out.append(f"{kind} {period.key}")
        return out

    async def verdict(self, period: Period, body: dict[str, Any]) -> dict[str, Any] | None:
        """The archive's word on a report just built: None when never archived."""
        async with self.reports.db().connect() as conn:
            kept = await archive.find(conn, period.kind, period.key)
        if kept is None:
            return None
        now = json.loads(archive.canonical(body))
        changed = list(archive.differences(kept.body, now))
        return {
            "archived_at": iso_z(kept.archived_at),
            "sha256": kept.sha256,
            "same": not changed,
            "differences": changed,
        }

    async def run(self) -> None:
        """Archive at archive_hour local time every day; started after it, a minute after
        the start (a service restarting in a loop does not rebuild reports each time)."""
        done: date | None = None
        hour = time(self.reports.settings.archive_hour)
        settled = self.reports.clock.now() + timedelta(seconds=START_GRACE_SECONDS)
        while True:
            now = self.reports.clock.now()
            today = self.reports.today()
            at = max(datetime.combine(today, hour, self.reports.tz), settled)
            wake = at
            if now >= at and done != today:
                try:
                    archived = await self.archive_due()
                except (SQLAlchemyError, OSError):
                    log.exception("archiving the reports failed; retrying in %.0f s", RETRY_SECONDS)
                    wake = now + timedelta(seconds=RETRY_SECONDS)
                else:
                    done = today
                    self.runs += 1
                    log.info("reports archived date=%s: %s", today, ", ".join(archived) or "none")
            if done == today:
                wake = datetime.combine(today + timedelta(days=1), hour, self.reports.tz)
            await self._sleep_until(wake)

    async def _sleep_until(self, when: datetime) -> None:
        woken = asyncio.Event()
        timer = self.reports.clock.call_at(when, woken.set)
        try:
            await woken.wait()
        finally:
            timer.cancel()
