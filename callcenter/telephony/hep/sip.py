"""Fast SIP field extraction for monitored traffic: the start line and the headers a call needs.

Not a full RFC 3261 parser (sipmessage stays the tool for deep, off-path parsing); it takes
what real stacks send: CRLF or bare LF, compact names, folded lines, any header-name case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class SipError(ValueError):
    """Bytes that are not a usable SIP message; `kind` is a stable counter key."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


@dataclass(slots=True)
class SipMessage:
    """The fields of one SIP request or response that call tracking uses."""

    method: str | None  # request method, upper-case; None for a response
    status: int  # response status code; 0 for a request
    reason: str
    request_uri: str | None
    call_id: str
    cseq_num: int
    cseq_method: str
    from_tag: str | None
    to_tag: str | None
    from_user: str | None
    to_user: str | None
    request_user: str | None
    contact_user: str | None
    via_branch: str | None  # branch of the top Via value
    via_count: int  # Via values over all Via/v headers

    @property
    def is_request(self) -> bool:
        return self.method is not None


# One C-level pass finds every header we read, full or compact name (RFC 3261 7.3.3),
# any case; values stop at the line end. Each name maps to one key.
_HEADER = re.compile(r"\n(call-id|cseq|contact|from|via|to|[iftvm])[ \t]*:[ \t]*([^\r\n]*)", re.I)
_KEY = {
    "call-id": "i",
    "i": "i",
    "from": "f",
    "f": "f",
    "to": "t",
    "t": "t",
    "via": "v",
    "v": "v",
    "contact": "m",
    "m": "m",
    "cseq": "cseq",
}
_TAG = re.compile(r";[ \t]*tag[ \t]*=[ \t]*([^;, \t]+)", re.I)
_BRANCH = re.compile(r";[ \t]*branch[ \t]*=[ \t]*([^;, \t]+)", re.I)
_FOLD = re.compile(r"\r?\n[ \t]+")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_MAX_CSEQ = 2**32 - 1


def parse_sip(data: bytes) -> SipMessage:
    """Extract the call-tracking fields of one SIP message; raise `SipError` if unusable."""
    if data[:1] in (b"\r", b"\n"):
        # CRLF keep-alives (RFC 5626) may precede a message on a stream.
        data = data.lstrip(b"\r\n")
        if not data:
            raise SipError("keep-alive", "only CRLF keep-alives")
    nl = data.find(b"\n")
    first = data if nl < 0 else data[:nl]
    if first[-1:] == b"\r":
        first = first[:-1]
    if first[:8].upper() == b"SIP/2.0 ":
        is_request = False
    elif first[-8:].upper() == b" SIP/2.0":
        is_request = True
    else:
        raise SipError("not-sip", "no SIP request or status line")

    # Headers end at the first empty line (CRLF CRLF or LF LF); the body is not ours.
    # The header text keeps the newline ending the start line: _HEADER anchors on it.
    if nl < 0:
        head = b""
    else:
        # Search the ending the start line used first; the other only if that fails.
        crlf, lf = (b"\n\r\n", b"\n\n") if data[nl - 1 : nl] == b"\r" else (b"\n\n", b"\n\r\n")
        end = data.find(crlf, nl)
        if end < 0:
            end = data.find(lf, nl)
        head = data[nl:] if end < 0 else data[nl:end]
    try:
        line_text = first.decode()
        text = head.decode()
    except UnicodeDecodeError:
        # Real PBXs put stray bytes in headers (an OmniPCX To tag in the erspan capture):
        # keep them as \xNN escapes, so the same bytes always give the same tag or Call-ID.
        line_text = first.decode(errors="backslashreplace")
        text = head.decode(errors="backslashreplace")
    if "\x00" in text or "\x00" in line_text:
        # NUL is valid UTF-8 but no database text column takes it.
        line_text = line_text.replace("\x00", "\\x00")
        text = text.replace("\x00", "\\x00")

    method: str | None = None
    request_uri: str | None = None
    request_user: str | None = None
    status = 0
    reason = ""
    if is_request:
        parts = line_text.split()
        if len(parts) != 3 or _TOKEN.fullmatch(parts[0]) is None:
            raise SipError("bad-request-line", f"{line_text[:80]!r}")
        method = parts[0].upper()
        request_uri = parts[1]
        request_user = _uri_user(request_uri)
    else:
        code = line_text[8:11]
        status = int(code) if code.isascii() and code.isdigit() else 0
        if not 100 <= status <= 699 or line_text[11:12] not in ("", " "):
            raise SipError("bad-status-line", f"{line_text[:80]!r}")
        reason = line_text[12:].strip()

    if "\n " in text or "\n\t" in text:
        text = _FOLD.sub(" ", text)  # a folded line continues the header above (RFC 3261 7.3.1)

    found: dict[str, str] = {}
    vias: list[str] = []
    keys = _KEY
    for name, value in _HEADER.findall(text):
        key = keys[name.lower()]
        if key == "v":
            vias.append(value)
        elif key not in found:  # the first of a repeated header wins: it is the top one
            found[key] = value

    call_id = found.get("i", "").rstrip()
    if not call_id:
        raise SipError("no-call-id", "no Call-ID header")
    cseq = found.get("cseq")
    if cseq is None:
        raise SipError("no-cseq", "no CSeq header")
    cseq_parts = cseq.split()
    if (
        len(cseq_parts) != 2
        or not (cseq_parts[0].isascii() and cseq_parts[0].isdigit())
        or len(cseq_parts[0]) > 10
        or int(cseq_parts[0]) > _MAX_CSEQ
        or _TOKEN.fullmatch(cseq_parts[1]) is None
    ):
        raise SipError("bad-cseq", f"CSeq {cseq[:40]!r}")

    from_user, from_tag = _party(found.get("f", ""))
    to_user, to_tag = _party(found.get("t", ""))
    contact = found.get("m")
    via_branch = None
    via_count = 0
    if vias:
        for value in vias:
            via_count += value.count(",") + 1 if '"' not in value else _count_quoted(value)
        match = _BRANCH.search(_first_value(vias[0]))
        via_branch = None if match is None else match[1]
    return SipMessage(
        method,
        status,
        reason,
        request_uri,
        call_id,
        int(cseq_parts[0]),
        cseq_parts[1].upper(),
        from_tag,
        to_tag,
        from_user,
        to_user,
        request_user,
        None if contact is None else _uri_user(_name_addr(contact)[0]),
        via_branch,
        via_count,
    )


def _party(value: str) -> tuple[str | None, str | None]:
    """(user, tag) of a From or To value: one name-addr or addr-spec, then params."""
    # The URI holds neither '<' nor '>', and a quoted display name comes before it: the
    # last '>' closes the URI and the last '<' before it opens it, quotes or not.
    gt = value.rfind(">")
    if gt >= 0:
        uri = value[value.rfind("<", 0, gt) + 1 : gt]
        params = value[gt + 1 :]
    else:
        semi = value.find(";")  # addr-spec: ';' starts the header params
        uri, params = (value, "") if semi < 0 else (value[:semi], value[semi:])
    match = _TAG.search(params) if ";" in params else None
    return _uri_user(uri.strip()), None if match is None else match[1]


def _count_quoted(value: str) -> int:
    """Comma-separated values in one header, where commas inside quotes do not count."""
    count, quoted, escaped = 1, False, False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            count += 1
    return count


def _first_value(value: str) -> str:
    """The first of comma-separated values (a comma inside quotes does not separate)."""
    if '"' in value:
        return value[: _quoted_end(value, 0)]
    comma = value.find(",")
    return value if comma < 0 else value[:comma]


def _quoted_end(value: str, start: int) -> int:
    """Index of the first comma at or after `start` outside quotes, or len(value)."""
    quoted, escaped = False, False
    for index in range(start, len(value)):
        char = value[index]
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            return index
    return len(value)


def _skip_display_name(value: str) -> int:
    """Index just past a leading quoted display name (with \\-escapes), else 0."""
    if not value.startswith('"'):
        return 0
    index = 1
    while True:
        close = value.find('"', index)
        if close < 0:
            return len(value)
        backslashes = 0
        while value[close - 1 - backslashes] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            return close + 1
        index = close + 1


def _name_addr(value: str) -> tuple[str, str]:
    """Split a From/To/Contact value into (URI, header parameters after it)."""
    start = _skip_display_name(value) if value[:1] == '"' else 0
    lt = value.find("<", start)
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            return value[lt + 1 :].strip(), ""
        return value[lt + 1 : gt].strip(), value[gt + 1 :]
    # addr-spec form: the URI cannot hold ';' or ',' here, so they start the params.
    end = len(value)
    for sep in (";", ","):
        index = value.find(sep, start)
        if 0 <= index < end:
            end = index
    return value[start:end].strip(), value[end:]


def _uri_user(uri: str) -> str | None:
    """The user part of a sip:/sips: URI, or the number of a tel: URI."""
    scheme = uri[:4].lower()
    if scheme == "sip:":
        start = 4
    elif scheme == "sips" and uri[4:5] == ":":
        start = 5
    elif scheme == "tel:":
        return uri[4:].split(";", 1)[0].strip() or None
    else:
        return None
    at = uri.find("@", start)
    if at < 0:
        return None  # sip:host, no user
    user = uri[start:at]
    if "?" in user:
        return None  # the '@' belongs to a URI header, not to a user
    if ":" in user:
        user = user.split(":", 1)[0]  # drop a (deprecated) password
    return user or None
