"""Benchmark: the line probe's timings through a real Kamailio to a SIPp hotline.

    .venv/bin/python scripts/bench_probe.py [--calls N] [--answer-ms MS] [--quick]

Each probe call is the one `callcenter probe` and the service place (callcenter.probe.phone):
REGISTER, INVITE the hotline (96069, the bench proxy's hunt group ringing a SIPp phone that
sends 180 at once and 200 after --answer-ms), hold 0.2 s, BYE, unREGISTER. Figures over N
calls: INVITE → 100 Trying, → 180 (the time to ring the probe records), → 200 less the phone's
answer delay (what the probe adds to the time to answer), and one whole probe from REGISTER
to unREGISTER. The phone answers at once with 180, so the time to ring is the probe's own
resolution: pyVoIP reads its socket every 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callcenter.probe.model import judge  # noqa: E402
from callcenter.probe.phone import place_probe_call  # noqa: E402
from callcenter.probe.settings import parse_probe  # noqa: E402
from tests.integration import bench  # noqa: E402
from tests.integration.bench.kamailio import HOTLINE, HOTLINE_EXTENSION  # noqa: E402


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
        f"max {ordered[-1] * 1000:7.1f} ms"
    )


async def run(calls: int, answer_ms: int, work: Path) -> None:
    bench.set_artifacts_dir(work / "sipp")
    proxies = bench.KamailioFactory(work / "kamailio")
    proxy = proxies(bench.free_udp_port())
    settings = parse_probe(
        {
            "registrar": proxy.address,
            "username": "8999",
            "number": HOTLINE,
            "rtp_ports": "31000-31099",
            "ring_limit_seconds": 5.0,
            "answer_limit_seconds": answer_ms / 1000 + 5.0,
            "hold_seconds": 0.2,
            "interval_seconds": 60.0,
        }
    )
    trying, ring, added, whole = [], [], [], []
    try:
        for _ in range(calls):
            phone = await bench.start_sipp(
                "uas_answer.xml",
                local_port=proxy.agent_port(HOTLINE_EXTENSION),
                service=HOTLINE_EXTENSION,
                variables={"answer_ms": answer_ms},
                timeout_s=30,
            )
            await phone.wait_bound()
            began = time.perf_counter()
            heard = await place_probe_call(settings)
            whole.append(time.perf_counter() - began)
            verdict = judge(heard, settings.ring_limit_seconds, settings.answer_limit_seconds)
            if not verdict.ok or heard.answer is None or heard.ring is None:
                raise SystemExit(f"a probe failed: {verdict}")
            assert heard.first_response is not None
            trying.append(heard.first_response)
            ring.append(heard.ring)
            added.append(heard.answer - answer_ms / 1000)
            sipp = await phone.wait(10)
            if not sipp.ok:
                raise SystemExit(f"the hotline's phone saw a broken call: {sipp.describe()}")
    finally:
        proxies.stop_all()
        bench.kill_leftover_processes()
    print(f"{calls} probe calls, the hotline answering after {answer_ms} ms")
    print(f"INVITE → 100 Trying          {ms(trying)}")
    print(f"INVITE → 180 (time to ring)  {ms(ring)}")
    print(f"INVITE → 200 − {answer_ms} ms       {ms(added)}")
    print(f"REGISTER … unREGISTER        {ms(whole)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--answer-ms", type=int, default=1000)
    p.add_argument("--quick", action="store_true", help="5 calls")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        asyncio.run(run(5 if args.quick else args.calls, args.answer_ms, Path(tmp)))


if __name__ == "__main__":
    main()
