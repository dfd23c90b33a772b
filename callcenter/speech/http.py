"""The transcript route: who may hear a recording may read its transcript, and each read is
written to the recording audit log like a listen: parse → authorize → service → dump."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from callcenter.auth.http import principal
from callcenter.auth.model import Principal
from callcenter.errors import Forbidden
from callcenter.recordings.http import Said
from callcenter.recordings.model import LISTENERS, Recording
from callcenter.recordings.service import Recordings
from callcenter.recordings.store import Cursor
from callcenter.speech.schemas import job_json, missing_message, said_json, transcript_json
from callcenter.speech.service import Transcripts
from callcenter.web.errors import error_response


@dataclass(frozen=True, slots=True)
class SpeechDeps:
    recordings: Callable[[], Recordings]
    transcripts: Callable[[], Transcripts]


SPEECH = web.AppKey("speech", SpeechDeps)


async def get_transcript(request: web.Request) -> web.Response:
    """200 with the transcript; 404 `no-transcript` with the job's state while there is none
    (queued, running, skipped or failed with the reason; null when never queued)."""
    deps = request.app[SPEECH]
    user = await principal(request, LISTENERS)
    recordings = deps.recordings()
    rec = await recordings.get(request.match_info["id"])
    if not await recordings.may_hear(user, rec):
        raise Forbidden(
            "not-your-recording",
            "agents read only the transcripts of calls they answered or whose ticket they took",
        )
    found, job = await deps.transcripts().read(user, rec)
    if found is None:
        extra = {"state": job.state if job else None, "job": job_json(job)}
        return error_response(404, "no-transcript", missing_message(job), extra=extra)
    response = web.json_response(transcript_json(found, job))
    response.headers["Cache-Control"] = "private, no-store"  # as confidential as the audio
    return response


def searcher(transcripts: Callable[[], Transcripts]) -> Said:
    """The recordings routes' said= search: each recording found, with what the transcript
    adds to its JSON (the recordings capability never imports this one)."""

    async def said(
        user: Principal, words: str, limit: int, before: Cursor | None
    ) -> list[tuple[Recording, dict[str, Any]]]:
        found = await transcripts().search(user, words, limit, before)
        return [(f.recording, said_json(f)) for f in found]

    return said


def add_routes(app: web.Application, deps: SpeechDeps) -> None:
    app[SPEECH] = deps
    app.router.add_get(
        "/api/recordings/{id}/transcript", get_transcript, name="recording_transcript"
    )
