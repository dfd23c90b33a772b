"""The call/leg rules: outcomes and violations from normalized telephony events."""

from datetime import UTC, datetime, timedelta

from callcenter import signals as t
from callcenter.calls import model
from callcenter.calls.model import AgentRef
from callcenter.calls.rings import RingRule
from callcenter.events import PhoneRang, PhoneStopped, RingLimitReached, ViolationRecorded

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
RULE = RingRule(5.0, 3)
AGENTS = {"2001": AgentRef(1, "li.na"), "2002": AgentRef(2, "wang.wei")}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def lookup(ext: str) -> AgentRef | None:
    return AGENTS.get(ext)


def new_call(caller: str = "13800000001") -> model.CallState:
    return model.offer(t.CallOffered("hep", "c1", "f1", T0, caller, "12345"), lookup)


def ring(call: model.CallState, leg: str = "a", ext: str = "2001", s: float = 0.5) -> list[object]:
    return model.apply(call, t.LegRinging("hep", "c1", "f1", leg, ext, at(s)), RULE, lookup)


def answer(call: model.CallState, leg: str = "a", ext: str = "2001", s: float = 3) -> list[object]:
    return model.apply(call, t.LegAnswered("hep", "c1", "f1", leg, ext, at(s)), RULE, lookup)


def kinds(events: list[object]) -> list[str]:
    return [e.kind for e in events if isinstance(e, ViolationRecorded)]


def test_answer_within_limit_records_no_violation() -> None:
    call = new_call()
    ring(call)
    events = answer(call, s=10.4)  # rang 9.9 s: ring 2
    assert kinds(events) == []
    assert call.outcome == "answered"
    stopped = [e for e in events if isinstance(e, PhoneStopped)]
    assert stopped[0].rings == 2


def test_ringing_phone_is_mapped_to_its_agent() -> None:
    call = new_call()
    (rang,) = ring(call)
    assert isinstance(rang, PhoneRang)
    assert rang.agent == "li.na" and rang.monitored


def test_deadline_while_ringing_raises_one_violation_and_alert() -> None:
    call = new_call()
    ring(call)
    leg = call.legs["a"]
    events = model.deadline_due(call, leg, at(15.5), RULE)
    assert kinds(events) == ["ring_limit"]
    alert = next(e for e in events if isinstance(e, RingLimitReached))
    assert alert.deadline_at == at(15.5) and alert.rings == 4 and alert.agent == "li.na"
    assert model.deadline_due(call, leg, at(15.6), RULE) == []


def test_late_answer_after_a_ring_limit_alert_is_not_a_second_violation() -> None:
    call = new_call()
    ring(call)
    model.deadline_due(call, call.legs["a"], at(15.5), RULE)
    assert kinds(answer(call, s=17)) == []


def test_late_answer_without_a_live_alert_is_recorded() -> None:
    call = new_call()
    ring(call)
    assert kinds(answer(call, s=16)) == ["late_answer"]


def test_deadline_after_answer_does_nothing() -> None:
    call = new_call()
    ring(call)
    answer(call, s=4)
    assert model.deadline_due(call, call.legs["a"], at(15.5), RULE) == []


def test_caller_abandoning_is_no_violation_for_the_agent() -> None:
    call = new_call()
    ring(call)
    events = model.apply(call, t.CallAbandoned("hep", "c1", "f1", at(6)), RULE, lookup)
    assert kinds(events) == []
    assert call.outcome == "abandoned"
    assert call.legs["a"].outcome == "abandoned"
    late = model.apply(
        call, t.LegUnanswered("hep", "c1", "f1", "a", "2001", at(6.01), "cancelled"), RULE, lookup
    )
    assert kinds(late) == []


def test_phone_ringing_out_is_a_violation() -> None:
    call = new_call()
    ring(call)
    events = model.apply(
        call, t.LegUnanswered("hep", "c1", "f1", "a", "2001", at(30), "cancelled"), RULE, lookup
    )
    assert kinds(events) == ["rang_out"]
    model.apply(
        call, t.CallUnanswered("hep", "c1", "f1", at(30.1), "408 Request Timeout"), RULE, lookup
    )
    assert call.outcome == "unanswered"


def test_agent_hanging_up_first_is_a_violation() -> None:
    call = new_call()
    ring(call)
    answer(call)
    events = model.apply(call, t.CallEnded("hep", "c1", "f1", at(60), "agent"), RULE, lookup)
    assert kinds(events) == ["hung_up_first"]
    assert call.hung_up_by == "agent" and call.ended_at == at(60)


def test_caller_hanging_up_first_is_fine() -> None:
    call = new_call()
    ring(call)
    answer(call)
    assert (
        kinds(model.apply(call, t.CallEnded("hep", "c1", "f1", at(60), "caller"), RULE, lookup))
        == []
    )


def test_forked_legs_other_phones_stop_when_one_answers() -> None:
    call = new_call()
    ring(call, "a", "2001")
    ring(call, "b", "2002", s=0.6)
    events = answer(call, "b", "2002", s=3)
    outcomes = {e.extension: e.outcome for e in events if isinstance(e, PhoneStopped)}
    assert outcomes == {"2002": "answered", "2001": "answered_elsewhere"}
    assert call.primary_leg() is call.legs["b"]
    cancelled = t.LegUnanswered("hep", "c1", "f1", "a", "2001", at(3.1), "cancelled")
    assert kinds(model.apply(call, cancelled, RULE, lookup)) == []


def test_outbound_call_from_an_agent_phone_is_not_monitored() -> None:
    call = new_call(caller="2001")
    ring(call, "x", "13800000001")
    assert model.deadline_due(call, call.legs["x"], at(16), RULE) == []
    assert (
        kinds(model.apply(call, t.CallEnded("hep", "c1", "f1", at(60), "agent"), RULE, lookup))
        == []
    )


def test_repeated_events_change_nothing_twice() -> None:
    call = new_call()
    ring(call)
    assert ring(call, s=0.7) == []
    answer(call)
    assert answer(call, s=3.5) == []
    model.apply(call, t.CallEnded("hep", "c1", "f1", at(60), "caller"), RULE, lookup)
    assert model.apply(call, t.CallEnded("hep", "c1", "f1", at(61), "agent"), RULE, lookup) == []
    assert call.hung_up_by == "caller"
