"""Sampling the camera and running inference: the newest frame wins.

:class:`Watcher` runs two tasks. The *sampler* reads a frame from the camera
whenever a check is due (every ``interval()`` seconds, or at once after
:meth:`Watcher.check_now`) and drops it into a one-frame mailbox; a frame still
waiting there is replaced, never queued, and counted in :attr:`dropped`. The
*checker* takes the mailbox's frame and analyses and annotates it on the one
inference thread, then hands the :class:`Check` to ``on_check``.

``interval()`` is the caller's policy: seconds between checks, or ``None``
when no check is wanted (idle).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..camera import CameraError, Frame, FrameSource, unexpected_camera_error
from ..pipeline import FrameAnalyser, FrameAnalysis

__all__ = ["Check", "Watcher"]

logger = logging.getLogger(__name__)

#: Longest side of the annotated picture (alerts, panel, incident). Telegram refuses a photo
#: whose width and height add up to more than 10000 px or that is over 10 MB, and Discord an
#: attachment over 10 MB: a 48 MP camera's frame would lose the whole alert. The raw frames
#: an incident keeps stay at full size.
ANNOTATED_MAX_SIDE = 1920


@dataclass(frozen=True)
class Check:
    """One analysed frame. ``received`` is ``time.monotonic()`` when the frame reached the worker."""

    frame_id: int
    wall_time: float
    received: float
    frame: Frame
    analysis: FrameAnalysis
    annotated: bytes
    reason: str


class _Mailbox:
    """Holds at most one item; a new item replaces an unread one."""

    def __init__(self) -> None:
        self._item: Any = None
        self._ready = asyncio.Event()

    def put(self, item: Any) -> bool:
        """Store ``item``; True when it replaced one nobody had taken (a dropped frame)."""
        replaced = self._ready.is_set()
        self._item = item
        self._ready.set()
        return replaced

    async def get(self) -> Any:
        await self._ready.wait()
        self._ready.clear()
        item, self._item = self._item, None
        return item


class Watcher:
    """Reads, analyses and annotates frames; see the module docstring.

    Call :meth:`start` once inside the event loop and :meth:`stop` to end both
    tasks and the inference thread. ``analyser`` may be swapped (new settings)
    between checks with :attr:`analyser`.
    """

    def __init__(self, *, camera: FrameSource, analyser: FrameAnalyser,
                 interval: Callable[[], float | None],
                 on_check: Callable[[Check], Awaitable[None]],
                 on_camera_error: Callable[[CameraError], None],
                 failure_hold: float = 5.0) -> None:
        self.camera = camera
        self.analyser = analyser
        self._interval = interval
        self._on_check = on_check
        self._on_camera_error = on_camera_error
        self.failure_hold = failure_hold
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._mailbox = _Mailbox()
        self._wake = asyncio.Event()
        self._now_reasons: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._frame_ids = 0
        self._held: tuple[float, FrameAnalysis] | None = None  # the last failure frame, to keep drawn
        self._unexpected_seen: str | None = None  # kind of the last unforeseen camera exception logged
        self.dropped = 0
        self.check_times: deque[float] = deque(maxlen=600)
        self.last_inference_ms: float | None = None
        self.last_total_ms: float | None = None

    # -- life cycle -------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._sample_loop(), name="sampler"),
                       asyncio.create_task(self._check_loop(), name="checker")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1.0)
        # An analysis in flight finishes on its own; do not wait for it.
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- control ----------------------------------------------------------------------
    def check_now(self, reason: str = "detect_now") -> None:
        """Take a frame and check it as soon as possible, whatever the interval."""
        self._now_reasons.append(reason)
        self._wake.set()

    def poke(self) -> None:
        """Re-read ``interval()`` now (the print state or the settings changed)."""
        self._wake.set()

    def checks_per_minute(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return float(sum(1 for t in self.check_times if t >= now - 60.0))

    async def in_thread(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run ``func`` on the inference thread (the detector is not thread-safe)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    # -- loops ------------------------------------------------------------------------
    async def _sample_loop(self) -> None:
        last = -float("inf")
        while True:
            if not self._now_reasons:
                interval = self._interval()
                timeout = None if interval is None else last + interval - time.monotonic()
                if timeout is None or timeout > 0:
                    # Nothing awaits between the check above and this clear, so no wake is lost.
                    self._wake.clear()
                    # asyncio.wait, not wait_for: before Python 3.12 wait_for can swallow a
                    # cancellation that lands as the event fires, and stop() would hang.
                    waiter = asyncio.ensure_future(self._wake.wait())
                    try:
                        await asyncio.wait({waiter}, timeout=timeout)
                    finally:
                        waiter.cancel()
                    continue  # due now, asked for now, or the policy changed: look again
            reason = self._now_reasons.pop(0) if self._now_reasons else "interval"
            self._now_reasons.clear()
            last = time.monotonic()
            if not await self._sample(reason):
                # The camera was replaced during the read: take a frame from the new one now.
                last = -float("inf")
                if reason != "interval":
                    self._now_reasons.append(reason)

    async def _sample(self, reason: str) -> bool:
        """Read one frame into the mailbox; False when the camera was swapped during the read.

        Whatever the read raises is a camera failure reported to ``on_camera_error``: the
        sampler must outlive every camera, or checks stop for good with nobody told.
        """
        camera = self.camera
        try:
            frame = await camera.read()
        except Exception as exc:
            if camera is not self.camera:
                return False  # the old camera was closed under the read: its error is stale
            if not isinstance(exc, CameraError):
                exc = self._unexpected(exc)
            try:
                self._on_camera_error(exc)
            except Exception:
                logger.exception("handling a camera error failed")
            return True
        self._unexpected_seen = None
        if self._mailbox.put((frame, time.monotonic(), reason)):
            self.dropped += 1
            logger.debug("inference busy: dropped a frame (%d so far)", self.dropped)
        return True

    def _unexpected(self, exc: Exception) -> CameraError:
        """A :class:`CameraError` for an exception the camera did not turn into one; logged
        with its traceback once per run of such failures (not on every read)."""
        error = unexpected_camera_error(exc, getattr(self.camera, "description", "camera"))
        if self._unexpected_seen != type(exc).__name__:
            self._unexpected_seen = type(exc).__name__
            logger.error("camera read failed unexpectedly; checks go on: %s", error, exc_info=exc)
        return error

    async def _check_loop(self) -> None:
        while True:
            frame, received, reason = await self._mailbox.get()
            self._frame_ids += 1
            frame_id = self._frame_ids
            try:
                analysis, annotated = await self.in_thread(self._analyse, frame, self.analyser, frame_id)
            except Exception:  # one bad frame must not end the watch
                logger.exception("analysing frame %d failed", frame_id)
                continue
            self.check_times.append(time.monotonic())
            self.last_inference_ms = analysis.detection.inference_ms
            self.last_total_ms = analysis.total_ms
            check = Check(frame_id, time.time(), received, frame, analysis, annotated, reason)
            try:
                await self._on_check(check)
            except Exception:
                logger.exception("handling check %d failed", frame_id)

    def _analyse(self, frame: Frame, analyser: FrameAnalyser, frame_id: int) -> tuple[FrameAnalysis, bytes]:
        image = frame.bgr
        frame.jpeg  # noqa: B018 - encode a turned frame here, off the event loop (raw snapshot)
        analysis = analyser.analyse(image)
        now = time.monotonic()
        drawn = analysis
        if analysis.assessment.band == "failure":
            self._held = (now, analysis)
        elif self._held is not None and now - self._held[0] <= self.failure_hold:
            drawn = self._held[1]  # keep the failure boxes on screen a little longer
        return analysis, analyser.annotate(image, drawn, header=f"#{frame_id}", max_side=ANNOTATED_MAX_SIDE)
