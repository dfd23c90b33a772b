"""Drawing the samples (录音抽查): each team lead's of yesterday, each QA lead's of last week,
by hand or at qa.draw_hour. A period is drawn once per reviewer: drawing it again gives the
stored sample, and its seed is kept on each row so the draw can be repeated and audited."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callcenter.auth.model import Principal, Role
from callcenter.auth.store import users
from callcenter.calls.model import new_id
from callcenter.clock import Clock
from callcenter.errors import Invalid
from callcenter.qa import candidates as q
from callcenter.qa import periods
from callcenter.qa.model import SCOPE_OF, Sample, Scope
from callcenter.qa.periods import Period
from callcenter.qa.sampling import Candidate, Weights, draw, seed
from callcenter.qa.settings import QaSettings
from callcenter.qa.store import qa_samples, sample_from_row, sample_row

log = logging.getLogger(__name__)

RETRY_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Drawn:
    """A sample as it is shown: who checks whose call, when it was, why the draw leaned."""

    sample: Sample
    reviewer: str
    agent: str | None
    call_at: datetime | None
    violation: bool
    complaint: bool
    new_agent: bool

    @property
    def reasons(self) -> list[str]:
        flags = {"violation": self.violation, "complaint": self.complaint}
        return [k for k, v in (flags | {"new_agent": self.new_agent}).items() if v]


def drawn_from_row(r: Mapping[Any, Any], new_agent_days: int) -> Drawn:
    since, at = r["agent_since"], r["call_at"]
    return Drawn(
        sample=sample_from_row(r),
        reviewer=r["reviewer_name"],
        agent=r["agent_name"],
        call_at=at,
        violation=bool(r["violation"]),
        complaint=bool(r["complaint"]),
        new_agent=since is not None and at is not None and at - since < timedelta(new_agent_days),
    )


@dataclass(frozen=True, slots=True)
class Audit:
    stored_seed: str | None
    seed: str
    stored: frozenset[str]
    redrawn: frozenset[str]

    @property
    def same(self) -> bool:
        return self.stored == self.redrawn and self.stored_seed in (None, self.seed)


class Draws:
    def __init__(
        self, db: Callable[[], AsyncEngine], clock: Clock, qa: QaSettings, timezone: str
    ) -> None:
        self.db = db
        self.clock = clock
        self.qa = qa
        self.tz = ZoneInfo(timezone)
        self.weights = Weights(qa.weight_violation, qa.weight_complaint, qa.weight_new_agent)
        self.scheduled_runs = 0  # draw_due runs by the schedule (health, tests)

    def per_agent(self, scope: Scope) -> int:
        return self.qa.daily_per_agent if scope == "daily" else self.qa.weekly_per_agent

    async def draw_for(
        self, reviewer: Principal, scope: Scope, period: Period, found: list[q.Found] | None = None
    ) -> list[Drawn]:
        """The reviewer's sample of `period`: the stored one, else drawn now. `found`: the
        period's candidates, when the caller draws it for several reviewers."""
        if not period.over(self.clock.now(), self.tz):
            raise Invalid(
                "period-not-over",
                f"{period.key} is not over: a sample is drawn once the period's calls are in",
                "period",
            )
        stored = await self.stored(reviewer.id, scope, period.key)
        if stored:
            return stored
        seed_text, chosen, found = await self._choose(reviewer, scope, period, found)
        by_recording = {f.candidate.recording_id: f for f in found}
        now = self.clock.now()
        rows = [
            sample_row(
                Sample(
                    id=new_id(),
                    reviewer_id=reviewer.id,
                    scope=scope,
                    period=period.key,
                    seed=seed_text,
                    recording_id=c.recording_id,
                    call_id=c.call_id,
                    agent_id=c.agent_id,
                    ticket_id=by_recording[c.recording_id].ticket_id,
                    sheet=c.sheet,
                    weight=self.weights.of(c),
                    drawn_at=now,
                )
            )
            for c in chosen
        ]
        if rows:
            try:
                async with self.db().begin() as conn:
                    await conn.execute(qa_samples.insert(), rows)
            except IntegrityError:
                # Drawn at the same moment elsewhere (the schedule, another instance, a
                # second click): the same seed chose the same rows, and theirs are kept.
                log.info("sample drawn concurrently reviewer=%s period=%s", reviewer.name, period)
            else:
                log.info(
                    "sample drawn reviewer=%s scope=%s period=%s recordings=%d",
                    reviewer.name,
                    scope,
                    period.key,
                    len(rows),
                )
        return await self.stored(reviewer.id, scope, period.key)

    async def _choose(
        self, reviewer: Principal, scope: Scope, period: Period, found: list[q.Found] | None
    ) -> tuple[str, list[Candidate], list[q.Found]]:
        start, end = period.window(self.tz)
        async with self.db().connect() as conn:
            if found is None:
                found = await q.candidates(conn, start, end, self.qa.new_agent_days)
            seen = await q.seen(conn, reviewer.id, period.key)
        seed_text = seed(period.key, reviewer.name, self.qa.sampling_version)
        chosen = draw(
            (f.candidate for f in found), seen, self.per_agent(scope), self.weights, seed_text
        )
        return seed_text, chosen, found

    async def audit(self, reviewer: Principal, scope: Scope, period: Period) -> Audit:
        """The stored draw against the same draw made again now, nothing stored. They differ
        only if the settings changed (another seed) or what the draw leans on did: a
        recording deleted, a complaint or a violation recorded on a call since."""
        stored = await self.stored(reviewer.id, scope, period.key)
        seed_text, chosen, _ = await self._choose(reviewer, scope, period, None)
        return Audit(
            stored_seed=stored[0].sample.seed if stored else None,
            seed=seed_text,
            stored=frozenset(d.sample.recording_id for d in stored),
            redrawn=frozenset(c.recording_id for c in chosen),
        )

    async def stored(self, reviewer_id: int, scope: Scope, period: str) -> list[Drawn]:
        stmt = (
            q.with_details()
            .where(
                qa_samples.c.reviewer_id == reviewer_id,
                qa_samples.c.scope == scope,
                qa_samples.c.period == period,
            )
            .order_by(qa_samples.c.agent_id, qa_samples.c.weight.desc(), qa_samples.c.id)
        )
        async with self.db().connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [drawn_from_row(r, self.qa.new_agent_days) for r in rows]

    async def queue(
        self,
        reviewer_id: int,
        status: str | None,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[Drawn]:
        """The reviewer's samples, oldest drawn first (the order they are worked through)."""
        stmt = q.with_details().where(qa_samples.c.reviewer_id == reviewer_id)
        if status is not None:
            stmt = stmt.where(qa_samples.c.status == status)
        if after is not None:
            at, row_id = after
            stmt = stmt.where(
                (qa_samples.c.drawn_at > at)
                | ((qa_samples.c.drawn_at == at) & (qa_samples.c.id > row_id))
            )
        stmt = stmt.order_by(qa_samples.c.drawn_at, qa_samples.c.id).limit(limit)
        async with self.db().connect() as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [drawn_from_row(r, self.qa.new_agent_days) for r in rows]

    async def reviewers(self, conn: AsyncConnection) -> list[Principal]:
        rows = await conn.execute(
            select(users.c.id, users.c.name, users.c.role)
            .where(users.c.role.in_([r.value for r in SCOPE_OF]), users.c.disabled.is_(False))
            .order_by(users.c.id)
        )
        return [Principal(r.id, r.name, Role(r.role)) for r in rows]

    async def draw_due(self, now: datetime) -> dict[str, int]:
        """Every team lead's sample of yesterday and every QA lead's of last week, those not
        drawn yet (a Monday the service missed is made up the next day). reviewer → rows."""
        async with self.db().connect() as conn:
            reviewers = await self.reviewers(conn)
        found: dict[Scope, list[q.Found]] = {}
        out: dict[str, int] = {}
        for reviewer in reviewers:
            scope = SCOPE_OF[reviewer.role]
            period = periods.due(scope, now, self.tz)
            if scope not in found:
                start, end = period.window(self.tz)
                async with self.db().connect() as conn:
                    found[scope] = await q.candidates(conn, start, end, self.qa.new_agent_days)
            out[reviewer.name] = len(await self.draw_for(reviewer, scope, period, found[scope]))
        return out

    async def run(self) -> None:
        """Draw at qa.draw_hour local time every day; started after the hour (a restart), at
        once for the day it would have missed."""
        done: date | None = None
        while True:
            now = self.clock.now()
            today = periods.today(now, self.tz)
            at = datetime.combine(today, time(self.qa.draw_hour), self.tz)
            wake = at
            if now >= at and done != today:
                try:
                    drawn = await self.draw_due(now)
                except (SQLAlchemyError, OSError):
                    log.exception("scheduled sample draw failed; retrying in %.0f s", RETRY_SECONDS)
                    wake = now + timedelta(seconds=RETRY_SECONDS)
                else:
                    done = today
                    self.scheduled_runs += 1
                    log.info("scheduled sample draw date=%s drawn=%s", today, drawn)
            if done == today:
                wake = datetime.combine(today + timedelta(days=1), time(self.qa.draw_hour), self.tz)
            await self._sleep_until(wake)

    async def _sleep_until(self, when: datetime) -> None:
        woken = asyncio.Event()
        timer = self.clock.call_at(when, woken.set)
        try:
            await woken.wait()
        finally:
            timer.cancel()
