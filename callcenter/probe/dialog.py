"""The SIP requests pyVoIP 1.6.8 gets wrong or lacks for an outgoing call, built from the
INVITE it sent and the responses it received (pure: bytes in, text out).

pyVoIP acknowledges a 200 with the To URI as Request-URI, a new random To tag and no Route
(a record-routing proxy drops it, the answering phone resends its 200 until it gives up), and
sends its BYE the same way; it sends no ACK at all for a 486 or a 487, and has no CANCEL.
RFC 3261 says how each should be: 17.1.1.3 (ACK of a non-2xx), 13.2.2.4 and 12.2.1.1 (ACK of
a 2xx and requests in the dialog, through the route set), 9.1 (CANCEL).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

# Compact header forms (RFC 3261 7.3.3) of the headers read here.
_COMPACT = {"f": "from", "t": "to", "i": "call-id", "v": "via", "m": "contact"}


def headers(raw: bytes | str, name: str) -> list[str]:
    """The values of every `name` header (any case, compact form too), in order."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    wanted = name.lower()
    out: list[str] = []
    for line in text.split("\r\n")[1:]:
        if not line:
            break
        key, colon, value = line.partition(":")
        if not colon:
            continue
        key = key.strip().lower()
        if _COMPACT.get(key, key) == wanted:
            out.append(value.strip())
    return out


def first(raw: bytes | str, name: str) -> str:
    found = headers(raw, name)
    return found[0] if found else ""


def start_line(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text.split("\r\n", 1)[0]


def status_of(raw: bytes) -> int | None:
    """The status code of a response; None for a request or garbage."""
    parts = start_line(raw).split(" ", 2)
    if len(parts) >= 2 and parts[0] == "SIP/2.0" and parts[1].isdigit():
        return int(parts[1])
    return None


def cseq(raw: bytes | str) -> tuple[int, str]:
    number, _, method = first(raw, "cseq").partition(" ")
    return (int(number) if number.isdigit() else 0), method.strip().upper()


def _split_uris(value: str) -> list[str]:
    """A header value holding several name-addrs separated by commas outside <>."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(value):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(value[start:i].strip())
            start = i + 1
    out.append(value[start:].strip())
    return [v for v in out if v]


def _uri(name_addr: str) -> str:
    lt, gt = name_addr.find("<"), name_addr.find(">")
    if 0 <= lt < gt:
        return name_addr[lt + 1 : gt]
    return name_addr.split(";", 1)[0].strip()


@dataclass(frozen=True, slots=True)
class Dialog:
    """What an answered call's in-dialog requests need (RFC 3261 12.1.2)."""

    remote_target: str  # the 2xx's Contact URI
    route: tuple[str, ...]  # the 2xx's Record-Route, reversed
    to: str  # the 2xx's To, with the answering side's tag
    cseq: int  # the INVITE's CSeq number


def dialog_of(response: bytes) -> Dialog:
    rr = [v for value in headers(response, "record-route") for v in _split_uris(value)]
    return Dialog(
        remote_target=_uri(first(response, "contact")),
        route=tuple(reversed(rr)),
        to=first(response, "to"),
        cseq=cseq(response)[0],
    )


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(10)


def _request(lines: list[str]) -> str:
    return "\r\n".join([*lines, "Content-Length: 0", "", ""])


def ack_non_2xx(invite: bytes, response: bytes, user_agent: str) -> str:
    """The ACK of a final 3xx-6xx: the INVITE's Request-URI and top Via, the response's To."""
    uri = start_line(invite).split(" ")[1]
    number, _ = cseq(invite)
    return _request(
        [
            f"ACK {uri} SIP/2.0",
            f"Via: {first(invite, 'via')}",
            "Max-Forwards: 70",
            f"From: {first(invite, 'from')}",
            f"To: {first(response, 'to')}",
            f"Call-ID: {first(invite, 'call-id')}",
            f"CSeq: {number} ACK",
            f"User-Agent: {user_agent}",
        ]
    )


def cancel(invite: bytes, user_agent: str) -> str:
    """CANCEL of a pending INVITE: its Request-URI, top Via, From, To and CSeq number."""
    uri = start_line(invite).split(" ")[1]
    number, _ = cseq(invite)
    return _request(
        [
            f"CANCEL {uri} SIP/2.0",
            f"Via: {first(invite, 'via')}",
            "Max-Forwards: 70",
            f"From: {first(invite, 'from')}",
            f"To: {first(invite, 'to')}",
            f"Call-ID: {first(invite, 'call-id')}",
            f"CSeq: {number} CANCEL",
            f"User-Agent: {user_agent}",
        ]
    )


def in_dialog(
    method: str, invite: bytes, d: Dialog, via_host: str, via_port: int, user_agent: str
) -> str:
    """ACK of the 2xx (method "ACK", the INVITE's CSeq) or BYE (the next CSeq), sent to the
    remote target through the route set, with a new branch."""
    number = d.cseq if method == "ACK" else d.cseq + 1
    lines = [
        f"{method} {d.remote_target} SIP/2.0",
        f"Via: SIP/2.0/UDP {via_host}:{via_port};branch={new_branch()};rport",
        *(f"Route: {r}" for r in d.route),
        "Max-Forwards: 70",
        f"From: {first(invite, 'from')}",
        f"To: {d.to}",
        f"Call-ID: {first(invite, 'call-id')}",
        f"CSeq: {number} {method}",
        f"User-Agent: {user_agent}",
    ]
    return _request(lines)
