"""The watcher's pieces: the one-frame mailbox (newest wins) and failure boxes held on the picture."""

from __future__ import annotations

import time

import cv2
import numpy as np

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
