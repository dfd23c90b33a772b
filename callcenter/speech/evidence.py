"""Where the script was heard in a recording: what the service knows of the recording's call
(the agent's 工号, the ticket typed on it, the call's date, a callback or an intake) put to
phrase spotting against the sheet that call is scored on.

The transcription worker stores a first pass with each transcript (so every call has one,
not only the sampled few); the scoring desk listens again against the sample's own sheet and
the ticket as it is then."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.auth.store import users
from callcenter.calls.store import calls, legs
from callcenter.config import Holiday
from callcenter.qa.candidates import callback_call, ticket_of
from callcenter.qa.checklists import Checklist, Sheet
from callcenter.recordings import store as recordings_store
from callcenter.speech import spotting
from callcenter.speech.findings import items_json
from callcenter.speech.model import Found, Transcript
from callcenter.tickets import store as tickets_store
from callcenter.tickets.model import Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Subject:
    """What phrase spotting compares a transcript with."""

    sheet: Sheet
    on: date  # the call's local date: the holiday greeting of that day is the opening
    work_number: str | None
    ticket: Ticket | None


class Spotter:
    def __init__(
        self,
        checklists: Callable[[], Mapping[Sheet, Checklist]],
        holidays: tuple[Holiday, ...],
        timezone: str,
        tolerance: float,
    ) -> None:
        self.checklists = checklists
        self.holidays = holidays
        self.timezone = ZoneInfo(timezone)
        self.tolerance = tolerance

    def evidence(
        self, checklist: Checklist, transcript: Transcript, subject: Subject
    ) -> dict[str, Found | None]:
        """Pure and CPU-bound (~40 ms for ten minutes of speech): callers on the event loop
        run it in a thread."""
        ticket = subject.ticket
        return spotting.evidence(
            checklist,
            transcript,
            on=subject.on,
            holidays=self.holidays,
            work_number=subject.work_number,
            address=(ticket.address_typed or ticket.address_standard) if ticket else None,
            name=ticket.reporter_name if ticket else None,
            phone=ticket.phone if ticket else None,
            tolerance=self.tolerance,
        )

    async def subject(self, conn: AsyncConnection, recording_id: str) -> Subject | None:
        """The recording's call as the QA draw sees it (candidates.py): its agent, its
        ticket (a complaint first), callback or intake. None: the recording is gone."""
        rec = await recordings_store.by_id(conn, recording_id)
        if rec is None:
            return None
        local = rec.received_at.astimezone(self.timezone).date()
        if rec.call_id is None:
            return Subject("intake", local, None, None)
        caller = users.alias("caller")
        stmt = (
            select(
                calls.c.offered_at,
                func.coalesce(legs.c.agent_id, caller.c.id).label("agent_id"),
                ticket_of(calls.c.id).label("ticket_id"),
                callback_call(calls.c.id).label("callback"),
            )
            .select_from(
                calls.outerjoin(
                    legs,
                    and_(legs.c.call_pk == calls.c.id, legs.c.leg_ref == calls.c.answered_leg),
                ).outerjoin(
                    caller,
                    and_(caller.c.extension == calls.c.caller, calls.c.monitored.is_(False)),
                )
            )
            .where(calls.c.id == rec.call_id)
        )
        row = (await conn.execute(stmt)).first()
        if row is None:
            return Subject("intake", local, None, None)
        work_number = None
        if row.agent_id is not None:
            work_number = await conn.scalar(
                select(users.c.work_number).where(users.c.id == row.agent_id)
            )
        found = await tickets_store.ticket_by_id(conn, row.ticket_id) if row.ticket_id else None
        return Subject(
            "callback" if row.callback else "intake",
            row.offered_at.astimezone(self.timezone).date(),
            work_number,
            found.ticket if found else None,
        )

    async def first_pass(
        self, conn: AsyncConnection, recording_id: str, transcript: Transcript
    ) -> dict[str, Any] | None:
        """The findings stored with a new transcript: None for another language, or when
        no sheet is loaded (spot checks off). Never raises: a transcript is worth keeping
        without its findings."""
        if not transcript.mandarin:
            return None
        try:
            subject = await self.subject(conn, recording_id)
            checklist = self.checklists().get(subject.sheet) if subject else None
            if subject is None or checklist is None:
                return None
            found = await asyncio.to_thread(self.evidence, checklist, transcript, subject)
        except Exception:
            log.exception("phrase spotting on recording %s failed", recording_id)
            return None
        return {
            "sheet": checklist.sheet,
            "checklist_version": checklist.version,
            # Masked: the stored first pass is read by every role that may hear the call.
            "items": items_json(checklist, found, masked=True),
        }
