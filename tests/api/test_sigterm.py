"""SIGTERM while the database is locked loses no call: the real `callcenter serve` process
gets HEP calls it cannot save, is told to stop, keeps them in a spill file, and the next
start saves them."""

from __future__ import annotations

import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from callcenter.telephony.hep import simulate as sim


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(workdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "callcenter", "--config", "cc.toml", "serve", "--migrate"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(check: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {within} s")


def health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def stored_calls(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(r[0] for r in conn.execute("SELECT sip_call_id FROM calls"))


def test_sigterm_while_the_database_is_locked_loses_no_call(tmp_path: Path) -> None:
    db = tmp_path / "cc.sqlite3"
    hep_port, web_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    (tmp_path / "cc.toml").write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\nshutdown_flush_seconds = 1.0\n'
        f'[web]\nlisten = "127.0.0.1:{web_port}"\n'
        "[health]\nwriter_lag_seconds = 0.5\n"
        f'[mqtt]\nembedded_listen = "127.0.0.1:{free_port(socket.SOCK_STREAM)}"\n'
        f'[sip]\nhep_listen = "127.0.0.1:{hep_port}"\n'
    )
    first = serve(tmp_path)
    try:
        wait_for(lambda: health(web_port) == 200, 30, "the service starts")
        locker = sqlite3.connect(db, timeout=0)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the database
        rng = random.Random(7)
        calls = [sim.new_call(rng, "2001", prefix=f"term{i}-") for i in range(4)]
        now = time.time()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for call in calls:
                plan = sim.plan_for("answered_on_time", rng, 5.0, 3)
                for _at, datagram in sim.datagrams(call, plan, now - 60):
                    out.sendto(datagram, ("127.0.0.1", hep_port))
        # Handled in memory; the writer is stuck behind the lock, and health says so.
        wait_for(lambda: health(web_port) == 503, 30, "saving falls behind")
        first.send_signal(signal.SIGTERM)
        output, _ = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, output
    spilled = list((tmp_path / "var" / "spill").glob("calls-*.json"))
    assert len(spilled) == 1, output
    assert "CRITICAL" in output and "the next start saves them" in output
    locker.rollback()
    locker.close()

    second = serve(tmp_path)
    try:
        expected = sorted(c.call_id for c in calls)
        wait_for(lambda: stored_calls(db) == expected, 30, "the spilled calls are saved")
        assert not list((tmp_path / "var" / "spill").glob("calls-*.json"))
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=60)
