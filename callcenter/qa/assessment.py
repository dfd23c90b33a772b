"""The monthly assessment (月度考核): per agent, a month's spot-check deductions, the violations
the service recorded, the sheets' findings, 漏报, callbacks made and good examples, turned into
yuan by [qa.fines] and a 月奖 level by [qa.bonus]. `assess` is pure; `load_month` reads the
month's rows, one query per source, grouped by agent.

What counts, decided here (004 考核, 录音抽查 奖罚):
- An evaluation counts once final (acknowledged, upheld, revised), in the month it was scored;
  open and disputed ones are shown as pending. A recording scored by two reviewers counts
  once, as its latest evaluation: one mistake, one fine.
- Findings of a sheet: its name / phone / address / station item (`known`) deducted is that
  field recorded wrong or the wrong station; any item with scripted phrases deducted makes the
  recording one of non-standard phrasing (one fine per recording, however many phrases).
- 接听电话超时: a phone that rang past the limit, the `ring_limit` and `late_answer` violations
  (one per leg); `rang_out` (stopped before the limit) is not fined.
- Bad attitude (接听电话态度不好), an invalid promise (无效承诺) and wrong guidance (错误引导)
  no checklist item scores: the reviewer marks them on the evaluation, one each per recording.
- Serious violations (严重违纪): wrong address, wrong station and invalid promise findings.
- Praise: the good examples (闪光点) of the counted evaluations. Praise tickets and anomalies
  praise a repairman, not the agent who took them, and are not counted.
- Callbacks made: those done in the month, credited to whoever made them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from callcenter.anomalies.store import anomalies
from callcenter.auth.store import users
from callcenter.callbacks.store import callbacks
from callcenter.calls.store import violations
from callcenter.qa.checklists import SHEETS, TOTALS, Checklist, Sheet
from callcenter.qa.model import FINAL
from callcenter.qa.settings import Bonus, Fines
from callcenter.qa.store import qa_evaluations

# Sheet findings, by the `known` field of the item deducted.
FIELD_FINDINGS = {"name": "name_wrong", "phone": "phone_wrong", "address": "address_wrong",
                  "station": "wrong_station"}  # fmt: skip
SERIOUS = ("address_wrong", "wrong_station", "invalid_promise")
LATE_KINDS = ("ring_limit", "late_answer")
# The lines of the fines, in the order of the department's table.
LINES = (
    "non_standard",
    "late_answer",
    "bad_attitude",
    "hung_up_first",
    "name_wrong",
    "phone_wrong",
    "address_wrong",
    "wrong_station",
    "unreported_anomaly",
    "invalid_promise",
    "wrong_guidance",
    "serious",
    "serious_after_third",
)
ZH = {"non_standard": "服务用语不标准", "late_answer": "接听电话超时", "bad_attitude": "态度不好",
      "hung_up_first": "主动挂断", "name_wrong": "姓名记录错误", "phone_wrong": "电话记录错误",
      "address_wrong": "地址记录错误", "wrong_station": "选错维修站",
      "unreported_anomaly": "异常漏报", "invalid_promise": "无效承诺", "wrong_guidance": "错误引导",
      "serious": "严重违纪", "serious_after_third": "严重违纪超过3次加罚"}  # fmt: skip
SERIOUS_FREE = 3  # 超过3次的每次加罚


@dataclass(frozen=True, slots=True)
class Agent:
    id: int
    name: str
    work_number: str | None


@dataclass(frozen=True, slots=True)
class Scored:
    """One evaluation as the assessment reads it."""

    id: str
    recording_id: str
    sheet: Sheet
    deducted: int
    findings: frozenset[str]
    good_example: bool
    final: bool
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class AgentMonth:
    """What the month's rows hold for one agent."""

    agent: Agent
    evaluations: tuple[Scored, ...] = ()
    violations: Mapping[str, int] = field(default_factory=dict)  # kind -> count
    unreported: int = 0
    callbacks_made: int = 0


@dataclass(frozen=True, slots=True)
class FineLine:
    kind: str
    count: int
    yuan_each: int
    yuan: int
    reason: str


@dataclass(frozen=True, slots=True)
class Assessment:
    agent: Agent
    sheets: Mapping[Sheet, int]  # evaluations counted per sheet
    deducted: Mapping[Sheet, int]  # points deducted per sheet
    deducted_pct: float  # of the points of the sheets counted
    pending: int  # evaluations not final yet (open or disputed)
    counts: Mapping[str, int]  # the figure behind each line of LINES
    fines: tuple[FineLine, ...]
    fines_yuan: int
    callbacks_made: int
    good_examples: int
    bonus_yuan: int
    bonus_reason: str


def findings(checklist: Checklist | None, scores: list[dict[str, Any]]) -> frozenset[str]:
    """The findings of one sheet's scores: the fields recorded wrong, and non_standard when an
    item with scripted phrases lost points. Without its checklist only the item keys tell."""
    out: set[str] = set()
    for score in scores:
        if int(score.get("deducted", 0)) <= 0:
            continue
        key = str(score.get("key"))
        item = checklist.item(key) if checklist is not None else None
        known = item.known if item is not None else key
        if known in FIELD_FINDINGS:
            out.add(FIELD_FINDINGS[known])
        if item is not None and item.phrases:
            out.add("non_standard")
    return frozenset(out)


def _counted(evaluations: tuple[Scored, ...]) -> list[Scored]:
    """The final evaluations, the latest of each recording."""
    latest: dict[str, Scored] = {}
    for e in sorted((e for e in evaluations if e.final), key=lambda e: (e.scored_at, e.id)):
        latest[e.recording_id] = e
    return list(latest.values())


def _line(kind: str, count: int, each: int, why: str) -> FineLine:
    return FineLine(kind, count, each, count * each, f"{why}: {count} × {each}")


def bonus(rule: Bonus, fines_yuan: int, deducted_pct: float, good: int) -> tuple[int, str]:
    """The 月奖 in yuan and why: the highest level within its limits, lifted by good examples."""
    fits = len(rule.levels)  # past every level: no bonus
    for i, level in enumerate(rule.levels):
        if (level.max_fines is None or fines_yuan <= level.max_fines) and (
            level.max_deducted_pct is None or deducted_pct <= level.max_deducted_pct
        ):
            fits = i
            break
    why = f"fines {fines_yuan} yuan, {deducted_pct:g}% deducted"
    base = rule.levels[fits].yuan if fits < len(rule.levels) else 0
    why += f": level {base}" if base else ": past every level"
    lift = (
        min(rule.max_lift, good // rule.good_examples_per_step)
        if rule.good_examples_per_step
        else 0
    )
    lifted = max(0, fits - lift)
    if lifted != fits:
        why += f", {good} good examples lift it {fits - lifted} to {rule.levels[lifted].yuan}"
    return (rule.levels[lifted].yuan if lifted < len(rule.levels) else 0), why


def assess(month: AgentMonth, fines: Fines, rule: Bonus) -> Assessment:
    counted = _counted(month.evaluations)
    found = Counter(f for e in counted for f in e.findings)
    sheets = {s: sum(1 for e in counted if e.sheet == s) for s in SHEETS}
    deducted = {s: sum(e.deducted for e in counted if e.sheet == s) for s in SHEETS}
    possible = sum(TOTALS[s] * n for s, n in sheets.items())
    pct = round(100 * sum(deducted.values()) / possible, 1) if possible else 0.0
    serious = sum(found[k] for k in SERIOUS)
    after = max(0, serious - SERIOUS_FREE)
    counts = {
        "non_standard": found["non_standard"],
        "late_answer": sum(month.violations.get(k, 0) for k in LATE_KINDS),
        "bad_attitude": found["bad_attitude"],
        "hung_up_first": month.violations.get("hung_up_first", 0),
        **{k: found[k] for k in FIELD_FINDINGS.values()},
        "unreported_anomaly": month.unreported,
        "invalid_promise": found["invalid_promise"],
        "wrong_guidance": found["wrong_guidance"],
        "serious": serious,
        "serious_after_third": after,
    }
    why = {
        "non_standard": "recordings with a scripted phrase missed",
        "late_answer": "phones that rang past the limit",
        "bad_attitude": "recordings with a bad attitude",
        "hung_up_first": "calls the agent hung up first",
        "name_wrong": "names recorded wrong",
        "phone_wrong": "phone numbers recorded wrong",
        "address_wrong": "addresses recorded wrong",
        "wrong_station": "tickets sent to the wrong station",
        "unreported_anomaly": "anomalies not reported (漏报)",
        "invalid_promise": "invalid promises",
        "wrong_guidance": "recordings with wrong guidance",
        "serious": "serious violations (wrong address or station, invalid promise)",
        "serious_after_third": f"serious violations after the third ({serious} − {SERIOUS_FREE})",
    }
    lines = tuple(_line(k, counts[k], getattr(fines, k), why[k]) for k in LINES)
    total = sum(line.yuan for line in lines)
    good = sum(1 for e in counted if e.good_example)
    level, reason = bonus(rule, total, pct, good)
    return Assessment(
        agent=month.agent,
        sheets=sheets,
        deducted=deducted,
        deducted_pct=pct,
        pending=sum(1 for e in month.evaluations if not e.final),
        counts=counts,
        fines=lines,
        fines_yuan=total,
        callbacks_made=month.callbacks_made,
        good_examples=good,
        bonus_yuan=level,
        bonus_reason=reason,
    )


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of "2026-12", local midnight of the 1st to that of the next."""
    year, mon = int(month[:4]), int(month[5:7])
    nxt = (year + 1, 1) if mon == 12 else (year, mon + 1)
    start = datetime(year, mon, 1, tzinfo=tz).astimezone(UTC)
    return start, datetime(*nxt, 1, tzinfo=tz).astimezone(UTC)


# -- the month's rows, one query per source ------------------------------------------------------
async def load_month(
    conn: AsyncConnection,
    start: datetime,
    end: datetime,
    checklists: Mapping[Sheet, Checklist],
    agent_id: int | None = None,
) -> list[AgentMonth]:
    """Every active agent, and anyone else with a row in the month (a disabled agent, a lead
    who took calls), in work-number order."""

    def mine(column: Any) -> Any:
        return column == agent_id if agent_id is not None else column.is_not(None)

    evaluations: dict[int, list[Scored]] = defaultdict(list)
    e = qa_evaluations.c
    rows = await conn.execute(
        select(
            e.id,
            e.agent_id,
            e.recording_id,
            e.sheet,
            e.scores,
            e.deducted,
            e.good_example,
            e.status,
            e.scored_at,
            e.findings,
        ).where(e.scored_at >= start, e.scored_at < end, mine(e.agent_id))
    )
    # No point deducted, nothing marked: most sheets' JSON need not be read.
    for r in rows:
        sheet: Sheet = "callback" if r.sheet == "callback" else "intake"
        found = (
            findings(checklists.get(sheet), orjson.loads(r.scores)) if r.deducted else frozenset()
        )
        marked = frozenset(orjson.loads(r.findings)) if r.findings != "[]" else frozenset()
        evaluations[r.agent_id].append(
            Scored(
                r.id,
                r.recording_id,
                sheet,
                r.deducted,
                found | marked,
                bool(r.good_example),
                r.status in FINAL,
                r.scored_at,
            )
        )
    v = violations.c
    kinds: dict[int, dict[str, int]] = defaultdict(dict)
    grouped = await conn.execute(
        select(v.agent_id, v.kind, func.count())
        .where(
            v.occurred_at >= start,
            v.occurred_at < end,
            mine(v.agent_id),
            v.kind.in_((*LATE_KINDS, "hung_up_first")),
        )
        .group_by(v.agent_id, v.kind)
    )
    for agent, kind, n in grouped:
        kinds[agent][kind] = n
    a = anomalies.c
    late = await conn.execute(
        select(a.agent_id, func.count())
        .where(a.unreported_at >= start, a.unreported_at < end, mine(a.agent_id))
        .group_by(a.agent_id)
    )
    unreported: dict[int, int] = {agent: n for agent, n in late}
    u = users.c
    people = {r.id: r for r in await conn.execute(
        select(u.id, u.name, u.work_number, u.role, u.disabled))}  # fmt: skip
    by_name = {r.name: r.id for r in people.values()}
    c = callbacks.c
    done = await conn.execute(
        select(c.done_by, func.count())
        .where(c.status == "done", c.done_at >= start, c.done_at < end)
        .group_by(c.done_by)
    )
    made = {by_name[n]: k for n, k in done if n in by_name}
    if agent_id is not None:
        made = {k: n for k, n in made.items() if k == agent_id}
    ids = {*evaluations, *kinds, *unreported, *made}
    ids |= {
        r.id for r in people.values()
        if r.role == "agent" and not r.disabled and agent_id in (None, r.id)
    }  # fmt: skip
    out = [
        AgentMonth(
            agent=Agent(i, people[i].name, people[i].work_number),
            evaluations=tuple(evaluations.get(i, ())),
            violations=kinds.get(i, {}),
            unreported=unreported.get(i, 0),
            callbacks_made=made.get(i, 0),
        )
        for i in ids
        if i in people
    ]
    return sorted(out, key=lambda m: (m.agent.work_number or "~", m.agent.name))
