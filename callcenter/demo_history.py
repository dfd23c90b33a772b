"""Yesterday's and last week's shift for `callcenter serve --demo`, so the spot-check desk
(/qa) has a sample to score the moment the demo starts: a draw covers a period that is over,
and a fresh demo has only today's calls.

The calls are written through the calls store as the call writer saves them (offered,
rung, answered, hung up; a few answered late or hung up on by the agent, as violations),
each with a recording spoken by espeak-ng (the agent's opening, the resident, the agent
reading the address back, and usually the closing phrase) handed in as `recording add`
does, and most with the ticket the agent typed. Then the demo team lead's daily sample of
yesterday and the demo QA lead's weekly sample of last week are drawn, as the schedule
would have drawn them. Done once: a day that already has answered calls is left alone.
"""

from __future__ import annotations

import asyncio
import logging
import random
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from callcenter.app import Services
from callcenter.auth import store as auth_store
from callcenter.auth.model import Principal
from callcenter.calls import store as calls_store
from callcenter.calls.model import AgentRef, CallState, LegState, new_id
from callcenter.clock import FakeClock
from callcenter.errors import DomainError
from callcenter.events import ViolationKind, ViolationRecorded
from callcenter.orders.service import Orders
from callcenter.qa import periods
from callcenter.qa.model import Scope
from callcenter.recordings.service import Inbound
from callcenter.stations.model import sample_address
from callcenter.telephony.hep import simulate as sim
from callcenter.tickets.model import Category, NewTicket
from callcenter.tickets.service import Tickets

log = logging.getLogger(__name__)

# Who draws in the demo: scripts/run --demo creates them (a team lead, a QA lead).
DEMO_REVIEWERS: tuple[tuple[str, Scope], ...] = (("lead", "daily"), ("qa", "weekly"))
CALLS_PER_AGENT_YESTERDAY = 3
CALLS_PER_AGENT_LAST_WEEK = 2

_OPENING = "您好，大龙供暖报修{work}号为您服务，请问您有什么问题"
_COMPLAINTS = (
    "我家暖气不热，屋里才十五度",
    "我家暖气冰凉，一点都不热",
    "暖气片漏水了，地上都是水",
    "想请你们来测一下室温",
)
_READ_BACK = "好的，您的地址是{address}，对吗"
_RESIDENT_YES = "对，是的"
_PROMISE = "我们会尽快安排维修人员和您联系"
_CLOSING = "感谢您的来电。再见！"
_CATEGORIES: tuple[Category, ...] = ("not_hot", "ice_cold", "leak", "temperature_check")


@dataclass(frozen=True, slots=True)
class Shift:
    day: date
    per_agent: int


async def seed_history(svc: Services, rng: random.Random) -> None:
    """Write the past shifts the draws need, then draw them; skipped days are logged."""
    if svc.recordings is None or svc.tickets is None or svc.draws is None:
        return
    tz = ZoneInfo(svc.settings.web.timezone)
    today = periods.today(svc.clock.now(), tz)
    yesterday = today - timedelta(days=1)
    last_week = periods.week_of(today - timedelta(days=7)).first
    shifts = [Shift(yesterday, CALLS_PER_AGENT_YESTERDAY)]
    # Last week's calls, unless yesterday was its Sunday (then yesterday's calls are in it).
    if yesterday - last_week >= timedelta(days=7):
        shifts.append(Shift(last_week + timedelta(days=2), CALLS_PER_AGENT_LAST_WEEK))
    agents = await _agents(svc)
    if not agents:
        log.info("demo history: no agents with phones 2001-2004; no past shifts written")
        return
    for shift in shifts:
        if await _has_calls(svc, shift.day, tz):
            continue
        written = 0
        for n in range(shift.per_agent):
            for agent in agents:
                at = datetime.combine(shift.day, time(8 + 3 * n, rng.randint(0, 59)), tz)
                at += timedelta(minutes=10 * agents.index(agent))
                if await _past_call(svc, rng, agent, at):
                    written += 1
        log.info("demo history: %d calls with recordings written for %s", written, shift.day)
    await _draw(svc, today)


async def _agents(svc: Services) -> list[Principal]:
    found = []
    async with svc.db().connect() as conn:
        for ext in sim.EXTENSIONS:
            agent = await auth_store.user_by_extension(conn, ext)
            if agent is not None:
                found.append(agent)
    return found


async def _has_calls(svc: Services, day: date, tz: ZoneInfo) -> bool:
    start, end = periods.day(day).window(tz)
    stmt = select(func.count()).where(
        calls_store.calls.c.offered_at >= start,
        calls_store.calls.c.offered_at < end,
        calls_store.calls.c.answered_at.is_not(None),
    )
    async with svc.db().connect() as conn:
        return bool((await conn.execute(stmt)).scalar_one())


async def _past_call(svc: Services, rng: random.Random, agent: Principal, at: datetime) -> bool:
    """One answered call of `agent` offered at `at`, its recording and (mostly) its ticket."""
    assert svc.recordings is not None and svc.tickets is not None
    ext = agent.extension or ""
    rings = rng.choice((1, 1, 2, 2, 3, 4))  # 4 rings: past the limit of three, a violation
    ring_seconds = rings * svc.rule.cycle_seconds - rng.uniform(0.5, 2.0)
    talk = timedelta(seconds=rng.randint(60, 180))
    agent_hung_up = rng.random() < 0.15
    call = CallState(
        id=new_id(),
        source="hep",
        call_id=f"demo-past-{new_id()}@demo",
        call_tag="",
        caller=sim.new_call(rng, ext, prefix="demo-").caller,
        dialed="96069",
        offered_at=at,
    )
    answered = at + timedelta(seconds=ring_seconds)
    leg = LegState(
        id=new_id(),
        call_pk=call.id,
        leg_ref=f"{ext}-1",
        extension=ext,
        agent=AgentRef(agent.id, agent.name),
        ring_started_at=at,
        answered_at=answered,
        ended_at=answered + talk,
        outcome="answered",
        end_cause="bye",
    )
    call.answered_at, call.ended_at, call.final = answered, answered + talk, "answered"
    call.hung_up_by = "agent" if agent_hung_up else "caller"
    call.answered_leg = leg.leg_ref
    late = rings > svc.rule.limit
    kinds: tuple[tuple[ViolationKind, bool], ...] = (
        ("late_answer", late),
        ("hung_up_first", agent_hung_up),
    )
    found_violations = [
        _violation(kind, call, leg, agent, rings, ring_seconds) for kind, on in kinds if on
    ]
    async with svc.db().begin() as conn:
        await calls_store.save(conn, [call], [leg], found_violations)
    address = sample_address(svc.tickets.book(), rng)
    complaint = rng.randrange(len(_COMPLAINTS))
    lines = [
        ("agent", _OPENING.format(work=agent.work_number or ext)),
        ("resident", _COMPLAINTS[complaint]),
        ("agent", _READ_BACK.format(address=address)),
        ("resident", _RESIDENT_YES),
        ("agent", _PROMISE),
    ]
    if rng.random() < 0.75:  # the rest forgot it: something for the QA lead to deduct
        lines.append(("agent", _CLOSING))
    if not await _record(svc, call.id, lines):
        return False
    if rng.random() < 0.8:
        await _ticket(svc, agent, call, at + talk / 2, address, _CATEGORIES[complaint], rng)
    return True


def _violation(
    kind: ViolationKind,
    call: CallState,
    leg: LegState,
    agent: Principal,
    rings: int,
    seconds: float,
) -> ViolationRecorded:
    at = call.ended_at if kind == "hung_up_first" else call.answered_at
    assert at is not None
    return ViolationRecorded(
        id=new_id(),
        kind=kind,
        occurred_at=at,
        call_pk=call.id,
        leg_pk=leg.id,
        extension=leg.extension,
        agent_id=agent.id,
        agent=agent.name,
        caller=call.caller,
        rings=rings,
        ring_seconds=round(seconds, 1),
        detail="demo history",
    )


async def _ticket(
    svc: Services,
    agent: Principal,
    call: CallState,
    at: datetime,
    address: str,
    category: Category,
    rng: random.Random,
) -> None:
    """The ticket as the agent typed it during the call, taken at that moment's time."""
    assert svc.tickets is not None
    # The desk's own service on a clock stopped at the call: the ticket and its history
    # carry yesterday's time; no live message, the moment is long past.
    then = Tickets(svc.tickets.db, FakeClock(at), svc.tickets.book, svc.tickets.link_window)
    # One in five typed to the wrong station, so the desk's pre-filled finding shows.
    wrong = rng.random() < 0.2
    station = rng.choice([s.code for s in svc.tickets.book().stations]) if wrong else None
    new = NewTicket(
        kind="repair",
        reporter_name=rng.choice("王李张刘陈杨赵黄") + rng.choice(("先生", "女士")),
        phone=call.caller,
        address=address,
        station=station,
        category=category,
        fault_location=None,
        severity=None,
        description="demo",
        call=call.id,
    )
    try:
        found = await then.create(agent, new)
        if found.ticket.station is not None and rng.random() < 0.85:
            await _repair(svc, agent, found.ticket.id, at, rng)
    except DomainError as exc:
        log.warning("demo history: ticket refused: %s", exc.message)


async def _repair(
    svc: Services, agent: Principal, ticket_id: str, at: datetime, rng: random.Random
) -> None:
    """Sent to its station a minute later and, mostly, returned repaired hours after: the
    daily report of that day has repairs and unfinished orders. On clocks stopped at those
    moments, with nobody told (the moments are past; no callback is booked)."""
    if svc.orders is None:
        return
    sent = Orders(svc.orders.db, FakeClock(at + timedelta(minutes=1)), svc.orders.book,
                  svc.orders.settings)  # fmt: skip
    order = await sent.dispatch(agent, ticket_id)
    if rng.random() < 0.7:
        back_at = at + timedelta(hours=rng.uniform(1.5, 5.0))
        back = Orders(svc.orders.db, FakeClock(back_at), svc.orders.book, svc.orders.settings)
        await back.act(agent, order.id, "return", note="已修好")


async def _record(svc: Services, call_pk: str, lines: list[tuple[str, str]]) -> bool:
    """The call's recording: each line spoken (the resident in another voice), a pause
    between, joined as the PBX records, 8 kHz µ-law; stored as `recording add --call` does
    with our call's id (the PBX's id is looked for near the arrival only, days ago here)."""
    assert svc.recordings is not None
    with tempfile.TemporaryDirectory(prefix="cc-demo-past-") as tmp:
        parts = []
        for n, (who, text) in enumerate(lines):
            part = Path(tmp) / f"{n}.wav"
            voice = "cmn" if who == "agent" else "cmn+f3"
            if not await _run("espeak-ng", "-v", voice, "-s", "165", "-w", str(part), text):
                return False
            parts.append(part)
        recorded = Path(tmp) / "call.wav"
        pads = "".join(f"[{n}:a]apad=pad_dur=0.8[p{n}];" for n in range(len(parts)))
        joined = "".join(f"[p{n}]" for n in range(len(parts)))
        graph = f"{pads}{joined}concat=n={len(parts)}:v=0:a=1[out]"
        inputs = [arg for p in parts for arg in ("-i", str(p))]
        if not await _run(
            "ffmpeg", "-v", "error", "-nostdin", *inputs, "-filter_complex", graph,
            "-map", "[out]", "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw", str(recorded),
        ):  # fmt: skip
            return False
        try:
            await svc.recordings.add_file(
                recorded, Inbound("cli", "demo", f"{call_pk}.wav", call_pk)
            )
        except DomainError as exc:
            log.warning("demo history: recording refused: %s", exc.message)
            return False
    return True


async def _run(*args: str) -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
    except FileNotFoundError:
        log.warning("demo history: %s is not installed; no past shifts", args[0])
        return False
    return await proc.wait() == 0


async def _draw(svc: Services, today: date) -> None:
    """The demo reviewers' samples of the periods just written, as the schedule draws them."""
    assert svc.draws is not None
    now = svc.clock.now()
    tz = ZoneInfo(svc.settings.web.timezone)
    for name, scope in DEMO_REVIEWERS:
        async with svc.db().connect() as conn:
            reviewer = await auth_store.user_by_name(conn, name)
        if reviewer is None:
            continue
        period = periods.due(scope, now, tz)
        try:
            drawn = await svc.draws.draw_for(reviewer, scope, period)
        except DomainError as exc:
            log.warning("demo history: no %s sample for %s: %s", scope, name, exc.message)
            continue
        log.info("demo history: %s's %s sample of %s: %d", name, scope, period.key, len(drawn))
