"""The HEP benchmark's transcription load (`--transcribe`): long calls spliced with sox from
the AISHELL clips, added to the running service with `callcenter recording add`, and the
service's transcription worker process followed through /proc while the measurement runs."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_speech import make_call
from sqlalchemy import func, select

from callcenter.speech.store import jobs, transcripts

# [speech] as issue 16 ships it: one worker process, below call handling's priority.
SPEECH = {"enabled": True, "workers": 1, "nice": 10}
_TICK = os.sysconf("SC_CLK_TCK")
_LOOK_SECONDS = 0.25
_READY_WITHIN = 300.0  # the first load assembles the weights into ~/.cache


def make_calls(folder: Path, count: int, minutes: float) -> list[Path]:
    """`count` calls of about `minutes` each, 8 kHz µ-law; each with its own silences, so each
    is a recording of its own (equal bytes would be stored once)."""
    return [
        make_call(folder, minutes, seed=100 + i, filename=f"call-{i}.wav")[0] for i in range(count)
    ]


def write_config(path: Path, raw: dict[str, dict[str, Any]]) -> None:
    """The service's settings as TOML, for `callcenter --config … recording add`."""
    lines: list[str] = []
    for table, values in raw.items():
        lines.append(f"[{table}]")
        lines += [f"{key} = {_toml(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are TOML's basic string's
    raise TypeError(f"no TOML for {value!r}")


async def add_recordings(config: Path, calls: list[Path]) -> None:
    """As Asterisk's MixMonitor does: `callcenter recording add` in a process of its own. The
    command queues each recording; the service's worker claims it at its next look."""
    for call in calls:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callcenter", "--config", str(config), "recording", "add",
            str(call), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"recording add {call.name}: {err.decode()[-800:]}")


# -- /proc -----------------------------------------------------------------------------------
def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], utime [11])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cores_of(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def worker_cpu(pid: int) -> float | None:
    """CPU seconds of a worker process: its threads, and its children (ffmpeg) whether they
    have ended (cutime) or are still decoding."""
    own = _stat(pid)
    if own is None:
        return None
    ticks = sum(int(x) for x in own[11:15])
    for child in children(pid):
        st = _stat(child)
        if st is not None:
            ticks += int(st[11]) + int(st[12])
    return ticks / _TICK


# -- following the worker --------------------------------------------------------------------
@dataclass
class Look:
    at: float  # epoch seconds, as the job rows' timestamps
    cpu: float  # the worker's CPU seconds so far
    running: int  # jobs the service has in hand (what /api/health reports)


@dataclass
class Window:
    """What the transcription worker did while one app's measurement ran."""

    name: str
    pid: int
    nice: int
    cores: str
    seconds: float = 0.0
    cpu: float = 0.0  # the worker's CPU seconds in the window
    looks: int = 0
    in_hand: int = 0  # looks with a job in hand (what /api/health reports as running)
    working: int = 0  # looks with the worker's CPU risen since the previous one
    states: dict[str, int] = field(default_factory=dict)  # the jobs at the window's end
    audio: float = 0.0  # audio seconds transcribed in the window (see Follow.window)
    overlapped: int = 0  # jobs transcribed partly or wholly in the window
    finished: int = 0  # of which finished in it
    job_cpu: float = 0.0  # every job done while followed: the worker's CPU, audio seconds
    job_audio: float = 0.0
    jobs: int = 0

    @property
    def share(self) -> float:
        return self.cpu / self.seconds if self.seconds else 0.0


class Follow:
    """Looks at the worker every 250 ms from the service's own loop (reading /proc costs
    ~0.1 ms); the window is marked by begin() and end()."""

    def __init__(self, queue: Any, name: str) -> None:
        self.queue = queue
        self.name = name
        self.nice = os.nice(0) + int(SPEECH["nice"])  # os.nice adds to the service's own
        self.pid = 0
        self.looks: list[Look] = []
        self.transcribing_since = 0.0
        self.span = (0, 0)

    def _find(self) -> int:
        for pid in children(os.getpid()):
            st = _stat(pid)
            if st is not None and int(st[16]) == self.nice:
                return pid
        return 0

    def _look(self) -> None:
        cpu = worker_cpu(self.pid) if self.pid else None
        last = self.looks[-1].cpu if self.looks else 0.0
        self.looks.append(Look(time.time(), last if cpu is None else cpu, self.queue.running))

    async def ready(self) -> None:
        """Until the worker transcribes: its process is up at its nice, the model loaded and
        ffmpeg decoding a recording for it (transcribe starts ffmpeg after the model)."""
        deadline = time.monotonic() + _READY_WITHIN
        while not self.transcribing_since:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no transcription worker at nice {self.nice} started")
            self.pid = self.pid or self._find()
            if self.pid:
                self._look()
                if any(_comm(c) == "ffmpeg" for c in children(self.pid)):
                    self.transcribing_since = time.time()
            await asyncio.sleep(_LOOK_SECONDS)

    async def run(self) -> None:
        while True:
            self._look()
            await asyncio.sleep(_LOOK_SECONDS)

    def begin(self) -> None:
        self._look()
        self.span = (len(self.looks) - 1, 0)

    def end(self) -> None:
        self._look()
        self.span = (self.span[0], len(self.looks))

    def cpu_at(self, at: float) -> float:
        times = [look.at for look in self.looks]
        i = bisect.bisect_left(times, at)
        if i == 0:
            return self.looks[0].cpu
        if i == len(times):
            return self.looks[-1].cpu
        a, b = self.looks[i - 1], self.looks[i]
        return a.cpu + (b.cpu - a.cpu) * (at - a.at) / max(1e-9, b.at - a.at)

    def charge(self, phases: list[Any]) -> None:
        """Each phase's share of the core the worker took (of its `others`: it shares the
        service's core)."""
        for phase in phases:
            began, ended = phase.span
            if ended > began:
                phase.worker = (self.cpu_at(ended) - self.cpu_at(began)) / (ended - began)

    async def window(self, engine: Any) -> Window:
        """The window's figures. A job's progress is not visible from outside the worker, so
        each job's audio is apportioned by the share of its CPU spent inside the window: this
        waits for the jobs in hand at the window's end to finish."""
        looks = self.looks[self.span[0] : self.span[1]]
        w = Window(self.name, self.pid, self.nice, cores_of(self.pid))
        begin, end = looks[0].at, looks[-1].at
        w.seconds, w.cpu = end - begin, looks[-1].cpu - looks[0].cpu
        w.looks = len(looks) - 1
        w.in_hand = sum(1 for look in looks[1:] if look.running)
        w.working = sum(1 for a, b in itertools.pairwise(looks) if b.cpu > a.cpu)
        async with engine.connect() as conn:
            counts = await conn.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))
            w.states = {str(state): int(n) for state, n in counts}
            rows = await conn.execute(select(jobs.c.recording_id).where(jobs.c.state == "running"))
            in_hand = [rid for (rid,) in rows]
        await _finished(engine, in_hand)
        self._look()
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(jobs.c.started_at, jobs.c.finished_at, transcripts.c.duration)
                .select_from(
                    jobs.join(transcripts, transcripts.c.recording_id == jobs.c.recording_id)
                )
                .where(jobs.c.state == "done")
            )
        for started, finished, duration in rows:
            self._apportion(w, started.timestamp(), finished.timestamp(), float(duration))
        return w

    def _apportion(self, w: Window, started: float, finished: float, audio: float) -> None:
        start = max(started, self.transcribing_since)  # the first job loaded the model before
        total = self.cpu_at(finished) - self.cpu_at(start)
        if total <= 0:
            return
        w.jobs, w.job_cpu, w.job_audio = w.jobs + 1, w.job_cpu + total, w.job_audio + audio
        begin, end = self.looks[self.span[0]].at, self.looks[self.span[1] - 1].at
        if start < end and finished > begin:
            inside = self.cpu_at(min(finished, end)) - self.cpu_at(max(start, begin))
            w.audio += audio * inside / total
            w.overlapped += 1
            w.finished += begin <= finished <= end


async def _finished(engine: Any, recording_ids: list[str], within: float = 600.0) -> None:
    deadline = time.monotonic() + within
    while recording_ids and time.monotonic() < deadline:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(func.count())
                .select_from(jobs)
                .where(jobs.c.recording_id.in_(recording_ids), jobs.c.state == "running")
            )
            if not rows.scalar_one():
                return
        await asyncio.sleep(0.5)


@contextlib.asynccontextmanager
async def transcribing(
    svc: Any, config: Path, raw: dict[str, dict[str, Any]], calls: list[Path], name: str
) -> AsyncIterator[Follow]:
    """The service's worker transcribing `calls` (added as recordings), followed meanwhile."""
    write_config(config, raw)
    follow = Follow(svc.speech_queue, name)
    await add_recordings(config, calls)
    await follow.ready()
    task = asyncio.get_running_loop().create_task(follow.run(), name="follow-worker")
    try:
        yield follow
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def report(windows: list[Window]) -> None:
    audio = sum(w.job_audio for w in windows)
    per_audio = sum(w.job_cpu for w in windows) / audio if audio else 0.0
    w0 = windows[0]
    print(
        f"transcription worker: pid {w0.pid}, nice {w0.nice}, cores {w0.cores} (the service's "
        f"core: only its priority keeps it from call handling, nice and speech.idle's "
        f"SCHED_IDLE); {per_audio:.3f} CPU-s per audio second "
        f"over the {sum(w.jobs for w in windows)} jobs it did"
    )
    for w in windows:
        states = ", ".join(f"{n} {state}" for state, n in sorted(w.states.items()))
        idle = w.looks - w.in_hand
        print(
            f"  {w.name}: {w.seconds:.1f} s window; worker CPU {w.cpu:.1f} s "
            f"({100 * w.share:.0f} % of the core), ≈ {w.audio:,.0f} s of audio transcribed "
            f"(of {w.overlapped} recordings, {w.finished} finished in it); a job in hand at "
            f"{w.in_hand}/{w.looks} looks, the worker's CPU rising at {w.working}; jobs at "
            f"the end: {states} [{'BUSY' if idle == 0 else f'IDLE at {idle} looks'}]"
        )
    print(
        "  (≈: each job's audio × the share of its CPU spent in the window; a job's progress "
        "is not visible from outside the worker)"
    )
