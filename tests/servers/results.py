"""Collect a Notifier's results and wait on them as events (shared by the notify tests)."""

from __future__ import annotations

import asyncio

from pinozcam_klipper.notify import DeliveryResult


class Results:
    """Pass as ``on_result``; ``await results.wait(n)`` returns once ``n`` results have arrived."""

    def __init__(self) -> None:
        self.items: list[DeliveryResult] = []
        self._changed = asyncio.Event()

    def __call__(self, result: DeliveryResult) -> None:
        self.items.append(result)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 10.0) -> list[DeliveryResult]:
        async def until() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)
        return list(self.items)
