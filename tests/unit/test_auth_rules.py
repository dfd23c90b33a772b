"""The login guard, shifts and the [auth] settings: pure rules on a fake clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callcenter.auth.guard import LoginGuard, TooManyAttempts
from callcenter.auth.shifts import Shift, on_shift, shifts_of
from callcenter.clock import FakeClock
from callcenter.config import ConfigError, parse_settings

MONDAY = datetime(2026, 11, 23)  # a Monday, local wall-clock time


def guard(clock: FakeClock, max_failures: int = 3, per_address: int = 100) -> LoginGuard:
    return LoginGuard(clock, max_failures, timedelta(minutes=15), per_address)


def test_a_lock_ends_after_the_lockout_and_starts_a_fresh_count() -> None:
    clock = FakeClock()
    g = guard(clock)
    for _ in range(3):
        g.failed(g.admit("lead", "10.0.0.1"))
    with pytest.raises(TooManyAttempts) as refused:
        g.admit("lead", "10.0.0.2")
    assert refused.value.details == {"retry_after": 900, "reason": "locked", "first": True}
    with pytest.raises(TooManyAttempts) as again:
        g.admit("lead", "10.0.0.2")
    assert again.value.details["first"] is False
    clock.advance(900)
    g.failed(g.admit("lead", "10.0.0.1"))
    g.failed(g.admit("lead", "10.0.0.1"))  # two of three: not locked again
    g.succeeded(g.admit("lead", "10.0.0.1"))


def test_failures_long_apart_are_forgotten() -> None:
    clock = FakeClock()
    g = guard(clock)
    for _ in range(5):  # five failures, each a lockout's length after the last: no lock
        g.failed(g.admit("lead", "10.0.0.1"))
        clock.advance(15 * 60)
    g.succeeded(g.admit("lead", "10.0.0.1"))


def test_attempts_being_checked_count_against_the_name() -> None:
    g = guard(FakeClock())
    tickets = [g.admit("lead", "10.0.0.1") for _ in range(3)]
    with pytest.raises(TooManyAttempts):
        g.admit("lead", "10.0.0.1")
    g.release(tickets[0])  # the database was down: that one counts for nothing
    g.succeeded(g.admit("lead", "10.0.0.1"))


def test_an_address_gets_so_many_failures_a_minute() -> None:
    clock = FakeClock()
    g = guard(clock, max_failures=100, per_address=2)
    g.failed(g.admit("a", "10.0.0.1"))
    clock.advance(30)
    g.failed(g.admit("b", "10.0.0.1"))
    with pytest.raises(TooManyAttempts) as refused:
        g.admit("c", "10.0.0.1")
    assert refused.value.details["retry_after"] == 30
    assert refused.value.details["reason"] == "throttled"
    g.admit("c", "10.0.0.2")  # another address is not held back
    clock.advance(30)
    g.admit("c", "10.0.0.1")


def test_spraying_names_does_not_grow_memory_without_bound() -> None:
    clock = FakeClock()
    g = LoginGuard(clock, 5, timedelta(minutes=15), 1_000_000, max_entries=1000)
    for i in range(10_000):
        g.failed(g.admit(f"name{i}", f"10.0.{i // 250}.{i % 250}"))
    assert len(g._names) + len(g._addresses) <= 1001


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (MONDAY.replace(hour=7, minute=29), False),
        (MONDAY.replace(hour=7, minute=30), True),  # within the 30 minutes of grace
        (MONDAY.replace(hour=16, minute=59), True),
        (MONDAY.replace(hour=17, minute=29), True),
        (MONDAY.replace(hour=17, minute=30), False),
        (MONDAY.replace(hour=9) + timedelta(days=2), False),  # Wednesday
    ],
)
def test_a_day_shift_with_grace(when: datetime, expected: bool) -> None:
    shift = Shift(user="li.na", days=("mon", "tue"), start="08:00", end="17:00")
    assert on_shift([shift], when, timedelta(minutes=30)) is expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (MONDAY - timedelta(hours=1), True),  # Sunday 23:00
        (MONDAY.replace(hour=5, minute=59), True),  # Monday morning: Sunday's shift
        (MONDAY.replace(hour=6), False),
        (MONDAY.replace(hour=23), False),  # Monday night: no shift starts on Monday
        (MONDAY - timedelta(hours=2, minutes=1), False),  # Sunday 21:59
    ],
)
def test_a_night_shift_crosses_midnight(when: datetime, expected: bool) -> None:
    shift = Shift(role="agent", days=("sun",), start="22:00", end="06:00")
    assert on_shift([shift], when) is expected


def test_a_users_own_shift_wins_over_their_roles() -> None:
    own = Shift(user="li.na", start="08:00", end="17:00")
    role = Shift(role="agent", start="20:00", end="08:00")
    assert shifts_of([own, role], "li.na", "agent") == [own]
    assert shifts_of([own, role], "wang.wei", "agent") == [role]
    assert shifts_of([own, role], "lead", "team_lead") == []


def test_auth_settings_and_shifts_parse() -> None:
    s = parse_settings(
        {
            "auth": {
                "max_failures": 3,
                "lockout_minutes": 5,
                "shifts": [
                    {"role": "agent", "days": ["sat", "sun"], "start": "22:00", "end": "06:00"}
                ],
            }
        }
    )
    assert s.auth.max_failures == 3 and s.auth.lockout_minutes == 5.0
    assert s.auth.shifts == (Shift(role="agent", days=("sat", "sun"), start="22:00", end="06:00"),)


DAY = {"start": "08:00", "end": "17:00"}


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"max_failures": 0}, "auth.max_failures"),
        ({"lockout_minutes": 0}, "auth.lockout_minutes"),
        ({"throttle_per_address_per_minute": 0}, "auth.throttle_per_address_per_minute"),
        ({"trust_forwarded_for": "yes"}, "auth.trust_forwarded_for"),
        ({"lockout": 5}, "auth.lockout"),
        ({"shifts": {"user": "x"}}, "auth.shifts"),
        ({"shifts": [DAY]}, "auth.shifts[0]"),
        ({"shifts": [{"user": "a", "role": "agent", **DAY}]}, "auth.shifts[0]"),
        ({"shifts": [{"role": "boss", **DAY}]}, "auth.shifts[0].role"),
        ({"shifts": [{"user": "a", "days": ["monday"], **DAY}]}, "auth.shifts[0].days"),
        ({"shifts": [{"user": "a", "start": "8am", "end": "17:00"}]}, "auth.shifts[0].start"),
        ({"shifts": [{"user": "a", "start": "08:00"}]}, "auth.shifts[0].end"),
        ({"shifts": [{"user": "a", "start": "08:00", "end": "08:00"}]}, "auth.shifts[0].end"),
    ],
)
def test_bad_auth_setting_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"auth": raw})
    assert err.value.key == key


@pytest.mark.parametrize(
    ("web", "secure"),
    [
        ({}, False),
        ({"listen": "127.0.0.1:8080"}, False),
        ({"listen": "[::1]:8080"}, False),
        ({"listen": "localhost:8080"}, False),
        ({"listen": "0.0.0.0:8080"}, True),
        ({"listen": "10.1.2.3:8080"}, True),
        ({"listen": "hotline.example:8080"}, True),
        ({"listen": "0.0.0.0:8080", "secure_cookies": False}, False),
        ({"listen": "127.0.0.1:8080", "secure_cookies": True}, True),
    ],
)
def test_secure_cookies_default_on_unless_listening_on_loopback(
    web: dict[str, object], secure: bool
) -> None:
    assert parse_settings({"web": web}).web.secure_cookies is secure
