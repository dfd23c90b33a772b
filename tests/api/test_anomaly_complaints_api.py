"""What agents log on a ticket (praise, complaints, suggestions, a station nobody answers, a
case the heating office forwards) and how complaints are tracked per 002 第12篇: valid →
contact within 2 h, invalid → answer within 2 h, collective (≥ 5 households) → escalated at
once; a missed follow-up is recorded; a lead closes them with a resolution."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from callcenter.clock import iso_z
from tests.api.test_anomalies_api import MINUTE, advance, anomalies, next_anomaly
from tests.api.test_tickets_api import error, person, take
from tests.conftest import Hotline

COMPLAINT = {"kind": "complaint_repairman", "detail": "王师傅态度恶劣", "class": "valid"}


async def log(h: Hotline, who: dict[str, str], ticket_id: str, **body: Any) -> dict[str, Any]:
    response = await h.client.post(f"/api/tickets/{ticket_id}/anomalies", json=body, headers=who)
    assert response.status == 201, await response.text()
    out: dict[str, Any] = await response.json()
    assert response.headers["Location"] == f"/api/anomalies/{out['id']}"
    return out


@pytest.fixture
async def people(hotline: Hotline) -> dict[str, dict[str, str]]:
    return {
        "agent": await person(hotline, "li.na", "agent", "2001", "007"),
        "colleague": await person(hotline, "wang.wei", "agent", "2002", "008"),
        "lead": await person(hotline, "zhao.lei", "team_lead"),
        "head": await person(hotline, "boss", "qa_lead"),
    }


async def test_what_an_agent_logs_is_reported_as_it_is_logged(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    agent = people["agent"]
    ticket = await take(hotline, agent)
    logged = {}
    for kind, number in (
        ("station_unreachable", 4),
        ("praise_repairman", 5),
        ("suggestion", 8),
        ("forwarded", 9),
    ):
        body = await log(hotline, agent, ticket["id"], kind=kind, detail="住户来电")
        assert (body["number"], body["source"], body["station"]) == (number, "agent", "xingfu")
        assert body["reported_at"] == body["occurred_at"] == iso_z(hotline.clock.now())
        assert (body["reported_by"], body["agent"], body["report_due"]) == ("li.na", "li.na", None)
        logged[kind] = body
    assert logged["forwarded"]["status"] == "open"  # a forwarded case is tracked to its end
    assert logged["praise_repairman"]["status"] is None
    again = await hotline.client.post(
        f"/api/anomalies/{logged['suggestion']['id']}/report", headers=agent
    )
    assert (await error(again, 409))["error"] == "already-reported"
    mine = await anomalies(hotline, agent, ticket=ticket["id"])
    assert len(mine) == 4


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"kind": "accept_late", "detail": "x"}, 400, "seen-by-service", "kind"),
        ({"kind": "complaint_repairman", "detail": "x"}, 400, "missing-field", "class"),
        ({"kind": "complaint_fee_collector", "detail": "x", "class": "rude"}, 400,
         "unknown-class", "class"),
        ({**COMPLAINT, "class": "collective", "households": 4}, 400, "too-few-households",
         "households"),
        ({**COMPLAINT, "households": 5}, 400, "collective", "class"),
        ({"kind": "suggestion", "detail": "x", "class": "valid"}, 400, "not-a-complaint",
         "class"),
        ({"kind": "suggestion"}, 400, "missing-field", "detail"),
        ({"kind": "suggestion", "detail": "x" * 2001}, 400, "too-long", "detail"),
        ({**COMPLAINT, "households": True}, 400, "bad-field", "households"),
        ({"kind": "nothing", "detail": "x"}, 400, "unknown-kind", "kind"),
    ],
)  # fmt: skip
async def test_a_bad_log_is_a_400_naming_the_field(
    hotline: Hotline,
    people: dict[str, dict[str, str]],
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    ticket = await take(hotline, people["agent"])
    response = await hotline.client.post(
        f"/api/tickets/{ticket['id']}/anomalies", json=body, headers=people["agent"]
    )
    problem = await error(response, status)
    assert (problem["error"], problem["field"]) == (code, field)


async def test_only_the_tickets_agent_or_a_lead_logs_on_it(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    ticket = await take(hotline, people["agent"])
    path = f"/api/tickets/{ticket['id']}/anomalies"
    body = {"kind": "praise_repairman", "detail": "师傅很好"}
    other = await hotline.client.post(path, json=body, headers=people["colleague"])
    assert (await error(other, 403))["error"] == "not-your-ticket"
    nowhere = await hotline.client.post(
        "/api/tickets/nope/anomalies", json=body, headers=people["lead"]
    )
    assert (await error(nowhere, 404))["error"] == "no-such-ticket"
    by_lead = await log(hotline, people["lead"], ticket["id"], **body)
    # Logged by a lead, still the ticket's agent's: 首问责任制.
    assert (by_lead["agent"], by_lead["reported_by"]) == ("li.na", "zhao.lei")


async def test_a_valid_complaint_not_contacted_within_2_hours_is_recorded(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    agent, head = people["agent"], people["head"]
    ticket = await take(hotline, agent, kind="complaint", description="投诉维修人员")
    valid = await log(hotline, agent, ticket["id"], **COMPLAINT)
    invalid = await log(hotline, agent, ticket["id"], **{**COMPLAINT, "class": "invalid"})
    assert valid["follow_up_due"] == iso_z(hotline.clock.now() + timedelta(hours=2))
    assert valid["status"] == "open" and valid["escalated_at"] is None

    advance(hotline, 90 * MINUTE)
    answered = await hotline.client.post(
        f"/api/anomalies/{invalid['id']}/follow-up", json={"note": "已向住户解释"}, headers=agent
    )
    assert (await answered.json())["followed_up_by"] == "li.na"
    advance(hotline, 30 * MINUTE)
    rows = {r["id"]: r for r in await anomalies(hotline, head)}
    assert rows[valid["id"]]["follow_up_late_at"] == valid["follow_up_due"]
    assert rows[invalid["id"]]["follow_up_late_at"] is None
    assert "已向住户解释" in rows[invalid["id"]]["detail"]


async def test_a_collective_complaint_is_escalated_at_once(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    agent = people["agent"]
    ws = await hotline.client.ws_connect("/api/live", headers=people["head"])
    assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    ticket = await take(hotline, agent, kind="complaint", description="整栋楼不热")
    body = {**COMPLAINT, "class": "collective", "households": 12, "detail": "3号楼12户"}
    collective = await log(hotline, agent, ticket["id"], **body)
    assert collective["escalated_at"] == collective["raised_at"]
    assert collective["follow_up_due"] is None
    message = await next_anomaly(ws)
    await ws.close()
    assert (message["id"], message["class"], message["households"]) == (
        collective["id"],
        "collective",
        12,
    )
    assert message["escalated_at"] == collective["escalated_at"]
    assert "detail" not in message  # what residents said stays behind the API


async def test_a_lead_closes_a_complaint_with_its_resolution(
    hotline: Hotline, people: dict[str, dict[str, str]]
) -> None:
    agent, lead, head = people["agent"], people["lead"], people["head"]
    ticket = await take(hotline, agent, kind="complaint", description="投诉收费员")
    complaint = await log(
        hotline,
        agent,
        ticket["id"],
        kind="complaint_fee_collector",
        detail="x",
        **{"class": "valid"},
    )
    praise = await log(hotline, agent, ticket["id"], kind="praise_repairman", detail="好")
    path = f"/api/anomalies/{complaint['id']}/close"
    by_agent = await hotline.client.post(path, json={"resolution": "x"}, headers=agent)
    assert by_agent.status == 403
    bare = await hotline.client.post(path, json={}, headers=lead)
    assert (await error(bare, 400))["field"] == "resolution"
    assert [r["id"] for r in await anomalies(hotline, head, state="open")] == [complaint["id"]]

    closed = await hotline.client.post(path, json={"resolution": "已道歉并退费"}, headers=lead)
    body = await closed.json()
    assert (body["status"], body["closed_by"], body["resolution"]) == (
        "closed",
        "zhao.lei",
        "已道歉并退费",
    )
    twice = await hotline.client.post(path, json={"resolution": "x"}, headers=lead)
    assert (await error(twice, 409))["error"] == "already-closed"
    not_one = await hotline.client.post(
        f"/api/anomalies/{praise['id']}/close", json={"resolution": "x"}, headers=lead
    )
    assert (await error(not_one, 409))["error"] == "not-a-complaint"
    assert await anomalies(hotline, head, state="open") == []
    # Closed before its 2 h: no follow-up is recorded as missed.
    advance(hotline, 3 * 60 * MINUTE)
    (got,) = await anomalies(hotline, head, kind="complaint_fee_collector")
    assert got["follow_up_late_at"] is None
