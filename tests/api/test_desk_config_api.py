"""GET /api/desk/config: the intake script's opening today in the hotline's zone (您好, or the
holiday greeting on the announced dates, both ends included)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.clock import FakeClock
from tests.conftest import HotlineFactory

SPRING = {"from": "2027-02-10", "to": "2027-02-17", "opening": "新年好"}


@pytest.mark.parametrize(
    ("utc", "opening"),
    [
        # 2027-02-10 00:30 in Shanghai while UTC still says the 9th: the first day.
        (datetime(2027, 2, 9, 16, 30, tzinfo=UTC), "新年好"),
        (datetime(2027, 2, 17, 15, 59, tzinfo=UTC), "新年好"),  # the last day, 23:59
        (datetime(2027, 2, 17, 16, 0, tzinfo=UTC), "您好"),  # the 18th has begun
        (datetime(2027, 2, 9, 15, 59, tzinfo=UTC), "您好"),
    ],
)
async def test_the_opening_follows_the_holidays_in_the_hotline_zone(
    hotline_factory: HotlineFactory, db_url: str, utc: datetime, opening: str
) -> None:
    h = await hotline_factory(db_url, clock=FakeClock(utc), desk={"holidays": [SPRING]})
    headers = await h.token("李娜", "agent", "8001")
    response = await h.client.get("/api/desk/config", headers=headers)
    assert response.status == 200
    body = await response.json()
    assert body["opening"] == opening
    assert body["timezone"] == "Asia/Shanghai"
    assert body["holidays"] == [SPRING]


async def test_signed_out_is_401(hotline_factory: HotlineFactory, db_url: str) -> None:
    h = await hotline_factory(db_url)
    response = await h.client.get("/api/desk/config")
    assert response.status == 401
