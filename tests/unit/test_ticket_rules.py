"""Ticket rules, pure: residents' numbers, each kind's flow of statuses, what each kind needs
and who may change a ticket (首问责任制)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callcenter.auth.model import Principal, Role
from callcenter.tickets.model import (
    KINDS,
    STATUSES,
    Ticket,
    changes,
    is_final,
    may_change,
    next_statuses,
    normalize_phone,
    required_missing,
    transition_error,
)

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TICKET = Ticket(
    id="t1", kind="repair", status="open", reporter_name="张秀英", phone="13800000001",
    address_typed="幸福里3号楼", address_standard="城关区幸福路幸福里3号楼",
    address_routing="matched", address_reason="community 幸福里", station_proposed="xingfu",
    station="xingfu", category="not_hot", fault_location=None, severity=None, description="",
    agent_id=7, agent_work_number="007", created_at=NOW, updated_at=NOW,
)  # fmt: skip


@pytest.mark.parametrize(
    ("typed", "digits"),
    [("13800000001", "13800000001"), ("138-0000-0001", "13800000001"),
     ("+8613800000001", "13800000001"), ("008613800000001", "13800000001"),
     ("8613800000001", "13800000001"), ("013800000001", "13800000001"),
     ("010-65521234", "01065521234"), ("(0316) 5210101", "03165210101"),
     ("0316-52101010", "031652101010"), ("+86 316 5210101", "03165210101"),
     ("１３８００００００01", "13800000001")],
)  # fmt: skip
def test_mobiles_and_landlines_with_an_area_code_are_numbers(typed: str, digits: str) -> None:
    assert normalize_phone(typed) == digits


@pytest.mark.parametrize(
    "typed",
    ["", "110", "12800000001", "1380000000", "138000000012", "5210101", "0316-521010",
     "010-6552123", "0000-0000000", "13800000001a", "１３８", "+1 212 555 0100", "٣٨٠٠"],
)  # fmt: skip
def test_impossible_numbers_are_refused(typed: str) -> None:
    assert normalize_phone(typed) is None


@given(st.text(max_size=20))
def test_a_number_is_digits_of_a_mobile_or_landline_or_nothing(text: str) -> None:
    number = normalize_phone(text)
    assert number is None or (number.isascii() and number.isdigit() and 10 <= len(number) <= 12)
    if number is not None:
        assert normalize_phone(number) == number


def test_a_repairs_status_moves_by_hand_only_where_no_order_decides() -> None:
    assert next_statuses("repair", "open") == {"cancelled"}
    assert next_statuses("repair", "dispatched") == frozenset()
    assert next_statuses("repair", "repaired") == {"closed"}
    assert "dispatch" in (transition_error("repair", "open", "dispatched") or "")
    assert "returns the order" in (transition_error("repair", "dispatched", "repaired") or "")
    assert "recall" in (transition_error("repair", "dispatched", "cancelled") or "")
    assert transition_error("repair", "open", "cancelled") is None


@pytest.mark.parametrize("kind", ["consultation", "complaint", "praise", "suggestion"])
def test_other_kinds_are_answered_and_closed(kind: str) -> None:
    assert next_statuses(kind, "open") == {"closed", "cancelled"}  # type: ignore[arg-type]
    assert transition_error(kind, "open", "dispatched") is not None  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", STATUSES)
def test_closed_and_cancelled_are_final(kind: str, status: str) -> None:
    if is_final(status):  # type: ignore[arg-type]
        assert next_statuses(kind, status) == frozenset()  # type: ignore[arg-type]


def test_what_each_kind_needs() -> None:
    full = {"address": "幸福里", "phone": "13800000001", "category": "leak"}
    assert required_missing("repair", full) is None
    assert required_missing("repair", {**full, "category": None}) == "category"
    assert required_missing("complaint", {"phone": None}) == "phone"
    assert required_missing("praise", {}) is None


def test_the_agent_who_took_it_or_a_lead_may_change_it() -> None:
    def who(user_id: int, role: Role) -> Principal:
        return Principal(user_id, f"u{user_id}", role)

    assert may_change(who(7, Role.AGENT), TICKET)
    assert not may_change(who(8, Role.AGENT), TICKET)
    assert not may_change(who(8, Role.QA_LEAD), TICKET)
    assert not may_change(who(8, Role.STATION), TICKET)
    for role in (Role.TEAM_LEAD, Role.SUPERVISOR, Role.ADMIN):
        assert may_change(who(8, role), TICKET)


def test_changes_name_each_field_before_and_after() -> None:
    after = replace(TICKET, status="dispatched", severity="urgent")
    assert changes(TICKET, after) == {
        "status": ["open", "dispatched"],
        "severity": [None, "urgent"],
    }
    assert changes(TICKET, TICKET) == {}


def test_flags_when_unrouted_or_sent_elsewhere() -> None:
    assert TICKET.address_flags == []
    assert replace(TICKET, station="dongxing").address_flags == ["station-overridden"]
    unmatched = replace(TICKET, address_routing="unmatched", station_proposed=None, station="mapo")
    assert unmatched.address_flags == ["unmatched"]
