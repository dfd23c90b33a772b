"""Priority by the cold through the real app on SQLite and PostgreSQL: the agent flags a
vulnerable household; a waiting repair and its order carry their priority now, with the
reasons and an explicit `temperature: unknown` when there is no reading; a station's open
orders come highest first, then the oldest; a band's shorter deadlines apply at dispatch."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from callcenter.clock import FakeClock
from tests.api.test_orders_api import dispatch, station_account
from tests.api.test_tickets_api import error, person, take
from tests.conftest import Hotline, HotlineFactory

COLD = {"temperature_celsius": -18}


async def hotline_at(factory: HotlineFactory, db_url: str, **priority: Any) -> Hotline:
    h: Hotline = await factory(db_url, priority=priority) if priority else await factory(db_url)
    return h


def advance(h: Hotline, seconds: float) -> None:
    assert isinstance(h.clock, FakeClock)
    h.clock.advance(seconds)


async def get(h: Hotline, path: str, who: dict[str, str]) -> Any:
    response = await h.client.get(path, headers=who)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_the_agent_flags_a_vulnerable_household_and_may_change_it(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    ticket = await take(hotline, agent, vulnerability="infant")
    assert ticket["vulnerability"] == "infant"
    reasons = [r["text"] for r in ticket["priority"]["reasons"]]
    assert "vulnerable: infant" in reasons

    changed = await hotline.client.patch(
        f"/api/tickets/{ticket['id']}", json={"vulnerability": "elderly"}, headers=agent
    )
    assert changed.status == 200, await changed.text()
    body = await changed.json()
    assert body["vulnerability"] == "elderly"
    assert body["timeline"][-1]["changes"] == {"vulnerability": ["infant", "elderly"]}
    cleared = await hotline.client.patch(
        f"/api/tickets/{ticket['id']}", json={"vulnerability": None}, headers=agent
    )
    assert (await cleared.json())["vulnerability"] is None


async def test_a_vulnerability_the_hotline_does_not_know_is_a_400_naming_it(
    hotline: Hotline,
) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    bad = await error(
        await hotline.client.post(
            "/api/tickets",
            json={"kind": "repair", "vulnerability": "pregnant", "phone": "13800000001"},
            headers=agent,
        ),
        400,
    )
    assert (bad["error"], bad["field"]) == ("unknown-vulnerability", "vulnerability")
    assert "elderly, infant, medical" in bad["message"]
    ticket = await take(hotline, agent)
    typed = await error(
        await hotline.client.patch(
            f"/api/tickets/{ticket['id']}", json={"vulnerability": 3}, headers=agent
        ),
        400,
    )
    assert typed["field"] == "vulnerability"
    forged = await error(
        await hotline.client.patch(
            f"/api/tickets/{ticket['id']}", json={"priority": {"band": "critical"}}, headers=agent
        ),
        400,
    )
    assert (forged["error"], forged["field"]) == ("read-only", "priority")


async def test_without_a_temperature_the_priority_says_unknown_and_counts_the_rest(
    hotline: Hotline,
) -> None:
    """The default configuration has no temperature: never a guess, an explicit unknown."""
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    ticket = await take(hotline, agent, category="ice_cold", vulnerability="medical")
    p = ticket["priority"]
    assert p["temperature"] == "unknown"
    assert p["outdoor"] == {"state": "unknown", "celsius": None}
    assert [(r["factor"], r["points"]) for r in p["reasons"]] == [
        ("category", 40.0),
        ("outdoor", 0.0),
        ("vulnerability", 25.0),
        ("waiting", 0.0),
    ]
    assert (p["score"], p["band"]) == (65.0, "high")
    now = await get(hotline, "/api/temperature", agent)
    assert (now["state"], now["source"], now["celsius"]) == ("unknown", "config", None)
    assert now["reason"] == "priority.temperature_celsius is not set"


async def test_a_waiting_repair_rises_as_it_waits_and_the_cold_counts(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_at(hotline_factory, db_url, **COLD)
    agent = await person(h, "li.na", "agent", "2001", "007")
    ticket = await take(h, agent, category="ice_cold")
    assert ticket["priority"]["temperature"] == "ok"
    assert [r["text"] for r in ticket["priority"]["reasons"]] == [
        "ice_cold",
        "outdoor -18 °C",
        "waiting 0 min",
    ]
    first = ticket["priority"]["score"]
    advance(h, 3 * 3600)
    later = await get(h, f"/api/tickets/{ticket['id']}", agent)
    assert later["priority"]["score"] == first + 6.0
    assert later["priority"]["reasons"][-1]["text"] == "waiting 3 h"
    listed = await get(h, "/api/tickets", agent)
    assert listed[0]["priority"] == later["priority"]


async def test_only_a_repair_still_waiting_has_a_priority(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    question = await take(hotline, agent, kind="consultation", description="问收费")
    assert question["priority"] is None
    repair = await take(hotline, agent)
    cancelled = await hotline.client.patch(
        f"/api/tickets/{repair['id']}", json={"status": "cancelled"}, headers=agent
    )
    assert (await cancelled.json())["priority"] is None


async def test_an_order_carries_its_priority_while_at_its_station(hotline: Hotline) -> None:
    agent = await person(hotline, "li.na", "agent", "2001", "007")
    xingfu = await station_account(hotline, "station.xingfu", "xingfu")
    ticket = await take(hotline, agent, category="ice_cold", vulnerability="elderly")
    order = await dispatch(hotline, agent, ticket["id"])
    assert order["priority"]["band"] == ticket["priority"]["band"]
    seen = await get(hotline, f"/api/orders/{order['id']}", xingfu)
    assert seen["priority"]["temperature"] == "unknown"
    assert seen["ticket"]["vulnerability"] == "elderly"
    # The dispatch is explained in the order's history: the band its deadlines came from.
    assert seen["history"][0]["priority"]["band"] == order["priority"]["band"]
    returned = await hotline.client.post(
        f"/api/orders/{order['id']}/return", json={"result": "已修好"}, headers=xingfu
    )
    assert (await returned.json())["priority"] is None


async def test_the_stations_open_orders_come_highest_first_then_the_oldest(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_at(hotline_factory, db_url, **COLD)
    agent = await person(h, "li.na", "agent", "2001", "007")
    xingfu = await station_account(h, "station.xingfu", "xingfu")
    ids = {}
    for name, fields in (
        ("check", {"category": "temperature_check"}),
        ("not_hot", {"category": "not_hot"}),
        ("infant", {"category": "ice_cold", "vulnerability": "infant"}),
        ("twin_a", {"category": "not_hot"}),
        ("twin_b", {"category": "not_hot"}),
    ):
        ids[name] = (await take(h, agent, **fields))["id"]
    orders = {}
    for name, ticket_id in ids.items():
        orders[(await dispatch(h, agent, ticket_id))["id"]] = name
        advance(h, 60)  # dispatched a minute apart; every ticket waited as long

    listed = await get(h, "/api/orders?status=sent,accepted,contacted", xingfu)
    order = [orders[o["id"]] for o in listed]
    # The same score for the three 不热: the one dispatched first comes first.
    assert order == ["infant", "not_hot", "twin_a", "twin_b", "check"]
    scores = [o["priority"]["score"] for o in listed]
    assert scores == sorted(scores, reverse=True)
    newest = await get(h, "/api/orders?status=sent,accepted,contacted&sort=newest", xingfu)
    assert [orders[o["id"]] for o in newest] == list(reversed(list(ids)))


async def test_the_priority_list_pages_by_offset(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_at(hotline_factory, db_url, **COLD)
    agent = await person(h, "li.na", "agent", "2001", "007")
    for category in ("other", "temperature_check", "not_hot", "ice_cold", "leak"):
        await dispatch(h, agent, (await take(h, agent, category=category))["id"])
    first = await h.client.get("/api/orders?status=sent&limit=2", headers=agent)
    assert first.status == 200
    link = first.headers["Link"]
    assert "offset=2" in link
    rest = await get(h, link[1 : link.index(">")], agent)
    everything = await get(h, "/api/orders?status=sent", agent)
    assert [o["id"] for o in await first.json() + rest][:4] == [o["id"] for o in everything][:4]
    refused = await error(await h.client.get("/api/orders?status=returned&sort=priority",
                                             headers=agent), 400)  # fmt: skip
    assert refused["field"] == "sort"


async def test_a_bands_shorter_deadlines_apply_at_dispatch(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_at(
        hotline_factory,
        db_url,
        temperature_celsius=-20,
        deadlines={"critical": {"accept_factor": 0.5, "repair_factor": 0.5}},
    )
    agent = await person(h, "li.na", "agent", "2001", "007")
    urgent = await take(h, agent, category="ice_cold", vulnerability="elderly")
    assert urgent["priority"]["band"] == "critical"
    routine = await take(h, agent, category="temperature_check")
    assert routine["priority"]["band"] == "normal"  # 10 + 37.5 for the cold

    def minutes(order: dict[str, Any], step: str) -> float:
        start = datetime.fromisoformat(order["dispatched_at"])
        return (datetime.fromisoformat(order["due"][step]) - start) / timedelta(minutes=1)

    fast = await dispatch(h, agent, urgent["id"])
    normal = await dispatch(h, agent, routine["id"])
    assert [minutes(fast, s) for s in ("accept", "contact", "repair")] == [15, 60, 120]
    assert [minutes(normal, s) for s in ("accept", "contact", "repair")] == [30, 60, 240]
    history = (await get(h, f"/api/orders/{fast['id']}", agent))["history"]
    assert history[0]["priority"]["deadline_factors"] == {
        "accept": 0.5,
        "contact": 1.0,
        "repair": 0.5,
    }


async def test_the_temperature_is_for_the_hotline_and_on_health(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_at(hotline_factory, db_url, **COLD)
    agent = await person(h, "li.na", "agent", "2001", "007")
    now = await get(h, "/api/temperature", agent)
    assert (now["state"], now["celsius"], now["source"]) == ("ok", -18.0, "config")
    assert (await h.client.get("/api/temperature")).status == 401
    station = await station_account(h, "station.xingfu", "xingfu")
    assert (await h.client.get("/api/temperature", headers=station)).status == 403
    lead = await person(h, "lead", "team_lead")
    health = await get(h, "/api/health", lead)
    assert (health["status"], health["temperature"]["state"]) == ("ok", "ok")
    assert health["temperature"]["celsius"] == -18.0
