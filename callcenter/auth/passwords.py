"""Password hashing off the event loop: argon2 takes ~0.1 s of CPU by design, which on the
loop would hold up every ring-limit timer and HEP datagram. Two threads at most hash or
verify (argon2 releases the GIL), and a bounded number of logins may wait for them."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from callcenter.auth.guard import TooManyAttempts

THREADS = 2
# Past this many logins waiting for a thread (~2 s of work), answer 429 at once.
MAX_WAITING = 64

_hasher = PasswordHasher()
_waiting = 0
_refusing = False  # refusing since the queue was last short: only the first refusal is news
T = TypeVar("T")


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="password-hash")


async def _off_loop(work: Callable[[], T]) -> T:
    global _waiting, _refusing
    if _waiting >= MAX_WAITING:
        first, _refusing = not _refusing, True
        raise TooManyAttempts(
            "too-many-attempts",
            "too many logins at once; try again in a moment",
            retry_after=1,
            reason="busy",
            first=first,
        )
    _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_pool(), work)
    finally:
        _waiting -= 1
        if _waiting < MAX_WAITING // 2:
            _refusing = False


def _check(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("not-a-real-password")


async def hash_password(password: str) -> str:
    return await _off_loop(lambda: _hasher.hash(password))


async def verify_password(hashed: str | None, password: str) -> bool:
    """Whether `password` matches `hashed`. With no hash (no such user) a dummy is checked,
    so the answer takes as long and a login form does not tell which names exist."""
    if hashed is None:
        dummy = await _off_loop(_dummy_hash)
        await _off_loop(lambda: _check(dummy, password))
        return False
    return await _off_loop(lambda: _check(hashed, password))


def needs_rehash(hashed: str) -> bool:
    """The hash was made with weaker parameters than today's: store a new one."""
    return _hasher.check_needs_rehash(hashed)
