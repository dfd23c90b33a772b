"""FreeSWITCH channel events (ESL headers) → normalized telephony events, pure.

A call is the caller's inbound channel; its id is that channel's `Channel-Call-UUID` (its own
Unique-ID). Agent phones are outbound channels tied to it by `variable_cc_member_session_uuid`
(mod_callcenter originates agents without a session), else `Channel-Call-UUID` (a bridge's
b-leg carries the a-leg's call_uuid), else `Other-Leg-Unique-ID`. A leg is one agent channel,
keyed by its Unique-ID. Per-call state makes each normalized event fire once.

Who hung up an answered call: the FIRST hangup of the caller's or the answering agent's
channel decides, by its `variable_sip_hangup_disposition` (FreeSWITCH Channel Variables
Catalog, "sip_hangup_disposition"): `recv_bye` = that channel's phone sent BYE (it hung up),
`send_bye` = FreeSWITCH sent BYE to it (the other side hung up). So agent leg recv_bye or
caller leg send_bye → "agent"; agent leg send_bye or caller leg recv_bye → "caller". Without
a SIP disposition (verto, loopback) the channel whose hangup arrives first hung up.

An agent leg ended by ORIGINATOR_CANCEL / LOSE_RACE / PICKED_OFF was cancelled by the switch,
not by the agent: the caller left, the queue gave up, or another phone answered (mod_callcenter
ring-all hangs the losers up with ORIGINATOR_CANCEL). Its LegUnanswered waits until the
caller's own hangup (or an answer) tells which, or until `tick()` is called twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callcenter import signals as t
from callcenter.signals import RecordingReady
from callcenter.telephony.esl.protocol import Headers
from callcenter.telephony.source import ResyncWindow

EslOutput = t.SourceEvent | RecordingReady

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Causes with which the switch, not the agent's phone, ends a leg that was still ringing.
_SWITCH_CANCELS = frozenset({"ORIGINATOR_CANCEL", "LOSE_RACE", "PICKED_OFF"})
# Dispositions of the caller's channel that mean the caller's phone ended the call.
_CALLER_ENDED = frozenset({"recv_bye", "recv_cancel"})
_ANSWERED_STATES = frozenset({"ACTIVE", "HELD", "UNHELD"})
_RINGING_STATES = frozenset({"RINGING", "EARLY", "RING_WAIT"})
_QUEUE_GAVE_UP = frozenset({"TIMEOUT", "NO_AGENT_TIMEOUT"})
_KEEP_CLOSED_TICKS = 60  # closed calls are remembered this many ticks for late events
_KEEP_IDLE_TICKS = 4 * 3600  # a call with no event for this long is forgotten
_RECENT_RECORDINGS = 4096  # recordings announced, remembered so a repeat is not announced


def event_time(h: Headers, default: datetime) -> datetime:
    """`Event-Date-Timestamp` (µs since the epoch; old servers spell it `-timestamp`)."""
    raw = h.get("Event-Date-Timestamp") or h.get("Event-Date-timestamp")
    if raw and raw.isdigit():
        return _EPOCH + timedelta(microseconds=int(raw))
    return default


def user_part(value: str) -> str:
    """ "sofia/internal/2001@10.0.0.1:5060" / "sip:2001@host;transport=tcp" / "2001" → "2001"."""
    value = value.rsplit("/", 1)[-1]
    if value.startswith(("sip:", "sips:")):
        value = value.split(":", 1)[1]
    return value.split("@", 1)[0].split(";", 1)[0]


def _direction(h: Headers) -> str:
    d = h.get("Call-Direction") or h.get("Caller-Direction") or h.get("variable_direction")
    if d in ("inbound", "outbound"):
        return d
    other = h.get("Other-Type")
    if other == "originator":
        return "outbound"  # it has an originator: it is the b-leg
    if other == "originatee":
        return "inbound"
    uuid = h.get("Unique-ID", "")
    return "inbound" if h.get("Channel-Call-UUID", uuid) == uuid else "outbound"


def _agent_extension(h: Headers) -> str:
    for key in ("variable_dialed_user", "Caller-Destination-Number", "Channel-Name"):
        value = h.get(key)
        if value:
            ext = user_part(value)
            if ext:
                return ext
    return ""


@dataclass(slots=True)
class _Leg:
    uuid: str
    call_id: str
    caller: bool
    extension: str = ""
    rang: bool = False
    answered: bool = False
    ended: bool = False


@dataclass(slots=True)
class _Call:
    call_id: str
    caller_leg: str
    last_tick: int
    queue: str | None = None
    answered_leg: str | None = None
    final: bool = False
    closed_tick: int = 0
    legs: set[str] = field(default_factory=set)
    # LegUnanswered of legs the switch cancelled, held until the reason is known: (event, tick)
    pending: list[tuple[t.LegUnanswered, int]] = field(default_factory=list)


class EslTranslator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.calls: dict[str, _Call] = {}
        self.legs: dict[str, _Leg] = {}
        self._tick = 0
        self.ignored = 0
        self._recordings: dict[tuple[str, str], None] = {}  # insertion-ordered: oldest first
        self.resync_window = ResyncWindow()

    # -- lookups -------------------------------------------------------------------------
    def caller_uuid(self, call_id: str) -> str:
        """The caller's channel of `call_id` (what uuid_transfer must move)."""
        call = self.calls.get(call_id)
        return call.caller_leg if call is not None else call_id

    def _call_id_of_agent(self, h: Headers, uuid: str) -> str | None:
        member = h.get("variable_cc_member_session_uuid")
        if member:
            leg = self.legs.get(member)
            return leg.call_id if leg is not None else member
        call_uuid = h.get("Channel-Call-UUID")
        if call_uuid and call_uuid != uuid:
            leg = self.legs.get(call_uuid)
            return leg.call_id if leg is not None else call_uuid
        other = h.get("Other-Leg-Unique-ID")
        if other:
            leg = self.legs.get(other)
            return leg.call_id if leg is not None else other
        return None

    def _agent_leg(self, h: Headers) -> tuple[_Leg, _Call] | None:
        """The agent leg this event is about (registered on first sight) and its call."""
        uuid = h.get("Unique-ID", "")
        leg = self.legs.get(uuid)
        if leg is None:
            if not uuid or _direction(h) != "outbound":
                return None
            call_id = self._call_id_of_agent(h, uuid)
            call = self.calls.get(call_id) if call_id else None
            if call is None:
                return None
            leg = _Leg(uuid, call.call_id, caller=False, extension=_agent_extension(h))
            self.legs[uuid] = leg
            call.legs.add(uuid)
        if leg.caller:
            return None
        call_or_none = self.calls.get(leg.call_id)
        if call_or_none is None:
            return None
        call_or_none.last_tick = self._tick
        return leg, call_or_none

    # -- events --------------------------------------------------------------------------
    def translate(self, h: Headers, now: datetime) -> list[EslOutput]:
        """The normalized events one ESL event causes (`now` when it carries no time)."""
        name = h.get("Event-Name")
        self.resync_window.note(h.get("Unique-ID"), h.get("Channel-Call-UUID"))
        if name == "CHANNEL_CREATE":
            return self._create(h, now)
        if name == "CHANNEL_PROGRESS" or name == "CHANNEL_PROGRESS_MEDIA":
            return self._progress(h, now)
        if name == "CHANNEL_ANSWER":
            return self._answer(h, h.get("Unique-ID", ""), now)
        if name == "CHANNEL_BRIDGE":
            # An answer we did not see (a dropped event) is implied by the bridge.
            for key in ("Bridge-B-Unique-ID", "Bridge-A-Unique-ID"):
                out = self._answer(h, h.get(key) or "", now, known_only=True)
                if out:
                    return out
            return []
        if name == "CHANNEL_HANGUP_COMPLETE":
            return self._hangup(h, now)
        if name == "RECORD_STOP":
            return self._record_stop(h, now)
        if name == "CUSTOM" and h.get("Event-Subclass") == "callcenter::info":
            return self._callcenter(h, now)
        self.ignored += 1
        return []

    def _create(self, h: Headers, now: datetime) -> list[EslOutput]:
        uuid = h.get("Unique-ID", "")
        if not uuid or uuid in self.legs:
            return []
        if _direction(h) != "inbound":
            self._agent_leg(h)  # remember which call it belongs to; it rings later
            return []
        call_id = h.get("Channel-Call-UUID") or uuid
        if call_id in self.calls:
            return []
        self.legs[uuid] = _Leg(uuid, call_id, caller=True)
        self.calls[call_id] = _Call(call_id, uuid, self._tick, legs={uuid})
        caller = h.get("Caller-Caller-ID-Number", "")
        dialed = h.get("Caller-Destination-Number", "")
        return [t.CallOffered(self.source, call_id, "", event_time(h, now), caller, dialed)]

    def _progress(self, h: Headers, now: datetime) -> list[EslOutput]:
        found = self._agent_leg(h)
        if found is None:
            return []
        leg, call = found
        if leg.rang or leg.answered or leg.ended or call.final or call.answered_leg:
            return []
        leg.rang = True
        out: list[EslOutput] = list(self._release(call))
        queue = h.get("variable_cc_queue") or call.queue
        out.append(
            t.LegRinging(
                self.source, call.call_id, "", leg.uuid, leg.extension, event_time(h, now), queue
            )
        )
        return out

    def _answer(
        self, h: Headers, uuid: str, now: datetime, known_only: bool = False
    ) -> list[EslOutput]:
        if known_only:
            leg_or_none = self.legs.get(uuid)
            if leg_or_none is None or leg_or_none.caller:
                return []
            call_or_none = self.calls.get(leg_or_none.call_id)
            if call_or_none is None:
                return []
            leg, call = leg_or_none, call_or_none
        else:
            found = self._agent_leg(h)
            if found is None:
                return []  # the caller's channel answered by the switch (IVR, queue music)
            leg, call = found
        if leg.answered or leg.ended or call.final or call.answered_leg:
            return []
        leg.answered = True
        call.answered_leg = leg.uuid
        at = event_time(h, now)
        out: list[EslOutput] = [
            t.LegAnswered(self.source, call.call_id, "", leg.uuid, leg.extension, at)
        ]
        return out + self._release(call)  # after the answer: they were answered elsewhere

    def _hangup(self, h: Headers, now: datetime) -> list[EslOutput]:
        uuid = h.get("Unique-ID", "")
        leg = self.legs.get(uuid)
        if leg is None:
            found = self._agent_leg(h)
            if found is None:
                return []
            leg = found[0]
        call = self.calls.get(leg.call_id)
        if leg.ended or call is None:
            return []
        leg.ended = True
        call.last_tick = self._tick
        at = event_time(h, now)
        cause = h.get("Hangup-Cause") or h.get("variable_hangup_cause") or "UNKNOWN"
        disposition = h.get("variable_sip_hangup_disposition", "")
        out: list[EslOutput] = []
        if call.final:
            pass
        elif leg.caller:
            if call.answered_leg is not None:
                by: t.HungUpBy = "agent" if disposition == "send_bye" else "caller"
                out.append(t.CallEnded(self.source, call.call_id, "", at, by))
            elif cause == "ORIGINATOR_CANCEL" or disposition in _CALLER_ENDED:
                out.append(t.CallAbandoned(self.source, call.call_id, "", at))
            else:
                out.append(t.CallUnanswered(self.source, call.call_id, "", at, cause))
            self._close(call)
            out += self._release(call)
        elif leg.answered:
            by = "caller" if disposition == "send_bye" else "agent"
            out.append(t.CallEnded(self.source, call.call_id, "", at, by))
            self._close(call)
        else:
            event = t.LegUnanswered(
                self.source, call.call_id, "", leg.uuid, leg.extension, at, cause
            )
            if cause in _SWITCH_CANCELS and call.answered_leg is None:
                call.pending.append((event, self._tick))
            else:
                out.append(event)
        self._forget_if_done(call)
        return out

    def _record_stop(self, h: Headers, now: datetime) -> list[EslOutput]:
        path = h.get("Record-File-Path")
        if not path:
            return []
        uuid = h.get("Unique-ID", "")
        leg = self.legs.get(uuid)
        outbound = _direction(h) == "outbound" if leg is None else not leg.caller
        if leg is not None:
            call_id = leg.call_id
        elif outbound:
            call_id = self._call_id_of_agent(h, uuid) or uuid
        else:
            call_id = h.get("Channel-Call-UUID") or uuid
        call = self.calls.get(call_id)
        # The agent's leg names the recording; a recording of the caller's channel (mod_callcenter
        # record-template) belongs to the agent leg that answered it (its bridge partner).
        if outbound:
            leg_id = uuid
        elif call is not None and call.answered_leg is not None:
            leg_id = call.answered_leg
        else:
            leg_id = h.get("Other-Leg-Unique-ID") or uuid
        key = (call_id, path)
        if key in self._recordings:
            return []
        self._recordings[key] = None
        if len(self._recordings) > _RECENT_RECORDINGS:
            del self._recordings[next(iter(self._recordings))]
        return [RecordingReady(self.source, call_id, leg_id, path, event_time(h, now))]

    def _callcenter(self, h: Headers, now: datetime) -> list[EslOutput]:
        member = h.get("CC-Member-Session-UUID") or h.get("Unique-ID", "")
        leg = self.legs.get(member)
        call = self.calls.get(leg.call_id) if leg is not None else None
        if call is None:
            return []
        action = h.get("CC-Action")
        if action in ("member-queue-start", "member-queue-resume", "agent-offering"):
            call.queue = h.get("CC-Queue") or call.queue
            return []
        if (
            action == "member-queue-end"
            and h.get("CC-Cause") == "Cancel"
            and h.get("CC-Cancel-Reason") in _QUEUE_GAVE_UP
            and not call.final
            and call.answered_leg is None
        ):
            # The queue stopped trying; the caller may still be connected (to voicemail).
            cause = f"queue {h.get('CC-Cancel-Reason')}"
            out: list[EslOutput] = [
                t.CallUnanswered(self.source, call.call_id, "", event_time(h, now), cause)
            ]
            self._close(call)
            return out + self._release(call)
        return []

    # -- housekeeping --------------------------------------------------------------------
    def _close(self, call: _Call) -> None:
        call.final = True
        call.closed_tick = self._tick

    def _release(self, call: _Call) -> list[EslOutput]:
        if not call.pending:
            return []
        out: list[EslOutput] = [event for event, _ in call.pending]
        call.pending.clear()
        return out

    def _forget_if_done(self, call: _Call) -> None:
        if call.final and not call.pending and all(self.legs[u].ended for u in call.legs):
            self._forget(call)

    def _forget(self, call: _Call) -> None:
        self.calls.pop(call.call_id, None)
        for uuid in call.legs:
            self.legs.pop(uuid, None)

    def tick(self) -> list[EslOutput]:
        """Call about once a second: releases switch cancellations nothing explained within
        a tick, forgets closed and long-idle calls."""
        self._tick += 1
        out: list[EslOutput] = []
        for call in list(self.calls.values()):
            if call.pending:
                due = [event for event, tick in call.pending if tick < self._tick - 1]
                if due:
                    call.pending = [(e, k) for e, k in call.pending if k >= self._tick - 1]
                    out += due
            if call.final and self._tick - call.closed_tick > _KEEP_CLOSED_TICKS:
                self._forget(call)
            elif self._tick - call.last_tick > _KEEP_IDLE_TICKS:
                self._forget(call)
        return out

    # -- resync after a (re)connect --------------------------------------------------------
    def resync(self, channels: list[Headers], now: datetime) -> list[EslOutput]:
        """The rows of `show channels as json`: offer calls we missed, ring/answer their
        legs, end legs that vanished, forget calls that ended, then CallsResynced."""
        out: list[EslOutput] = []
        seen: set[str] = set()
        rows = sorted(channels, key=lambda r: r.get("direction") != "inbound")
        for row in rows:
            uuid = row.get("uuid", "")
            if not uuid:
                continue
            seen.add(uuid)
            created = _row_time(row, now)
            if row.get("direction") == "inbound":
                if uuid in self.legs:
                    continue
                call_id = row.get("call_uuid") or uuid
                if call_id in self.calls:
                    continue
                self.legs[uuid] = _Leg(uuid, call_id, caller=True)
                self.calls[call_id] = _Call(call_id, uuid, self._tick, legs={uuid})
                out.append(
                    t.CallOffered(
                        self.source,
                        call_id,
                        "",
                        created,
                        row.get("cid_num", ""),
                        row.get("dest", ""),
                    )
                )
                continue
            leg = self.legs.get(uuid)
            known = leg is not None
            if leg is None:
                call_uuid = row.get("call_uuid", "")
                parent = self.legs.get(call_uuid) if call_uuid != uuid else None
                call = self.calls.get(parent.call_id) if parent is not None else None
                if call is None:
                    continue  # an outbound channel we cannot tie to a call
                ext = user_part(row.get("dest") or "") or user_part(row.get("name") or "")
                leg = _Leg(uuid, call.call_id, caller=False, extension=ext)
                self.legs[uuid] = leg
                call.legs.add(uuid)
            call_or_none = self.calls.get(leg.call_id)
            if call_or_none is None or leg.caller or call_or_none.final:
                continue
            call = call_or_none
            state = row.get("callstate", "")
            if state in _RINGING_STATES and not leg.rang and not leg.answered:
                leg.rang = True
                out.append(
                    t.LegRinging(
                        self.source, call.call_id, "", uuid, leg.extension, created, call.queue
                    )
                )
            elif state in _ANSWERED_STATES and not leg.answered and call.answered_leg is None:
                leg.answered = True
                call.answered_leg = uuid
                # A leg we saw ring was answered while we were away: the answer is no later
                # than now. One we never saw: as if answered when created (no verdict).
                at = now if known and leg.rang else created
                out.append(t.LegAnswered(self.source, call.call_id, "", uuid, leg.extension, at))
        touched = self.resync_window.finish()
        live: set[str] = set()
        for call in list(self.calls.values()):
            if call.call_id in touched or call.caller_leg in touched or call.legs & touched:
                live.add(call.call_id)  # its own events since the snapshot say more
                continue
            if call.caller_leg not in seen:
                self._forget(call)  # ended while we were away: the tracker closes it
                continue
            live.add(call.call_id)
            out += self._release(call)
            if call.final:
                continue
            for uuid in sorted(call.legs):
                leg = self.legs[uuid]
                if uuid in seen or leg.caller or leg.ended:
                    continue
                leg.ended = True
                if not leg.answered:
                    cause = "ended while disconnected"
                    out.append(
                        t.LegUnanswered(
                            self.source, call.call_id, "", uuid, leg.extension, now, cause
                        )
                    )
        out.append(t.CallsResynced(self.source, frozenset(live), now))
        return out


def _row_time(row: Headers, default: datetime) -> datetime:
    raw = row.get("created_epoch", "")
    if raw.isdigit():
        return _EPOCH + timedelta(seconds=int(raw))
    return default


def parse_channels(body: str) -> list[Headers]:
    """`show channels as json` → its rows (`{"row_count":0}` when there are none)."""
    obj = json.loads(body)
    if not isinstance(obj, dict):
        raise ValueError("show channels: not a JSON object")
    rows = obj.get("rows", [])
    if not isinstance(rows, list):
        raise ValueError("show channels: rows is not a list")
    return [
        {str(k): "" if v is None else str(v) for k, v in row.items()}
        for row in rows
        if isinstance(row, dict)
    ]
