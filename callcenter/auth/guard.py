"""Password guessing: a user name is locked after `max_failures` wrong passwords in a row,
and a client address gets at most so many failed logins a minute.

Kept in memory, per process, on the service's clock: a restart forgets it (the auth log keeps
every attempt). Attempts still being checked count as failures until they are decided, so a
burst of parallel guesses gets no more tries than a sequence would.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from callcenter.clock import Clock
from callcenter.errors import DomainError

_MINUTE = timedelta(minutes=1)


class TooManyAttempts(DomainError):
    """Refused without checking the password (HTTP 429). details: retry_after (whole
    seconds), reason ("locked", "throttled" or "busy"), first (the first refusal of this
    lock or window: the one worth a log line and an auth log row)."""


@dataclass
class _Name:
    failures: int = 0
    pending: int = 0
    last_failure: datetime | None = None
    locked_until: datetime | None = None
    refused: int = 0


@dataclass
class _Address:
    failures: deque[datetime] = field(default_factory=deque)
    pending: int = 0
    refused: int = 0


@dataclass(frozen=True, slots=True)
class Ticket:
    """One admitted attempt; decide it with succeeded, failed or release."""

    name: str
    address: str


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))


class LoginGuard:
    def __init__(
        self,
        clock: Clock,
        max_failures: int,
        lockout: timedelta,
        per_address_per_minute: int,
        max_entries: int = 50_000,
    ) -> None:
        self.clock = clock
        self.max_failures = max_failures
        self.lockout = lockout
        self.per_address = per_address_per_minute
        self.max_entries = max_entries
        self._names: dict[str, _Name] = {}
        self._addresses: dict[str, _Address] = {}

    def admit(self, name: str, address: str) -> Ticket:
        """Let an attempt be checked, or raise TooManyAttempts."""
        now = self.clock.now()
        if len(self._names) + len(self._addresses) > self.max_entries:
            self._prune(now)
        user = self._name(name, now)
        if user.locked_until is not None:
            user.refused += 1
            raise TooManyAttempts(
                "too-many-attempts",
                "too many wrong passwords for this user name; try again later",
                retry_after=_seconds(user.locked_until - now),
                reason="locked",
                first=user.refused == 1,
            )
        if user.failures + user.pending >= self.max_failures:
            # The attempts still being checked may lock it: wait for them.
            raise TooManyAttempts(
                "too-many-attempts",
                "too many attempts for this user name at once; try again later",
                retry_after=1,
                reason="locked",
                first=False,
            )
        source = self._address(address, now)
        if len(source.failures) + source.pending >= self.per_address:
            source.refused += 1
            oldest = source.failures[0] if source.failures else now
            raise TooManyAttempts(
                "too-many-attempts",
                "too many failed logins from this address; try again later",
                retry_after=_seconds(oldest + _MINUTE - now),
                reason="throttled",
                first=source.refused == 1,
            )
        user.pending += 1
        source.pending += 1
        return Ticket(name, address)

    def succeeded(self, ticket: Ticket) -> None:
        """A right password clears the name's count (and a lock other attempts made)."""
        now = self.clock.now()
        self._address(ticket.address, now).pending -= 1
        user = self._name(ticket.name, now)
        user.pending -= 1
        user.failures, user.last_failure, user.locked_until = 0, None, None
        if user.pending == 0:
            del self._names[ticket.name]

    def failed(self, ticket: Ticket) -> datetime | None:
        """Count a wrong password; return when the lock ends if this one locked the name."""
        now = self.clock.now()
        source = self._address(ticket.address, now)
        source.pending -= 1
        source.failures.append(now)
        user = self._name(ticket.name, now)
        user.pending -= 1
        user.failures += 1
        user.last_failure = now
        if user.failures >= self.max_failures and user.locked_until is None:
            user.locked_until = now + self.lockout
            user.refused = 0
            return user.locked_until
        return None

    def release(self, ticket: Ticket) -> None:
        """The attempt could not be decided (the database was down): count nothing."""
        now = self.clock.now()
        self._address(ticket.address, now).pending -= 1
        self._name(ticket.name, now).pending -= 1

    def _name(self, name: str, now: datetime) -> _Name:
        user = self._names.setdefault(name, _Name())
        if user.locked_until is not None and user.locked_until <= now:
            user.locked_until, user.failures, user.refused = None, 0, 0
        elif (
            user.locked_until is None
            and user.last_failure is not None
            and now - user.last_failure >= self.lockout
        ):
            user.failures = 0  # old failures are forgotten after a lockout's length
        return user

    def _address(self, address: str, now: datetime) -> _Address:
        source = self._addresses.setdefault(address, _Address())
        while source.failures and source.failures[0] <= now - _MINUTE:
            source.failures.popleft()
        if not source.failures:
            source.refused = 0
        return source

    def _prune(self, now: datetime) -> None:
        """Forget what no longer limits anyone; if still too many, the oldest idle entries
        (an attacker spraying names or addresses must not grow memory without bound)."""
        for name in list(self._names):
            user = self._name(name, now)
            if user.pending == 0 and user.locked_until is None and user.failures == 0:
                del self._names[name]
        for address in list(self._addresses):
            source = self._address(address, now)
            if source.pending == 0 and not source.failures:
                del self._addresses[address]
        keep = self.max_entries * 9 // 20  # room for both tables, below the limit
        idle_names = [k for k, v in self._names.items() if v.pending == 0]
        for name in idle_names[: max(0, len(self._names) - keep)]:
            del self._names[name]
        idle_addresses = [k for k, v in self._addresses.items() if v.pending == 0]
        for address in idle_addresses[: max(0, len(self._addresses) - keep)]:
            del self._addresses[address]
