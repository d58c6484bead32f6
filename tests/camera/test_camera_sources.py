"""Choosing a source from the ``camera`` string, replaying files, and the settings."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pinozcam_klipper.camera import (CameraError, CameraSettings, FileSource, MjpegSource, SnapshotSource,
                                     VideoCaptureSource, open_camera, open_source, snapshot_url_for)
from pinozcam_klipper.camera.camera import is_capture_device
from pinozcam_klipper.options import SettingsError, load_section
from tests.servers import make_jpeg


@pytest.mark.parametrize("where, kind", [
    ("http://pi.local/webcam/?action=stream", SnapshotSource),
    ("http://pi.local/webcam/?action=snapshot", SnapshotSource),
    ("http://pi.local:8080/stream", MjpegSource),
    ("https://cam.example/video.mjpg", MjpegSource),
    ("/dev/video0", VideoCaptureSource),
    ("0", VideoCaptureSource),
    ("rtsp://cam/live", VideoCaptureSource),
    ("rtsps://cam:322/live", VideoCaptureSource),
    ("/some/folder", FileSource),
])
async def test_open_source_picks_by_string(where: str, kind: type) -> None:
    source = open_source(CameraSettings(camera=where))
    assert isinstance(source, kind)
    await source.close()


def test_snapshot_url_rewrite_keeps_other_parameters() -> None:
    assert snapshot_url_for("http://h/webcam/?action=stream&cam=2") == "http://h/webcam/?action=snapshot&cam=2"
    assert snapshot_url_for("http://h/snap.jpg") == "http://h/snap.jpg"


def test_no_camera_is_a_clear_error() -> None:
    with pytest.raises(CameraError, match="no camera configured"):
        open_camera(CameraSettings())


async def test_folder_replays_in_name_order_and_loops(tmp_path: Path) -> None:
    for name, value in [("b.jpg", 20), ("a.jpg", 10), ("c.png", 30)]:
        if name.endswith(".jpg"):
            (tmp_path / name).write_bytes(make_jpeg(value))
        else:
            cv2.imwrite(str(tmp_path / name), np.full((48, 64, 3), value, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    camera = open_camera(CameraSettings(camera=str(tmp_path), camera_dark_level=0))
    greys = [int(np.median((await camera.read()).bgr)) for _ in range(4)]
    await camera.close()
    assert greys[0] == pytest.approx(10, abs=2)
    assert greys[1] == pytest.approx(20, abs=2)
    assert greys[2] == 30
    assert greys[3] == pytest.approx(10, abs=2)


async def test_folder_with_fps_follows_the_clock(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(make_jpeg(50 * (i + 1)))
    now = [0.0]
    source = FileSource(tmp_path, fps=2, clock=lambda: now[0])
    assert (await source.read()).jpeg == make_jpeg(50)
    now[0] = 1.0  # two frames later
    assert (await source.read()).jpeg == make_jpeg(150)


async def test_missing_path_is_an_error_at_read(tmp_path: Path) -> None:
    camera = open_camera(CameraSettings(camera=str(tmp_path / "nope")))
    with pytest.raises(CameraError, match="does not exist"):
        await camera.read()
    assert camera.health.state.value == "offline"


def test_settings_validate_and_name_the_option() -> None:
    s = load_section(CameraSettings, {"camera_rotate": "90", "camera_flip_vertical": "yes"})
    assert s.camera_rotate == 90 and s.camera_flip_vertical is True
    with pytest.raises(SettingsError, match="camera_rotate"):
        load_section(CameraSettings, {"camera_rotate": 45})
    with pytest.raises(SettingsError, match="camera_timeout"):
        load_section(CameraSettings, {"camera_timeout": 0})


def test_a_camera_string_no_source_can_open_is_refused_in_settings() -> None:
    from pinozcam_klipper.settings import Settings, SettingsError

    for value in ("http://[::1/snap", "~nosuchuser/pics", "http://cam:99999/x", "http://cam/a b"):
        with pytest.raises(SettingsError, match="option 'camera'"):
            Settings.from_mapping({"camera": value})
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping({"camera": "http://user:hunter2@cam:99999/x"})
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("scheme", ["rtsp", "rtsps", "RTSPS"])
def test_an_rtsps_url_is_checked_like_an_rtsp_url(scheme: str) -> None:
    """A UniFi Protect or Reolink rtsps:// URL with a typo is refused when set, naming the
    problem, rather than failing at each read; its password is never shown."""
    from pinozcam_klipper.settings import Settings, SettingsError

    for url, problem in ((f"{scheme}://cam:99999/live", "a port between 1 and 65535"),
                         (f"{scheme}://user:hunter2@:7441/live", "a URL that names a host"),
                         (f"{scheme}://cam/live stream", "a URL without spaces")):
        with pytest.raises(SettingsError, match=f"option 'camera'.*expected .*{problem}") as info:
            Settings.from_mapping({"camera": url})
        assert "hunter2" not in str(info.value)
    assert Settings.from_mapping({"camera": f"{scheme}://cam:7441/live"}).camera.camera == f"{scheme}://cam:7441/live"


def test_a_link_to_a_camera_device_is_read_as_a_camera(tmp_path: Path) -> None:
    """crowsnest's /dev/v4l/by-id/usb-...-video-index0 is a link to /dev/videoN: /dev/null,
    a character device as a camera is, stands in for it (nothing is opened here)."""
    link = tmp_path / "usb-Camera_123-video-index0"
    link.symlink_to("/dev/null")
    assert is_capture_device(str(link))
    assert isinstance(open_source(CameraSettings(camera=str(link))), VideoCaptureSource)
    dangling = tmp_path / "gone"
    dangling.symlink_to(tmp_path / "nothing")
    for pictures in (tmp_path, dangling, Path(__file__)):  # a folder, a missing file, a file
        assert not is_capture_device(str(pictures))
        assert isinstance(open_source(CameraSettings(camera=str(pictures))), FileSource)


async def test_a_camera_device_not_plugged_in_says_so() -> None:
    where = "/dev/v4l/by-id/usb-Not_Plugged_In-video-index0"
    assert is_capture_device(where)
    camera = open_camera(CameraSettings(camera=where))
    try:
        with pytest.raises(CameraError, match=f"no such camera device: {where}"):
            await camera.read()
        assert "no such camera device" in camera.health.message
    finally:
        await camera.close()
