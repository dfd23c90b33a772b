"""A ticket's recordings: those of its calls appear on it, and the agent who took a ticket
on a colleague's call may hear that call's recording (首问责任制: they follow it up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_recordings_api import answered_call, stored
from tests.audio import audio
from tests.conftest import Hotline, HotlineFactory


@pytest.fixture
async def hotline(hotline_factory: HotlineFactory, db_url: str, tmp_path: Path) -> Hotline:
    h: Hotline = await hotline_factory(db_url, recordings={"root": str(tmp_path / "rec")})
    return h


async def test_the_recording_of_a_tickets_call_is_on_the_ticket_and_heard_by_its_owner(
    hotline: Hotline,
) -> None:
    answering = await hotline.token("wang.wei", "agent", "2002")
    taker = await hotline.token("li.na", "agent", "2001")
    other = await hotline.token("zhao.lei", "agent", "2003")
    call_id = await answered_call(hotline, "sip-ticket", "2002")
    rec = await stored(hotline, audio().alaw[0], call_id)
    # li.na takes the follow-up ticket on wang.wei's call (a callback, named by hand).
    response = await hotline.client.post(
        "/api/tickets",
        json={"kind": "consultation", "description": "问收费", "call": call_id},
        headers=taker,
    )
    assert response.status == 201, await response.text()
    ticket = await response.json()
    assert [r["id"] for r in ticket["recordings"]] == [rec["id"]]
    assert ticket["recordings"][0]["call_id"] == call_id
    heard = f"/api/recordings/{rec['id']}"
    assert (await hotline.client.get(heard, headers=answering)).status == 200
    assert (await hotline.client.get(heard, headers=taker)).status == 200
    assert (await hotline.client.get(heard, headers=other)).status == 403
    listed = await hotline.client.get(f"/api/recordings?ticket={ticket['id']}", headers=taker)
    assert [r["id"] for r in await listed.json()] == [rec["id"]]
