"""[probe]: every error names its key; the password comes from the file or the environment
and is never shown."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.config import ConfigError, parse_settings
from callcenter.probe.settings import PASSWORD_ENV, parse_probe

GOOD = {
    "enabled": True,
    "registrar": "10.0.0.5:5060",
    "username": "8999",
    "password": "s3cret-from-file",
    "number": "96069",
    "listen": "10.0.0.9:5062",
}


def error_key(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_probe(raw, environ={})
    return caught.value.key


def test_a_complete_probe_section_parses() -> None:
    s = parse_probe(GOOD, environ={})
    assert s.registrar == ("10.0.0.5", 5060)
    assert s.listen == ("10.0.0.9", 5062)
    assert s.caller_numbers == frozenset({"8999"})
    assert s.configured


def test_the_environment_password_wins_and_no_repr_shows_either() -> None:
    s = parse_probe(GOOD, environ={PASSWORD_ENV: "s3cret-from-env"})
    assert s.password == "s3cret-from-env"
    shown = repr(parse_settings({"probe": GOOD}))
    assert "s3cret" not in shown


@pytest.mark.parametrize("key", ["registrar", "username", "number"])
def test_enabled_needs_registrar_username_and_number(key: str) -> None:
    assert error_key({k: v for k, v in GOOD.items() if k != key}) == f"probe.{key}"


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"registrar": "pbx"}, "probe.registrar"),
        ({"listen": "0.0.0.0:5062"}, "probe.listen"),
        ({"rtp_ports": "30010-30000"}, "probe.rtp_ports"),
        ({"number": "96069; drop"}, "probe.number"),
        ({"ring_limit_seconds": 0}, "probe.ring_limit_seconds"),
        ({"ring_limit_seconds": 20.0, "answer_limit_seconds": 10.0}, "probe.answer_limit_seconds"),
        ({"interval_seconds": 30.0, "answer_limit_seconds": 30.0}, "probe.interval_seconds"),
        ({"down_after": 0}, "probe.down_after"),
        ({"callers": "8999"}, "probe.callers"),
        ({"enabled": "yes"}, "probe.enabled"),
        ({"password": 1234}, "probe.password"),
        ({"bogus": 1}, "probe.bogus"),
    ],
)
def test_a_bad_value_names_its_key(raw: dict[str, Any], key: str) -> None:
    assert error_key(raw) == key


def test_the_password_is_never_in_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_probe({**GOOD, "listen": "0.0.0.0:1"}, environ={})
    assert "s3cret" not in str(caught.value)


def test_callers_name_the_numbers_the_pbx_shows_for_the_probe() -> None:
    s = parse_probe({**GOOD, "callers": ["8999", "057188888888"]}, environ={})
    assert s.caller_numbers == frozenset({"8999", "057188888888"})


def test_no_probe_section_means_no_probe() -> None:
    s = parse_settings({}).probe
    assert (s.enabled, s.configured, s.caller_numbers) == (False, False, frozenset())


def test_probe_once_without_a_probe_section_names_the_missing_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from callcenter.cli import main

    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    assert main(["probe", "--once"]) == 2
    assert "probe.registrar is not set" in capsys.readouterr().err
