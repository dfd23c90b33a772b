"""Wallboards: issue, list and revoke their tokens, check the token a board presents, and read
today's figures from the layers that define them (no figure is counted here a second time)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.anomalies import store as anomalies_store
from callcenter.callbacks import store as callbacks_store
from callcenter.calls.rings import RingRule
from callcenter.calls.service import CallTracker
from callcenter.clock import Clock
from callcenter.errors import NotFound, Unauthenticated
from callcenter.orders import store as orders_store
from callcenter.reports import model as reports_model
from callcenter.reports import store as reports_store
from callcenter.stations.model import AddressBook
from callcenter.wallboard import model, store
from callcenter.wallboard.model import Figures, Ringing, StationOrders, WallboardToken

log = logging.getLogger(__name__)

# last_seen_at is for "is that TV still on?": once a minute is enough, not every fetch.
SEEN_EVERY = timedelta(minutes=1)


class Wallboards:
    def __init__(
        self,
        db: Callable[[], AsyncEngine],
        clock: Clock,
        rule: RingRule,
        timezone: str,
        book: Callable[[], AddressBook],
        tracker: Callable[[], CallTracker | None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.rule = rule
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.book = book
        self.tracker = tracker
        self._seen: dict[int, datetime] = {}

    # -- tokens --------------------------------------------------------------------------------
    async def create(self, name: object, by: str) -> tuple[WallboardToken, str]:
        """A new board's token, returned once: only its hash is stored."""
        name = model.clean_name(name)
        token = model.new_token()
        async with self.db().begin() as conn:
            row = await store.insert(conn, name, model.token_hash(token), by, self.clock.now())
        log.info("wallboard token created id=%d name=%s by=%s", row.id, row.name, by)
        return row, token

    async def tokens(self) -> list[WallboardToken]:
        async with self.db().connect() as conn:
            return await store.all_tokens(conn)

    async def revoke(self, token_id: int, by: str) -> WallboardToken:
        """Revoke it (again is a no-op: the first revocation stays on record)."""
        async with self.db().begin() as conn:
            if await store.get(conn, token_id) is None:
                raise NotFound("no-such-wallboard-token", f"no wallboard token {token_id}", "id")
            changed = await store.revoke(conn, token_id, by, self.clock.now())
            row = await store.get(conn, token_id)
        assert row is not None
        if changed:
            log.info("wallboard token revoked id=%d name=%s by=%s", row.id, row.name, by)
        return row

    async def authenticate(self, token: str | None) -> WallboardToken:
        """The board a token opens; 401 naming why not (missing, unknown, revoked)."""
        if not token:
            raise Unauthenticated(
                "wallboard-token-missing", "the wallboard address needs its ?token=", "token"
            )
        found = None
        if model.well_formed(token):
            async with self.db().connect() as conn:
                found = await store.by_hash(conn, model.token_hash(token))
        if found is None:
            raise Unauthenticated(
                "wallboard-token-invalid", "this wallboard token is not valid", "token"
            )
        if found.revoked:
            raise Unauthenticated(
                "wallboard-token-revoked", "this wallboard token has been revoked", "token"
            )
        await self.seen([found.id])
        return found

    async def revoked_among(self, ids: Iterable[int]) -> set[int]:
        async with self.db().connect() as conn:
            return await store.revoked_among(conn, ids)

    async def seen(self, ids: Iterable[int]) -> None:
        """Note that these boards are on, at most once a minute each."""
        now = self.clock.now()
        due = [i for i in set(ids) if i not in self._seen or now - self._seen[i] >= SEEN_EVERY]
        if not due:
            return
        try:
            async with self.db().begin() as conn:
                await store.seen(conn, due, now)
        except (SQLAlchemyError, OSError) as exc:
            # A database that refuses writes still lets the boards read their figures.
            log.warning("wallboard last seen not saved ids=%s error=%s", due, type(exc).__name__)
            return
        for i in due:
            self._seen[i] = now

    # -- figures -------------------------------------------------------------------------------
    def today(self, now: datetime) -> reports_model.Period:
        """The hotline day the daily report form counts (local midnight to local midnight)."""
        day = now.astimezone(self.tz).date()
        return reports_model.daily(day, day)

    async def figures(self) -> Figures:
        now = self.clock.now()
        period = self.today(now)
        start, end = period.window(self.tz)
        async with self.db().connect() as conn:
            hotline = await reports_store.hotline(conn, self.rule, self.tz, now, start, end)
            anomalies_open = await anomalies_store.count_open(conn)
            by_station = await orders_store.open_by_station(conn)
            due, overdue = await callbacks_store.count_due(conn, end, now)
        return Figures(
            day=period.key,
            start=start,
            end=end,
            now=now,
            calls=hotline.calls,
            ringing=self.ringing(now),
            violations=hotline.violations,
            anomalies_today=hotline.anomalies,
            anomalies_open=anomalies_open,
            orders=self._stations(by_station),
            callbacks_due=due,
            callbacks_overdue=overdue,
        )

    def ringing(self, now: datetime) -> Ringing:
        tracker = self.tracker()
        if tracker is None:
            return Ringing()
        legs = past = 0
        longest_since: datetime | None = None
        for leg in tracker.ringing():
            legs += 1
            started = leg.ring_started_at
            assert started is not None  # a ringing leg has begun to ring
            if now - started >= self.rule.deadline:
                past += 1
            if longest_since is None or started < longest_since:
                longest_since = started
        if longest_since is None:
            return Ringing(legs=legs, past_limit=past)
        seconds = round(max(0.0, (now - longest_since).total_seconds()), 3)
        rings = self.rule.rings_between(longest_since, now)
        return Ringing(legs, past, longest_since, seconds, rings)

    def _stations(self, by_station: dict[str, int]) -> tuple[StationOrders, ...]:
        """Every station of the book in the report form's order, then any other holding
        orders (a station since taken out of the book)."""
        left = dict(by_station)
        rows = [StationOrders(s.code, s.name, left.pop(s.code, 0)) for s in self.book().stations]
        rows += [StationOrders(code, code, n) for code, n in sorted(left.items())]
        return tuple(rows)
