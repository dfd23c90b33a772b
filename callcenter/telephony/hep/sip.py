"""Fast SIP field extraction for monitored traffic: the start line and the headers a call needs.

Not a full RFC 3261 parser (sipmessage stays the tool for deep, off-path parsing); it takes
what real stacks send: CRLF or bare LF, compact names, folded lines, any header-name case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class SipError(ValueError):
    """Bytes that are not a usable SIP message; `kind` is a stable counter key.

    Kinds: not-sip, keep-alive, bad-request-line, bad-status-line, no-call-id, no-cseq,
    bad-cseq. Bytes that are not UTF-8 are not an error: they are kept as \\xNN escapes.
    """

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
    # Which phone a leg is and what a registrar bound: read in the same pass, kept out of
    # equality so comparisons of the call fields above stay as they are.
    contact_uri: str | None = field(default=None, compare=False)  # first Contact's URI, "*"
    contact_header: str | None = field(default=None, compare=False)  # the first Contact line
    expires: int | None = field(default=None, compare=False)  # Expires header, seconds

    @property
    def is_request(self) -> bool:
        return self.method is not None


# Header names we read, full and compact (RFC 3261 7.3.3), lower-cased, to one key each.
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
    "expires": "expires",  # no compact form ("e" is Content-Encoding)
}
# How stacks usually spell the names starting with those letters, wanted or not ("" is
# skipped): an exact hit saves normalising the name; any other spelling still works.
_SPELLED = {
    **{name.title(): key for name, key in _KEY.items()},
    "Call-ID": "i",
    "CSeq": "cseq",
    "Event": "",
    "Content-Type": "",
    "Content-Length": "",
    "Content-Disposition": "",
    "Max-Forwards": "",
    "Min-SE": "",
}
# Every other header line starts with another letter: one set lookup skips most lines.
_FIRST = frozenset("cCeEfFiImMtTvV")
_TAG = re.compile(r";[ \t]*tag[ \t]*=[ \t]*([^;, \t]+)", re.I)
_BRANCH = re.compile(r";[ \t]*branch[ \t]*=[ \t]*([^;, \t]+)", re.I)
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_EXPIRES = re.compile(r";[ \t]*expires[ \t]*=[ \t]*([0-9]+)", re.I)
_MAX_EXPIRES = 2**32 - 1  # RFC 3261 25.1: delta-seconds; larger values are taken as this
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
    if first[:8].upper() == b"SIP/2.0 ":
        is_request = False
    elif first.rstrip(b"\r")[-8:].upper() == b" SIP/2.0":
        is_request = True
    else:
        raise SipError("not-sip", "no SIP request or status line")

    try:
        text = data.decode()
    except UnicodeDecodeError:
        # Real PBXs put stray bytes in headers (an OmniPCX To tag in the erspan capture),
        # and SIP-I bodies are binary: keep such bytes as \xNN escapes, so the same bytes
        # always give the same tag or Call-ID.
        text = data.decode(errors="backslashreplace")
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")  # valid UTF-8, but no database column takes NUL

    lines = iter(text.split("\n"))
    line = next(lines).rstrip("\r")
    method: str | None = None
    request_uri: str | None = None
    request_user: str | None = None
    status = 0
    reason = ""
    if is_request:
        parts = line.split()
        if len(parts) != 3 or not _is_token(parts[0]):
            raise SipError("bad-request-line", f"{line[:80]!r}")
        method = parts[0].upper()
        request_uri = parts[1]
        request_user = _uri_user(request_uri)
    else:
        code = line[8:11]
        status = int(code) if code.isascii() and code.isdigit() else 0
        if not 100 <= status <= 699 or line[11:12] not in ("", " "):
            raise SipError("bad-status-line", f"{line[:80]!r}")
        reason = line[12:].strip()

    # Header lines up to the first empty one; the body after it is not ours.
    found: dict[str, str] = {}
    vias: list[str] = []
    folds_into: str | None = None  # the key a continuation line would extend
    keys = _KEY
    spelled = _SPELLED
    firsts = _FIRST
    for line in lines:
        initial = line[:1]
        if initial in firsts:
            name, colon, value = line.partition(":")
            key = spelled.get(name) if colon else ""
            if key is None:
                key = keys.get(name.rstrip().lower())
            folds_into = key
            if key == "v":
                vias.append(value.strip())
            elif not key:
                folds_into = None
                continue
            elif key not in found:  # the first of a repeated header wins: it is the top one
                found[key] = value.strip()
            else:
                folds_into = None
        elif initial == "\r" or not initial:
            break
        elif initial == " " or initial == "\t":
            # A folded line continues the header above (RFC 3261 7.3.1).
            more = line.strip()
            if folds_into == "v":
                vias[-1] = f"{vias[-1]} {more}" if vias[-1] else more
            elif folds_into is not None and more:
                found[folds_into] = f"{found[folds_into]} {more}" if found[folds_into] else more
        else:
            folds_into = None

    call_id = found.get("i")
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
        or not _is_token(cseq_parts[1])
    ):
        raise SipError("bad-cseq", f"CSeq {cseq[:40]!r}")

    from_user, from_tag = _party(found.get("f", ""))
    to_user, to_tag = _party(found.get("t", ""))
    contact = found.get("m")
    contact_uri = None if contact is None else _contact_uri(contact)
    expires_value = found.get("expires")
    via_branch = None
    via_count = 0
    if vias:
        for value in vias:
            via_count += value.count(",") + 1 if '"' not in value else _count_quoted(value)
        via_branch = _param(_first_value(vias[0]), ";branch=", _BRANCH)
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
        None if contact_uri is None else _uri_user(contact_uri),
        via_branch,
        via_count,
        contact_uri,
        contact,
        None if expires_value is None else _delta_seconds(expires_value),
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
    return _uri_user(uri.strip()), _param(params, ";tag=", _TAG)


def _is_token(word: str) -> bool:
    # Methods are tokens (RFC 3261 25.1); real ones are plain letters, checked without a regex.
    return (word.isascii() and word.isalpha()) or _TOKEN.fullmatch(word) is not None


def _param(params: str, spelled: str, pattern: re.Pattern[str]) -> str | None:
    """A header parameter's value: `spelled` (";tag=") is how nearly every stack writes it;
    `pattern` also takes other cases and spaces around '='."""
    if ";" not in params:
        return None
    index = params.find(spelled)
    if index >= 0:
        value = params[index + len(spelled) :].partition(";")[0]
        if not (" " in value or "," in value or "\t" in value):
            return value or None
    match = pattern.search(params)
    return None if match is None else match[1]


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
    if '"' not in value:
        return value.partition(",")[0]
    quoted, escaped = False, False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            return value[:index]
    return value


def _contact_uri(value: str) -> str:
    """The URI of the first Contact value ("*" stays "*")."""
    start = _skip_display_name(value) if value[:1] == '"' else 0
    lt = value.find("<", start)
    if lt >= 0:
        gt = value.find(">", lt)
        return value[lt + 1 :].strip() if gt < 0 else value[lt + 1 : gt].strip()
    # addr-spec form: the URI holds no ';' or ',' here, so either ends it.
    return _first_value(value[start:]).partition(";")[0].strip()


def _skip_display_name(value: str) -> int:
    """Index just past a leading quoted display name (with \\-escapes)."""
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


def _delta_seconds(value: str) -> int | None:
    """An Expires value: delta-seconds, or None when it is not one (an old HTTP date)."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return None
    return min(int(value), _MAX_EXPIRES)


# -- off the hot path: registrations and who a URI is ----------------------------------------
def uri_user(uri: str) -> str | None:
    """The user part of a sip:/sips: URI, or the number of a tel: URI."""
    return _uri_user(uri)


def uri_key(uri: str) -> str | None:
    """`user@host:port` of a sip:/sips: URI, to tell whether two URIs reach the same contact:
    the host lower-cased, the default port filled in, parameters and headers dropped. The
    registrar binds an address-of-record to a contact URI, and the proxy's `lookup` puts that
    URI into the Request-URI with parameters it may reorder, so only this much is compared."""
    scheme = uri[:5].lower()
    if scheme.startswith("sip:"):
        rest, port = uri[4:], 5060
    elif scheme == "sips:":
        rest, port = uri[5:], 5061
    else:
        return None
    user, at, hostpart = rest.partition("?")[0].rpartition("@")
    user = user.partition(":")[0] if at else ""  # a (deprecated) password is not the user
    hostport = hostpart.partition(";")[0].strip()
    if hostport.startswith("["):  # an IPv6 reference
        close = hostport.find("]")
        host, tail = hostport[: close + 1], hostport[close + 1 :]
        if close < 0 or (tail and tail[:1] != ":"):
            return None
        tail = tail[1:]
    else:
        host, _, tail = hostport.partition(":")
    if tail:
        if not (tail.isascii() and tail.isdigit()):
            return None
        port = int(tail)
    if not host:
        return None
    return f"{user}@{host.lower()}:{port}"


def contact_values(value: str) -> list[tuple[str, int | None]]:
    """Every Contact value of a header line as (URI, its `expires` parameter or None); "*"
    (remove every binding) comes back as ("*", None)."""
    out: list[tuple[str, int | None]] = []
    rest = value.strip()
    while rest:
        start = _skip_display_name(rest) if rest[:1] == '"' else 0
        lt = rest.find("<", start)
        comma = _next_comma(rest, start)
        if 0 <= lt < comma:
            gt = rest.find(">", lt)
            if gt < 0:
                gt = len(rest)
            uri = rest[lt + 1 : gt].strip()
            comma = _next_comma(rest, gt)
            params = rest[gt + 1 : comma]
        else:
            # addr-spec: the URI ends at ';', after which come the header's parameters.
            uri, semi, params = rest[start:comma].partition(";")
            uri, params = uri.strip(), semi + params
        match = _EXPIRES.search(params) if ";" in params else None
        if uri:
            out.append((uri, None if match is None else min(int(match[1]), _MAX_EXPIRES)))
        rest = rest[comma + 1 :].strip()
    return out


def _next_comma(value: str, start: int) -> int:
    """Index of the next ',' separating values at or after `start` (len(value) if none),
    skipping quoted strings and <...> URIs."""
    quoted = escaped = bracketed = False
    for index in range(max(start, 0), len(value)):
        char = value[index]
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "<":
            bracketed = True
        elif char == ">":
            bracketed = False
        elif char == "," and not bracketed:
            return index
    return len(value)
