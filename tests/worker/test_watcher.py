"""The watcher's pieces: the one-frame mailbox (newest wins) and failure boxes held on the picture."""

from __future__ import annotations

import asyncio
import time

import cv2
import numpy as np
import pytest

from pinozcam_klipper.camera import Frame
from pinozcam_klipper.detect import Detector
from pinozcam_klipper.pipeline import FrameAnalyser
from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker.watcher import Watcher, _Mailbox
from tests.worker.helpers import FAILING, GOOD, MODEL


async def test_mailbox_keeps_only_the_newest() -> None:
    box = _Mailbox()
    assert box.put("a") is False
    assert box.put("b") is True  # "a" was never taken: dropped
    assert await box.get() == "b"
    assert box.put("c") is False


def _frame(jpeg: bytes, counter: int) -> Frame:
    return Frame(jpeg=jpeg, captured_at=time.monotonic(), counter=counter)


def _changed_pixels(a: bytes, b: bytes) -> int:
    one = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR).astype(int)
    two = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR).astype(int)
    band = slice(40, None)  # below the header line, which carries the time
    return int((np.abs(one[band] - two[band]).sum(axis=2) > 60).sum())


async def test_failure_boxes_stay_drawn_for_the_hold_time() -> None:
    settings = Settings.from_mapping({"model_path": str(MODEL)})
    analyser = FrameAnalyser(settings, Detector.load(settings.model))

    async def ignore(*_: object) -> None:
        return None

    def watcher(hold: float) -> Watcher:
        return Watcher(camera=None, analyser=analyser, interval=lambda: None,  # type: ignore[arg-type]
                       on_check=ignore, on_camera_error=lambda exc: None, failure_hold=hold)

    held, plain = watcher(60.0), watcher(0.0)
    for one in (held, plain):
        failure, _ = one._analyse(_frame(FAILING, 1), analyser, 1)
        assert failure.assessment.band == "failure"
    good_held = held._analyse(_frame(GOOD, 2), analyser, 2)
    good_plain = plain._analyse(_frame(GOOD, 2), analyser, 2)
    assert good_held[0].assessment.band == "ok"  # the analysis itself is of the good frame
    assert _changed_pixels(good_held[1], good_plain[1]) > 200  # but the failure boxes are still drawn


async def test_a_camera_closed_under_a_waiting_read_does_not_stop_the_checks() -> None:
    """A ``configure`` with a new camera closes the old one while the sampler's read may be
    waiting out a retry delay: checks must go on, on the new camera, at once."""
    from pinozcam_klipper.camera import Camera, CameraSettings, SnapshotSource
    from tests.servers import CameraServer

    settings = Settings.from_mapping({"model_path": str(MODEL)})
    analyser = FrameAnalyser(settings, Detector.load(settings.model))
    errors: list[Exception] = []
    failed = asyncio.Event()
    checked = asyncio.Event()

    def on_error(exc: Exception) -> None:
        errors.append(exc)
        failed.set()

    async def on_check(check: object) -> None:
        checked.set()

    with CameraServer([GOOD]) as good:
        dead = Camera(SnapshotSource("http://127.0.0.1:9/snapshot", timeout=60, backoff_initial=30),
                      CameraSettings(camera="dead"))
        watcher = Watcher(camera=dead, analyser=analyser, interval=lambda: None, on_check=on_check,
                          on_camera_error=on_error)
        watcher.start()
        try:
            watcher.check_now()
            await asyncio.wait_for(failed.wait(), 10)
            watcher.check_now()  # this read waits out the 30 s retry delay...
            while watcher._now_reasons:  # ...from the moment the sampler took the request
                await asyncio.sleep(0)
            watcher.camera = Camera(SnapshotSource(good.snapshot_url, timeout=5), CameraSettings(camera="good"))
            await dead.close()
            await asyncio.wait_for(checked.wait(), 10)
            assert len(errors) == 1  # the old camera's "closed" is not news
            assert not watcher._tasks[0].done()
        finally:
            await watcher.stop()
            await watcher.camera.close()


async def test_the_sampler_outlives_any_exception_from_the_camera(caplog: pytest.LogCaptureFixture) -> None:
    """A frame source that breaks its contract (raises something other than CameraError):
    each read is a camera failure with the reason, logged once, and checks keep being tried."""
    from pinozcam_klipper.camera import CameraError, FrameSource

    class Broken(FrameSource):
        description = "broken test source"
        reads = 0

        async def read(self) -> Frame:
            Broken.reads += 1
            raise ValueError("empty multipart boundary")

        async def close(self) -> None:
            return None

    errors: list[CameraError] = []
    third = asyncio.Event()

    def on_error(exc: CameraError) -> None:
        errors.append(exc)
        if len(errors) == 3:
            third.set()

    watcher = Watcher(camera=Broken(), analyser=None, interval=lambda: None,  # type: ignore[arg-type]
                      on_check=None, on_camera_error=on_error)  # type: ignore[arg-type]
    watcher.start()
    try:
        for _ in range(3):
            watcher.check_now()
            while watcher._now_reasons:
                await asyncio.sleep(0)
        await asyncio.wait_for(third.wait(), 10)
    finally:
        await watcher.stop()
    assert all(isinstance(e, CameraError) and "ValueError: empty multipart boundary" in str(e) for e in errors)
    assert len([r for r in caplog.records if "checks go on" in r.getMessage()]) == 1
