"""Recordings arriving the ways a PBX delivers them, through the real composition root:
FreeSWITCH's RECORD_STOP from the fake event socket landing on its call, and the real spool
watcher (watchfiles on a temporary folder) taking complete files, quarantining bad ones with
their reason, and running on after each."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from callcenter.clock import SystemClock
from callcenter.recordings.model import blob_path
from tests.audio import audio
from tests.conftest import Hotline, HotlineFactory
from tests.fakes.esl_server import FakeEslServer
from tests.waiting import eventually

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "esl"
ESL_PASSWORD = "ClueCon-7f3a"
RECORDED: list[dict[str, str]] = json.loads(
    (FIXTURES / "recording_stopped.json").read_text(encoding="utf-8")
)["events"]
FS_RECORDINGS = "/var/lib/freeswitch/recordings"
SETTLE = 0.3


async def recordings(h: Hotline, headers: dict[str, str], query: str = "") -> list[Any]:
    response = await h.client.get(f"/api/recordings{query}", headers=headers)
    assert response.status == 200, await response.text()
    return list(await response.json())


# -- FreeSWITCH: record_session + RECORD_STOP over ESL ----------------------------------------
@pytest.fixture
async def fs() -> Any:
    server = FakeEslServer(ESL_PASSWORD)
    await server.start()
    yield server
    await server.close()


async def test_record_stop_over_esl_lands_the_recording_on_its_call(
    hotline_factory: HotlineFactory, sqlite_url: str, fs: FakeEslServer, tmp_path: Path
) -> None:
    mounted = tmp_path / "fs1-recordings"  # FreeSWITCH's recordings folder, mounted here
    record_stop = next(e for e in RECORDED if e["Event-Name"] == "RECORD_STOP")
    relative = Path(record_stop["Record-File-Path"]).relative_to(FS_RECORDINGS)
    (mounted / relative).parent.mkdir(parents=True)
    shutil.copyfile(audio().alaw[0], mounted / relative)
    h: Hotline = await hotline_factory(
        sqlite_url,
        clock=SystemClock(),
        rings={"cycle_seconds": 0.3, "limit": 3},
        recordings={
            "root": str(tmp_path / "rec"),
            "import_dirs": [str(mounted)],
            "path_map": [f"{FS_RECORDINGS}={mounted}"],
        },
        pbx=[{"id": "fs1", "kind": "esl", "port": fs.port, "password": ESL_PASSWORD}],
    )
    await h.add_user("li.na", "agent", "2001")
    lead = await h.token("lead", "team_lead")
    source = h.svc.sources["fs1"]
    await eventually(lambda: source.status.state == "connected")
    await fs.play(RECORDED, 0.06, max_gap=0.6)
    call_uuid = RECORDED[0]["Unique-ID"]

    async def landed() -> list[Any]:
        return [r for r in await recordings(h, lead) if r["call_id"] is not None]

    (rec,) = await eventually(landed, within=10)
    calls = await (await h.client.get("/api/calls", headers=lead)).json()
    (call,) = [c for c in calls if c["sip_call_id"] == call_uuid]
    assert rec["call_id"] == call["id"]
    assert (rec["via"], rec["source"], rec["call_ref"]) == ("esl", "fs1", call_uuid)
    assert rec["sha256"] == hashlib.sha256(audio().alaw[0].read_bytes()).hexdigest()
    assert (mounted / relative).exists()  # the PBX's own file is left where it is


# -- the spool directory ----------------------------------------------------------------------
@pytest.fixture
async def spooled(
    hotline_factory: HotlineFactory, sqlite_url: str, tmp_path: Path
) -> tuple[Hotline, Path, dict[str, str]]:
    spool = tmp_path / "spool"
    spool.mkdir()
    h: Hotline = await hotline_factory(
        sqlite_url,
        clock=SystemClock(),
        recordings={
            "root": str(tmp_path / "rec"),
            "spool_dir": str(spool),
            "spool_settle_seconds": SETTLE,
        },
    )
    return h, spool, await h.token("lead", "team_lead")


def quarantined(spool: Path) -> dict[str, str]:
    folder = spool / "quarantine"
    return {
        p.name.removesuffix(".reason.txt"): p.read_text(encoding="utf-8")
        for p in folder.glob("*.reason.txt")
    }


async def test_a_file_written_slowly_is_taken_only_when_complete(
    spooled: tuple[Hotline, Path, dict[str, str]],
) -> None:
    h, spool, lead = spooled
    data = audio().alaw[0].read_bytes()
    target = spool / "feedface-slow.wav"
    with target.open("wb") as fh:  # a PBX writing in place, in pieces
        for i in range(0, len(data), len(data) // 5):
            fh.write(data[i : i + len(data) // 5])
            fh.flush()
            await asyncio.sleep(SETTLE / 3)
    (rec,) = await eventually(lambda: recordings(h, lead), within=10)
    assert rec["sha256"] == hashlib.sha256(data).hexdigest()  # the whole file, not a part
    assert (rec["via"], rec["call_ref"]) == ("spool", "feedface-slow")
    await eventually(lambda: not target.exists())  # moved out of the spool: it is in the store
    root = h.svc.recording_service().root
    assert blob_path(root, rec["sha256"], "wav").read_bytes() == data


async def test_bad_files_are_quarantined_with_their_reason_and_the_watcher_runs_on(
    spooled: tuple[Hotline, Path, dict[str, str]], tmp_path: Path
) -> None:
    h, spool, lead = spooled
    a = audio()
    shutil.copyfile(a.not_audio, spool / "call-1.wav")
    shutil.copyfile(a.truncated_wav, spool / "call-2.wav")
    shutil.copyfile(a.zero, spool / "call-3.wav")
    shutil.copyfile(a.corrupt_mp3, spool / "call-4.mp3")
    shutil.copyfile(a.ulaw, spool / "readme.txt")  # not a name the pattern knows
    outside = tmp_path / "outside.wav"
    shutil.copyfile(a.alaw[1], outside)
    os.symlink(outside, spool / "call-5.wav")  # a path out of the spool
    shutil.copyfile(a.ulaw, spool / ".call-6.wav")  # a writer's temporary name: left alone
    found = await eventually(lambda: len(quarantined(spool)) == 6 and quarantined(spool), 10)
    assert {k: v.split(":")[0] for k, v in found.items()} == {
        "call-1.wav": "not-audio",
        "call-2.wav": "truncated-audio",
        "call-3.wav": "empty-file",
        "call-4.mp3": "corrupt-audio",
        "readme.txt": "bad-name",
        "call-5.wav": "not-a-regular-file",
    }
    assert (spool / "quarantine" / "call-1.wav").read_bytes() == a.not_audio.read_bytes()
    assert (spool / "quarantine" / "call-5.wav").is_symlink() and outside.exists()
    assert (spool / ".call-6.wav").exists()
    # Still watching: a good file after all that is stored, twice the same is stored once.
    shutil.copyfile(a.ulaw, spool / "call-7.wav")
    (rec,) = await eventually(lambda: recordings(h, lead), within=10)
    shutil.copyfile(a.ulaw, spool / "call-7-again.wav")
    await eventually(lambda: not (spool / "call-7-again.wav").exists(), within=10)
    assert [r["id"] for r in await recordings(h, lead)] == [rec["id"]]
    assert await recordings(h, lead, "?unlinked=true") != []  # no such call: waits, unlinked
    status = h.svc.spool.status() if h.svc.spool else {}
    assert status["quarantined"] == 6 and status["taken"] == 2


async def test_files_already_in_the_spool_at_start_are_taken(
    hotline_factory: HotlineFactory, sqlite_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    shutil.copyfile(audio().mp3, spool / "waiting.mp3")
    h: Hotline = await hotline_factory(
        sqlite_url,
        clock=SystemClock(),
        recordings={
            "root": str(tmp_path / "rec"),
            "spool_dir": str(spool),
            "spool_settle_seconds": SETTLE,
        },
    )
    lead = await h.token("lead", "team_lead")
    (rec,) = await eventually(lambda: recordings(h, lead), within=10)
    assert rec["call_ref"] == "waiting" and not (spool / "waiting.mp3").exists()
