"""Reading the reports page (/reports) as a user does, and holding it against the API's JSON:
the helpers of test_reports_page.py."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, Page, expect

from tests.conftest import PASSWORD, Hotline
from tests.integration.test_live_page import Tab, log_in, open_tab

Day = dict[str, dict[str, str]]
SHANGHAI = ZoneInfo("Asia/Shanghai")
COLUMNS = ["cumulative_reports", "cumulative_repairs", "unfinished", "reports", "repairs"]
CALLS = ["offered", "answered", "answered_within_limit", "abandoned", "within_limit_rate"]


def base_url(h: Hotline) -> str:
    return str(h.client.make_url("")).rstrip("/")


async def reports_tab(
    browser: Browser,
    h: Hotline,
    query: str,
    locale: str = "zh-CN",
    size: tuple[int, int] = (1100, 900),
    name: str = "boss",
) -> Tab:
    """Signed in as `name` (the day's supervisor unless told), on /reports`query`."""
    tab = await open_tab(browser, locale=locale, width=size[0], height=size[1])
    await log_in(tab.page, base_url(h), name, PASSWORD)
    await expect(tab.page).not_to_have_url(re.compile(r"/login$"))
    await tab.page.goto(f"{base_url(h)}/reports{query}")
    return tab


async def shown(page: Page) -> dict[str, Any]:
    """What the form shows, read from the page as a user reads it (the cells' text)."""
    await expect(page.locator("#form")).to_be_visible()
    await expect(page.locator("#status")).to_have_text("")
    text: dict[str, Any] = await page.evaluate(
        """() => {
          const text = (el) => el.textContent.trim();
          const cells = (sel) => [...document.querySelectorAll(sel)].map(text);
          const fields = {};
          for (const dd of document.querySelectorAll("#form [data-field]")) {
            fields[dd.dataset.field] = text(dd);
          }
          return {
            title: text(document.getElementById("form-title")),
            subtitle: text(document.getElementById("form-subtitle")),
            firstLine: cells("#first-line dt"),
            head: cells("#station-head th"),
            rows: [...document.querySelectorAll("#station-rows tr")].map((tr) => ({
              code: tr.dataset.code,
              name: text(tr.querySelector("th")),
              cells: [...tr.querySelectorAll("td")].map((td) => [td.dataset.col, text(td)]),
            })),
            fields,
            generated: text(document.getElementById("generated")),
            verdict: text(document.getElementById("verdict")),
          };
        }"""
    )
    return text


def at(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for key in path.split("."):
        value = value[key]
    return value


def local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def assert_cells_are_the_json(page: dict[str, Any], body: dict[str, Any]) -> None:
    """Every figure on the page is the API's, and none of the API's figures is missing."""
    s, h = body["summary"], body["hotline"]
    expected = [f"summary.{k}" for k in ("repair_reports", "consultations", "repaired",
                                         "called_back")]  # fmt: skip
    expected += [f"summary.categories.{k}" for k in s["categories"]]
    expected += [f"hotline.calls.{k}" for k in CALLS]
    expected += [f"hotline.violations.{k}" for k in h["violations"]]
    expected += [f"hotline.anomalies.{k}" for k in h["anomalies"]]
    expected += [f"hotline.callbacks.{k}" for k in ("owed", "made_in_time", "rate")]
    assert sorted(page["fields"]) == sorted(expected)
    for path, text in page["fields"].items():
        value = at(body, path)
        if path.endswith("rate") and value is not None:
            assert abs(float(text.rstrip("%")) / 100 - value) < 5e-4, (path, text, value)
        elif path.endswith("rate"):
            assert text == "—", (path, text)
        else:
            assert text == str(value), (path, text, value)
    rows = [body["total"], *body["stations"]]
    # 总计 under the header, then every station in the form's order (004's sheet), 未分站 last.
    assert [r["code"] for r in page["rows"]] == [
        "total",
        *(r["code"] or "" for r in body["stations"]),
    ]
    for on_page, row in zip(page["rows"], rows, strict=True):
        assert on_page["cells"] == [[c, str(row[c])] for c in COLUMNS], row["code"]


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
