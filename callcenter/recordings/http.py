"""Routes for recordings: list, metadata, the audio (HTTP Range, seeking works), deletion by
the hotline's rules and the upload: parse → authorize → service → dump."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from callcenter.auth.http import json_body, principal
from callcenter.auth.model import ALL_ROLES, Principal, Role
from callcenter.errors import Forbidden, Invalid, NotFound, Unavailable
from callcenter.recordings import storage
from callcenter.recordings.model import LISTENERS, SEARCHERS, UPLOADERS, Recording, media_type
from callcenter.recordings.schemas import recording_json
from callcenter.recordings.service import Inbound, Recordings
from callcenter.recordings.store import Cursor
from callcenter.web.errors import error_response
from callcenter.web.paging import paged, read_cursor, read_limit

Said = Callable[
    [Principal, str, int, Cursor | None], Awaitable[list[tuple[Recording, dict[str, Any]]]]
]


@dataclass(frozen=True, slots=True)
class RecordingsDeps:
    """What the recording routes need: the recordings service, the upload limit and the
    search by what was said (the transcripts', which writes each search to the audit log):
    each recording found, with what the search adds to its JSON (where, who answered)."""

    recordings: Callable[[], Recordings]
    max_upload_bytes: int
    said: Said | None = None


RECORDINGS = web.AppKey("recordings", RecordingsDeps)

MAX_LIMIT = 1000
MAX_SAID = 100
_UPLOAD_BUFFER = 1 << 20  # an upload is written to disk a MiB at a time, in a worker thread


def _flag(request: web.Request, name: str) -> bool | None:
    text = request.query.get(name, "")
    if text == "":
        return None
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise Invalid("bad-parameter", f"{name} must be true or false", name)


async def _calls_of_ticket(service: Recordings, user: Principal, ticket: str) -> list[str]:
    call_ids = await service.tickets.calls_of_ticket(ticket)
    if call_ids is None:
        raise NotFound("no-such-ticket", f"no ticket {ticket!r}", "ticket")
    if user.role != Role.AGENT:
        return call_ids
    allowed = []
    for call_pk in call_ids:  # a ticket has a handful of calls
        if await service.may_hear_call(user, call_pk):
            allowed.append(call_pk)
    return allowed


async def list_recordings(request: web.Request) -> web.Response:
    """Newest first, paged; agents see the recordings of calls they answered. `said=`:
    those whose transcript holds the words, for the roles that may search."""
    deps = request.app[RECORDINGS]
    user = await principal(request, LISTENERS)
    service = deps.recordings()
    limit = read_limit(request, 100, MAX_LIMIT)
    said = request.query.get("said", "").strip()
    if said:
        return await _said(request, deps, user, said, limit)
    ticket = request.query.get("ticket") or None
    call_ids = await _calls_of_ticket(service, user, ticket) if ticket else None
    agent_id = user.id if user.role == Role.AGENT and call_ids is None else None
    rows = await service.page(
        limit=limit,
        before=read_cursor(request),
        call=request.query.get("call") or None,
        call_ids=call_ids,
        unlinked=_flag(request, "unlinked"),
        agent_id=agent_id,
    )
    last = (rows[-1].received_at, rows[-1].id) if rows else None
    return paged(request, [recording_json(r) for r in rows], limit, last)


async def _said(
    request: web.Request, deps: RecordingsDeps, user: Principal, words: str, limit: int
) -> web.Response:
    if user.role not in SEARCHERS:
        raise Forbidden(
            "forbidden", "searching what was said is for QA leads, supervisors and admins"
        )
    if any(request.query.get(name) for name in ("call", "ticket", "unlinked")):
        raise Invalid(
            "bad-parameter", "said is searched on its own: leave out call, ticket, unlinked", "said"
        )
    if len(words) > MAX_SAID:
        raise Invalid("bad-parameter", f"said is at most {MAX_SAID} characters", "said")
    if deps.said is None:
        raise Unavailable("no-transcripts", "transcripts are not set up in this service")
    rows = await deps.said(user, words, limit, read_cursor(request))
    last = (rows[-1][0].received_at, rows[-1][0].id) if rows else None
    return paged(request, [recording_json(r) | extra for r, extra in rows], limit, last)


async def _heard(request: web.Request) -> tuple[Recordings, Principal, Recording]:
    deps = request.app[RECORDINGS]
    user = await principal(request, LISTENERS)
    service = deps.recordings()
    rec = await service.get(request.match_info["id"])
    if not await service.may_hear(user, rec):
        raise Forbidden(
            "not-your-recording",
            "agents hear only the recordings of calls they answered or whose ticket they took",
        )
    return service, user, rec


async def get_recording(request: web.Request) -> web.Response:
    _service, _user, rec = await _heard(request)
    return web.json_response(recording_json(rec))


async def get_audio(request: web.Request) -> web.StreamResponse:
    """The playable rendition (or `?original=1` the original bytes), with Range support;
    every request that returns audio is written to the audit log first."""
    service, user, rec = await _heard(request)
    if rec.deleted is not None:
        raise NotFound("recording-deleted", "this recording was deleted; its tombstone remains")
    original = bool(_flag(request, "original"))
    blob = rec.original if original else rec.playback
    path = service.path_of(blob)
    if not await asyncio.to_thread(path.is_file):
        raise Unavailable("recording-file-missing", "the recording's file is not in the store")
    if request.method != "HEAD":
        await service.note_access(user, rec, original, request.headers.get("Range", "whole"))
    disposition = "attachment" if original else "inline"
    filename = f"{rec.id}.{blob.ext}"
    return web.FileResponse(
        path,
        chunk_size=1 << 18,
        headers={
            "Content-Type": media_type(blob.ext),
            "Cache-Control": "private, no-store",  # recordings are confidential (003)
            "Content-Disposition": f'{disposition}; filename="{filename}"',
        },
    )


async def delete_recording(request: web.Request) -> web.Response:
    """004: only a team lead, only an empty recording, with a written reason; the rules
    themselves answer everyone else, with the reason."""
    deps = request.app[RECORDINGS]
    user = await principal(request, ALL_ROLES)
    body: dict[str, Any] = await json_body(request) if request.body_exists else {}
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise Invalid("bad-field", "reason must be text", "reason")
    rec = await deps.recordings().delete(user, request.match_info["id"], reason)
    return web.json_response(recording_json(rec))


async def upload(request: web.Request) -> web.Response:
    """POST /api/recordings?call=ID[&source=PBX][&name=FILE]: the raw body, or the `file`
    part of a multipart form. 201 for a new recording, 200 with "duplicate": true for bytes
    stored before; 413 past recordings.max_upload_mb."""
    deps = request.app[RECORDINGS]
    user = await principal(request, UPLOADERS)
    service = deps.recordings()
    limit = deps.max_upload_bytes
    if request.content_length is not None and request.content_length > limit:
        return _too_large(limit)
    name = request.query.get("name") or "upload"
    incoming = await asyncio.to_thread(storage.IncomingFile, service.root)
    try:
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and not (
                isinstance(part, BodyPartReader) and part.name == "file"
            ):
                part = await reader.next()
            if part is None:
                raise Invalid("missing-field", "the form has no part named file", "file")
            name = part.filename or name
            file_part = part

            async def read() -> bytes:
                return await file_part.read_chunk()
        else:
            read = request.content.readany
        if not await _receive(read, incoming, limit):
            await asyncio.to_thread(incoming.abandon)
            return _too_large(limit)
        sha = await asyncio.to_thread(incoming.finish)
    except BaseException:
        await asyncio.to_thread(incoming.abandon)
        raise
    inbound = Inbound(
        "upload",
        user.name,
        name,
        request.query.get("call") or None,
        request.query.get("source") or None,
    )
    stored = await service.add_incoming(incoming.path, sha, incoming.size, inbound)
    body = recording_json(stored.recording) | {"duplicate": not stored.created}
    response = web.json_response(body, status=201 if stored.created else 200)
    response.headers["Location"] = f"/api/recordings/{stored.recording.id}"
    return response


async def _receive(
    read: Callable[[], Awaitable[bytes]], incoming: storage.IncomingFile, limit: int
) -> bool:
    """Copy the body to the temporary file; False as soon as it passes `limit` bytes."""
    buffered: list[bytes] = []
    size = pending = 0
    while chunk := await read():
        size += len(chunk)
        if size > limit:
            return False
        buffered.append(chunk)
        pending += len(chunk)
        if pending >= _UPLOAD_BUFFER:
            await asyncio.to_thread(incoming.write, b"".join(buffered))
            buffered, pending = [], 0
    if buffered:
        await asyncio.to_thread(incoming.write, b"".join(buffered))
    return True


def _too_large(limit: int) -> web.Response:
    return error_response(
        413,
        "upload-too-large",
        f"a recording may be at most {limit // (1024 * 1024)} MB (recordings.max_upload_mb)",
    )


def add_routes(app: web.Application, deps: RecordingsDeps) -> None:
    app[RECORDINGS] = deps
    app.router.add_get("/api/recordings", list_recordings, name="recordings")
    app.router.add_post("/api/recordings", upload, name="recording_upload")
    app.router.add_get("/api/recordings/{id}", get_recording, name="recording")
    app.router.add_get("/api/recordings/{id}/audio", get_audio, name="recording_audio")
    app.router.add_delete("/api/recordings/{id}", delete_recording, name="recording_delete")
