"""Fixtures that start REAL servers for the integration tests (helpers: ``bench/``).

Session scope (started lazily, once, stopped at the end of the session even when
tests fail; all synchronous, so they work from any event loop):

``hep_port`` -> int
    A free UDP port on 127.0.0.1 for the service's HEP listener; the ``kamailio``
    proxy mirrors all SIP traffic there.
``start_kamailio`` -> ``bench.KamailioFactory``
    ``start_kamailio(hep_port, *, fr_inv_timeout_ms=4000, fr_timeout_ms=2000)
    -> KamailioProxy(host, port, hep_port, agent_port_base, log_path, ...)``.
    Asking twice with the same arguments returns the same running proxy.
``kamailio`` -> ``bench.KamailioProxy``
    ``start_kamailio(hep_port)`` - the proxy most tests want.
``mosquitto`` -> ``bench.MosquittoBroker``
    ``.host``, ``.port``, ``.url`` ("mqtt://127.0.0.1:PORT"), ``.restart()``,
    ``.stop()``/``.start()``; persistence on.  Tests that stop it must start it again.
``postgres`` -> ``bench.PostgresCluster``  (``.url(db)``, ``.dsn(db)``, ``.psql(sql)``)
``postgres_url`` -> str
    "postgresql+asyncpg://postgres@127.0.0.1:PORT/callcenter_test".

Function scope:

``fresh_postgres_url`` -> str
    URL of a brand-new empty database (dropped after the test).

Calls are placed with ``await bench.place_call(kamailio, 2001, answer_after_ms=300)``
(see ``bench/``).  A SIPp left running by a test is killed at its teardown.
A missing server binary FAILS the run (never skips).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.integration import bench

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def _bench_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SIPp logs, rendered configs and server logs live under this directory."""
    path = tmp_path_factory.mktemp("bench")
    bench.set_artifacts_dir(path / "sipp")
    return path


@pytest.fixture(autouse=True)
def _kill_leftover_sipp() -> Iterator[None]:
    yield
    bench.kill_leftover_processes()


@pytest.fixture(scope="session")
def hep_port() -> int:
    return bench.free_udp_port()


@pytest.fixture(scope="session")
def start_kamailio(_bench_artifacts: Path) -> Iterator[bench.KamailioFactory]:
    bench.check_kamailio_installed()
    bench.require_executable("sipp", "sipp (sip-tester)")
    factory = bench.KamailioFactory(_bench_artifacts / "kamailio")
    try:
        yield factory
    finally:
        bench.kill_leftover_processes()
        factory.stop_all()


@pytest.fixture(scope="session")
def kamailio(start_kamailio: bench.KamailioFactory, hep_port: int) -> bench.KamailioProxy:
    return start_kamailio(hep_port)


@pytest.fixture(scope="session")
def mosquitto(_bench_artifacts: Path) -> Iterator[bench.MosquittoBroker]:
    broker = bench.MosquittoBroker(_bench_artifacts / "mosquitto")
    broker.base_dir.mkdir(parents=True, exist_ok=True)
    try:
        broker.start()
        yield broker
    finally:
        broker.stop()


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright downloads no browser of its own here


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, for the page tests."""
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()
