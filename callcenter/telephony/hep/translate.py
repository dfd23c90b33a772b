"""SIP dialogs seen through a mirror (HEP) → normalized telephony events.

A proxy's mirror shows each message twice (as it enters and as it leaves) and again on
retransmission, out of order across worker processes: every event here fires once, on the
first copy that proves it. A call is Call-ID + From tag; a leg is one To tag.

A call starts with an INVITE without a To tag (or, when its copies were lost, with the
first response to it). A request with a To tag is in a dialog (a re-INVITE, UPDATE, REFER
or BYE, sent by either side, so its From tag may be the phone's): it is matched to its call
by Call-ID and either tag and never makes one; nor do the responses to it, told by their
top Via branch (the branch of the request they answer) or by a To tag that is the caller's.

Which phone a leg is: the phone the proxy dialled, not what the phone writes in its Contact
(Linphone the account name, SIPp "sipp", desk phones a MAC-like id). A response's top Via
branch names the INVITE copy it answers; that copy's Request-URI is the phone: its user
when it is a known extension, or, when the proxy's `lookup` rewrote it to a contact a
phone registered, that registration's address-of-record. Else the To user, when it is a
known extension (a direct call; with a hunt group To is the hotline), and last the
Contact user. Bindings are learned from REGISTER and the registrar's 2xx on the mirror.

A 2xx with a To tag no 18x carried, answering the same INVITE copy for the same extension
as a leg still ringing, answers that leg: a B2BUA or SBC rang with one tag and answered with
another, and the caller heard that ringing; one phone is one leg.

Memory is bounded whatever arrives: at most `max_dialogs` dialogs (a flood of INVITEs
evicts the idlest first, as the call tracker does) and `max_legs` legs per dialog (a
Call-ID forked to thousands of To tags rings the first ones only); each refusal is reported
to `on_drop` by kind.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from callcenter import signals as t
from callcenter.telephony.hep.sip import SipMessage, contact_values, uri_key, uri_user

KnownExtension = Callable[[str], bool]
OnDrop = Callable[[str], None]


@dataclass(slots=True)
class _Leg:
    extension: str
    target: str | None = None  # the Request-URI of the INVITE it answers: the phone dialled
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
    # Top Via branch → Request-URI of each copy of the INVITE: the proxy's copies carry the
    # phone it sent the call to; a response's top Via branch tells which copy it answers.
    invites: dict[str, str] = field(default_factory=dict)
    legs: dict[str, _Leg] = field(default_factory=dict)
    # Branches of in-dialog INVITEs (re-INVITEs by either side): their responses are not legs.
    in_dialog: dict[str, None] | None = None
    answered: bool = False
    final: bool = False
    ended: bool = False


@dataclass(slots=True)
class _Binding:
    aor: str  # the user of the address-of-record: the extension
    until: float  # epoch seconds


@dataclass(slots=True)
class _Register:
    """A REGISTER waiting for the registrar's answer."""

    at: float
    aor: str
    contacts: list[tuple[str, int | None]]
    expires: int | None


# Bounds on what is kept for messages whose dialog we never saw, and per dialog.
_MAX_ORPHANS = 10_000
_MAX_IN_DIALOG = 16
_MAX_INVITE_COPIES = 128  # a hunt group forking to more phones attributes the rest by To
_MAX_PENDING_REGISTERS = 10_000
_TRANSACTION_LIFE = 64.0  # 64 × T1: no response comes later than this
# A registrar keeps a contact until it expires; a call routed to it just before may still be
# answered a little later (Timer B, 64 × T1 / 2).
_BINDING_GRACE = 32.0
_DEFAULT_EXPIRES = 3600  # what registrars grant when neither the REGISTER nor the 2xx says


class SipTranslator:
    """`known_extension(user)` says whether a user is an agent's extension (the directory);
    None takes every user for one. An address-of-record a phone registered is one too."""

    def __init__(
        self,
        source: str = "hep",
        known_extension: KnownExtension | None = None,
        *,
        max_bindings: int = 50_000,
        max_dialogs: int = 100_000,
        max_legs: int = 64,
        on_drop: OnDrop | None = None,
    ) -> None:
        self.source = source
        self.known_extension = known_extension
        self.max_bindings = max_bindings
        self.max_dialogs = max_dialogs
        self.max_legs = max_legs
        # Told the kind of each input not kept ("sip:dialog-evicted", "sip:too-many-legs").
        self.on_drop = on_drop
        # Idlest first: a message moves its dialog to the end (an OrderedDict evicts its
        # first in O(1); a dict must skip the holes its deletions left, tens of µs here).
        self.dialogs: OrderedDict[tuple[str, str], _Dialog] = OrderedDict()
        # (Call-ID, branch) → when: in-dialog INVITEs of dialogs we never saw (the call began
        # before we started), so that their responses make no call either.
        # (OrderedDicts: evicting the first entry of a plain dict over and over walks its
        # deleted slots, O(n) each under a flood.)
        self._orphans: OrderedDict[tuple[str, str], float] = OrderedDict()
        # What the registrar bound: contact (uri_key) → address-of-record, oldest refresh
        # first; live bindings per address-of-record; REGISTERs awaiting their answer.
        self._bindings: OrderedDict[str, _Binding] = OrderedDict()
        self._aors: dict[str, int] = {}
        self._registers: OrderedDict[tuple[str, int], _Register] = OrderedDict()

    def restore(self, call_id: str, tag: str, legs: dict[str, tuple[str, bool]]) -> None:
        """Resume a dialog known from the database (leg ref → (extension, answered)); one
        this translator follows already (a standby's, taking over) is kept as it is."""
        if (call_id, tag) in self.dialogs:
            return
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
            if len(self.dialogs) >= self.max_dialogs:
                self.dialogs.popitem(last=False)
                self._drop("sip:dialog-evicted")
            self.dialogs[key] = d
            # The To URI keeps what the caller dialled; the proxy rewrites the request URI.
            dialed = msg.to_user or (msg.request_user if msg.method else None) or ""
            out.append(
                t.CallOffered(self.source, msg.call_id, tag, at, msg.from_user or "", dialed)
            )
        else:
            d.last_seen = at.timestamp()
            self.dialogs.move_to_end(key)
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
                branch = msg.via_branch or ""
                if msg.via_count < d.min_vias:
                    d.min_vias = msg.via_count
                    d.caller_branches = {branch}
                elif msg.via_count == d.min_vias and len(d.caller_branches) < _MAX_INVITE_COPIES:
                    d.caller_branches.add(branch)
                d.max_vias = max(d.max_vias, msg.via_count)
                if msg.request_uri is not None and len(d.invites) < _MAX_INVITE_COPIES:
                    d.invites[branch] = msg.request_uri
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
            elif method == "REGISTER":
                self._register(msg, at)
            return out
        if msg.cseq_method != "INVITE" or msg.status < 101:
            if msg.cseq_method == "REGISTER":
                self._registered(msg, at)
            return out
        key = (msg.call_id, msg.from_tag or "")
        d_or_none = self.dialogs.get(key)
        if d_or_none is None:
            if self._answers_in_dialog_request(msg):
                return out
            d = self._dialog(msg, at, out)
        else:
            d = d_or_none
            if d.in_dialog is not None and (msg.via_branch or "") in d.in_dialog:
                return out  # a response to a re-INVITE
            d.last_seen = at.timestamp()
            self.dialogs.move_to_end(key)
        leg_ref = msg.to_tag or ""
        status = msg.status
        if status < 200:
            leg = d.legs.get(leg_ref)
            if leg is None:
                if len(d.legs) >= self.max_legs:
                    self._drop("sip:too-many-legs")
                    return out
                leg = d.legs[leg_ref] = self._leg(d, msg, at)
            if not leg.rang and not leg.answered and not leg.ended and not d.answered:
                leg.rang = True
                out.append(t.LegRinging(self.source, d.call_id, d.tag, leg_ref, leg.extension, at))
            return out
        if status < 300:
            leg = d.legs.get(leg_ref)
            if leg is None:
                leg = self._leg(d, msg, at)
                rang = None if d.answered else self._ringing_as(d, leg)
                if rang is not None:
                    # A B2BUA or SBC answered with another To tag than its 18x carried: the
                    # same INVITE and phone, so the leg that rang (and its ring time) answered.
                    leg = d.legs[leg_ref] = d.legs[rang]
                    leg_ref = rang
                elif len(d.legs) >= self.max_legs:
                    self._drop("sip:too-many-legs")
                    return out
                else:
                    d.legs[leg_ref] = leg
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
                if len(d.legs) < self.max_legs:
                    leg = d.legs[leg_ref] = self._leg(d, msg, at)
                else:
                    self._drop("sip:too-many-legs")
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

    def _drop(self, kind: str) -> None:
        if self.on_drop is not None:
            self.on_drop(kind)

    # -- which phone a leg is ------------------------------------------------------------------
    def _leg(self, d: _Dialog, msg: SipMessage, at: datetime) -> _Leg:
        target = self._target(d, msg.via_branch or "")
        target_user = None
        if target is not None:
            aor = self._bound(target, at)
            if aor is not None:
                return _Leg(aor, target)
            target_user = uri_user(target)
            if target_user is not None and self._known(target_user):
                return _Leg(target_user, target)
        to_user = msg.to_user
        if to_user is not None and self._known(to_user):
            return _Leg(to_user, target)
        if msg.contact_uri is not None:
            aor = self._bound(msg.contact_uri, at)
            if aor is not None:
                return _Leg(aor, target)
        return _Leg(msg.contact_user or target_user or to_user or "", target)

    @staticmethod
    def _ringing_as(d: _Dialog, new: _Leg) -> str | None:
        """The first leg still ringing for the same INVITE copy and extension as `new`."""
        for ref, leg in d.legs.items():
            if (
                leg.rang
                and not leg.answered
                and not leg.ended
                and leg.target == new.target
                and leg.extension == new.extension
            ):
                return ref
        return None

    def _target(self, d: _Dialog, branch: str) -> str | None:
        """The Request-URI of the INVITE copy a response answers (by its top Via branch)."""
        uri = d.invites.get(branch)
        if uri is not None and (d.max_vias <= d.min_vias or branch not in d.caller_branches):
            return uri
        # The caller's branch (the proxy's relayed copy), or an INVITE copy not seen: when
        # the proxy sent the call to one phone only, that phone.
        forwarded = {u for b, u in d.invites.items() if b not in d.caller_branches}
        return forwarded.pop() if len(forwarded) == 1 else uri

    def _known(self, user: str) -> bool:
        known = self.known_extension
        return known is None or user in self._aors or known(user)

    def _bound(self, uri: str, at: datetime) -> str | None:
        """The address-of-record a contact URI is registered for, if it is."""
        if not self._bindings:
            return None
        key = uri_key(uri)
        binding = None if key is None else self._bindings.get(key)
        if binding is None or at.timestamp() > binding.until + _BINDING_GRACE:
            return None
        return binding.aor

    # -- registrations ---------------------------------------------------------------------
    def _register(self, msg: SipMessage, at: datetime) -> None:
        if msg.to_user is None:
            return
        contacts = contact_values(msg.contact_header) if msg.contact_header else []
        pending = self._registers
        key = (msg.call_id, msg.cseq_num)
        if key not in pending and len(pending) >= _MAX_PENDING_REGISTERS:
            pending.popitem(last=False)
        pending[key] = _Register(at.timestamp(), msg.to_user, contacts, msg.expires)

    def _registered(self, msg: SipMessage, at: datetime) -> None:
        """The registrar's final answer to a REGISTER: a 2xx lists every binding of the
        address-of-record with the expiry it granted (RFC 3261 10.3)."""
        if msg.status < 200:
            return
        request = self._registers.pop((msg.call_id, msg.cseq_num), None)
        aor = msg.to_user or (request.aor if request is not None else None)
        if msg.status >= 300 or aor is None:
            return
        now = at.timestamp()
        asked: dict[str, int | None] = {}
        if request is not None:
            for uri, expires in request.contacts:
                wanted = expires if expires is not None else request.expires
                if uri == "*":
                    if wanted == 0:
                        self._unbind_aor(aor)
                    continue
                key = uri_key(uri)
                if key is not None:
                    asked[key] = wanted
                    if wanted == 0:
                        self._unbind(key)
        listed = contact_values(msg.contact_header) if msg.contact_header else []
        if listed:
            for uri, expires in listed:
                key = uri_key(uri)
                if key is not None:
                    granted = expires if expires is not None else msg.expires
                    if granted is None:
                        granted = asked.get(key)
                    self._bind(key, aor, now, granted)
        else:
            # A registrar that lists nothing: what the REGISTER asked for.
            for key, wanted in asked.items():
                self._bind(key, aor, now, msg.expires if wanted is None else wanted)

    def _bind(self, key: str, aor: str, now: float, expires: int | None) -> None:
        if expires == 0:
            self._unbind(key)
            return
        bindings = self._bindings
        old = bindings.pop(key, None)  # a refresh moves it to the end: oldest refresh first
        if old is not None:
            self._release(old.aor)
        elif len(bindings) >= self.max_bindings:
            self._release(bindings.popitem(last=False)[1].aor)
        bindings[key] = _Binding(aor, now + (_DEFAULT_EXPIRES if expires is None else expires))
        self._aors[aor] = self._aors.get(aor, 0) + 1

    def _unbind(self, key: str) -> None:
        old = self._bindings.pop(key, None)
        if old is not None:
            self._release(old.aor)

    def _unbind_aor(self, aor: str) -> None:
        for key in [k for k, b in self._bindings.items() if b.aor == aor]:
            self._unbind(key)

    def _release(self, aor: str) -> None:
        left = self._aors.get(aor, 0) - 1
        if left > 0:
            self._aors[aor] = left
        else:
            self._aors.pop(aor, None)

    # -- in-dialog requests -----------------------------------------------------------------
    def _in_dialog_invite(self, msg: SipMessage, at: datetime) -> None:
        call_id, branch = msg.call_id, msg.via_branch or ""
        d = self.dialogs.get((call_id, msg.from_tag or "")) or self.dialogs.get(
            (call_id, msg.to_tag or "")
        )
        if d is not None:
            d.last_seen = at.timestamp()
            self.dialogs.move_to_end((d.call_id, d.tag))
            if d.in_dialog is None:
                d.in_dialog = {}
            elif len(d.in_dialog) >= _MAX_IN_DIALOG:
                del d.in_dialog[next(iter(d.in_dialog))]
            d.in_dialog[branch] = None
            return
        orphans = self._orphans
        if len(orphans) >= _MAX_ORPHANS:
            orphans.popitem(last=False)
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
        self.dialogs.move_to_end((d.call_id, d.tag))
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
            self._orphans = OrderedDict(
                (k, seen) for k, seen in self._orphans.items() if now - seen <= _TRANSACTION_LIFE
            )
        if self._registers:
            self._registers = OrderedDict(
                (k, r) for k, r in self._registers.items() if now - r.at <= _TRANSACTION_LIFE
            )
        for contact in [k for k, b in self._bindings.items() if now > b.until + _BINDING_GRACE]:
            self._unbind(contact)
        return len(gone)
