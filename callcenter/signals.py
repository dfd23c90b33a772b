"""The normalized call signals every adapter (HEP/SIP, AMI, ESL, MQTT) produces: the port
of the calls domain, owned by the domain; adapters import it, never the other way round.

Past the adapters nothing knows a wire protocol: the calls domain sees only these.
A call is keyed by (source, call_id, call_tag); a leg (one phone rung) by leg_id within it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

HungUpBy = Literal["agent", "caller"]


@dataclass(frozen=True, slots=True)
class CallOffered:
    """A resident's call reached the hotline (SIP: the caller's INVITE)."""

    source: str
    call_id: str
    call_tag: str
    at: datetime
    caller: str
    dialed: str


@dataclass(frozen=True, slots=True)
class LegRinging:
    """One agent phone started ringing (SIP: first 180/183 with a new To tag).

    `queue` names the PBX queue that rang it (AMI AgentCalled, FreeSWITCH mod_callcenter),
    when there is one: the ring-limit action may differ per queue."""

    source: str
    call_id: str
    call_tag: str
    leg_id: str
    extension: str
    at: datetime
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class LegAnswered:
    """The phone of this leg answered (SIP: 2xx to the INVITE)."""

    source: str
    call_id: str
    call_tag: str
    leg_id: str
    extension: str
    at: datetime


@dataclass(frozen=True, slots=True)
class LegUnanswered:
    """The phone stopped ringing unanswered: it declined (4xx-6xx) or the system cancelled it.

    `cause` is a short reason such as "486 Busy Here" or "cancelled".
    """

    source: str
    call_id: str
    call_tag: str
    leg_id: str
    extension: str
    at: datetime
    cause: str


@dataclass(frozen=True, slots=True)
class CallAbandoned:
    """The caller gave up before any phone answered (SIP: the caller's CANCEL)."""

    source: str
    call_id: str
    call_tag: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallUnanswered:
    """The call ended without answer and without the caller giving up (SIP: a final
    4xx-6xx other than 487 sent to the caller)."""

    source: str
    call_id: str
    call_tag: str
    at: datetime
    cause: str


@dataclass(frozen=True, slots=True)
class CallEnded:
    """An answered call ended (SIP: the first BYE). `hung_up_by` says which side sent it."""

    source: str
    call_id: str
    call_tag: str
    at: datetime
    hung_up_by: HungUpBy | None


@dataclass(frozen=True, slots=True)
class CallsResynced:
    """After a (re)connect the PBX listed the calls it still has: any call of this source
    not in `live_call_ids` ended while we were not connected."""

    source: str
    live_call_ids: frozenset[str]
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingReady:
    """The PBX finished writing a call recording (录音) at `path`, as the PBX names it
    (FreeSWITCH RECORD_STOP). `call_id` is the PBX's id of the call (ESL: the caller's
    channel UUID, stored as the call's sip_call_id of this source); `leg_id` the agent's leg.
    Not a call event: the composition root hands it to the recordings capability."""

    source: str
    call_id: str
    leg_id: str
    path: str
    at: datetime


# Who receives a finished recording from an adapter (ESL `on_recording`).
OnRecording = Callable[[RecordingReady], None]

TelephonyEvent = (
    CallOffered
    | LegRinging
    | LegAnswered
    | LegUnanswered
    | CallAbandoned
    | CallUnanswered
    | CallEnded
)

# What an adapter hands to the core: per-call events, and the resync after a reconnect.
SourceEvent = TelephonyEvent | CallsResynced


# -- commands back to the PBX -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the PBX answered to a command (e.g. AMI `Response: Success`, ESL `+OK`)."""

    ok: bool
    response: str


class CallRedirector(Protocol):
    """An adapter that can move a ringing call elsewhere (AMI Redirect, ESL uuid_transfer)."""

    async def redirect(self, call_id: str, leg_id: str, target: str) -> CommandResult:
        """Send the caller of `call_id` (whose phone `leg_id` rings too long) to `target`."""
        ...
