"""The one place that maps domain error codes to HTTP: every error is JSON naming the problem."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError

from callcenter import errors
from callcenter.auth.guard import TooManyAttempts

log = logging.getLogger(__name__)

_STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404,
    errors.Invalid: 400,
    errors.Conflict: 409,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.Unavailable: 503,
    TooManyAttempts: 429,
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> web.Response:
    """The error body; `extra` adds what a client acts on (a transcript's job state)."""
    body: dict[str, Any] = {"error": code, "message": message, "field": field, **(extra or {})}
    return web.json_response(body, status=status)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.DomainError as exc:
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        response = error_response(status, exc.code, exc.message, exc.field)
        if "retry_after" in exc.details:  # seconds, as RFC 9110 has it
            response.headers["Retry-After"] = str(int(exc.details["retry_after"]))
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            exc.status, "http-error"
        )
        return error_response(exc.status, code, exc.reason)
    except (OperationalError, DBAPIError, OSError) as exc:
        # A database (or other backend) that is down is a 503 the client may retry.
        log.warning("backend unavailable path=%s error=%s", request.path, type(exc).__name__)
        return error_response(503, "backend-unavailable", "the database is not reachable; retry")
    except json.JSONDecodeError:
        return error_response(400, "bad-json", "the request body is not valid JSON")
    except Exception:
        log.exception("unexpected error path=%s", request.path)
        return error_response(500, "internal", "internal error; it has been logged")
