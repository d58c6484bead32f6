"""Each read of a V4L2 device or a network stream gives a frame made after the read began.

No camera here, so ``cv2.VideoCapture`` is replaced by :class:`ScriptedCapture`: a camera
making a frame every ``period`` seconds into a queue (bounded, as a V4L2 driver's buffers,
or not, as FFmpeg's for a network stream), on a fake clock that only grabs move on.
Unit-level: this checks the draining logic, not OpenCV.
"""

from __future__ import annotations

import asyncio
import math
import threading
from typing import Any

import cv2
import numpy as np
import pytest

from pinozcam_klipper.camera import CameraError
from pinozcam_klipper.camera.capture import MAX_NETWORK_GRABS, GrabPlan, VideoCaptureSource, grab_newest


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ScriptedCapture:
    """Frames made at ``opened_at + k * period`` (k = 1, 2, ...); a full queue drops new ones."""

    def __init__(self, clock: FakeClock, *, period: float, buffers: int | None, reported_fps: float,
                 reported_buffers: float = -1.0, honours_buffer_size: bool = True,
                 decode: float = 0.0) -> None:
        self.clock = clock
        self.period = period
        self.buffers = buffers
        self.reported_fps = reported_fps
        self.reported_buffers = reported_buffers
        self.honours_buffer_size = honours_buffer_size
        self.decode = decode
        self.opened_at = clock.now
        self.made = 0  # frames the camera has made so far
        self.queue: list[float] = []  # when each queued frame was made, oldest first
        self.held: float | None = None  # when the grabbed frame was made
        self.grabs = 0
        self.open = True

    def _made_at(self, k: int) -> float:
        return self.opened_at + k * self.period

    def _fill(self) -> None:
        while self._made_at(self.made + 1) <= self.clock.now:
            self.made += 1
            if self.buffers is None or len(self.queue) < self.buffers:
                self.queue.append(self._made_at(self.made))

    def isOpened(self) -> bool:
        return self.open

    def grab(self) -> bool:
        self.grabs += 1
        self._fill()
        if not self.queue:
            self.clock.now = self._made_at(self.made + 1)  # wait for the camera
            self._fill()
        self.held = self.queue.pop(0)
        self.clock.now += self.decode
        return True

    def retrieve(self) -> tuple[bool, Any]:
        return True, np.zeros((2, 2, 3), np.uint8)

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_FPS:
            return self.reported_fps
        if prop == cv2.CAP_PROP_BUFFERSIZE:
            return self.reported_buffers
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        if prop == cv2.CAP_PROP_BUFFERSIZE and self.buffers is not None and self.honours_buffer_size:
            self.buffers = int(value)
            self.reported_buffers = value
        return True

    def release(self) -> None:
        self.open = False


class Opener:
    def __init__(self, clock: FakeClock, **capture: Any) -> None:
        self.clock = clock
        self.capture = capture
        self.opened: list[ScriptedCapture] = []

    def __call__(self, target: int | str) -> ScriptedCapture:
        self.opened.append(ScriptedCapture(self.clock, **self.capture))
        return self.opened[-1]


async def _reads_made_after_they_began(source: VideoCaptureSource, opener: Opener, clock: FakeClock, *,
                                       reads: int, every: float) -> list[bool]:
    fresh = []
    for _ in range(reads):
        began = clock.now
        await source.read()
        fresh.append(opener.opened[-1].held is not None and opener.opened[-1].held >= began)
        clock.now += every  # the worker waits for its next check
    return fresh


async def test_network_stream_reads_return_the_newest_frame_not_the_queued_one() -> None:
    clock = FakeClock()
    opener = Opener(clock, period=1 / 30, buffers=None, reported_fps=30)
    source = VideoCaptureSource("rtsp://cam/live", opener=opener, clock=clock)
    try:
        assert await _reads_made_after_they_began(source, opener, clock, reads=6, every=1.0) == [True] * 6
        assert len(opener.opened) == 1  # drained, never reconnected
    finally:
        await source.close()


async def test_network_stream_with_a_slow_decoder_still_catches_up() -> None:
    """Queued frames take 60% of a frame period to decode: more than the half-period rule."""
    clock = FakeClock()
    opener = Opener(clock, period=1 / 30, buffers=None, reported_fps=30, decode=0.6 / 30)
    source = VideoCaptureSource("rtsp://cam/live", opener=opener, clock=clock)
    try:
        assert await _reads_made_after_they_began(source, opener, clock, reads=6, every=1.0) == [True] * 6
    finally:
        await source.close()


async def test_network_stream_reporting_a_nonsense_frame_rate_still_catches_up() -> None:
    clock = FakeClock()
    opener = Opener(clock, period=1 / 10, buffers=None, reported_fps=90000)  # an RTP clock rate
    source = VideoCaptureSource("rtsp://cam/live", opener=opener, clock=clock)
    try:
        assert await _reads_made_after_they_began(source, opener, clock, reads=4, every=2.0) == [True] * 4
    finally:
        await source.close()


async def test_network_stream_too_far_behind_starts_again_at_the_live_end() -> None:
    clock = FakeClock()
    opener = Opener(clock, period=1 / 30, buffers=None, reported_fps=30)
    source = VideoCaptureSource("rtsp://cam/live", timeout=60, opener=opener, clock=clock)
    try:
        await source.read()
        clock.now += 2 * MAX_NETWORK_GRABS / 30  # twice the most one read drains
        await source.read()
        assert opener.opened[0].grabs <= 1 + MAX_NETWORK_GRABS
        assert source.reconnects_to_catch_up == 1 and not opener.opened[0].open
        began = clock.now
        await source.read()
        assert len(opener.opened) == 2 and opener.opened[1].held >= began
    finally:
        await source.close()


@pytest.mark.parametrize("buffers, reported, honoured", [(4, -1.0, True), (4, 1.0, False), (3, -1.0, False)])
async def test_device_reads_drop_the_buffered_frames(buffers: int, reported: float, honoured: bool) -> None:
    """V4L2: the driver's buffers hold frames made just after the last read. Whether the
    driver keeps the one buffer asked for, keeps more and says one, or says nothing."""
    clock = FakeClock()
    opener = Opener(clock, period=1 / 30, buffers=buffers, reported_fps=30, reported_buffers=reported,
                    honours_buffer_size=honoured)
    source = VideoCaptureSource("/dev/null", opener=opener, clock=clock)
    try:
        assert await _reads_made_after_they_began(source, opener, clock, reads=4, every=1.0) == [True] * 4
        assert len(opener.opened) == 1
    finally:
        await source.close()


def test_grab_newest_stops_at_its_bounds() -> None:
    clock = FakeClock()
    backlog = ScriptedCapture(clock, period=1 / 30, buffers=None, reported_fps=30)
    clock.now += 100.0  # 3000 frames queued
    plan = GrabPlan(min_grabs=1, max_grabs=50, fresh_after=1 / 60, deadline=math.inf)
    grabbed = grab_newest(backlog, plan, clock)
    assert grabbed is not None and (grabbed.grabs, grabbed.caught_up) == (50, False)
    slow = ScriptedCapture(clock, period=1 / 30, buffers=None, reported_fps=30, decode=1 / 1024)
    clock.now += 100.0
    plan = GrabPlan(min_grabs=1, max_grabs=10**6, fresh_after=1 / 60, deadline=clock.now + 0.5)
    grabbed = grab_newest(slow, plan, clock)
    assert grabbed is not None and not grabbed.caught_up and grabbed.grabs == 512  # 0.5 s of grabs


async def test_a_missing_device_path_is_a_clear_error_each_read() -> None:
    source = VideoCaptureSource("/dev/v4l/by-id/usb-no-such-camera-video-index0")
    try:
        for _ in range(2):
            with pytest.raises(CameraError, match="no such camera device: /dev/v4l/by-id/usb-no-such"):
                await source.read()
    finally:
        await source.close()


class SilentStream:
    """An RTSP server that accepts and never answers: OpenCV's open blocks (30 s in FFmpeg)
    until ``answer`` is set, and cannot be interrupted."""

    def __init__(self) -> None:
        self.answer = threading.Event()
        self.opens = 0

    def __call__(self, target: Any) -> Any:
        self.opens += 1
        self.answer.wait(60)
        raise AssertionError("not reached in the test")  # pragma: no cover


async def test_a_camera_stuck_in_opencv_neither_piles_up_threads_nor_holds_up_closing() -> None:
    """Reads time out, and the next ones fail at once instead of each waiting behind the stuck
    one in asyncio's shared thread pool (the alerts' DNS lookups need it); closing returns at
    once, so a worker told to stop exits, and the stuck call is dropped when it comes back."""
    stream = SilentStream()
    source = VideoCaptureSource("rtsp://cam/live", timeout=0.2, opener=stream)
    try:
        with pytest.raises(CameraError, match="within 0.2 s"):
            await source.read()
        for _ in range(5):
            with pytest.raises(CameraError, match="not answered the last read"):
                await source.read()
        assert stream.opens == 1
        assert [t.name for t in threading.enumerate()].count("pinozcam-camera") == 1
        # asyncio's pool is free: a call through it is not stuck behind the camera.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: "free"), 5) == "free"
        await asyncio.wait_for(source.close(), 5)
    finally:
        stream.answer.set()
