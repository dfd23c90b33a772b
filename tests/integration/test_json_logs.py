"""log.format = "json" on the real `callcenter serve` (PostgreSQL): every line of standard
error is one JSON object with time, level, logger and message, and none of the secrets
the configuration and the clients hand it — the database, MQTT, HEP and AMI passwords, the
metrics token, a user's password (right or wrong), an API token — appears in the log."""

from __future__ import annotations

import json
import random
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

from callcenter.telephony.hep import simulate as sim
from tests.process import command, free_port, health, serve, wait_for

SECRETS = {
    "database": "DbPassw0rd-4ac1",
    "mqtt": "MqttPassw0rd-77e0",
    "hep": "HepPassw0rd-19bd",
    "ami": "AmiS3cret-c0de",
    "metrics": "MetricsTok3n-0123456789abcdef",
    "user": "UserPassw0rd-5e5e",
    "wrong": "WrongPassw0rd-dead",
}


def request(port: int, path: str, body: dict[str, str] | None = None, token: str = "") -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_json_log_lines_carry_their_fields_and_no_secret(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    web, hep, dead = free_port(), free_port(socket.SOCK_DGRAM), free_port()
    db_url = fresh_postgres_url.replace("postgres@", f"postgres:{SECRETS['database']}@")
    config = tmp_path / "cc.toml"
    config.write_text(
        '[log]\nformat = "json"\nlevel = "debug"\n'
        f'[database]\nurl = "{db_url}"\n'
        f'[web]\nlisten = "127.0.0.1:{web}"\n'
        f'[mqtt]\nurl = "mqtt://svc:{SECRETS["mqtt"]}@127.0.0.1:{dead}"\n'
        f'[metrics]\ntoken = "{SECRETS["metrics"]}"\n'
        '[speech]\nenabled = "off"\n'
        f'[[pbx]]\nid = "hep"\nkind = "hep"\nhost = "127.0.0.1"\nport = {hep}\n'
        f'password = "{SECRETS["hep"]}"\n'
        f'[[pbx]]\nid = "ami"\nkind = "ami"\nhost = "127.0.0.1"\nport = {dead}\n'
        f'username = "cc"\nsecret = "{SECRETS["ami"]}"\n'
    )
    logged = []
    for args, stdin in (
        (("db", "upgrade"), ""),
        (("user", "add", "lead", "--role", "team_lead"), SECRETS["user"] + "\n"),
        (("token", "create", "lead"), ""),
    ):
        done = command(config, *args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        logged.append(done.stderr)
    token = done.stdout.strip()

    service = serve(config)
    try:
        wait_for(lambda: health(web) is not None, 30, "the service answers")
        assert request(web, "/api/login", {"name": "lead", "password": SECRETS["wrong"]}) == 401
        assert request(web, "/api/login", {"name": "lead", "password": SECRETS["user"]}) == 200
        assert request(web, "/api/me", token=token) == 200
        assert request(web, "/api/me", token=token[::-1]) == 401
        assert request(web, "/metrics", token=SECRETS["metrics"]) == 200
        call = sim.new_call(random.Random(3), "2001", prefix="json-")
        plan = sim.plan_for("answered_on_time", random.Random(3), 5.0, 3)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
            for key in (SECRETS["hep"], SECRETS["hep"][::-1]):  # the right key and a wrong one
                for _at, datagram in sim.datagrams(call, plan, time.time(), auth_key=key.encode()):
                    out.sendto(datagram, ("127.0.0.1", hep))
        time.sleep(1.0)  # the AMI source retries and the HEP listener counts the wrong key
        service.send_signal(signal.SIGTERM)
        stdout, stderr = service.communicate(timeout=60)
    finally:
        if service.poll() is None:
            service.kill()
    assert service.returncode == 0, stderr
    logged.append(stderr)

    lines = [line for text in logged for line in text.splitlines()]
    assert len(lines) > 10
    for line in lines:
        body = json.loads(line)
        assert {"time", "level", "logger", "message"} <= body.keys(), line
        assert body["time"].endswith("Z")
    messages = [json.loads(line)["message"] for line in lines]
    assert any("bad HEP input kind=hep:auth-key" in m for m in messages)  # the wrong key, seen
    assert any("token created" in m for m in messages)
    everything = "\n".join(logged) + stdout
    for name, secret in [*SECRETS.items(), ("api token", token)]:
        assert secret not in everything, f"the {name} is in the log"
