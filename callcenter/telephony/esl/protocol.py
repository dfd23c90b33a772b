"""FreeSWITCH event socket (ESL) framing, pure: bytes → frames → event headers.

A frame is a block of `Name: value` lines ended by a blank line, then exactly
`Content-Length` bytes of body. The stream is buffered as bytes and only whole frames are
decoded, so a read split anywhere (inside a UTF-8 character, inside `Content-Length`) gives
the same frames. Facts from mod_event_socket.c: events are sent as
`Content-Length: N\\nContent-Type: text/event-json|plain\\n\\n<N bytes>`, N counting bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import repeat
from urllib.parse import unquote

import orjson

Headers = dict[str, str]

AUTH_REQUEST = "auth/request"
COMMAND_REPLY = "command/reply"
API_RESPONSE = "api/response"
EVENT_JSON = "text/event-json"
EVENT_PLAIN = "text/event-plain"
DISCONNECT_NOTICE = "text/disconnect-notice"

MAX_FRAME = 1 << 20  # 1 MiB: a real event is 2-10 kB; anything bigger is not ESL


class EslProtocolError(Exception):
    """The stream cannot be framed any further (bad or huge Content-Length): drop it."""


class EslEventError(ValueError):
    """One event body cannot be decoded; the stream itself is still in step."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One ESL message: its envelope headers (as sent, not percent-decoded) and body."""

    headers: Headers
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _header_lines(block: bytes) -> Headers:
    headers: Headers = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        name, sep, value = line.partition(":")
        if sep and name:
            headers[name.strip()] = value.strip(" \r")
    return headers


_SEEN_ENVELOPES = 512


class EslParser:
    """Incremental framer: `feed(bytes)` returns every frame completed by those bytes."""

    __slots__ = ("_buf", "_pending", "_seen", "max_frame")

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buf = b""  # the unfinished tail of the stream
        self._pending: tuple[Headers, int] | None = None  # headers read, body bytes awaited
        # Envelopes repeat (`Content-Length: N\nContent-Type: text/event-json`): each
        # distinct one is parsed once; every frame gets its own copy.
        self._seen: dict[bytes, Headers] = {}

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished frame received so far (lost if the connection closes)."""
        return len(self._buf)

    @property
    def in_frame(self) -> bool:
        """A frame has begun and is not complete."""
        return self._pending is not None or bool(self._buf.strip(b"\r\n"))

    def feed(self, data: bytes) -> list[Frame]:
        buf = self._buf + data if self._buf else data
        frames: list[Frame] = []
        append = frames.append
        pos = 0
        end = len(buf)
        while True:
            if self._pending is not None:
                headers, length = self._pending
                if end - pos < length:
                    break
                append(Frame(headers, buf[pos : pos + length]))
                pos += length
                self._pending = None
            # mod_event_socket's own reader skips blank lines between frames: so do we.
            while pos < end and buf[pos] in (10, 13):
                pos += 1
            stop = buf.find(b"\n\n", pos)
            if stop < 0:
                if end - pos > self.max_frame:
                    raise EslProtocolError(f"header block longer than {self.max_frame} bytes")
                break
            block = buf[pos:stop]
            seen = self._seen.get(block)
            if seen is None:
                seen = _header_lines(block)
                if len(self._seen) >= _SEEN_ENVELOPES:
                    self._seen.clear()
                self._seen[block] = seen
            headers = dict(seen)
            pos = stop + 2
            raw = headers.get("Content-Length")
            if raw is None:
                append(Frame(headers))
                continue
            if not raw.isdigit():
                raise EslProtocolError(f"bad Content-Length {raw[:20]!r}")
            length = int(raw)
            if length > self.max_frame:
                raise EslProtocolError(f"frame of {length} bytes exceeds {self.max_frame}")
            if length == 0:
                append(Frame(headers))
                continue
            self._pending = (headers, length)
        self._buf = buf[pos:] if pos < end else b""
        return frames


def parse_plain(body: bytes) -> Headers:
    """A `text/event-plain` body: percent-encoded header lines, then (after a blank line)
    the event's own body if it has a `Content-Length` (kept under "_body", as in JSON)."""
    head, sep, rest = body.partition(b"\n\n")
    headers: Headers = {}
    for line in head.decode("utf-8", "replace").split("\n"):
        name, colon, value = line.partition(":")
        if colon and name:
            value = value.strip(" \r")
            headers[name.strip()] = unquote(value) if "%" in value else value
    if sep and "Content-Length" in headers:
        raw = headers["Content-Length"]
        n = int(raw) if raw.isdigit() else len(rest)
        headers["_body"] = rest[:n].decode("utf-8", "replace")
    return headers


def parse_json(body: bytes) -> Headers:
    """A `text/event-json` body: one object of strings (array headers become lists)."""
    try:
        # orjson: FreeSWITCH events carry every channel variable (~3 KB each), and decoding
        # them with the standard json module took over half of the adapter's time.
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise EslEventError(f"event json does not parse: {exc}") from exc
    if not isinstance(obj, dict):
        raise EslEventError("event json is not an object")
    # FreeSWITCH writes header values as strings, array headers as arrays; a value of any
    # other type is not from FreeSWITCH and must not reach the call store as is.
    if not all(map(isinstance, obj.values(), repeat(str))):
        for key, value in obj.items():
            if isinstance(value, list):
                obj[key] = "ARRAY::" + "|:".join(str(v) for v in value)  # as plain shows it
            elif not isinstance(value, str):
                obj[key] = "" if value is None else json.dumps(value)
    return obj


def event_headers(frame: Frame) -> Headers:
    """The headers of an event frame, json or plain, decoded."""
    if frame.content_type == EVENT_JSON:
        return parse_json(frame.body)
    if frame.content_type == EVENT_PLAIN:
        return parse_plain(frame.body)
    raise EslEventError(f"not an event frame: {frame.content_type or 'no Content-Type'}")


def encode_command(command: str, headers: Headers | None = None) -> bytes:
    """One command: its line, optional header lines, a blank line."""
    lines = [command, *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\n".join(lines) + "\n\n").encode()
