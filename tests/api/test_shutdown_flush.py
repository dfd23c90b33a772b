"""What a shutdown still owes is delivered before the service exits: recordings the PBX
announced (it announces each once) are stored, and the MQTT messages queued — the alerts
and violations of the last save — reach the broker."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from callcenter import db
from callcenter.recordings.store import RecordingRow
from callcenter.signals import RecordingReady
from tests.audio import CORPUS, audio
from tests.conftest import HotlineFactory


async def test_recordings_announced_before_shutdown_are_stored(
    hotline_factory: HotlineFactory, db_url: str
) -> None:
    h = await hotline_factory(db_url, recordings={"import_dirs": [str(CORPUS)]})
    recordings = h.svc.recording_service()
    for i, leg in enumerate(audio().alaw):
        at = datetime.now(UTC)
        recordings.on_recording_ready(RecordingReady("fs", f"uuid-{i}", f"leg-{i}", str(leg), at))
    await h.client.close()  # the shutdown, at once: the two are still being analysed

    engine = db.create_engine(db_url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(RecordingRow))).scalar()
    finally:
        await engine.dispose()
    assert stored == len(audio().alaw)
