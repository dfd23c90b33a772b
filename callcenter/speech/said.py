"""Searching recordings by what was said in them (said=, issue 16): the recordings whose
transcript holds the words, newest first, with where the words were first said and who
answered the call, so a supervisor can go straight to them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.auth.store import users
from callcenter.calls.store import calls, legs
from callcenter.db import keyset_before
from callcenter.recordings.model import Recording
from callcenter.recordings.store import Cursor, recording_from_row, recordings
from callcenter.speech.model import Char
from callcenter.speech.store import chars_from_json, transcripts


@dataclass(frozen=True, slots=True)
class SaidIn:
    """A recording found by what was said in it: where the words were first said (seconds
    from its start), a few characters either side of them, how often they were said, and who
    answered the call (None for a recording with no call, or a call nobody answered)."""

    recording: Recording
    at: float
    end: float
    snippet: str
    count: int
    agent: str | None
    work_number: str | None


SNIPPET_AROUND = 12  # characters shown before and after the words: about one clause


def first_said(text: str, chars: Sequence[Char], words: str) -> tuple[float, float, str, int]:
    """Where `words` are first said in a transcript: (start, end, snippet, count). `text` is
    "".join of the characters' texts, and a character may be several letters (WiFi, 12):
    the match is placed on the characters its first and last letters are in."""
    haystack, needle = text, words
    if needle not in haystack and len(text.lower()) == len(text):
        # SQLite's LIKE ignores the case of Latin letters (WiFi, wifi): so does the place.
        haystack, needle = text.lower(), words.lower()
    at = haystack.find(needle)
    if at < 0 or not chars:
        return 0.0, 0.0, "", 0
    last = at + len(words) - 1
    first_char = last_char = 0
    offset = 0
    for i, c in enumerate(chars):
        if offset <= at:
            first_char = i
        if offset <= last:
            last_char = i
        offset += len(c.text)
    lo, hi = max(0, at - SNIPPET_AROUND), min(len(text), at + len(words) + SNIPPET_AROUND)
    snippet = ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")
    return chars[first_char].start, chars[last_char].end, snippet, haystack.count(needle)


async def said(
    conn: AsyncConnection, words: str, *, limit: int, before: Cursor | None = None
) -> list[SaidIn]:
    """Recordings whose transcript contains `words`, newest first (keyset paged like the
    recordings list), with where the words were first said and who answered the call.
    LIKE's wildcards in `words` are matched as themselves."""
    answering = and_(legs.c.call_pk == calls.c.id, legs.c.leg_ref == calls.c.answered_leg)
    stmt = (
        select(
            recordings,
            transcripts.c.text.label("said_text"),
            transcripts.c.chars.label("said_chars"),
            users.c.name.label("agent_name"),
            users.c.work_number.label("agent_work_number"),
        )
        .select_from(
            recordings.join(transcripts, transcripts.c.recording_id == recordings.c.id)
            .outerjoin(calls, calls.c.id == recordings.c.call_pk)
            .outerjoin(legs, answering)
            .outerjoin(users, users.c.id == legs.c.agent_id)
        )
        .where(transcripts.c.text.contains(words, autoescape=True))
    )
    if before is not None:
        stmt = stmt.where(keyset_before(recordings.c.received_at, recordings.c.id, before))
    stmt = stmt.order_by(recordings.c.received_at.desc(), recordings.c.id.desc()).limit(limit)
    out = []
    for r in await conn.execute(stmt):
        m = r._mapping
        start, end, snippet, count = first_said(
            m["said_text"], chars_from_json(m["said_chars"]), words
        )
        out.append(
            SaidIn(
                recording=recording_from_row(m),
                at=start,
                end=end,
                snippet=snippet,
                count=count,
                agent=m["agent_name"],
                work_number=m["agent_work_number"],
            )
        )
    return out
