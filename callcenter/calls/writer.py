"""The call writer: changed calls, legs and violations saved in batches, never stopped by
one bad row, never thrown away at shutdown.

One transaction per batch carries 20,000 SIP messages/s. A batch the database refuses for
its content (a constraint, a value it cannot store) is split until the one call at fault is
found: that call is parked with the reason (counted, kept in a file in the spill directory)
and the rest is committed. A database that is down is retried whole. At shutdown what cannot
be saved within the grace time goes to a spill file that the next start replays.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from callcenter.bus import Bus
from callcenter.calls import store
from callcenter.calls.model import AgentRef, CallState, LegState
from callcenter.events import ViolationRecorded

log = logging.getLogger(__name__)

# Errors about what a batch holds, not about the database being reachable: splitting the
# batch finds the row at fault. Anything else (connection refused, locked, timed out) is
# retried whole.
_CONTENT_ERRORS = (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError)
_SPILL_GLOB = "calls-*.json"


@dataclass(slots=True)
class Unit:
    """What must be saved together: a call, its changed legs, its new violations."""

    call: CallState
    legs: list[LegState] = field(default_factory=list)
    violations: list[ViolationRecorded] = field(default_factory=list)
    saved: bool = False


@dataclass
class WriterStats:
    batches: int = 0
    failures: int = 0  # batches the database refused as a whole (down, locked)
    consecutive_failures: int = 0
    parked: Counter[str] = field(default_factory=Counter)
    last_ok_monotonic: float = field(default_factory=time.monotonic)
    oldest_pending_monotonic: float | None = None
    spilled: int = 0
    replayed: int = 0


class CallWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: Bus,
        spill_dir: Path | None = None,
        flush_interval: float = 0.1,
        min_flush_gap: float = 0.05,
    ) -> None:
        self.engine = engine
        self.bus = bus
        self.spill_dir = spill_dir
        self.flush_interval = flush_interval
        self.min_flush_gap = min_flush_gap
        self.stats = WriterStats()
        self._calls: dict[str, CallState] = {}
        self._legs: dict[str, LegState] = {}
        self._events: list[object] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False

    # -- what changed -----------------------------------------------------------------
    def mark(self, call: CallState) -> None:
        if self.stats.oldest_pending_monotonic is None:
            self.stats.oldest_pending_monotonic = time.monotonic()
        self._idle.clear()
        self._calls[call.id] = call
        for leg in call.legs.values():
            if leg.dirty:
                self._legs[leg.id] = leg

    def add_event(self, event: object) -> None:
        self._events.append(event)

    def wake(self) -> None:
        self._wake.set()

    @property
    def pending(self) -> bool:
        return bool(self._calls or self._events)

    def lag_seconds(self) -> float:
        """How long the oldest unsaved change has waited (0 when all is saved)."""
        since = self.stats.oldest_pending_monotonic
        return 0.0 if since is None else time.monotonic() - since

    # -- saving -------------------------------------------------------------------------
    def _take(self) -> tuple[list[Unit], list[object]]:
        calls, self._calls = self._calls, {}
        legs, self._legs = self._legs, {}
        events, self._events = self._events, []
        units = {c.id: Unit(c) for c in calls.values()}
        for leg in legs.values():
            units.setdefault(leg.call_pk, Unit(_owner(leg, calls))).legs.append(leg)
        for ev in events:
            if isinstance(ev, ViolationRecorded) and ev.call_pk in units:
                units[ev.call_pk].violations.append(ev)
        for unit in units.values():
            unit.call.dirty = False
            for leg in unit.legs:
                leg.dirty = False
        return list(units.values()), events

    def _put_back(self, units: Sequence[Unit], events: list[object]) -> None:
        for unit in units:
            unit.call.dirty = True
            self._calls.setdefault(unit.call.id, unit.call)
            for leg in unit.legs:
                leg.dirty = True
                self._legs.setdefault(leg.id, leg)
        self._events[:0] = events

    async def _save(self, units: Sequence[Unit]) -> None:
        async with self.engine.begin() as conn:
            await store.save(
                conn,
                [u.call for u in units],
                [leg for u in units for leg in u.legs],
                [v for u in units for v in u.violations],
            )
        # Committed: a later failure in the same flush must not write these again.
        for unit in units:
            unit.saved = True
            unit.call.persisted = True
            for leg in unit.legs:
                leg.persisted = True

    async def _save_splitting(self, units: Sequence[Unit]) -> list[Unit]:
        """Save `units`; a content error splits them until the call at fault is alone.
        Returns the units parked (not saved); raises if the database is unreachable."""
        try:
            await self._save(units)
            return []
        except _CONTENT_ERRORS as exc:
            if len(units) == 1:
                self._park(units[0], exc)
                return list(units)
        half = len(units) // 2
        return [
            *await self._save_splitting(units[:half]),
            *await self._save_splitting(units[half:]),
        ]

    def _park(self, unit: Unit, exc: Exception) -> None:
        kind = type(getattr(exc, "orig", None) or exc).__name__
        self.stats.parked[kind] += 1
        reason = _first_line(exc)
        log.error(
            "a call the database refused was parked call=%s source=%s reason=%s",
            unit.call.id,
            unit.call.source,
            reason,
        )
        if self.spill_dir is not None:
            _append_json(self.spill_dir / "parked.jsonl", {"reason": reason, **_unit_json(unit)})

    async def flush(self) -> None:
        """Write every change since the last flush, then publish its events."""
        if not self.pending:
            self._idle.set()
            return
        units, events = self._take()
        try:
            parked = await self._save_splitting(units)
        except BaseException as exc:
            # Down, locked, or cancelled at shutdown: what was not committed goes back, so
            # the next flush (or the spill file) has it. Events wait for their calls.
            if isinstance(exc, Exception):
                self.stats.failures += 1
                self.stats.consecutive_failures += 1
                log.error("saving call state failed; will retry calls=%d error=%s",
                          len(units), _first_line(exc))  # fmt: skip
            self._put_back([u for u in units if not u.saved], events)
            raise
        self.stats.batches += 1
        self.stats.consecutive_failures = 0
        self.stats.last_ok_monotonic = time.monotonic()
        gone = {u.call.id for u in parked}
        await self.bus.publish_all([e for e in events if getattr(e, "call_pk", None) not in gone])
        if not self.pending:
            self.stats.oldest_pending_monotonic = None
            self._idle.set()

    async def run(self) -> None:
        """Flush every `flush_interval` (at once when woken) until `stop`; a flush under way
        is finished, never cancelled halfway through its transaction."""
        loop = asyncio.get_running_loop()
        backoff = self.flush_interval
        while not self._stopping:
            try:
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if self._stopping:
                break
            started = loop.time()
            try:
                await self.flush()
                backoff = self.flush_interval
            except Exception:
                backoff = min(5.0, backoff * 2)
            # A gap between batches keeps the core for the listener and the timers.
            await asyncio.sleep(max(0.0, self.min_flush_gap - (loop.time() - started)))

    async def settled(self) -> None:
        self._wake.set()
        await self._idle.wait()

    # -- shutdown and the next start ----------------------------------------------------
    def stop(self) -> None:
        """End `run` after the flush under way (shutdown: the final flush follows)."""
        self._stopping = True
        self._wake.set()

    async def final_flush(self, grace_seconds: float) -> None:
        """Save what is left, retrying for `grace_seconds`; what still cannot be saved is
        written to a spill file the next start replays."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_seconds
        delay = 0.1
        while self.pending:
            try:
                async with asyncio.timeout(max(0.01, deadline - loop.time())):
                    await self.flush()
                return
            except Exception as exc:
                if loop.time() + delay >= deadline:
                    self._spill(exc)
                    return
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    def _spill(self, exc: Exception) -> None:
        units, events = self._take()
        if self.spill_dir is None:
            log.critical("could not save calls at shutdown and no spill directory: lost=%d",
                         len(units))  # fmt: skip
            return
        path = self.spill_dir / f"calls-{time.time_ns()}.json"
        _write_atomically(path, {"units": [_unit_json(u) for u in units]})
        self.stats.spilled += len(units)
        log.critical(
            "could not save %d calls at shutdown (%s): kept in %s; the next start saves them",
            len(units),
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            path,
        )
        del events  # their calls are in the file; the events were never published

    async def _mark_existing(self, units: Sequence[Unit]) -> None:
        """A spilled save may have reached the database after all (a commit that finished
        as shutdown gave up on it): what is there is updated, not inserted again."""
        async with self.engine.connect() as conn:
            have = await store.existing_ids(
                conn,
                [u.call.id for u in units],
                [leg.id for u in units for leg in u.legs],
                [v.id for u in units for v in u.violations],
            )
        for unit in units:
            unit.call.persisted = unit.call.id in have
            for leg in unit.legs:
                leg.persisted = leg.id in have
            unit.violations = [v for v in unit.violations if v.id not in have]

    async def replay_spill(self, agents: Callable[[int], AgentRef | None]) -> int:
        """Save the calls an earlier shutdown could not, then remove their files."""
        if self.spill_dir is None or not self.spill_dir.is_dir():
            return 0
        count = 0
        for path in sorted(self.spill_dir.glob(_SPILL_GLOB)):
            units = [_unit_from_json(u, agents) for u in json.loads(path.read_text())["units"]]
            await self._mark_existing(units)
            parked = await self._save_splitting(units)
            count += len(units) - len(parked)
            path.unlink()
            log.warning("saved %d calls kept at the last shutdown from %s", len(units), path)
        self.stats.replayed += count
        return count


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _owner(leg: LegState, calls: dict[str, CallState]) -> CallState:
    call = calls.get(leg.call_pk)
    if call is None:  # a leg changes only with its call; the call is always marked too
        raise AssertionError(f"leg {leg.id} changed without its call")
    return call


# -- files ------------------------------------------------------------------------------
def _write_atomically(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(body, fh, default=_json_default)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.rename(path)


def _append_json(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(body, default=_json_default) + "\n")


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    raise TypeError(type(value).__name__)


def _revive(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$dt"}:
        return datetime.fromisoformat(value["$dt"])
    return value


def _unit_json(unit: Unit) -> dict[str, Any]:
    return {
        "call": {**store.call_row(unit.call), "persisted": unit.call.persisted},
        "legs": [{**store.leg_row(leg), "persisted": leg.persisted} for leg in unit.legs],
        "violations": [store.violation_row(v) | {"agent": v.agent} for v in unit.violations],
    }


def _unit_from_json(raw: dict[str, Any], agents: Callable[[int], AgentRef | None]) -> Unit:
    call_row = {k: _revive(v) for k, v in raw["call"].items()}
    call = store.call_from_row(call_row)
    call.persisted = bool(call_row["persisted"])
    legs = []
    for leg_raw in raw["legs"]:
        row = {k: _revive(v) for k, v in leg_raw.items()}
        agent_id = row.get("agent_id")
        leg = store.leg_from_row(row, agents(agent_id) if agent_id is not None else None)
        leg.persisted = bool(row["persisted"])
        legs.append(leg)
    violations = [
        store.violation_from_row({k: _revive(v) for k, v in row.items()})
        for row in raw["violations"]
    ]
    return Unit(call, legs, violations)
