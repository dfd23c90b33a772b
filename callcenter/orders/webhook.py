"""A station's webhook: each message POSTed with an HMAC-SHA256 signature over its timestamp
and body (docs/station-orders.md), so the station can tell it comes from the hotline and
refuse a replayed one. A 2xx is the station's acknowledgement; anything else is retried."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

import aiohttp

TIMESTAMP_HEADER = "X-Callcenter-Timestamp"
SIGNATURE_HEADER = "X-Callcenter-Signature"
MESSAGE_ID_HEADER = "X-Callcenter-Message-Id"
# How far a receiver should let a timestamp stray from its own clock (docs: ±5 min).
REPLAY_WINDOW_SECONDS = 300
TIMEOUT_SECONDS = 10.0


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>")."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signed: str,
    now: float,
    window: float = REPLAY_WINDOW_SECONDS,
) -> bool:
    """What a receiver checks: the timestamp is recent and the signature matches (compared in
    constant time). Remembering message ids (refusing one seen before) is the receiver's."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > window:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signed)


def headers(secret: str, timestamp: int, body: bytes, message_id: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        MESSAGE_ID_HEADER: message_id,
        "User-Agent": "callcenter-orders/1",
    }


def safe_url(url: str) -> str:
    """The URL without credentials or query (either may hold a station's token): for logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


async def post(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    body: bytes,
    message_id: str,
    timestamp: int,
) -> str | None:
    """POST one message; None when the station answered 2xx, else why not (for last_error)."""
    try:
        async with session.post(
            url,
            data=body,
            headers=headers(secret, timestamp, body, message_id),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            allow_redirects=False,  # a redirect would carry the signed body elsewhere
        ) as response:
            await response.read()
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status} {response.reason or ''}".strip()
    except TimeoutError:
        return f"no answer within {TIMEOUT_SECONDS:.0f} s"
    except aiohttp.ClientError as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
