"""Camera health (frozen, dark, offline) through a real server, with a test-controlled clock."""

from __future__ import annotations

import numpy as np
import pytest

from pinozcam_klipper.camera import CameraError, CameraSettings, CameraState, HealthMonitor, open_camera
from tests.servers import CameraServer, claiming_size, make_jpeg


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_frozen_picture_is_reported_and_clears_when_it_moves() -> None:
    clock = Clock()
    with CameraServer([make_jpeg(120, mark=1)]) as srv:
        camera = open_camera(CameraSettings(camera=srv.snapshot_url, camera_frozen_seconds=30), clock=clock)
        try:
            await camera.read()
            assert camera.health.state is CameraState.OK
            clock.now += 29
            await camera.read()
            assert camera.health.state is CameraState.OK
            clock.now += 2
            await camera.read()
            assert camera.health.state is CameraState.FROZEN
            assert "has not changed for 31 s" in camera.health.message
            assert camera.health.since == clock.now
            srv.set_frames([make_jpeg(120, mark=2)])
            clock.now += 1
            await camera.read()
            assert camera.health.state is CameraState.OK
        finally:
            await camera.close()


async def test_dark_picture_is_reported() -> None:
    with CameraServer([make_jpeg(5)]) as srv:
        camera = open_camera(CameraSettings(camera=srv.snapshot_url, camera_dark_level=12))
        try:
            frame = await camera.read()
            assert frame.bgr.shape == (48, 64, 3)  # still a frame: darkness is health, not an error
            assert camera.health.state is CameraState.DARK
            assert "too dark" in camera.health.message
            srv.set_frames([make_jpeg(90)])
            await camera.read()
            assert camera.health.ok
        finally:
            await camera.close()


async def test_broken_picture_is_skipped_for_the_next_one() -> None:
    with CameraServer([make_jpeg(90)]) as srv:
        camera = open_camera(CameraSettings(camera=srv.snapshot_url))
        try:
            broken = bytearray(make_jpeg(90))
            broken[200:400] = b"\x00" * 200  # markers intact, data garbage
            # Whether OpenCV rejects it or decodes garbage, read() returns a usable frame.
            srv.reply(200, body=bytes(broken), headers={"Content-Type": "image/jpeg"})
            frame = await camera.read()
            assert frame.bgr.ndim == 3
        finally:
            await camera.close()


async def test_a_picture_claiming_a_gigantic_size_is_not_decoded() -> None:
    """A few hundred bytes claiming 30000x30000 pixels would have OpenCV allocate 2.7 GB, an
    out-of-memory kill on a Pi: refused from the header, and the next good frame is used."""
    with CameraServer([make_jpeg(90)]) as srv:
        camera = open_camera(CameraSettings(camera=srv.snapshot_url))
        try:
            srv.reply(200, body=claiming_size(make_jpeg(90), 30000, 30000), headers={"Content-Type": "image/jpeg"})
            frame = await camera.read()
            assert frame.bgr.shape == (48, 64, 3)
            srv.reply(200, body=claiming_size(make_jpeg(90), 30000, 30000), headers={"Content-Type": "image/jpeg"})
            srv.reply(200, body=claiming_size(make_jpeg(90), 30000, 30000), headers={"Content-Type": "image/jpeg"})
            with pytest.raises(CameraError, match="claims 30000x30000 pixels"):
                await camera.read()  # two in a row: the skip-one rule gives up, with the reason
            assert camera.health.state is CameraState.OFFLINE
        finally:
            await camera.close()


def test_monitor_priorities_and_since() -> None:
    monitor = HealthMonitor(frozen_seconds=10, dark_level=12, now=0)
    assert monitor.health.state is CameraState.OFFLINE  # nothing seen yet
    dark = np.zeros((24, 32), np.uint8)
    assert monitor.on_frame(dark, 1).state is CameraState.DARK
    assert monitor.on_frame(dark, 5).since == 1
    assert monitor.on_frame(dark, 12).state is CameraState.FROZEN  # frozen wins over dark
    assert monitor.on_error("cannot reach the camera", 13).state is CameraState.OFFLINE
    bright = np.full((24, 32), 100, np.uint8)
    health = monitor.on_frame(bright, 14)
    assert health.state is CameraState.OK and health.since == 14
    assert health.to_dict() == {"state": "ok", "message": "ok", "since": 14}


def test_dark_level_zero_disables_dark() -> None:
    monitor = HealthMonitor(frozen_seconds=10, dark_level=0)
    assert monitor.on_frame(np.zeros((24, 32), np.uint8), 1).state is CameraState.OK


@pytest.mark.parametrize("rotate, flip_h, shape", [(0, False, (48, 64, 3)), (90, False, (64, 48, 3)),
                                                   (270, True, (64, 48, 3))])
async def test_turning_the_picture(rotate: int, flip_h: bool, shape: tuple[int, int, int]) -> None:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:, :8] = 255  # a white bar on the left
    import cv2

    jpeg = cv2.imencode(".jpg", image)[1].tobytes()
    with CameraServer([jpeg]) as srv:
        camera = open_camera(CameraSettings(camera=srv.snapshot_url, camera_rotate=rotate,
                                            camera_flip_horizontal=flip_h, camera_dark_level=0))
        try:
            frame = await camera.read()
            assert frame.bgr.shape == shape
            decoded = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert decoded.shape == shape  # the JPEG is re-encoded from the turned picture
            if rotate == 90:  # left bar ends up on top
                assert frame.bgr[:4].mean() > 200 and frame.bgr[-4:].mean() < 50
            if rotate == 270 and flip_h:  # bar moved right by the flip, then rotated to the top
                assert frame.bgr[:4].mean() > 200
        finally:
            await camera.close()


async def test_mjpeg_stream_repeating_one_picture_is_frozen_then_offline() -> None:
    clock = Clock()
    with CameraServer([make_jpeg(120, mark=3)], fps=50) as srv:
        camera = open_camera(CameraSettings(camera=srv.stream_url, camera_frozen_seconds=30, camera_timeout=2,
                                            camera_reconnect_max=0.1), clock=clock)
        try:
            first = await camera.read()
            clock.now += 31
            second = await camera.read()
            assert second.counter > first.counter  # new frames keep coming...
            assert camera.health.state is CameraState.FROZEN  # ...but the picture never changes
            srv.stop()
            with pytest.raises(CameraError):
                await camera.read()
            assert camera.health.state is CameraState.OFFLINE
        finally:
            await camera.close()
