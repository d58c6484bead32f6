"""Frames from ``cv2.VideoCapture``: a V4L2 camera device (or an index) or an RTSP stream.

``VideoCapture.read()`` returns the oldest frame still queued, not the newest: a V4L2 driver
holds the frames its buffers filled since the last read (about one check interval old), and
FFmpeg queues every frame a network stream sent since the last read, so a stream falls
further behind with each check and a failure is seen late. So each read first grabs, and so
drops, what queued since the last one, and decodes only the newest (:func:`grab_newest`).
That needs no background thread: nothing runs between checks. (A network stream's queued
frames are still decoded while grabbed, as H.264 needs, but none is converted to BGR.)

Every call into OpenCV runs in a thread of its own (a daemon thread, not asyncio's shared
pool) under a lock, a failed grab releases the device so the next read reopens it, and each
read waits at most ``timeout``. OpenCV cannot be interrupted: opening an RTSP server that
accepts and never answers blocks for 30 s. So a read that timed out leaves its thread
running, and reads fail at once until it returns instead of queueing more threads behind the
lock (they would fill asyncio's pool, which DNS lookups for the alerts share); and closing does
not wait for it, so a worker told to stop exits at once. The machines
that run the tests have no camera: the read logic is tested with a scripted stand-in for
``cv2.VideoCapture`` (see ``opener``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2

from ..redact import redact_url_credentials
from .frame import CameraError, Frame, FrameSource

__all__ = ["Capture", "GrabPlan", "Grabbed", "VideoCaptureSource", "grab_newest", "plan_grabs"]

logger = logging.getLogger(__name__)

#: The frame rate assumed when a stream reports none that is plausible (FFmpeg may report
#: 90000, an RTP clock rate, or 0).
DEFAULT_FPS = 30.0
#: Most grabs one read of a network stream makes: 10 s of a 30 fps stream.
MAX_NETWORK_GRABS = 300
#: Extra grabs allowed on a V4L2 device past the buffers it says it has (a driver may
#: allocate more than asked for).
EXTRA_DEVICE_GRABS = 8


class Capture(Protocol):
    """The part of ``cv2.VideoCapture`` a read uses."""

    def isOpened(self) -> bool: ...
    def grab(self) -> bool: ...
    def retrieve(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def set(self, prop: int, value: float) -> bool: ...
    def release(self) -> None: ...


@dataclass(frozen=True)
class GrabPlan:
    """How one read drains the queue before decoding.

    ``min_grabs`` are always made (frames known to be queued, plus one); past them, a grab
    that waited at least ``fresh_after`` seconds got a frame made after the read began, so
    draining stops. ``max_grabs`` and ``deadline`` (a clock value) bound the work.
    """

    min_grabs: int
    max_grabs: int
    fresh_after: float
    deadline: float


@dataclass(frozen=True)
class Grabbed:
    """What draining did: ``caught_up`` is False when it stopped at a bound while frames were
    still queued; ``fastest`` is its quickest grab in seconds (a queued frame's decode time)."""

    grabs: int
    caught_up: bool
    fastest: float


def plan_grabs(*, network: bool, fps: float, buffers: float, fastest: float,
               now: float, budget: float) -> GrabPlan:
    """The :class:`GrabPlan` for one read.

    A V4L2 device queues at most ``buffers`` frames (what ``CAP_PROP_BUFFERSIZE`` reports;
    4, OpenCV's default, when it reports nothing): grabbing one more than that always
    reaches a fresh frame. A network stream queues any number, so it is drained until a grab
    waits: longer than half a frame period, or than 1.5 times ``fastest`` (the quickest grab
    seen on this connection, which is the decoder's time for a queued frame) where a slow
    decoder makes queued grabs take that long; never more than 0.9 frame period.
    """
    period = 1.0 / (fps if 1.0 <= fps <= 120.0 else DEFAULT_FPS)
    fresh_after = min(max(period / 2, 1.5 * fastest), 0.9 * period)
    deadline = now + budget
    if network:
        return GrabPlan(1, MAX_NETWORK_GRABS, fresh_after, deadline)
    queued = int(buffers) if 1 <= buffers <= 32 else 4
    return GrabPlan(queued + 1, queued + 1 + EXTRA_DEVICE_GRABS, fresh_after, deadline)


def grab_newest(cap: Capture, plan: GrabPlan, clock: Callable[[], float]) -> Grabbed | None:
    """Grab until the capture holds the newest frame (``retrieve()`` then decodes it).

    None when a grab fails (the device is gone or the stream ended).
    """
    grabs = 0
    fastest = float("inf")
    while True:
        started = clock()
        if not cap.grab():
            return None
        grabs += 1
        took = clock() - started
        fastest = min(fastest, took)
        if grabs >= plan.min_grabs and took >= plan.fresh_after:
            return Grabbed(grabs, True, fastest)
        if grabs >= plan.max_grabs or clock() >= plan.deadline:
            return Grabbed(grabs, False, fastest)


def _open_capture(target: int | str) -> Capture:
    return cv2.VideoCapture(target)


class VideoCaptureSource(FrameSource):
    """Reads ``device``: an RTSP URL (anything with ``://``), a camera device path or an index.

    ``opener`` makes the capture (``cv2.VideoCapture`` unless a test passes a stand-in);
    ``clock`` times the grabs.
    """

    def __init__(self, device: int | str, *, timeout: float = 5.0,
                 opener: Callable[[int | str], Capture] = _open_capture,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.device = device
        self.timeout = timeout
        self.network = isinstance(device, str) and "://" in device
        self.description = f"device {redact_url_credentials(str(device))}"
        self._opener = opener
        self._clock = clock
        self._lock = threading.Lock()
        self._cap: Capture | None = None
        self._fastest_grab = 0.0  # 0: nothing measured on this connection yet
        self._counter = 0
        self._closed = False
        self._busy: asyncio.Future[Frame] | None = None  # the read whose thread still runs
        self.reconnects_to_catch_up = 0

    def _open(self) -> Capture:
        target = self.device
        if isinstance(target, str) and not self.network:
            if not os.path.exists(target):
                raise CameraError(f"no such camera device: {target} (unplugged?)")
            # /dev/v4l/by-id/... is a link to /dev/videoN; followed at each open, as a camera
            # plugged in again may get another number.
            target = os.path.realpath(target)
        cap = self._opener(target)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"cannot open {self.description}")
        if not self.network:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # a short queue: less to drop at each read
        self._fastest_grab = 0.0
        return cap

    def _drop_capture(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _grab(self) -> Frame:
        with self._lock:
            if self._closed:
                raise CameraError("the camera is closed")
            if self._cap is None or not self._cap.isOpened():
                self._cap = self._open()
            cap = self._cap
            plan = plan_grabs(network=self.network, fps=cap.get(cv2.CAP_PROP_FPS),
                              buffers=cap.get(cv2.CAP_PROP_BUFFERSIZE), fastest=self._fastest_grab,
                              now=self._clock(), budget=self.timeout / 2)
            grabbed = grab_newest(cap, plan, self._clock)
            ok, image = cap.retrieve() if grabbed is not None else (False, None)
            if self._closed:  # closed while OpenCV was blocked (see close)
                self._drop_capture()
                raise CameraError("the camera is closed")
            if grabbed is None or not ok or image is None:
                self._drop_capture()
                raise CameraError(f"no picture from {self.description}")
            self._fastest_grab = min(self._fastest_grab or grabbed.fastest, grabbed.fastest)
            if self.network and not grabbed.caught_up:
                # Still behind after the most a read may drain: start again at the live end.
                self.reconnects_to_catch_up += 1
                log = logger.info if self.reconnects_to_catch_up == 1 else logger.debug
                log("camera stream still behind after dropping %d frames (%s): reconnecting",
                    grabbed.grabs, self.description)
                self._drop_capture()
            self._counter += 1
            return Frame(bgr=image, captured_at=self._clock(), counter=self._counter)

    async def read(self) -> Frame:
        if self._busy is not None and not self._busy.done():
            raise CameraError(f"no picture from {self.description}: it has not answered the "
                              "last read yet")
        self._busy = _in_daemon_thread(self._grab)
        try:
            # Shielded: a timeout leaves the read running (OpenCV cannot be stopped), and
            # _busy says so until its thread returns.
            return await asyncio.wait_for(asyncio.shield(self._busy), self.timeout)
        except asyncio.TimeoutError:
            raise CameraError(f"no picture from {self.description} within {self.timeout:g} s") from None

    def _release(self) -> None:
        with self._lock:
            self._closed = True
            self._drop_capture()

    async def close(self) -> None:
        # Set without the lock, which a read blocked in OpenCV may hold: that read drops the
        # capture itself when it returns. Waits at most a second for the release.
        self._closed = True
        try:
            await asyncio.wait_for(asyncio.shield(_in_daemon_thread(self._release)), 1.0)
        except asyncio.TimeoutError:
            logger.info("camera %s still busy in OpenCV: released when its read returns", self.description)


def _in_daemon_thread(call: Callable[[], Any]) -> asyncio.Future[Any]:
    """``call()`` in a daemon thread of its own; the future gets its result or exception.

    A daemon thread, so that an OpenCV call that never returns cannot keep the process from
    exiting, and not asyncio's shared pool, which it would otherwise hold.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    # Nobody may await a read that timed out: mark its outcome as seen, so it is not logged.
    future.add_done_callback(lambda done: done.cancelled() or done.exception())

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            result, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:
            pass  # the loop has closed: nobody waits any more

    threading.Thread(target=run, name="pinozcam-camera", daemon=True).start()
    return future
