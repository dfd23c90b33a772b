"""A wallboard's charts (GET /api/wallboard/charts/{name}): today's, drawn exactly as the
reports' charts for the same day, opened with the board's token and nothing else; the chart
that names agents is not a board's."""

from __future__ import annotations

import pytest

from tests.api.test_wallboard_api import (
    TODAY,
    boss,  # noqa: F401 (a fixture)
    build_day,
    create,
    hotline,  # noqa: F401 (a fixture)
)
from tests.conftest import Hotline


@pytest.mark.parametrize("name", ["hourly", "rings", "stations", "anomalies"])
async def test_a_boards_chart_is_the_reports_chart_of_today(
    hotline: Hotline,  # noqa: F811
    boss: dict[str, str],  # noqa: F811
    name: str,
) -> None:
    await build_day(hotline)
    token = (await create(hotline, boss))["token"]
    for lang in ("zh-CN", "en"):
        board = await hotline.client.get(
            f"/api/wallboard/charts/{name}", params={"token": token, "lang": lang}
        )
        assert board.status == 200, await board.text()
        assert board.headers["Content-Type"].startswith("image/svg+xml")
        assert board.headers["Cache-Control"] == "no-store"
        report = await hotline.client.get(
            f"/api/reports/charts/{name}", params={"date": TODAY, "lang": lang}, headers=boss
        )
        assert await board.text() == await report.text()


async def test_the_token_is_needed_and_agents_are_not_ranked_on_a_board(
    hotline: Hotline,  # noqa: F811
    boss: dict[str, str],  # noqa: F811
) -> None:
    await build_day(hotline)
    token = (await create(hotline, boss))["token"]
    missing = await hotline.client.get("/api/wallboard/charts/hourly")
    assert missing.status == 401
    assert (await missing.json())["error"] == "wallboard-token-missing"
    # A user's login does not open a board's route either.
    as_boss = await hotline.client.get("/api/wallboard/charts/hourly", headers=boss)
    assert as_boss.status == 401
    agents = await hotline.client.get("/api/wallboard/charts/agents", params={"token": token})
    assert agents.status == 404
    assert (await agents.json())["error"] == "no-such-chart"
    bad = await hotline.client.get(
        "/api/wallboard/charts/hourly", params={"token": token, "lang": "fr"}
    )
    assert bad.status == 400 and (await bad.json())["field"] == "lang"
    revoked = await create(hotline, boss, "走廊")
    gone = await hotline.client.delete(f"/api/wallboard/tokens/{revoked['id']}", headers=boss)
    assert gone.status == 200
    refused = await hotline.client.get(
        "/api/wallboard/charts/hourly", params={"token": revoked["token"]}
    )
    assert refused.status == 401
    assert (await refused.json())["error"] == "wallboard-token-revoked"
