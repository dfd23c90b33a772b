"""Asterisk 12+ AMI events → normalized telephony events, pure and stateful.

A call is every channel sharing a Linkedid: the Uniqueid of the caller's channel, which
started it (call_id = Linkedid, call_tag = ""). A leg is one agent channel, keyed by its
Uniqueid. Each normalized event fires once, on the first AMI event that proves it: AgentCalled
and DialBegin both announce a ring; Newstate Up, DialEnd ANSWER and AgentConnect an answer.

Who ended what is read the way app_queue itself reads it (apps/app_queue.c, Asterisk 13+):
- A channel driver that sees the far end hang up publishes `HangupRequest`
  (ast_queue_hangup_with_cause); app_queue's `AgentComplete` Reason is "caller" or "agent"
  after whichever of the two bridged channels asked first (handle_hangup).
- `QueueCallerAbandon` (record_abandoned) is sent when the caller hangs up (queue_log
  ABANDON) but ALSO when the queue lets a live caller go: the queue timeout (EXITWITHTIMEOUT,
  from three places in queue_exec, the 'n' option's included) and leavewhenempty
  (EXITEMPTY). The event carries no reason: docs.asterisk.org (Asterisk 16/18/20,
  AMI_Events/QueueCallerAbandon) lists only Queue, Position, OriginalPosition, HoldTime, and
  QueueCallerLeave has none either. Rule: it is an abandon when a `HangupRequest` for the
  caller's channel came before it (the caller hung up, and that is why app_queue stopped);
  otherwise the caller left the queue still on the line, reported as
  CallUnanswered("queue timeout") at the QueueCallerAbandon's time once the caller's channel
  ends - unless an agent rings or answers first (a Redirect out of the queue, say). A
  HangupRequest after it (the resident hanging up on the "call again later" message) does
  not turn a timeout into an abandon.
- app_queue ends the ringing of its members with DialEnd CANCEL when the caller goes away
  (wait_for_answer) and with AgentRingNoAnswer + DialEnd NOANSWER on its ring timeout. A
  CANCEL is therefore not the agent's failure: the leg is left to the call's outcome
  (abandoned, answered elsewhere, redirected) instead of becoming LegUnanswered at once.
- `AgentRingNoAnswer` RingTime is in milliseconds (rna(): "Nobody picked up in %d ms").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callcenter import signals as t
from callcenter.telephony.ami.protocol import Message
from callcenter.telephony.source import ResyncWindow

Out = list[t.SourceEvent]
MAX_CALLS = 50_000  # live calls kept; beyond it the oldest are forgotten (their end was lost)
_ENDED_KEPT = 10_000  # recently ended calls remembered, so a late resync cannot revive one

_CAUSES = {
    "NOANSWER": "no answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "congestion",
    "DONTCALL": "refused",
    "TORTURE": "refused",
    "INVALIDARGS": "invalid dial string",
}
_NOT_FINAL = frozenset({"", "RINGING", "PROCEEDING", "PROGRESS"})
_UNKNOWN_NUMBER = frozenset({"<unknown>", "unknown", "<Unknown>"})
_OUTGOING = "(Outgoing Line)"  # ApplicationData of a channel app_queue / app_dial created


@dataclass(slots=True)
class _Leg:
    leg_id: str
    channel: str
    extension: str
    queue: str | None = None
    rang: bool = False
    answered: bool = False
    done: bool = False  # stopped unanswered (told, or settled by the call's outcome)
    cancelled: str | None = None  # stopped by the caller's side: its fate follows the call's


@dataclass(slots=True)
class _Call:
    call_id: str
    caller_uid: str
    caller_channel: str
    legs: dict[str, _Leg] = field(default_factory=dict)
    uids: list[str] = field(default_factory=list)  # every channel indexed for this call
    queue: str | None = None
    answered_leg: str | None = None
    closed: bool = False
    caller_left: bool = False  # a HangupRequest for the caller's channel: the resident hung up
    first_hangup: t.HungUpBy | None = None  # who of caller / answering agent asked first
    queue_exit: datetime | None = None  # left the queue still on the line (timeout, empty)


def _at(m: Message, now: datetime) -> datetime:
    """`Timestamp:` (manager.conf timestampevents = yes) when present, else when read."""
    ts = m.get("Timestamp")
    if ts:
        try:
            return datetime.fromtimestamp(float(ts), UTC)
        except (ValueError, OverflowError, OSError):
            pass
    return now


def _number(value: str | None) -> str:
    if not value or value in _UNKNOWN_NUMBER:
        return ""
    return value


def extension_of(value: str | None) -> str:
    """The extension in a channel name, dial string or queue interface:
    "PJSIP/2001-00000012", "PJSIP/2001", "Local/2001@from-queue-0000000a;1",
    "2001@from-queue/n", "SIP/203" → "2001" / "203"."""
    if not value:
        return ""
    tech, sep, rest = value.partition("/")
    if sep and tech.isalpha():
        value = rest
    for stop in "@/;":
        value = value.split(stop, 1)[0]
    head, sep, seq = value.rpartition("-")
    if sep and head and len(seq) == 8 and all(c in "0123456789abcdefABCDEF" for c in seq):
        value = head  # a channel's sequence number
    return value


def _duration(value: str | None) -> timedelta:
    """CoreShowChannel's Duration: "HH:MM:SS" (or plain seconds)."""
    if not value:
        return timedelta(0)
    try:
        seconds = 0
        for part in value.split(":"):
            seconds = seconds * 60 + int(part)
    except ValueError:
        return timedelta(0)
    return timedelta(seconds=max(0, seconds))


def _hangup_cause(m: Message) -> str:
    text = m.get("Cause-txt")
    if text:
        return text
    code = m.get("Cause")
    return f"cause {code}" if code else "hung up"


class AmiTranslator:
    """Keeps per call: the caller's channel, legs by agent channel Uniqueid, what was told."""

    def __init__(self, source: str = "ami") -> None:
        self.source = source
        self.calls: dict[str, _Call] = {}
        self._channels: dict[str, tuple[_Call, _Leg | None]] = {}
        self._ended: dict[str, None] = {}
        self.resync_window = ResyncWindow()

    # -- lookups ----------------------------------------------------------------------------
    def caller_channel(self, call_id: str) -> str | None:
        """The caller's channel name for `call_id` (what AMI Redirect moves)."""
        call = self.calls.get(call_id)
        return call.caller_channel if call is not None and call.caller_channel else None

    def _call_of(self, m: Message) -> _Call | None:
        entry = self._channels.get(m.get("Uniqueid", ""))
        if entry is not None:
            return entry[0]
        return self.calls.get(m.get("Linkedid", ""))

    def _leg_of(self, uid: str | None) -> tuple[_Call, _Leg] | None:
        entry = self._channels.get(uid or "")
        if entry is None or entry[1] is None:
            return None
        return entry[0], entry[1]

    def _index(self, call: _Call, uid: str, leg: _Leg | None) -> None:
        self._channels[uid] = (call, leg)
        call.uids.append(uid)

    def _new_call(self, lid: str, channel: str) -> _Call:
        if len(self.calls) >= MAX_CALLS:
            self._forget(next(iter(self.calls.values())))
        call = _Call(lid, lid, channel)
        self.calls[lid] = call
        self._index(call, lid, None)
        return call

    def _forget(self, call: _Call) -> None:
        self.calls.pop(call.call_id, None)
        for uid in call.uids:
            entry = self._channels.get(uid)
            if entry is not None and entry[0] is call:
                del self._channels[uid]
        self._ended[call.call_id] = None
        if len(self._ended) > _ENDED_KEPT:
            del self._ended[next(iter(self._ended))]

    # -- the entry point --------------------------------------------------------------------
    def translate(self, m: Message, now: datetime) -> list[t.SourceEvent]:
        """The normalized events one AMI event proves (usually none); `now` is when it was read."""
        name = m.event
        if name is None:
            return []
        handler = _HANDLERS.get(name) or _HANDLERS_LOWER.get(name.lower())
        if handler is None:
            return []
        self.resync_window.note(m.get("Linkedid") or m.get("Uniqueid"))
        out: Out = []
        handler(self, m, now, out)
        return out

    # -- what is told, once -----------------------------------------------------------------
    def _ring(
        self, call: _Call, uid: str, channel: str, extension: str, at: datetime, out: Out
    ) -> None:
        leg = call.legs.get(uid)
        if leg is None:
            self._settle_cancelled(call, at, out)
            leg = _Leg(uid, channel, extension, call.queue)
            call.legs[uid] = leg
            self._index(call, uid, leg)
        self._rang(call, leg, at, out)

    def _rang(self, call: _Call, leg: _Leg, at: datetime, out: Out) -> None:
        if leg.rang or leg.answered or leg.done or call.closed or call.answered_leg is not None:
            return
        leg.rang = True
        call.queue_exit = None  # ringing again (a redirect, an overflow queue): not timed out
        out.append(
            t.LegRinging(self.source, call.call_id, "", leg.leg_id, leg.extension, at, leg.queue)
        )

    def _answered(self, call: _Call, leg: _Leg, at: datetime, out: Out) -> None:
        if leg.answered or leg.done or call.closed or call.answered_leg is not None:
            return
        leg.answered = leg.rang = True
        call.answered_leg = leg.leg_id
        call.queue_exit = None
        for other in call.legs.values():
            if other is not leg:
                other.done = True  # the core ends its ringing legs as answered elsewhere
        out.append(t.LegAnswered(self.source, call.call_id, "", leg.leg_id, leg.extension, at))

    def _unanswered(self, call: _Call, leg: _Leg, cause: str, at: datetime, out: Out) -> None:
        if leg.done or leg.answered or call.closed:
            return
        leg.done = True
        if call.answered_leg is None:
            out.append(
                t.LegUnanswered(self.source, call.call_id, "", leg.leg_id, leg.extension, at, cause)
            )

    def _settle_cancelled(self, call: _Call, at: datetime, out: Out) -> None:
        """The call rings on elsewhere: a leg the caller's side cancelled failed after all."""
        for leg in call.legs.values():
            if leg.cancelled is not None:
                self._unanswered(call, leg, leg.cancelled, at, out)

    def _close(self, call: _Call, event: t.TelephonyEvent, out: Out) -> None:
        call.closed = True
        for leg in call.legs.values():
            leg.done = leg.done or not leg.answered
        out.append(event)

    def _end(self, call: _Call, by: t.HungUpBy | None, at: datetime, out: Out) -> None:
        self._close(call, t.CallEnded(self.source, call.call_id, "", at, by), out)

    # -- handlers, one per AMI event --------------------------------------------------------
    def _newchannel(self, m: Message, now: datetime, out: Out) -> None:
        uid = m.get("Uniqueid")
        lid = m.get("Linkedid") or uid
        if not uid or uid != lid or lid in self.calls or lid in self._ended:
            return  # not the first channel of a call: an agent leg or a Local half
        self._new_call(lid, m.get("Channel", ""))
        caller, dialed = _number(m.get("CallerIDNum")), m.get("Exten", "")
        out.append(t.CallOffered(self.source, lid, "", _at(m, now), caller, dialed))

    def _queue_caller_join(self, m: Message, now: datetime, out: Out) -> None:
        call = self._call_of(m)
        if call is not None:
            call.queue = m.get("Queue") or call.queue

    def _queue_caller_leave(self, m: Message, now: datetime, out: Out) -> None:
        call = self._call_of(m)
        if call is not None:
            call.queue = None  # no reason field: what it means was told by the events before

    def _agent_called(self, m: Message, now: datetime, out: Out) -> None:
        call = self._call_of(m)
        uid = m.get("DestUniqueid")
        if call is None or not uid:
            return
        call.queue = m.get("Queue") or call.queue
        extension = (
            extension_of(m.get("Interface"))
            or extension_of(m.get("DestChannel"))
            or _number(m.get("DestCallerIDNum"))
            or m.get("MemberName", "")
        )
        self._ring(call, uid, m.get("DestChannel", ""), extension, _at(m, now), out)

    def _dial_begin(self, m: Message, now: datetime, out: Out) -> None:
        uid = m.get("DestUniqueid")
        if not uid:
            return
        known = self._leg_of(uid)
        if known is not None:
            self._rang(known[0], known[1], _at(m, now), out)
            return
        call = self._call_of(m) or self.calls.get(m.get("DestLinkedid", ""))
        if call is None:
            return
        source = m.get("Channel", "")
        if source.startswith("Local/") and source.endswith(";2"):
            # A queue member reached through a Local channel: its ;2 half dials the phone,
            # which is the same leg as the ;1 half the queue rang.
            twin = source[:-1] + "1"
            leg = next((x for x in call.legs.values() if x.channel == twin), None)
            if leg is not None:
                self._index(call, uid, leg)
                self._rang(call, leg, _at(m, now), out)
                return
        extension = (
            extension_of(m.get("DialString"))
            or extension_of(m.get("DestChannel"))
            or _number(m.get("DestCallerIDNum"))
        )
        self._ring(call, uid, m.get("DestChannel", ""), extension, _at(m, now), out)

    def _dial_state(self, m: Message, now: datetime, out: Out) -> None:
        known = self._leg_of(m.get("DestUniqueid"))
        if known is not None and (m.get("DialStatus") or "").upper() == "RINGING":
            self._rang(known[0], known[1], _at(m, now), out)

    def _dial_end(self, m: Message, now: datetime, out: Out) -> None:
        known = self._leg_of(m.get("DestUniqueid"))
        if known is None:
            return
        call, leg = known
        status = (m.get("DialStatus") or "").upper()
        if status == "ANSWER":
            self._answered(call, leg, _at(m, now), out)
        elif status == "CANCEL":
            if not leg.done and not leg.answered:
                leg.cancelled = leg.cancelled or "cancelled"
        elif status not in _NOT_FINAL:
            self._unanswered(call, leg, _CAUSES.get(status, status.lower()), _at(m, now), out)

    def _newstate(self, m: Message, now: datetime, out: Out) -> None:
        entry = self._channels.get(m.get("Uniqueid", ""))
        if entry is None:
            return
        call, leg = entry
        if leg is None:
            call.caller_channel = m.get("Channel") or call.caller_channel
            return
        state = m.get("ChannelState")
        if state == "5":  # Ringing
            self._rang(call, leg, _at(m, now), out)
        elif state == "6":  # Up
            self._answered(call, leg, _at(m, now), out)

    def _agent_connect(self, m: Message, now: datetime, out: Out) -> None:
        known = self._leg_of(m.get("DestUniqueid"))
        if known is not None:
            self._answered(known[0], known[1], _at(m, now), out)

    def _agent_ring_no_answer(self, m: Message, now: datetime, out: Out) -> None:
        known = self._leg_of(m.get("DestUniqueid"))
        if known is None:
            return
        ring_ms = m.get("RingTime", "")
        cause = f"no answer after {int(ring_ms) / 1000:g} s" if ring_ms.isdigit() else "no answer"
        self._unanswered(known[0], known[1], cause, _at(m, now), out)

    def _agent_complete(self, m: Message, now: datetime, out: Out) -> None:
        call = self._call_of(m)
        if call is None or call.closed:
            return
        at = _at(m, now)
        if call.answered_leg is None:
            known = self._leg_of(m.get("DestUniqueid"))
            if known is None or known[0] is not call:
                return
            self._answered(call, known[1], at, out)
        reason = (m.get("Reason") or "").lower()
        by: t.HungUpBy | None = "agent" if reason == "agent" else None
        if reason == "caller":
            by = "caller"
        self._end(call, by, at, out)  # "transfer": the conversation moved on, nobody hung up

    def _queue_caller_abandon(self, m: Message, now: datetime, out: Out) -> None:
        call = self._call_of(m)
        if call is None or call.closed or call.answered_leg is not None:
            return
        call.queue = None
        at = _at(m, now)
        if call.caller_left:
            self._close(call, t.CallAbandoned(self.source, call.call_id, "", at), out)
        else:
            call.queue_exit = at  # see the module docstring: a timeout, told at the hangup

    def _hangup_request(self, m: Message, now: datetime, out: Out) -> None:
        entry = self._channels.get(m.get("Uniqueid", ""))
        if entry is None:
            return
        call, leg = entry
        answered = call.answered_leg is not None
        if leg is None:
            if answered:
                call.first_hangup = call.first_hangup or "caller"
            elif (m.event or "").lower() != "softhanguprequest":  # soft: the PBX did it
                call.caller_left = True
        elif answered and leg.leg_id == call.answered_leg:
            call.first_hangup = call.first_hangup or "agent"

    def _hangup(self, m: Message, now: datetime, out: Out) -> None:
        uid = m.get("Uniqueid", "")
        entry = self._channels.pop(uid, None)
        if entry is None:
            return
        call, leg = entry
        at = _at(m, now)
        if leg is not None:
            if call.closed:
                return
            if leg.leg_id == call.answered_leg:
                if call.first_hangup is not None:  # asked first: known who ended it
                    self._end(call, call.first_hangup, at, out)
                else:
                    call.first_hangup = "agent"  # hung up before the caller's channel did
            elif not leg.answered and not leg.done:
                if leg.cancelled is None and not call.caller_left and call.queue_exit is None:
                    self._unanswered(call, leg, _hangup_cause(m), at, out)
                else:
                    leg.cancelled = leg.cancelled or "cancelled"
            return
        if uid != call.caller_uid:
            return
        self._forget(call)
        if call.closed:
            return
        if call.answered_leg is not None:
            self._end(call, call.first_hangup or "caller", at, out)
        elif call.queue_exit is not None:
            event: t.TelephonyEvent = t.CallUnanswered(
                self.source, call.call_id, "", call.queue_exit, "queue timeout"
            )
            self._close(call, event, out)
        elif call.caller_left or any(leg.cancelled for leg in call.legs.values()):
            self._close(call, t.CallAbandoned(self.source, call.call_id, "", at), out)
        else:
            cause = _hangup_cause(m)
            self._close(call, t.CallUnanswered(self.source, call.call_id, "", at, cause), out)

    # -- after a (re)connect ----------------------------------------------------------------
    def resync(
        self, channels: Iterable[Message], queue_entries: Iterable[Message], now: datetime
    ) -> list[t.SourceEvent]:
        """The live calls as CoreShowChannels and QueueStatus list them: offer each (the
        core ignores what it knows), its ringing and answered legs, then CallsResynced so the
        core closes calls that ended while we were not connected.

        Times come from each channel's Duration. A leg found answered is told answered when
        its channel was created: the real moment is unknown, and no late answer is invented.
        """
        by_call: dict[str, list[Message]] = {}
        for ch in channels:
            uid = ch.get("Uniqueid")
            if uid:
                by_call.setdefault(ch.get("Linkedid") or uid, []).append(ch)
        queue_of = {
            e.get("Uniqueid") or e.get("Channel", ""): e.get("Queue", "") for e in queue_entries
        }
        out: Out = []
        touched = self.resync_window.finish()
        live: set[str] = {lid for lid in touched if lid in self.calls}
        for lid, chans in by_call.items():
            caller = next((c for c in chans if c.get("Uniqueid") == lid), None)
            if caller is None or lid in self._ended or lid in touched:
                continue  # gone, or its own events since the snapshot say more
            live.add(lid)
            call = self.calls.get(lid)
            if call is None:
                call = self._new_call(lid, caller.get("Channel", ""))
                call.queue = queue_of.get(lid) or queue_of.get(call.caller_channel) or None
            elif call.closed:
                continue
            call.caller_channel = caller.get("Channel") or call.caller_channel
            start = now - _duration(caller.get("Duration"))
            number = _number(caller.get("CallerIDNum"))
            out.append(t.CallOffered(self.source, lid, "", start, number, caller.get("Exten", "")))
            self._resync_legs(call, chans, now, out)
        for call in list(self.calls.values()):
            if call.call_id not in live:
                self._forget(call)
        out.append(t.CallsResynced(self.source, frozenset(live), now))
        return out

    def _resync_legs(self, call: _Call, chans: list[Message], now: datetime, out: Out) -> None:
        outgoing = [c for c in chans if c.get("ApplicationData") == _OUTGOING]
        present: set[str] = set()
        # Local ;1 halves first, so the phone a Local ;2 half dialled joins that leg.
        outgoing.sort(key=lambda c: not c.get("Channel", "").startswith("Local/"))
        for ch in outgoing:
            uid, name = ch.get("Uniqueid", ""), ch.get("Channel", "")
            known = self._leg_of(uid)
            if known is not None:
                leg = known[1]
            else:
                extension = extension_of(name) or _number(ch.get("CallerIDNum"))
                twin = None
                if not name.startswith("Local/"):
                    twin = next(
                        (
                            x
                            for x in call.legs.values()
                            if x.channel.startswith("Local/") and x.extension == extension
                        ),
                        None,
                    )
                if twin is not None:
                    self._index(call, uid, twin)
                    leg = twin
                else:
                    leg = _Leg(uid, name, extension, call.queue)
                    call.legs[uid] = leg
                    self._index(call, uid, leg)
            present.add(leg.leg_id)
            at = now - _duration(ch.get("Duration"))
            if ch.get("ChannelState") == "6":
                self._answered(call, leg, at, out)
            elif ch.get("ChannelState") in ("0", "4", "5"):
                if not leg.rang:
                    self._rang(call, leg, at, out)
                elif not leg.answered and not leg.done and call.answered_leg is None:
                    out.append(
                        t.LegRinging(
                            self.source, call.call_id, "", leg.leg_id, leg.extension, at, leg.queue
                        )
                    )
        for leg in list(call.legs.values()):
            if leg.leg_id not in present and leg.rang and not leg.answered and not leg.done:
                # It stopped ringing while we were away and the call goes on: unanswered.
                self._unanswered(call, leg, leg.cancelled or "ended while disconnected", now, out)


_Handler = Callable[[AmiTranslator, Message, datetime, Out], None]
_HANDLERS: dict[str, _Handler] = {
    "Newchannel": AmiTranslator._newchannel,
    "QueueCallerJoin": AmiTranslator._queue_caller_join,
    "QueueCallerLeave": AmiTranslator._queue_caller_leave,
    "QueueCallerAbandon": AmiTranslator._queue_caller_abandon,
    "AgentCalled": AmiTranslator._agent_called,
    "AgentConnect": AmiTranslator._agent_connect,
    "AgentRingNoAnswer": AmiTranslator._agent_ring_no_answer,
    "AgentComplete": AmiTranslator._agent_complete,
    "DialBegin": AmiTranslator._dial_begin,
    "DialState": AmiTranslator._dial_state,
    "DialEnd": AmiTranslator._dial_end,
    "Newstate": AmiTranslator._newstate,
    "HangupRequest": AmiTranslator._hangup_request,
    "SoftHangupRequest": AmiTranslator._hangup_request,
    "Hangup": AmiTranslator._hangup,
}
_HANDLERS_LOWER = {name.lower(): handler for name, handler in _HANDLERS.items()}
EVENTS: tuple[str, ...] = tuple(_HANDLERS)  # what the client asks the PBX to send
