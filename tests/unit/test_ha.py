"""The pair's pure parts: the standby's feed of kept signals and the [ha] settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter import signals as t
from callcenter.config import ConfigError, parse_settings
from callcenter.ha.feed import Feed

AT = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
PG = "postgresql+asyncpg://cc@db/callcenter"


def offer(call_id: str) -> t.CallOffered:
    return t.CallOffered("hep", call_id, "ft", AT, "13800000001", "96069")


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_standby_keeps_what_it_hears_and_hands_it_over_in_order() -> None:
    feed = Feed(keep_seconds=15)
    for n in range(3):
        feed.handle(offer(f"c{n}"))
    caught: list[t.SourceEvent] = []
    live: list[t.SourceEvent] = []
    assert feed.hand_over(caught.extend, live.append) == 3
    feed.handle(offer("after"))
    assert [e.call_id for e in caught if isinstance(e, t.CallOffered)] == ["c0", "c1", "c2"]
    assert [e.call_id for e in live if isinstance(e, t.CallOffered)] == ["after"]
    assert feed.kept == 0


def test_signals_older_than_the_backlog_are_not_kept() -> None:
    clock = Ticking()
    feed = Feed(keep_seconds=15, monotonic=clock)
    feed.handle(offer("old"))
    clock.now = 10
    feed.handle(offer("recent"))
    clock.now = 20
    caught: list[t.SourceEvent] = []
    feed.hand_over(caught.extend, lambda _e: None)
    assert [e.call_id for e in caught if isinstance(e, t.CallOffered)] == ["recent"]


def test_the_backlog_is_bounded_by_count_too() -> None:
    feed = Feed(keep_seconds=15, max_events=2)
    for n in range(5):
        feed.handle(offer(f"c{n}"))
    assert feed.kept == 2 and feed.dropped == 3


def test_ha_defaults_are_off_with_a_three_second_takeover() -> None:
    ha = parse_settings({}).ha
    assert not ha.enabled and ha.takeover_seconds == 3.0 and ha.name
    pair = parse_settings({"database": {"url": PG}, "ha": {"enabled": True, "instance": "a"}})
    assert pair.ha.enabled and pair.ha.name == "a"
    assert pair.ha.poll_seconds + pair.ha.silence_seconds < pair.ha.takeover_seconds


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"ha": {"enabled": True}}, "ha.enabled"),  # SQLite: no pair
        ({"database": {"url": PG}, "ha": {"takeover_seconds": 0.5}}, "ha.takeover_seconds"),
        ({"database": {"url": PG}, "ha": {"backlog_seconds": "15"}}, "ha.backlog_seconds"),
        ({"database": {"url": PG}, "ha": {"instance": "a b"}}, "ha.instance"),
        ({"database": {"url": PG}, "ha": {"enabld": True}}, "ha.enabld"),
    ],
)
def test_a_bad_ha_setting_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw)
    assert caught.value.key == key
