"""The scoring desk's pre-fill, pure: each known item's suggested deduction and its evidence,
the call's facts and the opening asked for on the call's date."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from callcenter.calls.rings import RingRule
from callcenter.config import Holiday
from callcenter.qa.checklists import load
from callcenter.qa.prefill import CallFacts, call_facts_json, opening_json, suggestions
from callcenter.tickets.model import Ticket

SHEETS = load(Path(__file__).resolve().parents[2] / "config" / "qa")
INTAKE = SHEETS["intake"]
AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TICKET = Ticket(
    id="t1",
    kind="repair",
    status="open",
    reporter_name="张秀英",
    phone="13800000001",
    address_typed="幸福里三栋二单元502",
    address_standard="城关区幸福路幸福里3号楼2单元502室",
    address_routing="matched",
    address_reason=None,
    station_proposed="xingfu",
    station="xingfu",
    category="not_hot",
    fault_location=None,
    severity=None,
    description="整屋不热",
    agent_id=1,
    agent_work_number="007",
    created_at=AT,
    updated_at=AT,
)
NAMES = {"xingfu": "幸福", "dongxing": "东兴"}


def suggested(ticket: Ticket | None) -> dict[str, tuple[int, str]]:
    return {
        s.key: (s.deducted, s.evidence)
        for s in suggestions(INTAKE, ticket, lambda c: NAMES.get(c, c))
    }


def test_fields_recorded_are_not_deducted_and_the_phone_is_kept_masked() -> None:
    out = suggested(TICKET)
    assert out["name"] == (0, "recorded: 张秀英")
    assert out["phone"] == (0, "recorded: 138****0001")
    assert out["address"] == (0, "recorded: 幸福里三栋二单元502")
    assert out["station"][0] == 0 and "幸福" in out["station"][1]


def test_empty_fields_are_deducted_in_full() -> None:
    out = suggested(replace(TICKET, reporter_name=" ", phone=None))
    assert out["name"] == (1, "no name on the ticket")
    assert out["phone"] == (1, "no phone number on the ticket")


def test_another_station_than_the_address_books_is_deducted_in_full_naming_both() -> None:
    deducted, evidence = suggested(replace(TICKET, station="dongxing"))["station"]
    assert deducted == 5 and "幸福" in evidence and "东兴" in evidence


@pytest.mark.parametrize("routing", ["unmatched", "ambiguous"])
def test_an_address_no_rule_or_several_rules_match_is_deducted_with_the_reason(
    routing: str,
) -> None:
    ticket = replace(
        TICKET, address_routing=routing, address_reason="两条规则", station_proposed=None
    )
    deducted, evidence = suggested(ticket)["station"]
    assert deducted == 5 and routing in evidence and "两条规则" in evidence


def test_no_ticket_deducts_every_known_item_saying_so() -> None:
    out = suggested(None)
    assert out == {k: (p, "no ticket was typed on this call") for k, p in
                   (("name", 1), ("phone", 1), ("address", 5), ("station", 5))}  # fmt: skip


def test_the_callback_sheet_has_nothing_to_prefill() -> None:
    assert suggestions(SHEETS["callback"], TICKET, str) == []


def test_a_late_answer_and_the_agent_hanging_up_first_are_in_the_call_facts() -> None:
    rule = RingRule(5.0, 3)
    on_time = CallFacts(AT, AT + timedelta(seconds=12), "caller")
    facts = call_facts_json(on_time, rule)
    assert (facts["rings"], facts["answered_within_limit"]) == (3, True)
    late = CallFacts(AT, AT + timedelta(seconds=16), "agent", late_answer_rings=4,
                     hung_up_first=True)  # fmt: skip
    facts = call_facts_json(late, rule)
    assert (facts["rings"], facts["answered_within_limit"]) == (4, False)
    assert facts["agent_hung_up_first"] and "ring 4" in facts["evidence"]
    assert call_facts_json(None, rule)["known"] is False


def test_the_holiday_greeting_replaces_the_opening_on_its_dates_only() -> None:
    holidays = (Holiday(date(2027, 2, 10), date(2027, 2, 17), "新年好"),)
    during = opening_json(INTAKE, date(2027, 2, 17), holidays, "007")
    assert during is not None and during["holiday"] and during["greeting"] == "新年好"
    assert during["phrases"] == ["新年好，大龙供暖报修007为您服务，请问您有什么问题"]
    after = opening_json(INTAKE, date(2027, 2, 18), holidays, None)
    assert after is not None and not after["holiday"] and after["greeting"] == "您好"
