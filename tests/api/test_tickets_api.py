"""Tickets through the real app on SQLite and PostgreSQL: taken on a call and linked to it,
routed by the address book, owned by the agent who took it, changed only by adding history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from callcenter.auth import service as auth_service
from tests.api.test_calls_api import Phone
from tests.conftest import PASSWORD, Hotline

REPAIR = {
    "kind": "repair",
    "reporter_name": "张秀英",
    "phone": "138 0000 0001",
    "address": "大龙市幸福里小区三栋二单元502",
    "category": "not_hot",
    "fault_location": "卧室暖气片",
    "severity": "major",
    "description": "整屋不热",
}


async def person(
    h: Hotline, name: str, role: str, extension: str | None = None, work_number: str | None = None
) -> dict[str, str]:
    await auth_service.add_user(
        h.svc.db(),
        h.clock,
        name,
        role,
        PASSWORD,
        extension=extension,
        work_number=work_number,
        station="hongcheng" if role == "station" else None,
    )
    await h.svc.directory.reload(h.svc.db())
    token = await auth_service.create_token(h.svc.db(), h.clock, name)
    return {"Authorization": f"Bearer {token}"}


async def take(h: Hotline, who: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = await h.client.post("/api/tickets", json={**REPAIR, **fields}, headers=who)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    assert response.headers["Location"] == f"/api/tickets/{body['id']}"
    return body


async def to_station_and_back(h: Hotline, who: dict[str, str], ticket_id: str) -> None:
    """Dispatch the ticket, and record the station's return as an agent does when the
    station phones it in."""
    sent = await h.client.post(f"/api/tickets/{ticket_id}/dispatch", headers=who)
    assert sent.status == 201, await sent.text()
    order = (await sent.json())["id"]
    back = await h.client.post(
        f"/api/orders/{order}/return", json={"result": "已修好"}, headers=who
    )
    assert back.status == 200, await back.text()


async def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


@pytest.fixture
async def agent(hotline: Hotline) -> dict[str, str]:
    return await person(hotline, "li.na", "agent", "2001", "007")


async def test_a_repair_is_taken_in_standard_form_routed_and_owned(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    ticket = await take(hotline, agent)
    assert ticket["status"] == "open" and ticket["kind"] == "repair"
    assert ticket["phone"] == "13800000001"
    assert ticket["address"] == REPAIR["address"]
    assert ticket["address_standard"] == "城关区幸福路幸福里3号楼2单元502室"
    assert ticket["address_routing"] == "matched" and ticket["flags"] == []
    assert ticket["station_proposed"] == ticket["station"] == "xingfu"
    assert (ticket["agent"], ticket["agent_work_number"]) == ("li.na", "007")
    assert ticket["recordings"] == [] and ticket["calls"] == []
    (created,) = ticket["timeline"]
    assert created["action"] == "created" and created["by"] == "li.na"
    assert created["work_number"] == "007"
    again = await hotline.client.get(f"/api/tickets/{ticket['id']}", headers=agent)
    assert (await again.json())["address_standard"] == ticket["address_standard"]


async def test_the_ticket_is_linked_to_the_call_the_agent_is_on(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    call = Phone(hotline, "call-now", caller="13800000001")
    call.ring("2001")
    call.after(3)
    call.answer("2001")
    ticket = await take(hotline, agent)
    (linked,) = ticket["calls"]
    assert linked["how"] == "current" and linked["caller"] == "13800000001"
    assert linked["agent"] == "li.na" and linked["extension"] == "2001"
    assert [e["action"] for e in ticket["timeline"]] == ["created", "call-linked"]


async def test_else_to_their_last_call_within_the_window(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    call = Phone(hotline, "call-before")
    call.ring("2001")
    call.after(2)
    call.answer("2001")
    call.after(60)
    call.hang_up()
    await hotline.svc.calls().settled()
    call.after(9 * 60)
    ticket = await take(hotline, agent)
    assert [(c["how"], c["ended_at"] is not None) for c in ticket["calls"]] == [("recent", True)]
    call.after(2 * 60)  # now 11 minutes after it ended
    assert (await take(hotline, agent))["calls"] == []


async def test_another_agents_call_is_never_linked(hotline: Hotline, agent: dict[str, str]) -> None:
    await person(hotline, "wang.wei", "agent", "2002")
    call = Phone(hotline, "theirs")
    call.ring("2002")
    call.after(2)
    call.answer("2002")
    assert (await take(hotline, agent))["calls"] == []


async def test_more_calls_are_linked_by_hand_once_each(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    ticket = await take(hotline, agent)
    callback = Phone(hotline, "callback")
    callback.ring("2001")
    callback.after(2)
    callback.answer("2001")
    callback.hang_up()
    await hotline.svc.calls().settled()
    call_id = (await (await hotline.client.get("/api/calls", headers=agent)).json())[0]["id"]
    url = f"/api/tickets/{ticket['id']}/calls"
    linked = await hotline.client.post(url, json={"call": call_id}, headers=agent)
    assert linked.status == 201
    body = await linked.json()
    assert [c["how"] for c in body["calls"]] == ["manual"]
    assert body["timeline"][-1]["action"] == "call-linked"
    twice = await hotline.client.post(url, json={"call": call_id}, headers=agent)
    assert (await error(twice, 409))["error"] == "already-linked"
    nowhere = await hotline.client.post(url, json={"call": "no-such-call"}, headers=agent)
    assert (await error(nowhere, 400))["field"] == "call"
    missing = await hotline.client.post(
        "/api/tickets/nope/calls", json={"call": call_id}, headers=agent
    )
    assert missing.status == 404


async def test_a_ticket_for_a_call_that_does_not_exist_is_a_400(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    response = await hotline.client.post(
        "/api/tickets", json={**REPAIR, "call": "0" * 32}, headers=agent
    )
    body = await error(response, 400)
    assert (body["error"], body["field"]) == ("no-such-call", "call")


async def test_only_the_agent_who_took_it_or_a_lead_may_change_it(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    ticket = await take(hotline, agent)
    url = f"/api/tickets/{ticket['id']}"
    colleague = await person(hotline, "wang.wei", "agent", "2002")
    refused = await hotline.client.patch(url, json={"note": "我来跟进"}, headers=colleague)
    assert (await error(refused, 403))["error"] == "not-your-ticket"
    qa = await person(hotline, "qa", "qa_lead")
    assert (await hotline.client.patch(url, json={"note": "x"}, headers=qa)).status == 403
    lead = await person(hotline, "lead", "team_lead")
    assert (await hotline.client.patch(url, json={"note": "已联系"}, headers=lead)).status == 200
    own = await hotline.client.patch(url, json={"severity": "urgent"}, headers=agent)
    assert own.status == 200 and (await own.json())["severity"] == "urgent"
    # Everyone who takes tickets reads them all (a caller's history), the station role none.
    assert (await hotline.client.get(url, headers=colleague)).status == 200
    station = await person(hotline, "station1", "station")
    assert (await hotline.client.get(url, headers=station)).status == 403
    assert (await hotline.client.post("/api/tickets", json=REPAIR, headers=station)).status == 403


async def test_a_change_adds_a_history_row_and_never_rewrites_one(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    ticket = await take(hotline, agent)
    url = f"/api/tickets/{ticket['id']}"
    before = ticket["timeline"]
    hotline.clock.advance(60)  # type: ignore[attr-defined]
    changed = await hotline.client.patch(
        url,
        json={"fault_location": "客厅", "severity": "urgent", "note": "住户补充：客厅也不热"},
        headers=agent,
    )
    after = (await changed.json())["timeline"]
    assert after[: len(before)] == before
    (row,) = after[len(before) :]
    assert row["action"] == "changed" and row["note"] == "住户补充：客厅也不热"
    assert row["changes"] == {
        "fault_location": ["卧室暖气片", "客厅"],
        "severity": ["major", "urgent"],
    }
    # Nothing changes without a row: the same values again add none.
    same = await hotline.client.patch(url, json={"fault_location": "客厅"}, headers=agent)
    assert (await same.json())["timeline"] == after


async def test_the_database_refuses_to_alter_or_remove_history(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    await take(hotline, agent)
    for statement in (
        "UPDATE ticket_history SET user_name = 'someone else'",
        "DELETE FROM ticket_history",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with hotline.svc.db().begin() as conn:
                await conn.execute(text(statement))
    async with hotline.svc.db().connect() as conn:
        assert await conn.scalar(text("SELECT user_name FROM ticket_history")) == "li.na"


@pytest.mark.parametrize(
    "body",
    [{"history": []}, {"timeline": [{"action": "created"}]}, {"created_at": "2020-01-01T00:00:00Z"},
     {"agent": "wang.wei"}, {"calls": []}, {"address_standard": "别处"}],
)  # fmt: skip
async def test_a_patch_that_tries_to_rewrite_history_is_refused(
    hotline: Hotline, agent: dict[str, str], body: dict[str, Any]
) -> None:
    ticket = await take(hotline, agent)
    response = await hotline.client.patch(f"/api/tickets/{ticket['id']}", json=body, headers=agent)
    refused = await error(response, 400)
    assert (refused["error"], refused["field"]) == ("read-only", next(iter(body)))


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"phone": "12345"}, "bad-phone", "phone"),
        ({"phone": "1380000000"}, "bad-phone", "phone"),
        ({"phone": "5210101"}, "bad-phone", "phone"),
        ({"station": "nowhere"}, "unknown-station", "station"),
        ({"kind": "gossip"}, "unknown-kind", "kind"),
        ({"category": "too_hot"}, "unknown-category", "category"),
        ({"severity": 3}, "unknown-severity", "severity"),
        ({"address": None}, "missing-field", "address"),
        ({"phone": ""}, "missing-field", "phone"),
        ({"reporter_name": "名" * 65}, "too-long", "reporter_name"),
        ({"fault_location": ["卧室"]}, "bad-type", "fault_location"),
        ({"description": "不热\x00"}, "bad-value", "description"),
        ({"flat": "502"}, "unknown-field", "flat"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field(
    hotline: Hotline, agent: dict[str, str], fields: dict[str, Any], code: str, field: str
) -> None:
    response = await hotline.client.post("/api/tickets", json={**REPAIR, **fields}, headers=agent)
    body = await error(response, 400)
    assert (body["error"], body["field"]) == (code, field)


@pytest.mark.parametrize(
    ("phone", "stored"),
    [("13800000001", "13800000001"), ("+86 138-0000-0001", "13800000001"),
     ("013800000001", "13800000001"), ("0316-5210101", "03165210101"),
     ("(010) 6552 1234", "01065521234"), ("１３８００００００01", "13800000001")],
)  # fmt: skip
async def test_phone_numbers_are_kept_as_digits(
    hotline: Hotline, agent: dict[str, str], phone: str, stored: str
) -> None:
    assert (await take(hotline, agent, phone=phone))["phone"] == stored


async def test_another_station_than_proposed_is_kept_and_flagged(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    ticket = await take(hotline, agent, station="dongxing")
    assert ticket["station"] == "dongxing" and ticket["station_proposed"] == "xingfu"
    assert ticket["flags"] == ["station-overridden"]


async def test_an_address_no_rule_matches_is_flagged_and_not_routed(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    ticket = await take(hotline, agent, address="火星路1号")
    assert ticket["station"] is None and ticket["station_proposed"] is None
    assert ticket["address_routing"] == "unmatched" and ticket["flags"] == ["unmatched"]
    url = f"/api/tickets/{ticket['id']}"
    # It cannot go to a station before someone chooses one.
    dispatch = await hotline.client.post(f"{url}/dispatch", headers=agent)
    assert (await error(dispatch, 400))["field"] == "station"
    chosen = await hotline.client.patch(url, json={"station": "mapo"}, headers=agent)
    body = await chosen.json()
    assert body["station"] == "mapo" and body["flags"] == ["unmatched"]


async def test_a_new_address_is_routed_again(hotline: Hotline, agent: dict[str, str]) -> None:
    ticket = await take(hotline, agent)
    url = f"/api/tickets/{ticket['id']}"
    moved = await hotline.client.patch(url, json={"address": "万科城32号楼1单元101"}, headers=agent)
    body = await moved.json()
    assert body["address_standard"] == "开发区龙府大街万科城32号楼1单元101室"
    assert body["station"] == body["station_proposed"] == "yuxiang"


async def test_statuses_follow_each_kinds_flow(hotline: Hotline, agent: dict[str, str]) -> None:
    repair = await take(hotline, agent)
    url = f"/api/tickets/{repair['id']}"
    # To the station and back only through its order, so the two never disagree.
    for status in ("dispatched", "repaired"):
        by_hand = await hotline.client.patch(url, json={"status": status}, headers=agent)
        assert (await error(by_hand, 409))["error"] == "bad-transition"
    await to_station_and_back(hotline, agent, repair["id"])
    step = await hotline.client.patch(url, json={"status": "closed"}, headers=agent)
    assert step.status == 200 and (await step.json())["status"] == "closed"
    closed = await hotline.client.patch(url, json={"description": "改"}, headers=agent)
    assert (await error(closed, 409))["error"] == "ticket-closed"
    note = await hotline.client.patch(url, json={"note": "回访满意"}, headers=agent)
    assert (await note.json())["timeline"][-1]["action"] == "note"
    question = await take(hotline, agent, kind="consultation", address=None, category=None)
    done = await hotline.client.patch(
        f"/api/tickets/{question['id']}", json={"status": "closed"}, headers=agent
    )
    assert done.status == 200


async def test_a_complaint_needs_a_number_to_call_back(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    response = await hotline.client.post(
        "/api/tickets", json={"kind": "complaint", "description": "维修工态度差"}, headers=agent
    )
    assert (await error(response, 400))["field"] == "phone"
    praise = await hotline.client.post(
        "/api/tickets", json={"kind": "praise", "description": "师傅很好"}, headers=agent
    )
    assert praise.status == 201


async def test_numbers_follow_the_privacy_policy(hotline: Hotline, agent: dict[str, str]) -> None:
    ticket = await take(hotline, agent)
    url = f"/api/tickets/{ticket['id']}"
    colleague = await person(hotline, "wang.wei", "agent", "2002")
    qa = await person(hotline, "qa", "qa_lead")
    lead = await person(hotline, "lead", "team_lead")
    seen = {}
    for name, who in (("own", agent), ("colleague", colleague), ("qa", qa), ("lead", lead)):
        seen[name] = (await (await hotline.client.get(url, headers=who)).json())["phone"]
    assert seen == {
        "own": "13800000001",
        "colleague": "138****0001",
        "qa": "138****0001",
        "lead": "13800000001",
    }


async def test_tickets_are_found_by_each_filter_newest_first_and_paged(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    colleague = await person(hotline, "wang.wei", "agent", "2002")
    first = await take(hotline, agent)
    hotline.clock.advance(60)  # type: ignore[attr-defined]
    second = await take(hotline, agent, address="幸福里3号楼1单元101", phone="13900000002")
    hotline.clock.advance(60)  # type: ignore[attr-defined]
    third = await take(
        hotline, colleague, address="万科城32号楼", phone="13900000002", kind="complaint"
    )

    async def ids(query: str) -> list[str]:
        response = await hotline.client.get(f"/api/tickets?{query}", headers=agent)
        assert response.status == 200, await response.text()
        return [t["id"] for t in await response.json()]

    assert await ids("") == [third["id"], second["id"], first["id"]]
    assert await ids("phone=139-0000-0002") == [third["id"], second["id"]]
    assert await ids("address=幸福里三号楼") == [second["id"], first["id"]]
    assert await ids("address=幸福里3号楼2单元502") == [first["id"]]
    assert await ids("station=yuxiang") == [third["id"]]
    assert await ids("kind=complaint") == [third["id"]]
    assert await ids("agent=wang.wei") == [third["id"]]
    assert await ids("status=open,dispatched") == [third["id"], second["id"], first["id"]]
    assert await ids("from=2026-11-23T01:00:30Z&to=2026-11-23T01:01:30Z") == [second["id"]]
    page = await hotline.client.get("/api/tickets?limit=2", headers=agent)
    assert [t["id"] for t in await page.json()] == [third["id"], second["id"]]
    rest = await hotline.client.get(page.links["next"]["url"].path_qs, headers=agent)
    assert [t["id"] for t in await rest.json()] == [first["id"]]
    for query, field in (("phone=110", "phone"), ("station=x", "station"), ("kind=x", "kind"),
                         ("status=x", "status"), ("agent=nobody", "agent"), ("from=x", "from"),
                         ("limit=0", "limit"), ("cursor=x", "cursor")):  # fmt: skip
        response = await hotline.client.get(f"/api/tickets?{query}", headers=agent)
        assert (await error(response, 400))["field"] == field


async def test_the_callers_history_shows_their_tickets_the_address_and_what_is_open(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    old = await take(hotline, agent)
    await hotline.client.patch(
        f"/api/tickets/{old['id']}", json={"status": "cancelled"}, headers=agent
    )
    hotline.clock.advance(60)  # type: ignore[attr-defined]
    latest = await take(hotline, agent, kind="consultation", address=None, category=None)
    neighbour = await take(hotline, agent, phone="13900000009", address="幸福里3-2-502")
    elsewhere = await take(hotline, agent, phone="13900000008", address="万科城1号楼")
    response = await hotline.client.get("/api/callers/138-0000-0001/history", headers=agent)
    history = await response.json()
    assert history["phone"] == "13800000001"
    assert history["address"] == "城关区幸福路幸福里3号楼2单元502室"
    assert [t["id"] for t in history["tickets"]] == [latest["id"], old["id"]]
    assert [t["id"] for t in history["address_tickets"]] == [neighbour["id"]]
    assert {t["id"] for t in history["open"]} == {latest["id"], neighbour["id"]}
    assert elsewhere["id"] not in str(history)
    bad = await hotline.client.get("/api/callers/12345/history", headers=agent)
    assert (await error(bad, 400))["field"] == "phone"


async def test_screen_pop_finds_the_ringing_callers_history(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    earlier = await take(hotline, agent)
    call = Phone(hotline, "ringing-now", caller="13800000001")
    call.ring("2001")
    await hotline.svc.calls().settled()
    call_id = (await (await hotline.client.get("/api/calls", headers=agent)).json())[0]["id"]
    pop = await hotline.client.get(f"/api/screen-pop?call={call_id}", headers=agent)
    body = await pop.json()
    assert body["call"] == {"id": call_id, "caller": "13800000001"}
    assert [t["id"] for t in body["tickets"]] == [earlier["id"]]
    colleague = await person(hotline, "wang.wei", "agent", "2002")
    theirs = await hotline.client.get(f"/api/screen-pop?call={call_id}", headers=colleague)
    assert (await theirs.json())["call"]["caller"] == "138****0001"
    missing = await hotline.client.get("/api/screen-pop?call=nope", headers=agent)
    assert (await error(missing, 404))["field"] == "call"


async def test_the_recordings_see_a_tickets_calls_and_owners(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    call = Phone(hotline, "on-ticket")
    call.ring("2001")
    call.after(2)
    call.answer("2001")
    ticket = await take(hotline, agent)
    call_id = ticket["calls"][0]["id"]
    tickets = hotline.svc.ticket_service()
    assert await tickets.calls_of_ticket(ticket["id"]) == [call_id]
    assert await tickets.calls_of_ticket("nope") is None
    owner = await auth_service.authenticate(
        hotline.svc.db(), hotline.clock, agent["Authorization"][7:], None, hotline.svc.token_usage
    )
    assert await tickets.ticket_owners(call_id) == frozenset({owner.id})


async def test_a_dispatched_ticket_keeps_its_station(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    ticket = await take(hotline, agent)
    url = f"/api/tickets/{ticket['id']}"
    assert (await hotline.client.post(f"{url}/dispatch", headers=agent)).status == 201
    # The order is at 幸福: a new address no rule matches, or another station, would leave
    # the ticket and its order disagreeing. The order is recalled first.
    lost = await hotline.client.patch(url, json={"address": "火星路1号"}, headers=agent)
    assert (await error(lost, 409))["error"] == "at-station"
    moved = await hotline.client.patch(url, json={"station": "mapo"}, headers=agent)
    assert (await error(moved, 409))["field"] == "station"
    typo = await hotline.client.patch(
        url, json={"description": "整屋不热，卧室冰凉"}, headers=agent
    )
    assert typo.status == 200


async def test_open_tickets_of_every_status_are_listed_newest_first(
    hotline: Hotline, agent: dict[str, str]
) -> None:
    taken = []
    for status in ("dispatched", "repaired", None, "cancelled"):
        ticket = await take(hotline, agent)
        url = f"/api/tickets/{ticket['id']}"
        if status == "dispatched":
            assert (await hotline.client.post(f"{url}/dispatch", headers=agent)).status == 201
        elif status == "repaired":
            await to_station_and_back(hotline, agent, ticket["id"])
        elif status == "cancelled":
            await hotline.client.patch(url, json={"status": "cancelled"}, headers=agent)
        taken.append(ticket["id"])
        hotline.clock.advance(60)  # type: ignore[attr-defined]
    history = await (
        await hotline.client.get("/api/callers/13800000001/history", headers=agent)
    ).json()
    assert [t["id"] for t in history["open"]] == taken[2::-1]
    assert [t["status"] for t in history["open"]] == ["open", "repaired", "dispatched"]


async def test_two_changes_to_one_ticket_at_one_instant_both_stay(hotline: Hotline) -> None:
    """The agent fixes the severity while the team lead adds the fault location: neither
    change is lost to the other (SQLite too, which has no row locks)."""
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    lead = await person(hotline, "lead", "team_lead")
    ticket = await take(hotline, agent)
    url = f"/api/tickets/{ticket['id']}"

    async def change(who: dict[str, str], body: dict[str, Any]) -> int:
        return (await hotline.client.patch(url, json=body, headers=who)).status

    statuses = await asyncio.gather(
        change(agent, {"severity": "urgent"}), change(lead, {"fault_location": "暖气片"})
    )
    assert statuses == [200, 200]
    now = await (await hotline.client.get(url, headers=lead)).json()
    assert (now["severity"], now["fault_location"]) == ("urgent", "暖气片")
    changes = [e["changes"] for e in now["timeline"] if e["action"] == "changed"]
    assert sorted(list(c) for c in changes) == [["fault_location"], ["severity"]]
