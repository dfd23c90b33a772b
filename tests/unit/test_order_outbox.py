"""The outbox's pure parts: the webhook signature a station verifies, the resend backoff, what
an ack must look like, and how the station client shows an order."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from callcenter.orders.outbox import MAX_ACK_BYTES, parse_ack, resend_delay
from callcenter.orders.service import RESEND_MAX_SECONDS
from callcenter.orders.station_client import StationClient
from callcenter.orders.webhook import safe_url, signature, verify

SECRET = "0123456789abcdef-secret"
BODY = json.dumps({"schema": "callcenter.order/1", "住户": "张秀英"}, ensure_ascii=False).encode()


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1764806400." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1764806400, BODY) == f"sha256={expected}"


def test_a_receiver_accepts_a_fresh_signed_message() -> None:
    signed = signature(SECRET, 1000, BODY)
    assert verify(SECRET, "1000", BODY, signed, now=1000 + 299)
    assert verify(SECRET, "1000", BODY, signed, now=1000 - 299)


@pytest.mark.parametrize(
    ("secret", "stamp", "body", "now"),
    [
        ("another-secret-of-16", "1000", BODY, 1000),  # not the hotline
        (SECRET, "1000", BODY + b" ", 1000),  # body changed
        (SECRET, "1001", BODY, 1001),  # timestamp changed
        (SECRET, "1000", BODY, 1000 + 301),  # a replay, later than the window
        (SECRET, "1000", BODY, 1000 - 301),  # from the future
        (SECRET, "1e3", BODY, 1000),  # not a plain number
    ],
)
def test_a_receiver_refuses_forged_altered_or_replayed_messages(
    secret: str, stamp: str, body: bytes, now: float
) -> None:
    signed = signature(SECRET, 1000, BODY)
    assert not verify(secret, stamp, body, signed, now=now)


def test_the_logged_webhook_url_has_no_credentials_or_query() -> None:
    url = "https://user:pw@station.example:8443/hook?token=abc"
    assert safe_url(url) == "https://station.example:8443/hook"


def test_resends_double_from_the_first_delay_up_to_the_cap() -> None:
    assert [resend_delay(n, 60) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert resend_delay(5, 60) == RESEND_MAX_SECONDS
    assert resend_delay(10_000, 60) == RESEND_MAX_SECONDS


@pytest.mark.parametrize(
    ("station", "payload", "reason"),
    [
        ("xingfu", b"x" * (MAX_ACK_BYTES + 1), "oversized"),
        ("xingfu", b"\xff", "malformed"),
        ("xingfu", b"[]", "malformed"),
        ("xingfu", b'{"message_id": "m1"}', "malformed"),
        ("xingfu", b'{"message_id": "m 1", "order_id": "o1"}', "malformed"),
        ("Xing Fu", b'{"message_id": "m1", "order_id": "o1"}', "malformed"),
    ],
)
def test_an_ack_that_is_not_one_is_refused_with_its_reason(
    station: str, payload: bytes, reason: str
) -> None:
    assert parse_ack(station, payload) == reason


def test_an_ack_names_its_message_and_order() -> None:
    assert parse_ack("xingfu", b'{"message_id": "m1", "order_id": "o1"}') == ("m1", "o1")


def test_the_station_client_shows_an_order_in_local_time_without_terminal_escapes() -> None:
    client = StationClient("xingfu", "mqtt://u:p@127.0.0.1:1883", out=lambda _: None)
    text = client.render(
        {
            "type": "order",
            "order": {
                "id": "o1",
                "round": 2,
                "dispatched_at": "2026-12-04T02:00:00Z",
                "due": {"accept": "2026-12-04T02:30:00Z"},
                "resident": {"name": "张秀英", "phone": "13800000001", "address": "幸福里3号楼"},
                "fault": {"category": "not_hot", "description": "不热\x1b[2J"},
            },
        }
    )
    assert "第2轮 round 2" in text and "张秀英  13800000001" in text
    assert "2026-12-04 10:30 (Asia/Shanghai)" in text
    assert "\x1b" not in text and "不热?[2J" in text


def test_the_station_client_refuses_another_stations_order() -> None:
    client = StationClient("xingfu", "mqtt://127.0.0.1", out=lambda _: None)
    message = {
        "schema": "callcenter.order/1",
        "type": "order",
        "message_id": "m1",
        "order": {"id": "o1", "station": "jinbao"},
    }
    assert client.parse(json.dumps(message).encode()) == "other-station"
