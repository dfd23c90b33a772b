"""The real app served on a free 127.0.0.1 port for a browser test, on SQLite in the test's
folder with no broker and no HEP traffic: the settings every page test starts from, and the
sections a test changes on top of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from callcenter.app import SERVICES, build
from callcenter.config import parse_settings
from tests.integration.test_live_page import RINGS, Hotline


@asynccontextmanager
async def served(folder: Path, **sections: Any) -> AsyncIterator[Hotline]:
    raw: dict[str, Any] = {
        "database": {"url": f"sqlite+aiosqlite:///{folder}/t.sqlite3"},
        "mqtt": {"url": ""},
        "sip": {"hep_listen": "127.0.0.1:0"},
        "rings": RINGS,
        "web": {"listen": "127.0.0.1:0"},
        "recordings": {"root": str(folder / "recordings")},
    }
    app = build(parse_settings(raw | sections), migrate=True, mqtt=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    try:
        yield Hotline(f"http://{host}:{port}", app[SERVICES])
    finally:
        await runner.cleanup()
