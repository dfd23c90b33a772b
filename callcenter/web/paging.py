"""Keyset paging for list routes, newest first: the cursor a page hands out and reads back,
and the RFC 8288 `Link: <…>; rel="next"` header that carries it (the JSON stays an array)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from callcenter.errors import Invalid

Cursor = tuple[datetime, str]

# Times a query or cursor may name: far enough for any record, near enough that adding a day
# or a time-zone offset stays inside what datetime and the databases can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def read_cursor(request: web.Request) -> Cursor | None:
    """`cursor` from the previous page's Link header: where the next page starts."""
    text = request.query.get("cursor")
    if not text:
        return None
    try:
        at, _, row_id = base64.urlsafe_b64decode(text.encode("ascii")).decode().partition("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not row_id or not EARLIEST <= when < LATEST:
            raise ValueError
    except (ValueError, UnicodeError):
        raise Invalid("bad-parameter", "cursor is not one this API gave out", "cursor") from None
    return when, row_id


def paged(
    request: web.Request, body: list[dict[str, Any]], limit: int, last: Cursor | None
) -> web.Response:
    """A page, newest first; a full page links the next one."""
    response = web.json_response(body)
    if last is not None and len(body) == limit:
        token = base64.urlsafe_b64encode(f"{last[0].isoformat()}|{last[1]}".encode()).decode()
        url = request.rel_url.update_query(cursor=token)
        response.headers["Link"] = f'<{url}>; rel="next"'
    return response


def read_limit(request: web.Request, default: int = 100, most: int = 1000) -> int:
    """`limit`: how many rows a page holds, 1 to `most`."""
    text = request.query.get("limit", str(default))
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= most:
        raise Invalid("bad-parameter", f"limit must be 1-{most}", "limit")
    return int(text)


def read_instant(request: web.Request, name: str, tz: Any) -> datetime | None:
    """An ISO 8601 time parameter; without an offset it is local time in `tz` (a ZoneInfo)."""
    text = request.query.get(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            "bad-parameter", f"{name} must be an ISO 8601 time, got {text[:64]!r}", name
        ) from None
    value = value if value.tzinfo else value.replace(tzinfo=tz)
    if not EARLIEST <= value < LATEST:
        raise Invalid(
            "bad-parameter",
            f"{name} must be between {EARLIEST.year} and {LATEST.year - 1}, got {text[:64]!r}",
            name,
        )
    return value
