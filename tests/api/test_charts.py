"""The charts (图表) of a day on SQLite and PostgreSQL: calls whose ring times fall on known
rings, orders at known steps, anomalies open and closed, stored as rows; each chart's
figures checked against the count worked out by hand and against the daily report, the SVG
read back with xml.etree (bars in proportion, the figures written, names escaped), and bad
requests refused with a clear 4xx."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callcenter.anomalies.store import anomalies
from callcenter.auth.store import users
from callcenter.calls.store import calls, legs
from callcenter.clock import FakeClock
from callcenter.orders.store import orders
from tests.api import month_rows as mr
from tests.conftest import Hotline, HotlineFactory

TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-11-23"  # a Monday
END = datetime(2026, 11, 24, tzinfo=TZ)  # its end: local midnight
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=TZ)  # Tuesday 10:00: Monday is over
ODD = "赵<b>&amp;'x\""  # an agent's name as an old import left it: data, to be escaped
SVG = "{http://www.w3.org/2000/svg}"


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).astimezone(UTC)


def a_call(
    cid: str, at: datetime, agent: int | None = None, *, answer: float | None = None,
    end: float | None = None, final: str = "answered", rang: bool = True,
    limit_recorded: bool = False, monitored: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """A call and the one phone it rang from its offer (`rang` false: no 180 was seen);
    answered `answer` seconds in, ended `end` seconds in."""
    answered = at + timedelta(seconds=answer) if answer is not None else None
    ended = at + timedelta(seconds=end) if end is not None else answered
    call = {**mr.call_row(cid, at), "monitored": monitored, "answered_at": answered,
            "ended_at": ended, "final": final,
            "answered_leg": "leg" if answered else None}  # fmt: skip
    leg = {
        "id": f"l-{cid}", "call_pk": cid, "leg_ref": "leg", "extension": "2001",
        "agent_id": agent, "queue": None, "ring_started_at": at if rang else None,
        "answered_at": answered, "ended_at": ended, "outcome": None, "end_cause": None,
        "ring_limit_recorded": limit_recorded,
    }  # fmt: skip
    return call, leg


def an_order(
    oid: str, station: str, dispatched: timedelta, *, accept: timedelta = timedelta(minutes=30),
    contact: timedelta = timedelta(hours=1), repair: timedelta = timedelta(hours=4),
    **steps: timedelta,
) -> dict[str, Any]:  # fmt: skip
    """An order sent `dispatched` before the day's end; deadlines and steps (accepted_at,
    contacted_at, returned_at, closed_at) relative to the dispatch."""
    at = END - dispatched
    row = {
        "id": oid, "ticket_id": f"t-{oid}", "station": station, "round": 1, "status": "sent",
        "dispatched_at": at, "dispatched_by": "li.na", "accept_due": at + accept,
        "contact_due": at + contact, "repair_due": at + repair,
    }  # fmt: skip
    # Every row has every step's column: an insert of many rows takes its columns from the first.
    done = {k: None for k in ("accepted_at", "contacted_at", "returned_at", "closed_at")}
    return row | done | {k: at + v for k, v in steps.items()}


def an_anomaly(
    aid: str, kind: str, at: datetime, reported: datetime | None, closed: datetime | None = None
) -> dict[str, Any]:
    return {
        "id": aid, "kind": kind, "source": "agent", "occurred_at": at, "raised_at": at,
        "agent_id": None, "detail": "", "reported_at": reported, "closed_at": closed,
    }  # fmt: skip


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str) -> Hotline:
    h: Hotline = await hotline_factory(db_url, clock=FakeClock(NOW.astimezone(UTC)))
    return h


@pytest.fixture
async def boss(hotline: Hotline) -> dict[str, str]:
    """A supervisor, and Monday's calls, orders and anomalies (the counts by hand below)."""
    h = hotline
    who = await h.token("boss", "supervisor")
    await h.add_user("li.na", "agent", "2001")
    async with h.svc.db().begin() as conn:
        await conn.execute(users.insert(), [{"name": ODD, "role": "agent", "password_hash": "x",
                                             "created_at": NOW, "disabled": False}])  # fmt: skip
        ids = {r.name: r.id for r in await conn.execute(select(users.c.name, users.c.id))}
        li, odd = ids["li.na"], ids[ODD]
        made = [
            # Monday, with the rule of 5 s a ring and three rings:
            a_call("c1", local(23, 9, 10), li, answer=2),  # ring 1
            a_call("c2", local(23, 9, 20), li, answer=7),  # ring 2
            a_call("c3", local(23, 9, 40), odd, answer=12),  # ring 3
            a_call("c4", local(23, 10, 5), odd, answer=17),  # ring 4: late
            a_call("c5", local(23, 10, 30), li, answer=31),  # ring 7: in 6+, late
            a_call("c6", local(23, 10, 45), li, end=4, final="abandoned"),  # in time
            a_call("c7", local(23, 11, 0), li, end=20, final="abandoned", limit_recorded=True),
            a_call("c8", local(23, 11, 30), li, end=30, final="unanswered", limit_recorded=True),
            a_call("c9", local(23, 23, 50), li, answer=0, rang=False),  # no 180 seen: ring 1
            a_call("c10", local(23, 0, 30), li, answer=15),  # exactly 3 × 5 s: ring 4, late
            a_call("c11", local(23, 12, 0), li, answer=3, final="lost"),  # not counted
            a_call("c12", local(23, 12, 30), li, answer=3, monitored=False),  # outbound
            a_call("c13", local(22, 23, 59), li, answer=3),  # Sunday
            a_call("c14", local(24, 0, 0), li, answer=3),  # Tuesday
            # The Monday before (16th):
            a_call("w1", local(16, 9, 5), li, answer=3),  # ring 1
            a_call("w2", local(16, 9, 15), li, answer=16),  # ring 4: late
            a_call("w3", local(16, 14, 0), li, end=3, final="abandoned"),  # in time: no base
        ]
        await conn.execute(calls.insert(), [c for c, _ in made])
        await conn.execute(legs.insert(), [leg for _, leg in made])
        m = timedelta(minutes=1)
        h_ = timedelta(hours=1)
        made_orders = [
            an_order("o1", "hongcheng", 60 * m),  # accept due 23:30, not accepted: overdue
            an_order("o2", "hongcheng", 10 * m),  # sent
            an_order("o3", "hongcheng", 20 * m, accepted_at=5 * m),  # accepted
            # repair due an hour before midnight, not back: overdue
            an_order("o4", "yulong", 5 * h_, accepted_at=5 * m, contacted_at=20 * m),
            an_order("o5", "yulong", 2 * h_, accepted_at=3 * h_),  # accepted only on Tuesday
            an_order("o6", "xingfu", 3 * h_, accepted_at=m, contacted_at=2 * m,
                     returned_at=h_),  # back before midnight: not open
            an_order("o7", "xingfu", 3 * h_, accepted_at=m, contacted_at=2 * m,
                     returned_at=4 * h_ - m),  # back on Tuesday: open, accepted
            an_order("o8", "wanke", h_, closed_at=30 * m),  # refused: not open
            an_order("o9", "wanke", -h_),  # sent on Tuesday
            an_order("o10", "gone", 10 * m),  # a station no longer in the book
            an_order("o11", "xingfu", 30 * m),  # accept due exactly at midnight: not yet late
        ]  # fmt: skip
        await mr.insert(conn, "tickets", [mr.ticket_row(o["ticket_id"], o["dispatched_at"])
                                          for o in made_orders])  # fmt: skip
        await conn.execute(orders.insert(), made_orders)
        later = local(24, 9)
        await conn.execute(anomalies.insert(), [
            an_anomaly("a1", "accept_late", local(23, 10), local(23, 10, 10)),
            an_anomaly("a2", "accept_late", local(23, 11), None),
            an_anomaly("a3", "contact_late", local(23, 12), later),  # reported on Tuesday
            an_anomaly("a4", "complaint_repairman", local(23, 13), local(23, 13), local(23, 15)),
            an_anomaly("a5", "complaint_repairman", local(23, 14), local(23, 14)),  # not closed
            an_anomaly("a6", "praise_repairman", local(23, 15), local(23, 15)),
            an_anomaly("a7", "forwarded", local(22, 15), None),  # Sunday
        ])  # fmt: skip
    return who


async def chart(h: Hotline, who: dict[str, str], query: str, status: int = 200) -> Any:
    response = await h.client.get(f"/api/reports/charts/{query}", headers=who)
    assert response.status == status, await response.text()
    if status != 200:
        assert response.content_type == "application/json"
        return await response.json()
    assert response.headers["Cache-Control"] == "no-store"
    if "format=json" in query:
        return await response.json()
    assert response.content_type == "image/svg+xml"
    return await response.text()


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    return root


def drawn(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}{tag}") if cls in (e.get("class") or "").split()]


def texts(root: ET.Element, cls: str) -> list[str]:
    return [e.text or "" for e in drawn(root, "text", cls)]


# By hand, Monday: offered c1–c10 (c11 lost, c12 outbound, c13/c14 other days) = 10;
# answered within the limit c1, c2, c3, c9 = 4; abandoned in time c6 leaves the base: 9.
HOURS = {  # hour: (offered, within the limit, rate base)
    0: (1, 0, 1), 9: (3, 3, 3), 10: (3, 0, 2), 11: (2, 0, 2), 23: (1, 1, 1),
}  # fmt: skip
WEEK_BEFORE = {9: (2, 1, 2), 14: (1, 0, 0)}


async def test_hourly_figures_are_the_hours_counted_by_hand_and_add_up_to_the_report(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    body = await chart(hotline, boss, f"hourly?date={DAY}&format=json")
    assert (body["date"], body["complete"], body["last_week_date"]) == (DAY, True, "2026-11-16")
    assert body["as_of"] == "2026-11-23T16:00:00.000Z"
    for key, expected in (("hours", HOURS), ("last_week", WEEK_BEFORE)):
        got = {h["hour"]: (h["offered"], h["answered_within_limit"], h["rate_base"])
               for h in body[key]}  # fmt: skip
        assert [h["hour"] for h in body[key]] == list(range(24))
        assert got == {hour: expected.get(hour, (0, 0, 0)) for hour in range(24)}, key
    rates = {h["hour"]: h["within_limit_rate"] for h in body["hours"]}
    assert (rates[9], rates[10], rates[3]) == (1.0, 0.0, None)
    assert {h["hour"]: h["within_limit_rate"] for h in body["last_week"]}[14] is None

    report = await hotline.client.get(f"/api/reports/daily?date={DAY}", headers=boss)
    figures = (await report.json())["hotline"]["calls"]
    assert figures["offered"] == sum(h["offered"] for h in body["hours"]) == 10
    assert figures["answered"] == sum(h["answered"] for h in body["hours"]) == 7
    assert figures["answered_within_limit"] == sum(
        h["answered_within_limit"] for h in body["hours"]
    )
    assert figures["rate_base"] == sum(h["rate_base"] for h in body["hours"]) == 9


async def test_the_hourly_svg_draws_both_days_in_proportion(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    root = parse(await chart(hotline, boss, f"hourly?date={DAY}&lang=zh-CN"))
    for key, expected in (("day", HOURS), ("last-week", WEEK_BEFORE)):
        bars = {int(b.get("data-hour", "")): b for b in drawn(root, "rect", "bar")
                if b.get("data-series") == key}  # fmt: skip
        assert sorted(bars) == list(range(24))
        values = {hour: int(b.get("data-value", "")) for hour, b in bars.items()}
        assert values == {hour: expected.get(hour, (0,))[0] for hour in range(24)}
        ratios = [float(b.get("height", "")) / values[hr] for hr, b in bars.items() if values[hr]]
        assert max(ratios) - min(ratios) < 0.1, ratios  # each bar's height: its figure, scaled
    points = {(p.get("data-series"), p.get("data-hour")): p.get("data-value")
              for p in drawn(root, "circle", "point") + drawn(root, "rect", "point")}  # fmt: skip
    assert points[("day", "9")] == "1.0000" and points[("day", "0")] == "0.0000"
    assert points[("last-week", "9")] == "0.5000" and ("day", "3") not in points
    headline = " ".join(texts(root, "headline"))
    assert "来电 10" in headline and "接通率 44.4%" in headline  # 4 of 9
    assert "来电 3" in headline and "接通率 50.0%" in headline  # the week before: 1 of 2
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and "每小时来电与接通率" in (title.text or "")
    assert desc is not None and "9时 来电 3（上周 2），接通率 100.0%（上周 50.0%）" in (
        desc.text or ""
    )


async def test_rings_put_each_answered_call_on_the_ring_it_was_picked_up(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    body = await chart(hotline, boss, f"rings?date={DAY}&format=json")
    # ring 1: c1, c9 (no ringing seen); 2: c2; 3: c3; 4: c4, c10 (exactly 15 s); 6+: c5.
    assert [(a["ring"], a["calls"], a["and_later"]) for a in body["answered"]] == [
        (1, 2, False), (2, 1, False), (3, 1, False), (4, 2, False), (5, 0, False), (6, 1, True),
    ]  # fmt: skip
    assert (body["abandoned"], body["unanswered"], body["limit"]) == (2, 1, 3)
    report = await hotline.client.get(f"/api/reports/daily?date={DAY}", headers=boss)
    figures = (await report.json())["hotline"]["calls"]
    assert sum(a["calls"] for a in body["answered"]) == figures["answered"]
    assert (body["abandoned"], body["unanswered"]) == (figures["abandoned"], figures["unanswered"])

    root = parse(await chart(hotline, boss, f"rings?date={DAY}&lang=en"))
    bars = {b.get("data-bin"): b for b in drawn(root, "rect", "bar")}
    assert {k: int(b.get("data-value", "")) for k, b in bars.items()} == {
        "ring-1": 2, "ring-2": 1, "ring-3": 1, "ring-4": 2, "ring-5": 0, "ring-6": 1,
        "abandoned": 2, "unanswered": 1,
    }  # fmt: skip
    height = {k: float(b.get("height", "")) for k, b in bars.items()}
    assert height["ring-1"] == pytest.approx(2 * height["ring-2"], abs=0.2)
    assert height["ring-5"] == 0 and height["abandoned"] == pytest.approx(height["ring-1"], abs=0.2)
    assert texts(root, "value") == ["2", "1", "1", "2", "0", "1", "2", "1"]
    assert texts(root, "bin")[-3:] == ["6+", "abandoned", "rang out"]
    assert texts(root, "limit-label") == ["limit: 3 rings"]
    [limit] = drawn(root, "line", "limit")  # between ring 3 and ring 4
    assert (
        float(bars["ring-3"].get("x", ""))
        < float(limit.get("x1", ""))
        < float(bars["ring-4"].get("x", ""))
    )


async def test_agents_answered_and_time_to_answer_with_names_escaped(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    body = await chart(hotline, boss, f"agents?date={DAY}&format=json")
    # li.na: c1 2 s, c2 7 s, c5 31 s, c9 0 s, c10 15 s; the other: c3 12 s, c4 17 s.
    assert body["agents"] == [
        {"name": "li.na", "answered": 5, "median_seconds": 7.0, "p90_seconds": 24.6},
        {"name": ODD, "answered": 2, "median_seconds": 14.5, "p90_seconds": 16.5},
    ]
    assert body["deadline_seconds"] == 15.0
    svg = await chart(hotline, boss, f"agents?date={DAY}")
    assert "赵&lt;b&gt;&amp;amp;&#39;x&quot;" in svg and "<b>" not in svg
    root = parse(svg)
    assert texts(root, "name") == ["li.na", ODD]  # parsed back: the name as it is stored
    assert texts(root, "seconds") == ["7.0 / 24.6", "14.5 / 16.5"]
    assert [m.get("data-value") for m in drawn(root, "polygon", "p90")] == ["24.6", "16.5"]
    assert "13800000001" not in svg  # no caller's number anywhere


async def test_stations_count_the_orders_open_at_the_end_of_the_day_by_state(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    body = await chart(hotline, boss, f"stations?date={DAY}&format=json")
    book = hotline.svc.address_book().stations
    assert [s["code"] for s in body["stations"]] == [*(s.code for s in book), "gone"]
    assert len(book) == 17
    by_hand = {  # (overdue, sent, accepted)
        "hongcheng": (1, 1, 1), "yulong": (2, 0, 0), "xingfu": (0, 1, 1), "gone": (0, 1, 0),
    }  # fmt: skip
    for s in body["stations"]:
        got = (s["overdue"], s["sent"], s["accepted"])
        assert got == by_hand.get(s["code"], (0, 0, 0)), s["code"]
        assert s["open"] == sum(got)
    root = parse(await chart(hotline, boss, f"stations?date={DAY}"))
    names = texts(root, "name")
    assert names == [*(s.name for s in book), "gone"]
    totals = dict(zip(names, texts(root, "value"), strict=True))
    named = {s.code: s.name for s in book}
    assert (totals[named["hongcheng"]], totals[named["yulong"]], totals["gone"]) == ("3", "2", "1")
    assert totals[named["wanke"]] == "0"  # a station with none still has its row
    assert texts(root, "headline") == ["未结工单 8 · 超时 3 · 待接单 3 · 已接单 2"]


async def test_anomalies_open_and_closed_add_up_to_the_report(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    body = await chart(hotline, boss, f"anomalies?date={DAY}&format=json")
    got = {
        a["kind"]: (a["open"], a["closed"]) for a in body["anomalies"] if a["open"] + a["closed"]
    }
    assert got == {
        "accept_late": (1, 1), "contact_late": (1, 0), "complaint_repairman": (1, 1),
        "praise_repairman": (0, 1),
    }  # fmt: skip
    assert [a["number"] for a in body["anomalies"]] == list(range(1, 10))
    report = await hotline.client.get(f"/api/reports/daily?date={DAY}", headers=boss)
    counted = (await report.json())["hotline"]["anomalies"]
    assert counted == {a["kind"]: a["open"] + a["closed"] for a in body["anomalies"]}
    root = parse(await chart(hotline, boss, f"anomalies?date={DAY}&lang=en"))
    assert texts(root, "headline") == ["6 · 3 open · 3 closed"]


async def test_today_is_the_default_and_stands_at_now(
    hotline: Hotline, boss: dict[str, str]
) -> None:
    body = await chart(hotline, boss, "stations?format=json")
    assert (body["date"], body["complete"]) == ("2026-11-24", False)
    assert body["as_of"] == "2026-11-24T02:00:00.000Z"
    by_code = {s["code"]: s for s in body["stations"]}
    # Tuesday 10:00: every order still out has missed a step; o7 came back at 00:59 and o9,
    # sent at 01:00, is out now.
    assert (by_code["yulong"]["overdue"], by_code["xingfu"]["overdue"]) == (2, 1)
    assert (by_code["hongcheng"]["overdue"], by_code["wanke"]["overdue"]) == (3, 1)
    assert sum(s["open"] for s in body["stations"]) == sum(s["overdue"] for s in body["stations"])
    svg = await chart(hotline, boss, "stations")
    assert "截至 10:00" in svg


@pytest.mark.parametrize(
    ("query", "status", "error", "field"),
    [
        ("hourly?date=2026-13-01", 400, "bad-period", "date"),
        ("hourly?date=23.11.2026", 400, "bad-period", "date"),
        # The calendar's ends: no season before the first day, no day after the last.
        ("hourly?date=0001-01-01", 400, "bad-period", "date"),
        ("hourly?date=9999-12-31", 400, "bad-period", "date"),
        ("rings?date=2026-11-30", 400, "future-period", "date"),
        ("agents?date=2020-01-01", 404, "outside-data", None),
        ("pie?date=2026-11-23", 404, "no-such-chart", None),
        ("hourly?date=2026-11-23&format=png", 400, "bad-format", "format"),
        ("hourly?date=2026-11-23&lang=fr", 400, "bad-parameter", "lang"),
    ],
)
async def test_bad_requests_get_a_clear_4xx(
    hotline: Hotline, boss: dict[str, str], query: str, status: int, error: str,
    field: str | None,
) -> None:  # fmt: skip
    body = await chart(hotline, boss, query, status)
    assert body["error"] == error and body.get("field") == field, body


async def test_only_the_report_readers_see_charts(hotline: Hotline, boss: dict[str, str]) -> None:
    agent = await hotline.token("wang", "agent", "2002")
    assert (await chart(hotline, agent, f"hourly?date={DAY}", 403))["error"] == "forbidden"
    assert (await chart(hotline, {}, f"hourly?date={DAY}", 401))["error"]
