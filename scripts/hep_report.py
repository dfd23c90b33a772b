"""What the HEP benchmark measures and how it prints it: a run's phases (throughput and the
alert storm), and the alert figures without and with transcription side by side."""

from __future__ import annotations

import socket
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import hep_speech

from callcenter.telephony.hep.listener import enlarge_receive_buffer


@dataclass
class Phase:
    name: str
    calls: int
    sent: int = 0
    read: int = 0
    sip: int = 0
    seconds: float = 0.0  # from the first message read to the last
    send_seconds: float = 0.0
    kernel_drops: int = 0
    socket_drops: int = 0
    db_rows: int = 0
    legs_rung: int = 0
    in_memory: int = 0
    cpu: float = 0.0  # CPU seconds this process (all its threads) used, final flush included
    share: float = 0.0  # share of its core the service used from the first read to the last
    others: float = 0.0  # share of that core other processes used meanwhile
    worker: float = 0.0  # of which the transcription worker's (--transcribe)
    span: tuple[float, float] = (0.0, 0.0)  # the first read to the last, epoch seconds
    notes: list[str] = field(default_factory=list)

    @property
    def rest(self) -> float:
        """The core's share processes other than the service and its worker took."""
        return max(0.0, self.others - self.worker)

    @property
    def lost(self) -> int:
        return self.sent - self.read

    @property
    def rate(self) -> float:
        return self.sip / self.seconds if self.seconds > 0 else 0.0

    @property
    def per_cpu_second(self) -> float:
        return self.sip / self.cpu if self.cpu > 0 else 0.0


@dataclass
class Alerts:
    legs: int
    phase: Phase
    lateness: list[float]  # published − deadline_at, seconds
    fired: list[float]  # raised_at (timer ran) − deadline_at, seconds
    wait_seconds: float


@dataclass
class Run:
    phases: list[Phase]
    alerts: Alerts
    windows: list[hep_speech.Window]  # what the transcription worker did, when it ran


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rcvbuf_note() -> str:
    """What the listener's socket buffer holds (the same request the listener makes)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        effective = enlarge_receive_buffer(sock)  # Linux reports double: its bookkeeping
    per = 1280  # truesize of one ~450-byte datagram on loopback, measured
    return (
        f"socket buffer: the listener gets {effective / (1 << 20):.0f} MiB, holding "
        f"~{effective // per:,} datagrams ({effective / per / 20_000:.2f} s at 20,000/s); "
        "without root it is capped by net.core.rmem_max"
    )


def report(run: Run) -> None:
    phases, alerts = run.phases, run.alerts
    head = f"{'run':<27}{'calls':>7}{'sent':>9}{'read':>9}{'lost':>8}{'kernel':>8}"
    head += f"{'msg/s':>8}{'msg/cpu-s':>10}{'cpu%':>6}{'worker%':>8}{'others%':>8}{'DB rows':>9}"
    print(head)
    print("-" * len(head))
    for p in [*phases, alerts.phase]:
        print(
            f"{p.name:<27}{p.calls:>7,}{p.sent:>9,}{p.read:>9,}{p.lost:>8,}{p.kernel_drops:>8,}"
            f"{p.rate:>8,.0f}{p.per_cpu_second:>10,.0f}{100 * p.share:>6.0f}"
            f"{100 * p.worker:>8.0f}{100 * p.rest:>8.0f}"
            f"{p.db_rows:>9,}" + (f"  ({'; '.join(p.notes)})" if p.notes else "")
        )
    print("lost = sent − read by the listener; kernel = UDP RcvbufErrors meanwhile; msg/s = SIP")
    print("messages handled per second, first read to last; msg/cpu-s = per CPU second the")
    print("service used (its core's capacity); cpu% = its share of its core; worker% = the")
    print("transcription worker's share of it (with ffmpeg); others% = that core's time taken")
    print("by other processes (a shared machine makes msg/s lower)")
    print()
    by_name = {p.name: p for p in phases}
    blast = phases[0]
    print(
        f"{'blast:':<16}{blast.rate:,.0f} SIP msgs/s handled while overloaded; "
        f"{blast.lost:,} of {blast.sent:,} datagrams lost ({blast.kernel_drops:,} kernel drops); "
        f"DB {blast.db_rows:,} calls = {blast.in_memory:,} tracked "
        f"[{'OK' if blast.db_rows == blast.in_memory else 'MISMATCH'}]"
    )
    flow = by_name["max rate, flow-controlled"]
    best = max(flow.rate, flow.per_cpu_second)
    print(
        f"{'max rate:':<16}{flow.rate:,.0f} SIP msgs/s ({flow.per_cpu_second:,.0f} per CPU second) "
        f"with {flow.lost:,} lost, DB {flow.db_rows:,}/{flow.calls:,} calls "
        f"[{'OK' if best >= 20_000 and flow.lost == 0 else 'MISSED'}: target ≥ 20,000/s]"
    )
    for p in phases[2:]:
        target = " (target 0 lost)" if p.name.startswith("paced 5,000") else ""
        print(
            f"{p.name + ':':<16}{p.lost:,} of {p.sent:,} lost{target}, handled {p.rate:,.0f}/s, "
            f"DB {p.db_rows:,}/{p.calls:,} calls [{'OK' if p.lost == 0 else 'LOSS'}]"
        )
    lat, fired = alerts.lateness, alerts.fired
    rung = alerts.phase.legs_rung
    if lat:
        p99 = _pct(lat, 0.99)
        print(
            f"{'alerts:':<16}{len(lat):,}/{alerts.legs:,} RingLimitReached "
            f"({rung:,} legs reached the tracker ringing); lateness "
            f"p50 {_ms(statistics.median(lat))} ms, p99 {_ms(p99)} ms, max {_ms(max(lat))} ms "
            f"[{'OK' if p99 <= 0.050 and len(lat) == alerts.legs else 'MISSED'}: p99 ≤ 50 ms, "
            f"count {alerts.legs:,}]"
        )
        print(
            f"{'':16}of which timer late (raised_at − deadline_at): p50 "
            f"{_ms(statistics.median(fired))} ms, p99 {_ms(_pct(fired, 0.99))} ms, "
            f"max {_ms(max(fired))} ms; the rest is saving and publishing"
        )
    else:
        print(f"{'alerts:':<16}none of {alerts.legs:,} RingLimitReached arrived [MISSED]")
    a = alerts.phase
    print(
        f"{'':16}the ringing burst: {a.sent:,} datagrams in {a.send_seconds:.1f} s, "
        f"{a.lost:,} lost, handled {a.rate:,.0f} SIP msgs/s"
    )


def compare(base: Run, busy: Run) -> None:
    """The alert figures without and with the transcription worker busy, side by side."""
    rows: list[tuple[str, Callable[[Run], str]]] = [
        ("alerts raised / missed", lambda r: _count(r.alerts)),
        ("lateness p50 / p99 / max, ms", lambda r: _spread(r.alerts.lateness)),
        ("of which timer late, ms", lambda r: _spread(r.alerts.fired)),
        ("core 0: service / worker / others %", lambda r: _shares(r.alerts.phase)),
        ("max rate, msgs/s (per CPU-s)", _max_rate),
    ]
    title = f"ring-limit alerts, {base.alerts.legs:,} legs"
    print(f"\n{title:<34}{'without transcription':>24}{'with transcription':>24}")
    for label, figure in rows:
        print(f"{label:<34}{figure(base):>24}{figure(busy):>24}")


def _count(a: Alerts) -> str:
    return f"{len(a.lateness):,} / {a.legs - len(a.lateness):,}"


def _max_rate(r: Run) -> str:
    p = next(p for p in r.phases if p.name.startswith("max rate"))
    return f"{p.rate:,.0f} ({p.per_cpu_second:,.0f})"


def _spread(values: list[float]) -> str:
    if not values:
        return "none"
    return f"{_ms(statistics.median(values))} / {_ms(_pct(values, 0.99))} / {_ms(max(values))}"


def _shares(p: Phase) -> str:
    return f"{100 * p.share:.0f} / {100 * p.worker:.0f} / {100 * p.rest:.0f}"
