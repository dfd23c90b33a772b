"""The spot-check page's coverage panel (抽查覆盖) in a real Chromium against the real app: over
last week and last month one agent is behind the rule (录音抽查制度: team leads daily, the QA
lead weekly) and one on track; a team lead sees, per agent, the recordings checked against
those required, as the API counts them and as they were built, the agent behind marked and
first, sorts from the keyboard, and reads it on a 360 px phone in Chinese; an agent never
sees the panel."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page, expect

from callcenter.qa import periods
from callcenter.qa import store as qa_store
from callcenter.qa.model import Evaluation, Sample
from callcenter.recordings.service import Inbound
from tests.api.test_qa_sampling_api import variant
from tests.audio import audio
from tests.integration import test_qa_desk
from tests.integration.test_desk_page import PHONE, api_json, no_sideways_scroll
from tests.integration.test_live_page import Hotline, log_in, open_tab
from tests.integration.test_qa_desk import user_id

pytestmark = pytest.mark.integration
# The desk test's app, with 李娜 (agent, 2001) and qa.zhou (QA lead) in it.
hotline = test_qa_desk.hotline

SHANGHAI = ZoneInfo("Asia/Shanghai")  # web.timezone's default: "today" for the rule
DAILY, WEEKLY = 2, 5  # [qa] daily_per_agent, weekly_per_agent: the defaults
WINDOWS = ("week", "month")
SCOPES = ("daily", "weekly")
CELLS = [(w, s) for w in WINDOWS for s in SCOPES]


@dataclass(frozen=True)
class Window:
    """A past week or month, every day of it over."""

    name: str
    first: date
    end: date  # exclusive

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.end - self.first).days)]

    def holds(self, scope: str, period: str) -> bool:
        """A sample counts in the window its calls were taken in: a day in it, or a week
        whose Sunday is in it."""
        if scope == "daily":
            return self.first <= date.fromisoformat(period) < self.end
        monday = date.fromisocalendar(int(period[:4]), int(period[6:]), 1)
        return self.first <= monday + timedelta(days=6) < self.end

    def weeks(self) -> list[str]:
        return [periods.week_of(d).key for d in self.days() if d.weekday() == 6]


def last_week_and_month() -> dict[str, Window]:
    today = datetime.now(SHANGHAI).date()
    monday = today - timedelta(days=today.weekday() + 7)
    week = periods.week_of(monday)
    end = today.replace(day=1)
    first = (end - timedelta(days=1)).replace(day=1)
    return {
        "week": Window(week.key, monday, monday + timedelta(days=7)),
        "month": Window(first.isoformat()[:7], first, end),
    }


@dataclass(frozen=True)
class Built:
    """One sample as built: whose, which rule, which period, scored or only drawn."""

    agent: str
    scope: str
    period: str
    checked: bool


class Samples:
    """Samples and evaluations written as the drawing service and the desk would, each on a
    recording of its own (a reviewer hears a recording once)."""

    def __init__(self, h: Hotline, folder: Path) -> None:
        self.h, self.folder, self.n = h, folder, 0
        self.recordings: list[str] = []
        self.built: list[Built] = []

    async def recording(self, i: int) -> str:
        while len(self.recordings) <= i:
            path = variant(audio().pcm, len(self.recordings), self.folder)
            stored = await self.h.svc.recording_service().add_file(
                path, Inbound("cli", "test", path.name)
            )
            self.recordings.append(stored.recording.id)
        return self.recordings[i]

    async def add(self, agent: str, reviewer: str, scope: str, period: str, checked: bool) -> None:
        recording = await self.recording(sum(1 for b in self.built if b.scope == scope))
        now = self.h.svc.clock.now()
        sample = Sample(
            id=uuid.uuid4().hex,
            reviewer_id=await user_id(self.h, reviewer),
            scope=scope,  # type: ignore[arg-type]
            period=period,
            seed="test",
            recording_id=recording,
            call_id=None,
            agent_id=await user_id(self.h, agent),
            ticket_id=None,
            sheet="intake",
            weight=1.0,
            drawn_at=now,
            status="scored" if checked else "queued",
        )
        async with self.h.svc.db().begin() as conn:
            await conn.execute(qa_store.qa_samples.insert(), [qa_store.sample_row(sample)])
            if checked:
                evaluation = Evaluation(
                    id=uuid.uuid4().hex, sample_id=sample.id, recording_id=recording,
                    call_id=None, agent_id=sample.agent_id, reviewer_id=sample.reviewer_id,
                    sheet="intake", checklist_version=1, checklist_sha256="0" * 64, scores=(),
                    deducted=0, comment="", good_example=False, status="open", scored_at=now,
                )  # fmt: skip
                await conn.execute(
                    qa_store.qa_evaluations.insert(), [qa_store.evaluation_row(evaluation)]
                )
        self.built.append(Built(agent, scope, period, checked))

    def checked(self, agent: str, window: Window, scope: str) -> int:
        return sum(
            1
            for b in self.built
            if (b.agent, b.scope) == (agent, scope) and b.checked and window.holds(scope, b.period)
        )


async def one_behind_one_on_track(h: Hotline, tmp_path: Path) -> tuple[Samples, dict[str, Window]]:
    """张伟 checked as the rule asks every day and week of last week and last month; 李娜 has
    the QA lead's week but only 3 of the team lead's 14, and one more drawn, not checked."""
    await h.user("张伟", "agent", "2002")
    await h.user("wang", "team_lead", language="en")
    windows = last_week_and_month()
    days = sorted({d for w in windows.values() for d in w.days()})
    weeks = sorted({windows["week"].name, *windows["month"].weeks()})
    made = Samples(h, tmp_path)
    for d in days:
        for _ in range(DAILY):
            await made.add("张伟", "wang", "daily", d.isoformat(), checked=True)
    for week in weeks:
        for _ in range(WEEKLY):
            await made.add("张伟", "qa.zhou", "weekly", week, checked=True)
    first = windows["week"].first
    for d, checked in ((first, True), (first, True), (first + timedelta(days=1), True)):
        await made.add("李娜", "wang", "daily", d.isoformat(), checked)
    await made.add("李娜", "wang", "daily", (first + timedelta(days=2)).isoformat(), False)
    for _ in range(WEEKLY):
        await made.add("李娜", "qa.zhou", "weekly", windows["week"].name, checked=True)
    return made, windows


def required(window: Window, scope: str) -> int:
    """The rule over a window all over, with one team lead and one QA lead."""
    return DAILY * len(window.days()) if scope == "daily" else WEEKLY * len(window.weeks())


async def table(page: Page) -> dict[str, dict[str, tuple[int, int]]]:
    """What the user reads: per agent's row, each cell's checked / required."""
    rows = await page.locator("#coverage-rows tr").evaluate_all(
        """rows => rows.map(tr => [tr.dataset.agent,
             [...tr.querySelectorAll('td')].map(td => [td.dataset.cell,
               td.querySelector('.qa-cov-checked').textContent,
               td.querySelector('.qa-cov-expected').textContent])])"""
    )
    return {name: {c: (int(k), int(e)) for c, k, e in cells} for name, cells in rows}


def from_api(body: dict[str, object]) -> dict[str, dict[str, tuple[int, int]]]:
    agents: list[dict[str, dict[str, dict[str, int]]]] = body["agents"]  # type: ignore[assignment]
    return {
        str(a["agent"]["name"]): {
            f"{w}.{s}": (a[w][s]["checked"], a[w][s]["expected"]) for w, s in CELLS
        }
        for a in agents
    }


async def row_order(page: Page) -> list[str]:
    names = await page.locator("#coverage-rows tr").evaluate_all(
        "rows => rows.map(tr => tr.dataset.agent)"
    )
    return [str(n) for n in names]


async def test_a_team_lead_sees_who_is_behind_the_spot_check_rule(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    made, windows = await one_behind_one_on_track(hotline, tmp_path)
    week, month = windows["week"], windows["month"]
    tab = await open_tab(browser, locale="en-US")
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page).to_have_url(f"{hotline.base_url}/")
    await page.goto(f"{hotline.base_url}/qa")
    panel = page.locator("#coverage")
    await expect(panel.locator("h2")).to_have_text("Spot-check coverage")
    await expect(panel.locator("caption")).to_contain_text(
        "Recordings checked / required, per agent"
    )
    # This week and this month, as the API counts them.
    await expect(page.locator("#coverage-rows tr")).to_have_count(2)
    now = await api_json(page, "/api/qa/coverage")
    assert now["status"] == 200
    assert await table(page) == from_api(now["body"])
    await expect(page.locator("#coverage-week")).to_have_value(now["body"]["week"]["name"])

    # Last week and last month, chosen from the keyboard.
    await page.locator("#coverage-week").fill(week.name)
    await page.locator("#coverage-month").fill(month.name)
    await page.locator("#coverage-show").focus()
    await page.keyboard.press("Enter")
    year, number = week.name.split("-W")
    await expect(page.locator("#coverage-week-head")).to_contain_text(f"Week {int(number)}, {year}")
    built = {
        name: {f"{w}.{s}": (made.checked(name, windows[w], s), required(windows[w], s))
               for w, s in CELLS}
        for name in ("李娜", "张伟")
    }  # fmt: skip
    query = f"/api/qa/coverage?week={week.name}&month={month.name}"
    past = await api_json(page, query)
    assert from_api(past["body"]) == built
    assert await table(page) == built
    # 李娜's drawn but unchecked sample is no check: 3 of 14 for the team lead's week.
    assert built["李娜"]["week.daily"] == (3, 14)
    assert built["张伟"]["month.daily"] == (2 * len(month.days()), 2 * len(month.days()))
    assert Counter(b.checked for b in made.built if b.agent == "李娜")[False] == 1

    # The one behind comes first, marked in words as well as colour; the one on track is not.
    assert await row_order(page) == ["李娜", "张伟"]
    await expect(panel.locator("caption")).to_contain_text("Behind the rule first.")
    li = page.locator("#coverage-rows tr[data-agent='李娜']")
    zhang = page.locator("#coverage-rows tr[data-agent='张伟']")
    await expect(li.locator("th[scope=row] .qa-cov-badge")).to_have_text("Behind")
    await expect(li.locator("td[data-cell='week.daily']")).to_have_class("qa-cov-num qa-cov-short")
    await expect(li.locator("td[data-cell='week.daily'] .qa-cov-mark")).to_have_text("11 short")
    await expect(li.locator("td[data-cell='week.weekly'] .qa-cov-mark")).to_have_count(0)
    await expect(zhang.locator(".qa-cov-badge")).to_have_count(0)
    await expect(zhang.locator(".qa-cov-short")).to_have_count(0)

    # Sort by the team leads' week from the keyboard: most behind first, then the reverse.
    sort = page.locator("button[data-sort='week.daily']")
    await sort.focus()
    await page.keyboard.press("Enter")
    header = page.locator("th", has=sort)
    await expect(header).to_have_attribute("aria-sort", "descending")
    assert await row_order(page) == ["李娜", "张伟"]
    await page.keyboard.press("Enter")
    await expect(header).to_have_attribute("aria-sort", "ascending")
    assert await row_order(page) == ["张伟", "李娜"]
    await expect(panel.locator("caption")).not_to_contain_text("Behind the rule first.")
    assert tab.problems == []


async def fits(page: Page) -> None:
    """Neither the page nor the table's own box scrolls sideways."""
    await no_sideways_scroll(page)
    wide = await page.locator(".qa-cov-scroll").evaluate("box => box.scrollWidth - box.clientWidth")
    assert wide <= 0, f"the coverage table scrolls sideways by {wide} px"


async def test_on_a_phone_in_chinese_the_coverage_fits_and_an_agent_never_sees_it(
    hotline: Hotline, browser: Browser, tmp_path: Path
) -> None:
    _, windows = await one_behind_one_on_track(hotline, tmp_path)
    week, month = windows["week"], windows["month"]
    tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    page = tab.page
    await log_in(page, hotline.base_url, "wang")
    await expect(page).to_have_url(f"{hotline.base_url}/")
    await page.goto(f"{hotline.base_url}/qa")
    await page.locator("button[data-lang='zh-CN']").click()  # his profile says English
    await page.locator("#coverage-week").fill(week.name)
    await page.locator("#coverage-month").fill(month.name)
    await page.locator("#coverage-show").click()
    year, number = week.name.split("-W")
    await expect(page.locator("#coverage-week-head")).to_contain_text(f"{year}年第{int(number)}周")
    await expect(page.locator("#coverage h2")).to_have_text("抽查覆盖")
    await expect(page.locator("#coverage caption")).to_contain_text("已抽查 / 应抽查")
    await expect(page.locator("#coverage-rule")).to_contain_text("录音抽查制度")
    await expect(page.locator("button[data-sort='week.daily']")).to_have_text("领班(每日)")
    await expect(page.locator("button[data-sort='week.weekly']")).to_have_text("客服部长(每周)")
    li = page.locator("#coverage-rows tr[data-agent='李娜']")
    await expect(li.locator(".qa-cov-badge")).to_have_text("未达标")
    await expect(li.locator("td[data-cell='week.daily'] .qa-cov-mark")).to_have_text("差 11 条")
    past = await api_json(page, f"/api/qa/coverage?week={week.name}&month={month.name}")
    assert await table(page) == from_api(past["body"])
    assert await row_order(page) == ["李娜", "张伟"]
    await page.locator("#coverage-rows").scroll_into_view_if_needed()
    await fits(page)
    # Long names wrap in their cell rather than widen the table.
    await hotline.user("欧阳娜娜娜娜娜娜娜娜娜娜娜娜", "agent", "2003")
    await page.locator("#coverage-show").click()
    await expect(page.locator("#coverage-rows tr")).to_have_count(3)
    await fits(page)
    assert tab.problems == []

    # An agent on the same page: her evaluations, no coverage, and the API refuses her.
    agent_tab = await open_tab(browser, locale="zh-CN", width=PHONE[0], height=PHONE[1])
    agent = agent_tab.page
    await log_in(agent, hotline.base_url, "李娜")
    await expect(agent).to_have_url(f"{hotline.base_url}/desk")
    await agent.goto(f"{hotline.base_url}/qa")
    await expect(agent.locator("#evals-title")).to_have_text("我的测评")
    await expect(agent.locator("#evals-list .qa-open").first).to_be_visible()
    await expect(agent.locator("#coverage")).to_be_hidden()
    await expect(agent.locator("#coverage-rows tr")).to_have_count(0)
    assert (await api_json(agent, "/api/qa/coverage"))["status"] == 403
    await no_sideways_scroll(agent)
    assert agent_tab.problems == []
