"""The latest picture, for ``/snapshot.jpg`` (``?raw=1``: undrawn) and ``/stream.mjpg``.

Each check publishes its annotated JPEG, and the camera's own JPEG, here;
stream clients wait for the next one. Only the newest picture is kept: a slow reader skips pictures instead of
queueing them.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["LiveView"]


class LiveView:
    """Newest-picture holder. Use from the event loop only."""

    def __init__(self) -> None:
        self.latest: bytes | None = None
        self.latest_raw: bytes | None = None  # the same frame as the camera gave it, nothing drawn
        self.frame_id = 0
        self.published_at = 0.0  # time.monotonic() of the latest picture
        self.version = 0
        self.not_live = False  # ``latest`` is the last picture marked "camera offline"
        self.stream_viewers = 0
        self._changed = asyncio.Event()

    def publish(self, jpeg: bytes, frame_id: int, *, raw: bytes | None = None) -> None:
        """``jpeg``: the annotated picture; ``raw``: the camera's JPEG of the same frame."""
        self.latest = jpeg
        self.latest_raw = raw
        self.frame_id = frame_id
        self.published_at = time.monotonic()
        self.not_live = False
        self._bump()

    def show_not_live(self, jpeg: bytes, *, version: int) -> bool:
        """Show ``jpeg`` (the latest picture marked as not live) in place of the picture of
        ``version``; False, and nothing changed, when a newer picture came meanwhile.
        ``latest_raw`` stays the camera's picture: raw is never drawn on."""
        if version != self.version or self.latest is None:
            return False
        self.latest = jpeg
        self.not_live = True
        self._bump()
        return True

    def _bump(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def next_after(self, version: int) -> tuple[int, bytes]:
        """The first picture newer than ``version`` (waits for one if needed)."""
        while self.version <= version or self.latest is None:
            await self._changed.wait()
        return self.version, self.latest
