"""Path parameters the routes share: an id is letters, digits, `_` and `-`, at most 64 (our
ids are hex; anything else cannot name a row), checked before any database read."""

from __future__ import annotations

import re

from aiohttp import web

from callcenter.errors import NotFound

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def path_id(request: web.Request, what: str, key: str = "id") -> str:
    """The route's `key` as an id of a `what`; one that cannot be is a 404 no-such-`what`."""
    value = request.match_info[key]
    if not ID_RE.match(value):
        raise NotFound(f"no-such-{what}", f"no {what} {value[:64]!r}", key)
    return value
