"""AMI framing, pure: bytes in → messages out, and actions out as bytes.

AMI is `Key: value` lines ending in CRLF; a blank line ends a message. The server first sends
one line, "Asterisk Call Manager/x.y.z". Before Asterisk 14 a `Command` answers
"Response: Follows" followed by raw text (blank lines allowed) up to `--END COMMAND--`; from
14 on, one `Output:` field per line. The byte stream is decoded as a whole, so a UTF-8
character split across two TCP reads survives.
"""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Iterable, Iterator, Mapping
from typing import overload

MAX_MESSAGE = 64 * 1024  # characters; a longer message without an end is not AMI
BANNER_PREFIX = "Asterisk Call Manager"
_MAX_BANNER = 1024
_END_COMMAND = "--END COMMAND--"
_FOLLOWS = ("Response: Follows", "response: follows", "RESPONSE: FOLLOWS")
_FOLLOWS_HEAD = frozenset({"response", "privilege", "actionid", "message"})
_FIRST_KEYS = frozenset({"event", "response", "action"})
_FIRST_LINES = ("Event: ", "Response: ", "Action: ")

_SECRET_KEYS = frozenset({"secret", "key"})


class ProtocolError(Exception):
    """The peer does not speak AMI: a bad banner, an oversized or a malformed message."""


class Message:
    """One AMI message: its fields in order (keys may repeat) and, for a pre-14 `Command`
    answer, the raw output lines. Lookups ignore the case of keys; the first value wins.

    Kept as its text, "\nKey: value\n…\n": an event has twenty-odd fields of which the
    translator reads a handful, so a lookup is a substring search (in C) rather than every
    line split into a dict up front. `fields` is split on demand.
    """

    __slots__ = ("_fields", "_lower", "_text", "output")

    def __init__(
        self,
        fields: Iterable[tuple[str, str]] = (),
        output: tuple[str, ...] = (),
        *,
        text: str | None = None,
    ) -> None:
        if text is None:
            self._fields: tuple[tuple[str, str], ...] | None = tuple(fields)
            text = "".join(f"\n{k}: {v}" for k, v in self._fields) + "\n"
        else:
            self._fields = None
        self._text = text
        self._lower: str | None = None
        self.output = output

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        if self._fields is None:
            lines = self._text[1:-1].split("\n")
            self._fields = tuple((k, v) for k, _, v in (x.partition(": ") for x in lines))
        return self._fields

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        text = self._text
        at = text.find(f"\n{key}: ")
        if at < 0:
            # Asterisk spells keys one way; old versions and hand-typed sessions vary case.
            if self._lower is None:
                self._lower = text.lower()
            at = self._lower.find(f"\n{key.lower()}: ")
            if at < 0 or len(self._lower) != len(text):
                return default if at < 0 else self._folded(key, default)
        at += len(key) + 3
        return text[at : text.find("\n", at)]

    def _folded(self, key: str, default: str | None) -> str | None:
        # lower() changed the length (a rare non-ASCII case fold): look field by field.
        wanted = key.lower()
        return next((v for k, v in self.fields if k.lower() == wanted), default)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [v for k, v in self.fields if k.lower() == wanted]

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")

    @property
    def action(self) -> str | None:
        return self.get("Action")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    @property
    def command_output(self) -> list[str]:
        """A `Command`'s output: raw lines (Asterisk < 14) or its `Output:` fields (14+)."""
        return list(self.output) if self.output else self.get_all("Output")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.fields == other.fields and self.output == other.output

    def __hash__(self) -> int:
        return hash((self.fields, self.output))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={'***' if k.lower() in _SECRET_KEYS else v!r}" for k, v in self.fields
        )
        return f"Message({shown})" + (f" +{len(self.output)} output lines" if self.output else "")


class Parser:
    """Feed it bytes as they arrive; it returns every message completed so far.

    `expect_banner`: the stream starts with the server's greeting line (a client's view).
    `strict`: a malformed message raises ProtocolError; otherwise it is counted in
    `malformed` (and kept in `last_malformed`) and skipped.
    """

    def __init__(
        self, *, expect_banner: bool = True, strict: bool = True, max_size: int = MAX_MESSAGE
    ) -> None:
        self.banner: str | None = None
        self.malformed = 0
        self.last_malformed: str | None = None
        self._expect_banner = expect_banner
        self._strict = strict
        self._max = max_size
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._cr = False  # a CR ended the last read: it may be half of a CRLF

    @property
    def pending(self) -> int:
        """Characters received that do not yet make a whole message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        text = self._decoder.decode(data)
        if self._cr:
            text = "\r" + text
            self._cr = False
        if "\r" in text:
            if text[-1] == "\r":
                text = text[:-1]
                self._cr = True
            text = text.replace("\r\n", "\n")  # bare LF is tolerated: one line ending
        buf = self._buf + text if self._buf else text
        if self.banner is None and self._expect_banner:
            nl = buf.find("\n")
            if nl < 0:
                if len(buf) > _MAX_BANNER:
                    raise ProtocolError(f"no AMI banner in the first {_MAX_BANNER} characters")
                self._buf = buf
                return []
            line = buf[:nl].strip()
            if not line.startswith(BANNER_PREFIX):
                raise ProtocolError(f"not an AMI server: banner {line[:80]!a}")
            self.banner = line
            buf = buf[nl + 1 :]
        out: list[Message] = []
        pos, size = 0, len(buf)
        while pos < size:
            if buf[pos] == "\n":  # blank lines between messages
                pos += 1
                continue
            if buf.startswith(_FOLLOWS, pos):
                marker = buf.find(_END_COMMAND, pos)
                end = buf.find("\n\n", marker) if marker >= 0 else -1
            else:
                end = buf.find("\n\n", pos)
            if end < 0:
                break
            if end - pos > self._max:
                raise ProtocolError(f"message longer than {self._max} characters")
            message = self._parse(buf[pos:end])
            pos = end + 2
            if message is not None:
                out.append(message)
        rest = buf[pos:] if pos else buf
        if len(rest) > self._max:
            raise ProtocolError(f"no end of message within {self._max} characters")
        self._buf = rest
        return out

    def _parse(self, frame: str) -> Message | None:
        if frame.startswith(_FOLLOWS):
            return self._follows(frame.split("\n"))
        # The common case costs no Python per line: a canonical first key and a ": " for
        # every line (a cheap count, not a proof: a line without one, hidden by a value
        # holding ": ", only makes its own key missing). Anything else is read line by line.
        if frame.startswith(_FIRST_LINES) and frame.count(": ") > frame.count("\n"):
            return Message(text=f"\n{frame}\n")
        return self._parse_lines(frame)

    def _parse_lines(self, frame: str) -> Message | None:
        fields = []
        for line in frame.split("\n"):
            key, sep, value = line.partition(":")
            if sep:
                fields.append((key.strip(), value.strip()))
            elif line.strip():
                self._bad(frame)
                return None
        if not fields:
            return None
        if fields[0][0].lower() not in _FIRST_KEYS:
            self._bad(frame)
            return None
        return Message(fields)

    def _follows(self, lines: list[str]) -> Message:
        fields = []
        head = 0  # the header lines end where the command's raw output starts
        while head < len(lines):
            key, sep, value = lines[head].partition(":")
            if not sep or key.strip().lower() not in _FOLLOWS_HEAD:
                break
            fields.append((key.strip(), value.strip()))
            head += 1
        body = "\n".join(lines[head:])
        body = body[: body.rfind(_END_COMMAND)]  # the marker may follow output without a newline
        output = body.split("\n") if body else []
        while output and not output[-1].strip():
            output.pop()
        return Message(fields, tuple(output))

    def _bad(self, frame: str) -> None:
        self.malformed += 1
        self.last_malformed = frame[:200]
        if self._strict:
            raise ProtocolError(f"malformed AMI message: {frame[:80]!a}")


def encode(fields: Iterable[tuple[str, str]] | Mapping[str, str]) -> bytes:
    """One message on the wire: `Key: value` CRLF lines and the blank line that ends it.

    A key or value holding a line break would smuggle in fields: it raises ValueError."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    parts = []
    for key, value in items:
        if not key or ":" in key or _breaks(key) or _breaks(value):
            raise ValueError(f"AMI field {key!r} holds a line break or a colon in its name")
        parts.append(f"{key}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def action(
    name: str,
    action_id: str | None = None,
    fields: Iterable[tuple[str, str]] | Mapping[str, str] = (),
) -> bytes:
    """An action with its ActionID (responses and event lists echo it)."""
    items = fields.items() if isinstance(fields, Mapping) else fields
    head = [("Action", name)] + ([("ActionID", action_id)] if action_id else [])
    return encode(itertools.chain(head, items))


def _breaks(text: str) -> bool:
    return "\r" in text or "\n" in text


class ActionIds:
    """Unique ActionIDs for one client: a prefix and a counter."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._count: Iterator[int] = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}-{next(self._count)}"
