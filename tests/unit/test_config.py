"""Settings: defaults, the shipped file, and errors that name the key."""

from pathlib import Path

import pytest

from callcenter.config import ConfigError, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[2]


def test_shipped_file_holds_the_embedded_defaults() -> None:
    shipped = load_settings(REPO / "config" / "callcenter.toml")
    defaults = parse_settings({}, base_dir=shipped.base_dir)
    assert shipped == defaults
    assert str(defaults.web.listen) == "127.0.0.1:8080"
    assert str(defaults.sip.hep_listen) == "127.0.0.1:9060"
    assert defaults.rings.cycle_seconds == 5.0 and defaults.rings.limit == 3
    assert defaults.mqtt.embedded and defaults.recordings.root == "recordings"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"web": {"lisen": "x"}}, "web.lisen"),
        ({"rings": {"cycle_seconds": -1}}, "rings.cycle_seconds"),
        ({"rings": {"cycle_seconds": "5"}}, "rings.cycle_seconds"),
        ({"rings": {"limit": 0}}, "rings.limit"),
        ({"rings": {"limit": True}}, "rings.limit"),
        ({"sip": {"hep_listen": "9060"}}, "sip.hep_listen"),
        ({"sip": {"hep_listen": "127.0.0.1:99999"}}, "sip.hep_listen"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"mqtt": {"url": "http://broker"}}, "mqtt.url"),
        ({"web": {"timezone": "Mars/Olympus"}}, "web.timezone"),
        ({"sip": {"max_ring_seconds": 10.0}}, "sip.max_ring_seconds"),
        ({"pbxx": {}}, "pbxx"),
        ({"web": "8080"}, "web"),
    ],
)
def test_bad_setting_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(raw)
    assert err.value.key == key


def test_integer_is_accepted_where_seconds_are_expected() -> None:
    assert parse_settings({"rings": {"cycle_seconds": 4}}).rings.cycle_seconds == 4.0


def test_external_broker_url_gives_host_port_and_credentials() -> None:
    mqtt = parse_settings({"mqtt": {"url": "mqtt://svc:s3cret@broker.local:1884"}}).mqtt
    assert (mqtt.broker.host, mqtt.broker.port) == ("broker.local", 1884)
    assert (mqtt.username, mqtt.password) == ("svc", "s3cret")


def test_relative_sqlite_path_is_resolved_against_the_start_directory(tmp_path: Path) -> None:
    settings = parse_settings({}, base_dir=tmp_path)
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/var/callcenter.sqlite3"


def test_pbx_tables_get_default_ports_and_hide_their_secrets() -> None:
    s = parse_settings(
        {
            "pbx": [
                {"id": "ast1", "kind": "ami", "username": "cc", "secret": "hunter22"},
                {"id": "fs1", "kind": "esl", "password": "ClueCon1"},
                {"id": "bridge1", "kind": "mqtt"},
            ]
        }
    )
    assert [(p.id, p.port) for p in s.pbx] == [("ast1", 5038), ("fs1", 8021), ("bridge1", 0)]
    assert "hunter22" not in repr(s) and "ClueCon1" not in repr(s)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"pbx": [{"id": "a", "kind": "ami", "username": "u"}]}, "pbx.a.secret"),
        ({"pbx": [{"id": "f", "kind": "esl"}]}, "pbx.f.password"),
        ({"pbx": [{"id": "x", "kind": "sccp"}]}, "pbx.x.kind"),
        ({"pbx": [{"id": "Bad Id", "kind": "hep"}]}, "pbx[0].id"),
        ({"pbx": [{"id": "a", "kind": "hep"}, {"id": "a", "kind": "hep"}]}, "pbx[1].id"),
        ({"pbx": [{"id": "a", "kind": "hep", "colour": 1}]}, "pbx[0].colour"),
        ({"pbx": {"id": "a"}}, "pbx"),
        ({"rings": {"on_ring_limit": "page"}}, "rings.on_ring_limit"),
        ({"rings": {"on_ring_limit": "overflow"}}, "rings.overflow_target"),
        (
            {"rings": {"actions": [{"on_ring_limit": "overflow", "target": "8"}]}},
            "rings.actions[0]",
        ),
        (
            {"rings": {"actions": [{"queue": "q", "on_ring_limit": "overflow"}]}},
            "rings.actions[0].target",
        ),
    ],
)
def test_bad_source_or_action_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(raw)
    assert err.value.key == key


def test_extension_rule_wins_over_its_queue_rule() -> None:
    rings = parse_settings(
        {
            "rings": {
                "actions": [
                    {"queue": "repairs", "on_ring_limit": "overflow", "target": "8000"},
                    {"extension": "2001", "on_ring_limit": "alert"},
                ]
            }
        }
    ).rings
    assert rings.action_for("repairs", "2001").on_ring_limit == "alert"
    assert rings.action_for("repairs", "2002").target == "8000"
    assert rings.action_for(None, "2002").on_ring_limit == "alert"
