"""Fuzzing the real HEP port: a mixed stream of hostile and broken input, interleaved with
valid calls, through the real app (HEP listener on 127.0.0.1, SQLite and PostgreSQL).

Every valid call must be stored once with the right outcome, the writer must never stop,
memory must stay bounded and /api/health must show what was refused (issue 11, "Done when").
One seed (random.Random(1234)) makes every run send the same bytes.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from random import Random
from typing import Any

import pytest
from sqlalchemy import select

from callcenter.calls import store
from callcenter.clock import FakeClock
from callcenter.telephony.hep import simulate as sim
from callcenter.telephony.hep.decode import HepPacket, decode_hep, encode_hep
from callcenter.telephony.hep.source import HepSource
from tests.conftest import Hotline, HotlineFactory
from tests.waiting import eventually

SEED = 1234
KEY = "fuzz-hep-key"
VALID_CALLS = 200
GROUP = 4  # valid calls in progress at once
MAX_OPEN = 300  # sip.max_open_calls (the smallest the config allows is 100)
MAX_LEGS = 8  # sip.max_legs_per_call
FORKED_LEGS_PER_GROUP = 60  # 50 groups: one Call-ID forked to 3,000 To tags
YEAR_2106 = 0xFFFF_FFFF
# The sender yields to the loop (where the listener drains its socket) this often.
_PACE_DATAGRAMS = 32
_PACE_BYTES = 96 * 1024


@dataclass
class Valid:
    call: sim.SimCall
    plan: sim.Plan
    datagrams: list[tuple[float, bytes]]
    skewed: bool  # stamped with an absurd capture time: stored at the time received
    compressed: bool  # payloads in chunk 0x0010, with the right key: inflated once each


@dataclass
class Sender:
    """Sends datagrams to the HEP port, pausing often so loopback drops nothing, and counts
    what it sent by kind."""

    sock: socket.socket
    target: tuple[str, int]
    sent: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    _since_pause: int = 0
    _bytes_since_pause: int = 0

    async def send(self, data: bytes, kind: str = "valid") -> None:
        self.sock.sendto(data, self.target)
        self.sent += 1
        self.kinds[kind] += 1
        self._since_pause += 1
        self._bytes_since_pause += len(data)
        if self._since_pause >= _PACE_DATAGRAMS or self._bytes_since_pause >= _PACE_BYTES:
            self._since_pause = self._bytes_since_pause = 0
            await asyncio.sleep(0)  # one loop turn: the listener drains its socket


def _restamp(data: bytes, ts_sec: int) -> bytes:
    packet = decode_hep(data)
    packet.ts_sec, packet.ts_usec = ts_sec, 0
    return encode_hep(packet)


def _recompress(data: bytes) -> bytes:
    return encode_hep(decode_hep(data), compress=True)


def _hep(payload: bytes, at: float, key: bytes | None, proto_type: int = 1) -> bytes:
    return encode_hep(
        HepPacket(2, 17, "10.0.9.1", "10.0.0.1", 5060, 5060, int(at), 0, proto_type, 1, key,
                  payload, None)
    )  # fmt: skip


def _chunk(ctype: int, value: bytes) -> bytes:
    return struct.pack("!HHH", 0, ctype, 6 + len(value)) + value


def _valid_calls(rng: Random, base: float, key: bytes) -> list[Valid]:
    calls = []
    for n in range(VALID_CALLS):
        call = sim.new_call(rng, prefix=f"fz{n}-")
        scenario: sim.Scenario = rng.choice(["answered_on_time", "agent_hangs_up"])
        plan = sim.plan_for(scenario, rng, 5.0, 3)
        start = base + (n // GROUP) * 2.0 + rng.random()
        datagrams = sim.datagrams(call, plan, start, auth_key=key)
        skewed = n % 50 in (7, 8)
        compressed = not skewed and n % 5 == 0
        if skewed:
            # Year 2106 (a u32 of ones) or 1970: every copy, so every time is replaced.
            stamp = YEAR_2106 if n % 50 == 7 else 1 + n
            datagrams = [(at, _restamp(d, stamp)) for at, d in datagrams]
        elif compressed:
            datagrams = [(at, _recompress(d)) for at, d in datagrams]
        calls.append(Valid(call, plan, datagrams, skewed, compressed))
    return calls


class Noise:
    """Hostile and broken datagrams, from one seeded generator."""

    def __init__(self, rng: Random, key: bytes, clock_now: float, template: bytes) -> None:
        self.rng = rng
        self.key = key
        self.now = clock_now
        self.template = template  # a valid datagram to cut and corrupt
        self.junk = 0
        self.fork_tags = 0
        self.fork = sim.new_call(rng, extension="2001", prefix="fork-")

    def items(self, count: int) -> Iterator[tuple[str, bytes]]:
        kinds = [
            "random-bytes", "truncated", "header-lie", "zip-without-key", "zip-wrong-key",
            "zip-bomb", "many-chunks", "hep-v2", "rtcp", "bad-sip", "wrong-key",
            "flood", "absurd-time",
        ]  # fmt: skip
        for _ in range(count):
            kind = self.rng.choice(kinds)
            yield from self._make(kind)

    def _make(self, kind: str) -> Iterator[tuple[str, bytes]]:
        rng, key = self.rng, self.key
        if kind == "random-bytes":
            yield kind, rng.randbytes(rng.randrange(0, 1400))
        elif kind == "truncated":
            yield kind, self.template[: rng.randrange(1, len(self.template))]
        elif kind == "header-lie":
            # Says 60,000 bytes, holds a few hundred.
            yield kind, b"HEP3" + struct.pack("!H", 60_000) + self.template[6:]
        elif kind in ("zip-without-key", "zip-wrong-key"):
            # ~60 KB of SIP-ish bytes squeezed into a few hundred: the costly kind to inflate.
            bomb = sim.invite_request(self._junk_call(), forwarded=False) + bytes(60_000)
            wrong = None if kind == "zip-without-key" else rng.randbytes(len(key))
            packet = decode_hep(_hep(bomb, self.now, wrong))
            yield kind, encode_hep(packet, compress=True)
        elif kind == "zip-bomb":
            # With the right key, but inflating to 1 MiB: refused at 64 KiB.
            squeezed = zlib.compress(bytes(1 << 20), 9)
            head = _hep(b"x", self.now, key)[6:]
            body = head + _chunk(0x0010, squeezed)
            yield kind, b"HEP3" + struct.pack("!H", 6 + len(body)) + body
        elif kind == "many-chunks":
            body = self.template[6:] + _chunk(0x7777, b"") * 5_000
            yield kind, b"HEP3" + struct.pack("!H", 6 + len(body)) + body
        elif kind == "hep-v2":
            yield kind, b"\x02\x10\x02\x11" + rng.randbytes(40)
        elif kind == "rtcp":
            yield kind, _hep(b'{"type":200}', self.now, key, proto_type=5)
        elif kind == "bad-sip":
            yield kind, _hep(b"INVITE sip:x SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n", self.now, key)
        elif kind == "wrong-key":
            payload = sim.invite_request(self._junk_call(), forwarded=False)
            yield kind, _hep(payload, self.now, b"guess")
        elif kind == "flood":
            # Unanswered INVITEs, each a new call: more of them than the tracker may hold.
            for _ in range(8):
                yield kind, _hep(sim.invite_request(self._junk_call(), forwarded=False),
                                 self.now, key)  # fmt: skip
        elif kind == "absurd-time":
            stamp = rng.choice([YEAR_2106, 1, 86_400 * 365])
            yield kind, _hep(sim.invite_request(self._junk_call(), forwarded=False), stamp, key)

    def _junk_call(self) -> sim.SimCall:
        self.junk += 1
        return sim.new_call(self.rng, prefix=f"junk{self.junk}-")

    def fork_invite(self) -> bytes:
        return _hep(sim.invite_request(self.fork, forwarded=False), self.now, self.key)

    def forked_ringing(self, count: int) -> Iterator[bytes]:
        for _ in range(count):
            self.fork_tags += 1
            leg = replace(self.fork, to_tag=f"fk{self.fork_tags:06d}")
            payload = sim.invite_response(leg, 180, "Ringing", from_phone=False)
            yield _hep(payload, self.now, self.key)


def _long_call_id_invites(rng: Random, now: float, key: bytes) -> list[tuple[str, bytes]]:
    out = []
    for size in (300, 4_000, 60_000):
        call = replace(sim.new_call(rng), call_id="L" * size + "@10.0.9.1")
        out.append(("long-call-id", _hep(sim.invite_request(call, forwarded=False), now, key)))
    return out


@pytest.fixture
def inflations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per payload the HEP decoder starts to inflate."""
    made: list[int] = []
    real = zlib.decompressobj

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(zlib, "decompressobj", counting)
    return made


async def _stored(h: Hotline, call_ids: list[str]) -> dict[str, list[Any]]:
    """Rows of the calls table (and their legs) for these SIP Call-IDs."""
    async with h.svc.db().connect() as conn:
        wanted = select(store.calls).where(store.calls.c.sip_call_id.in_(call_ids))
        rows = (await conn.execute(wanted)).all()
        legs = (
            await conn.execute(
                select(store.legs).where(store.legs.c.call_pk.in_([r.id for r in rows]))
            )
        ).all()
    by_call: dict[str, list[Any]] = {}
    for row in rows:
        by_call.setdefault(row.sip_call_id, []).append(
            (row, [leg for leg in legs if leg.call_pk == row.id])
        )
    return by_call


def _bounded(h: Hotline, source: HepSource, peaks: dict[str, int]) -> None:
    tracker = h.svc.calls()
    dialogs = source.translator.dialogs
    peaks["calls"] = max(peaks["calls"], len(tracker.calls))
    peaks["dialogs"] = max(peaks["dialogs"], len(dialogs))
    peaks["tracker_legs"] = max(
        [peaks["tracker_legs"], *(len(c.legs) for c in tracker.calls.values())]
    )
    peaks["translator_legs"] = max(
        [peaks["translator_legs"], *(len(d.legs) for d in dialogs.values())]
    )
    now = h.clock.now().timestamp()
    assert all(abs(d.last_seen - now) <= 86_400 for d in dialogs.values()), "a dialog in 2106"


async def test_a_hostile_stream_loses_no_valid_call(
    hotline_factory: HotlineFactory, db_url: str, inflations: list[int]
) -> None:
    rng = Random(SEED)
    clock = FakeClock(datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    h: Hotline = await hotline_factory(
        db_url,
        clock=clock,
        hep=True,
        sip={"hep_password": KEY, "max_open_calls": MAX_OPEN, "max_legs_per_call": MAX_LEGS},
    )
    for n, ext in enumerate(sim.EXTENSIONS):
        await h.add_user(f"agent{n}", "agent", ext)
    lead = await h.token("lead", "team_lead")
    svc = h.svc
    tracker = svc.calls()
    source = next(s for s in svc.sources.values() if isinstance(s, HepSource))
    listener = source.listener
    assert svc.hep_address is not None

    key = KEY.encode()
    now = clock.now().timestamp()
    valid = _valid_calls(rng, now, key)
    noise = Noise(rng, key, now, valid[0].datagrams[0][1])
    peaks = Counter[str]()

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        sender = Sender(udp, svc.hep_address)
        await sender.send(noise.fork_invite(), "fork")
        # Phase 1: groups of calls in progress at once, noise between their messages.
        for g in range(0, VALID_CALLS, GROUP):
            if g % 20 == 0:
                for kind, extra in _long_call_id_invites(rng, now, key):
                    await sender.send(extra, kind)
            group = valid[g : g + GROUP]
            merged = sorted(
                (at, data, "valid-zip" if v.compressed else "valid")
                for v in group
                for at, data in v.datagrams
            )
            for _, data, kind in merged:
                await sender.send(data, kind)
                for extra_kind, extra in noise.items(rng.choice([0, 0, 1, 1, 2])):
                    await sender.send(extra, extra_kind)
            for data in noise.forked_ringing(FORKED_LEGS_PER_GROUP):
                await sender.send(data, "fork")
            _bounded(h, source, peaks)

        await eventually(lambda: listener.stats.datagrams == sender.sent, within=10)
        ids = [v.call.call_id for v in valid]

        async def all_stored() -> bool:
            await tracker.settled()
            stored = await _stored(h, ids)
            return len(stored) == VALID_CALLS and all(
                row.final is not None for rows in stored.values() for row, _ in rows
            )

        await eventually(all_stored, within=15)
        _bounded(h, source, peaks)

        # Phase 2: the valid calls close and leave memory (the tracker's keep window, the
        # translator's retransmission window), then their INVITEs come again: a late
        # retransmission, a replayed or duplicated mirror. Some whole calls come again.
        clock.advance(300)
        tracker.sweep()
        await tracker.settled()
        tracker.sweep()
        source.translator.expire(clock.now().timestamp())
        keys = {(source.settings.id, v.call.call_id, v.call.from_tag) for v in valid}
        left = keys & set(tracker.calls)
        assert not left, f"{len(left)} closed calls still in the tracker"
        stale = {(c, t) for _, c, t in keys} & set(source.translator.dialogs)
        assert not stale, f"{len(stale)} dialogs of closed calls still in the translator"
        refused_before = tracker.refused["late_for_closed_call"]
        replayed = 0
        for n, v in enumerate(valid):
            copies = v.datagrams if n % 10 == 0 else v.datagrams[:3]  # INVITE, 100, INVITE
            for _, data in copies:
                await sender.send(data, "valid-zip" if v.compressed else "replay")
            replayed += 1
            for kind, extra in noise.items(rng.choice([0, 1])):
                await sender.send(extra, kind)
        await eventually(lambda: listener.stats.datagrams == sender.sent, within=10)
        await tracker.settled()
        _bounded(h, source, peaks)

    # Every valid call stored once, with the outcome its messages told.
    stored = await _stored(h, ids)
    assert sorted(stored) == sorted(ids)
    for v in valid:
        ((row, legs),) = stored[v.call.call_id]
        assert row.final == "answered", v.call.call_id
        assert row.hung_up_by == v.plan.hung_up_by, v.call.call_id
        (leg,) = legs
        assert leg.extension == v.call.extension and leg.outcome == "answered"
        if not v.skewed:
            answered_at = v.datagrams[0][0] + 0.05 + v.plan.ring_seconds
            assert abs(row.answered_at.timestamp() - answered_at) < 0.01
        else:
            assert row.offered_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    assert tracker.refused["late_for_closed_call"] - refused_before == replayed

    # The writer never stopped, and parked nothing.
    writer = tracker.writer.stats
    assert writer.consecutive_failures == 0 and writer.failures == 0
    assert sum(writer.parked.values()) == 0, writer.parked
    async with svc.db().connect() as conn:
        widths = (await conn.execute(select(store.calls.c.sip_call_id))).scalars().all()
    assert max(len(w) for w in widths) <= 255
    assert any(w.startswith("L" * 200) for w in widths)  # the long ones, cut, still stored

    # Memory stayed bounded all along.
    assert peaks["calls"] <= MAX_OPEN
    assert peaks["dialogs"] <= 2 * MAX_OPEN
    assert peaks["tracker_legs"] <= MAX_LEGS
    assert peaks["translator_legs"] <= 2 * MAX_LEGS
    assert noise.fork_tags >= 3000 and noise.junk > 2 * MAX_OPEN

    # Nothing was inflated before its auth key was checked: only what carried the key.
    assert len(inflations) == sender.kinds["valid-zip"] + sender.kinds["zip-bomb"]

    # /api/health shows each kind refused.
    response = await h.client.get("/api/health", headers=lead)
    body = await response.json()
    assert response.status == 200 and body["status"] == "ok", body
    errors = body["hep"]["errors"]
    kinds = sender.kinds
    assert (
        errors["hep:auth-key"]
        == kinds["zip-without-key"] + kinds["zip-wrong-key"] + kinds["wrong-key"]
    )
    assert errors["hep:payload-too-large"] == kinds["zip-bomb"]
    assert errors["hep:too-many-chunks"] == kinds["many-chunks"]
    assert errors["hep:truncated"] >= kinds["header-lie"]
    assert errors["hep:clock-skew"] >= kinds["absurd-time"]
    assert errors["hep:hep-version"] >= kinds["hep-v2"]
    assert errors["sip:dialog-evicted"] > 0 and errors["sip:too-many-legs"] > 0
    refused = body["calls"]["refused"]
    assert refused["late_for_closed_call"] == replayed
    assert refused["evicted_open_call"] > 0
    assert refused["too_many_legs"] > 0
    assert refused["field_truncated"] >= 2
    assert body["calls"]["parked"] == 0
    assert body["hep"]["ignored"] == kinds["rtcp"]
