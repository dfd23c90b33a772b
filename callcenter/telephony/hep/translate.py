"""SIP dialogs seen through a mirror (HEP) → normalized telephony events.

A proxy's mirror shows each message twice (as it enters and as it leaves) and again on
retransmission, out of order across worker processes: every event here fires once, on the
first copy that proves it. A call is Call-ID + From tag; a leg is one To tag.

Only an INVITE without a To tag starts a call. A request with a To tag is in a dialog (a
re-INVITE, UPDATE, REFER or BYE, sent by either side, so its From tag may be the phone's):
it is matched to its call by Call-ID and either tag and never makes one; nor do the
responses to it, told by their top Via branch (the branch of the request they answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from callcenter import signals as t
from callcenter.telephony.hep.sip import SipMessage


@dataclass(slots=True)
class _Leg:
    extension: str
    rang: bool = False
    answered: bool = False
    ended: bool = False


@dataclass(slots=True)
class _Dialog:
    call_id: str
    tag: str
    last_seen: float
    # The caller's own INVITE is the copy with the fewest Via headers; its branches tell the
    # caller's CANCEL from one the proxy generated itself (RFC 3261 9.1: same top Via).
    min_vias: int = 1_000
    max_vias: int = 0
    caller_branches: set[str] = field(default_factory=set)
    legs: dict[str, _Leg] = field(default_factory=dict)
    # Branches of in-dialog INVITEs (re-INVITEs by either side): their responses are not legs.
    in_dialog: dict[str, None] = field(default_factory=dict)
    answered: bool = False
    final: bool = False
    ended: bool = False


# Bounds on what is kept for messages whose dialog we never saw.
_MAX_ORPHANS = 10_000
_MAX_IN_DIALOG = 16
_TRANSACTION_LIFE = 64.0  # 64 × T1: no response comes later than this


class SipTranslator:
    def __init__(self, source: str = "hep") -> None:
        self.source = source
        self.dialogs: dict[tuple[str, str], _Dialog] = {}
        # (Call-ID, branch) → when: in-dialog INVITEs of dialogs we never saw (the call began
        # before we started), so that their responses make no call either.
        self._orphans: dict[tuple[str, str], float] = {}

    def restore(self, call_id: str, tag: str, legs: dict[str, tuple[str, bool]]) -> None:
        """Resume a dialog known from the database (leg ref → (extension, answered))."""
        d = _Dialog(call_id, tag, last_seen=0.0)
        for ref, (extension, answered) in legs.items():
            d.legs[ref] = _Leg(extension, rang=True, answered=answered)
            d.answered = d.answered or answered
        self.dialogs[(call_id, tag)] = d

    def _dialog(self, msg: SipMessage, at: datetime, out: list[t.TelephonyEvent]) -> _Dialog:
        tag = msg.from_tag or ""
        key = (msg.call_id, tag)
        d = self.dialogs.get(key)
        if d is None:
            d = _Dialog(msg.call_id, tag, last_seen=at.timestamp())
            self.dialogs[key] = d
            # The To URI keeps what the caller dialled; the proxy rewrites the request URI.
            dialed = msg.to_user or (msg.request_user if msg.method else None) or ""
            out.append(
                t.CallOffered(self.source, msg.call_id, tag, at, msg.from_user or "", dialed)
            )
        d.last_seen = at.timestamp()
        return d

    def translate(self, msg: SipMessage, at: datetime) -> list[t.TelephonyEvent]:
        out: list[t.TelephonyEvent] = []
        method = msg.method
        if method is not None:
            if msg.to_tag is not None:
                if method == "BYE":
                    self._bye(msg, at, out)
                elif method == "INVITE":
                    self._in_dialog_invite(msg, at)
                return out
            if method == "INVITE":
                d = self._dialog(msg, at, out)
                if msg.via_count < d.min_vias:
                    d.min_vias = msg.via_count
                    d.caller_branches = {msg.via_branch or ""}
                elif msg.via_count == d.min_vias:
                    d.caller_branches.add(msg.via_branch or "")
                d.max_vias = max(d.max_vias, msg.via_count)
            elif method == "CANCEL":
                d_or_none = self.dialogs.get((msg.call_id, msg.from_tag or ""))
                if (
                    d_or_none is not None
                    and not d_or_none.answered
                    and not d_or_none.final
                    and (msg.via_branch or "") in d_or_none.caller_branches
                ):
                    d_or_none.final = True
                    out.append(t.CallAbandoned(self.source, msg.call_id, d_or_none.tag, at))
            elif method == "BYE":
                self._bye(msg, at, out)
            return out
        if msg.cseq_method != "INVITE" or msg.status < 101:
            return out
        d_or_none = self.dialogs.get((msg.call_id, msg.from_tag or ""))
        if d_or_none is None:
            if self._answers_in_dialog_request(msg):
                return out
            d = self._dialog(msg, at, out)
        elif d_or_none.in_dialog and (msg.via_branch or "") in d_or_none.in_dialog:
            return out  # a response to a re-INVITE
        else:
            d = self._dialog(msg, at, out)
        leg_ref = msg.to_tag or ""
        status = msg.status
        if status < 200:
            leg = d.legs.get(leg_ref)
            if leg is None:
                leg = d.legs[leg_ref] = _Leg(msg.contact_user or msg.to_user or "")
            if not leg.rang and not leg.answered and not leg.ended and not d.answered:
                leg.rang = True
                out.append(t.LegRinging(self.source, d.call_id, d.tag, leg_ref, leg.extension, at))
            return out
        if status < 300:
            leg = d.legs.get(leg_ref)
            if leg is None:
                leg = d.legs[leg_ref] = _Leg(msg.contact_user or msg.to_user or "")
            if not leg.answered and not d.answered:
                leg.answered = True
                d.answered = True
                out.append(t.LegAnswered(self.source, d.call_id, d.tag, leg_ref, leg.extension, at))
            return out
        if status in (401, 407):
            return out  # an authentication challenge: the caller sends a new INVITE
        cause = f"{status} {msg.reason}".strip()
        single_hop = d.max_vias <= d.min_vias
        caller_side = msg.via_count <= d.min_vias
        if not caller_side or single_hop:
            leg = d.legs.get(leg_ref)
            if leg is None and leg_ref:
                leg = d.legs[leg_ref] = _Leg(msg.contact_user or msg.to_user or "")
            if leg is not None and not leg.ended and not leg.answered:
                leg.ended = True
                out.append(
                    t.LegUnanswered(
                        self.source,
                        d.call_id,
                        d.tag,
                        leg_ref,
                        leg.extension,
                        at,
                        "cancelled" if status == 487 else cause,
                    )
                )
        if (caller_side or single_hop) and not d.final and not d.answered:
            d.final = True
            if status == 487:
                out.append(t.CallAbandoned(self.source, d.call_id, d.tag, at))
            else:
                out.append(t.CallUnanswered(self.source, d.call_id, d.tag, at, cause))
        return out

    def _in_dialog_invite(self, msg: SipMessage, at: datetime) -> None:
        call_id, branch = msg.call_id, msg.via_branch or ""
        d = self.dialogs.get((call_id, msg.from_tag or "")) or self.dialogs.get(
            (call_id, msg.to_tag or "")
        )
        if d is not None:
            d.last_seen = at.timestamp()
            if len(d.in_dialog) >= _MAX_IN_DIALOG:
                del d.in_dialog[next(iter(d.in_dialog))]
            d.in_dialog[branch] = None
            return
        orphans = self._orphans
        if len(orphans) >= _MAX_ORPHANS:
            del orphans[next(iter(orphans))]
        orphans[(call_id, branch)] = at.timestamp()

    def _answers_in_dialog_request(self, msg: SipMessage) -> bool:
        """A response of no known dialog (by Call-ID and From tag) that answers a request in
        a dialog: one sent by the phone (its To tag is the caller's, of a known call), or an
        in-dialog INVITE of a dialog we never saw."""
        if msg.to_tag is not None and (msg.call_id, msg.to_tag) in self.dialogs:
            return True
        return bool(self._orphans) and (msg.call_id, msg.via_branch or "") in self._orphans

    def _bye(self, msg: SipMessage, at: datetime, out: list[t.TelephonyEvent]) -> None:
        # Who hung up is told by the BYE's From tag against the dialog's tags, not by address:
        # behind a proxy both BYEs come from the proxy.
        d = self.dialogs.get((msg.call_id, msg.from_tag or ""))
        by: t.HungUpBy = "caller"
        if d is None:
            d = self.dialogs.get((msg.call_id, msg.to_tag or ""))
            by = "agent"
        if d is None or d.ended or not d.answered:
            return
        d.ended = True
        d.final = True
        d.last_seen = at.timestamp()
        out.append(t.CallEnded(self.source, d.call_id, d.tag, at, by))

    def expire(self, now: float, idle_closed: float = 64.0, idle_open: float = 14_400.0) -> int:
        """Forget dialogs: finished ones after retransmissions die down (64 × T1), open ones
        after the longest call we keep."""
        gone = [
            key
            for key, d in self.dialogs.items()
            if now - d.last_seen
            > (idle_closed if (d.ended or (d.final and not d.answered)) else idle_open)
        ]
        for key in gone:
            del self.dialogs[key]
        if self._orphans:
            self._orphans = {
                k: seen for k, seen in self._orphans.items() if now - seen <= _TRANSACTION_LIFE
            }
        return len(gone)
