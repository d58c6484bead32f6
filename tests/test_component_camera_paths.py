"""What the component makes of a ``camera:`` that is a path: a folder, a device, or a URL of
this machine's web server.

``camera: ~/frames`` must work in moonraker.conf as it does in the worker's YAML and the CLI,
and a folder that is not there must be reported by its path, not read as
``http://127.0.0.1/home/pi/...`` and fail later as a 404. Crowsnest's relative URLs
(``/webcam/?action=snapshot``, ``/webcam/snapshot``) still go to this machine's web server.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.component_options import load_component_options

options = load_component_options()


class _Server:
    """The one Moonraker call ``_resolve_camera`` makes: no webcam manager, no [webcam]."""

    def lookup_component(self, name: str, default: Any = None) -> Any:
        return default


class _Component(options.OptionsMixin):
    def __init__(self) -> None:
        self.server = _Server()


def _resolve(value: str) -> str:
    url, orientation = asyncio.run(_Component()._resolve_camera(value))
    assert orientation == {}
    return url


def test_a_folder_under_home_written_with_a_tilde_is_read_there(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "frames").mkdir()

    assert _resolve("~/frames") == str(tmp_path / "frames")


def test_a_missing_folder_is_named_not_read_as_a_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "frames_missing"
    with pytest.raises(ValueError) as info:
        _resolve(str(missing))
    assert str(info.value).startswith(f"no file or folder {missing} on this machine")
    assert f"http://127.0.0.1{missing}" in str(info.value)  # how to say it is a URL after all

    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ValueError) as info:
        _resolve("~/frames_missing")
    assert str(info.value) == f"no file or folder {missing} on this machine"


def test_an_unknown_user_after_the_tilde_is_said(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="there is no user 'no_such_user_pz' on this machine"):
        _resolve("~no_such_user_pz/frames")


@pytest.mark.parametrize("value", [
    "/webcam/?action=snapshot",     # crowsnest (ustreamer, mjpg-streamer) behind Mainsail's nginx
    "/webcam2/?action=snapshot",
    "/webcam/snapshot",             # camera-streamer
    "/snapshot.jpg?cam=1",
])
def test_a_url_of_this_machines_web_server_is_read_over_loopback(value: str) -> None:
    assert _resolve(value) == "http://127.0.0.1" + value


def test_an_existing_file_and_a_camera_device_stay_local(tmp_path: Path) -> None:
    picture = tmp_path / "print.jpg"
    picture.write_bytes(b"\xff\xd8")
    assert _resolve(str(picture)) == str(picture)
    # Unplugged now: the worker says so at each read and uses it once it is plugged in.
    assert _resolve("/dev/v4l/by-id/usb-cam-video-index0") == "/dev/v4l/by-id/usb-cam-video-index0"
