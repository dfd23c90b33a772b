"""The stations list and the address check the desk calls as the agent types."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.errors import StartupError
from tests.conftest import Hotline, HotlineFactory


async def test_stations_are_listed_to_every_signed_in_role(hotline: Hotline) -> None:
    station = await hotline.token("station1", "station")
    response = await hotline.client.get("/api/stations", headers=station)
    assert response.status == 200
    stations = await response.json()
    assert len(stations) == 17
    assert stations[0] == {"code": "hongcheng", "name": "宏城", "phone": "0316-5210101"}
    assert (await hotline.client.get("/api/stations")).status == 401


async def test_address_check_gives_the_standard_form_and_the_proposed_station(
    hotline: Hotline,
) -> None:
    agent = await hotline.token("li.na", "agent", "2001")
    response = await hotline.client.get(
        "/api/address/normalize", params={"q": "幸福里小区三栋二单元502"}, headers=agent
    )
    assert response.status == 200
    body = await response.json()
    assert body["standard"] == "城关区幸福路幸福里3号楼2单元502室"
    assert (body["building"], body["unit"], body["room"]) == ("3", "2", "502")
    assert body["status"] == "matched"
    assert body["station"]["code"] == "xingfu" and body["station"]["name"] == "幸福"


async def test_an_address_no_rule_names_is_flagged(hotline: Hotline) -> None:
    agent = await hotline.token("li.na", "agent", "2001")
    response = await hotline.client.get(
        "/api/address/normalize", params={"q": "火星路1号"}, headers=agent
    )
    body = await response.json()
    assert body["status"] == "unmatched" and body["station"] is None and body["reason"]


async def test_address_check_needs_q_and_a_role_that_takes_tickets(hotline: Hotline) -> None:
    agent = await hotline.token("li.na", "agent", "2001")
    station = await hotline.token("station1", "station")
    missing = await hotline.client.get("/api/address/normalize", headers=agent)
    assert missing.status == 400 and (await missing.json())["field"] == "q"
    long = await hotline.client.get(
        "/api/address/normalize", params={"q": "幸" * 201}, headers=agent
    )
    assert long.status == 400 and (await long.json())["error"] == "too-long"
    refused = await hotline.client.get(
        "/api/address/normalize", params={"q": "幸福里"}, headers=station
    )
    assert refused.status == 403


async def test_a_missing_address_book_stops_start_up_naming_the_key(
    hotline_factory: HotlineFactory, db_url: str, tmp_path: Path
) -> None:
    with pytest.raises(StartupError, match=r"tickets\.stations_file"):
        await hotline_factory(db_url, tickets={"stations_file": str(tmp_path / "none.toml")})
