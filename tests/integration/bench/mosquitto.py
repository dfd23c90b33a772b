"""The bench MQTT broker: a real Mosquitto on 127.0.0.1 with persistence on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.bench.processes import (
    LOCALHOST,
    ManagedProcess,
    free_tcp_port,
    log_tail,
    require_executable,
    tcp_port_accepts,
    wait_until,
)


class MosquittoBroker:
    """``mosquitto -c <conf>`` on 127.0.0.1:``port`` with anonymous access.

    Persistence is on (``data_dir``, autosave every second), so ``restart()``
    keeps retained messages and persistent sessions - a broker-restart test can
    ``stop()``, assert the service notices, then ``start()`` again on the same port.
    """

    def __init__(self, base_dir: Path, port: int | None = None):
        self.host = LOCALHOST
        self.port = port or free_tcp_port()
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.conf_path = base_dir / "mosquitto.conf"
        self.log_path = base_dir / "mosquitto.log"
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def write_conf(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(
            "\n".join(
                [
                    "# callcenter integration test broker (tests/integration/bench/mosquitto.py)",
                    "per_listener_settings false",
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.data_dir}/",
                    "autosave_interval 1",
                    # started as root: stay root instead of switching to user mosquitto,
                    # which could not write the pytest tmp dir
                    "user root",
                    "log_dest stderr",
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "log_type information",
                    "connection_messages true",
                    "",
                ]
            )
        )

    def start(self) -> None:
        exe = require_executable("mosquitto", "mosquitto")
        if self._process is not None and self._process.alive():
            return
        self.write_conf()
        self._process = ManagedProcess("mosquitto", [exe, "-c", str(self.conf_path)], self.log_path)
        self._process.start()
        ok = wait_until(lambda: not self._process.alive() or tcp_port_accepts(self.port), 10.0)
        if not ok or not self._process.alive():
            self._process.stop()
            pytest.fail(
                f"mosquitto did not start on {self.port}:\n{log_tail(self.log_path)}", pytrace=False
            )

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def alive(self) -> bool:
        return self._process is not None and self._process.alive()
