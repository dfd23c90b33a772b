"""stop_all ends every task, even one that swallowed its cancellation (Python 3.11's
asyncio.wait_for does when a result arrives with the cancel: aiomqtt's publish under load)."""

from __future__ import annotations

import asyncio

import pytest

from callcenter.tasks import owned, stop_all


async def test_stop_all_ends_a_task_that_swallowed_its_cancellation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    swallowed = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            swallowed.set()  # and carries on, as if the cancel never came
        await asyncio.sleep(60)

    task = owned("stubborn", stubborn())
    quiet = owned("quiet", asyncio.sleep(60))
    await asyncio.sleep(0)
    async with asyncio.timeout(5):
        await stop_all([task, quiet])
    assert swallowed.is_set() and task.cancelled() and quiet.cancelled()
    assert "ignored their cancellation; cancelled again tasks=stubborn" in caplog.text


async def test_the_token_flusher_finishes_its_last_save_though_cancelled_again() -> None:
    from datetime import UTC, datetime

    from callcenter.auth.service import TokenUsage, run_last_used_flusher

    saved: list[dict[int, datetime]] = []

    class SlowUsage(TokenUsage):
        async def flush(self, engine: object) -> int:  # type: ignore[override]
            batch, self._pending = self._pending, {}
            await asyncio.sleep(1.5)  # longer than stop_all's second cancel
            saved.append(batch)
            return len(batch)

    usage = SlowUsage()
    task = owned("token-last-used", run_last_used_flusher(lambda: None, usage, interval=60))  # type: ignore[arg-type, return-value]
    await asyncio.sleep(0)
    usage.record(7, datetime(2027, 1, 1, tzinfo=UTC))
    async with asyncio.timeout(8):
        await stop_all([task])
    assert task.cancelled()
    assert saved == [{7: datetime(2027, 1, 1, tzinfo=UTC)}]
