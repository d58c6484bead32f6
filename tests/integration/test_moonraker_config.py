"""[pinozcam] options a user gets wrong, and secrets from moonraker.secrets.

A real Moonraker with no Klipper behind it (the component must not need one to start) and the
real worker. Bad values leave Moonraker running with a warning that names the option; the
component keeps working with the default.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.integration.moonraker_stack import (MoonrakerError, MoonrakerProcess, moonraker_without_klipper,
                                               pinozcam_section)
from tests.servers import CameraServer
from tests.worker.helpers import GOOD, MODEL

pytestmark = pytest.mark.timeout(90)

SECRET_URL = "http://127.0.0.1:9/api/webhooks/1/secret-webhook-token-xyz"


@contextlib.contextmanager
def _moonraker(section: str, secrets: str = "",
               before_start: Callable[[Path], None] | None = None) -> Iterator[MoonrakerProcess]:
    """A Moonraker (no Klipper behind it) with ``section`` in moonraker.conf, answering; stopped
    on exit. ``before_start`` gets Moonraker's data folder before Moonraker starts."""
    with moonraker_without_klipper(section, secrets=secrets, before_start=before_start) as server:
        server.wait_ready(klippy=False)
        yield server


@pytest.fixture(scope="module")
def moonraker() -> Iterator[MoonrakerProcess]:
    with CameraServer([GOOD]) as camera:
        section = pinozcam_section(camera.snapshot_url, "{secrets.pinozcam.discord_webhook_url}",
                                   preset="bogus", pause_macro='"PAUSE; G28"', enabled="maybe")
        with _moonraker(section, f"[pinozcam]\ndiscord_webhook_url: {SECRET_URL}\n") as server:
            server.wait_worker_connected()
            yield server


def test_bad_options_warn_and_fall_back_to_defaults(moonraker: MoonrakerProcess) -> None:
    info = moonraker.get("/server/info")
    assert "pinozcam" in info["components"]
    warnings = " ".join(info["warnings"])
    for option in ("preset", "pause_macro", "enabled"):
        assert f"option '{option}'" in warnings
    settings = moonraker.get("/server/pinozcam/settings")["settings"]
    assert settings["preset"] == "webcam"           # the worker's default
    assert settings["pause_macro"] == "PINOZCAM_PAUSE"
    assert settings["enabled"] is True
    status = moonraker.status()
    assert status["worker"]["connected"]
    assert any("preset" in w for w in status["warnings"])


def test_secrets_reach_the_worker_and_never_come_back(moonraker: MoonrakerProcess) -> None:
    settings = moonraker.get("/server/pinozcam/settings")
    assert settings["settings"]["discord_webhook_url"] == "<redacted>"
    for path in ("/server/pinozcam/settings", "/server/pinozcam/status", "/server/info"):
        assert "secret-webhook-token" not in moonraker.request("GET", path).text


def test_a_python_without_pinozcam_is_reported_with_what_to_do(tmp_path: Path) -> None:
    python = Path(shutil.which("python3") or "/usr/bin/python3")
    with _moonraker(pinozcam_section("http://127.0.0.1:9/snapshot", None, worker_python=python)) as server:
        status = server.wait_for("the start failure", lambda: (s := server.status())["worker"]["problem"]
                                 and s["worker"]["state"] == "error" and s)
        assert "run install.sh or set worker_python" in status["worker"]["problem"]
        assert any("did not start" in w for w in server.get("/server/info")["warnings"])


def test_no_camera_waits_with_a_warning_until_the_ui_sets_one() -> None:
    with CameraServer([GOOD]) as camera, \
            _moonraker(pinozcam_section(None, None, model_path=None)) as server:
        status = server.wait_for("the camera problem", lambda: (s := server.status())["worker"]["problem"] and s)
        assert status["worker"]["state"] == "stopped" and "camera" in status["worker"]["problem"]
        assert any("option 'camera'" in w for w in server.get("/server/info")["warnings"])

        saved = server.post("/server/pinozcam/settings", {"settings": {"camera": camera.snapshot_url,
                                                                       "model_path": str(MODEL)}})
        assert saved["saved"]["camera"] == camera.snapshot_url
        status = server.wait_worker_connected()
        assert status["camera_url"] == camera.snapshot_url
        assert not any("option 'camera'" in w for w in server.get("/server/info")["warnings"])


def test_the_worker_does_not_outlive_a_killed_moonraker() -> None:
    with CameraServer([GOOD]) as camera, _moonraker(pinozcam_section(camera.snapshot_url, None)) as server:
        pid = server.wait_worker_connected()["worker"]["pid"]
        assert server.proc is not None
        server.proc.kill()
        server.proc.wait(10)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            try:  # a zombie is gone too: its parent died, init reaps it
                with open(f"/proc/{pid}/stat") as stat:
                    return stat.read().split(") ", 1)[1].startswith("Z")
            except FileNotFoundError:
                return True

        deadline = time.monotonic() + 10
        while not gone():
            assert time.monotonic() < deadline, "the worker outlived Moonraker"
            time.sleep(0.05)


def test_a_bad_model_saved_from_the_ui_is_dropped_and_the_shipped_model_used(tmp_path: Path) -> None:
    """The worker names the option its model load failed on; the component forgets the saved
    value (with a warning) and the worker comes back on the shipped model."""
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"this is not a model")
    with CameraServer([GOOD]) as camera, \
            _moonraker(pinozcam_section(camera.snapshot_url, None, model_path=None)) as server:
        first = server.wait_worker_connected()
        shipped = first["model"]
        assert shipped and shipped["path"] != str(junk)
        server.post("/server/pinozcam/settings", {"settings": {"model_path": str(junk)}})
        status = server.wait_for(
            "the worker back without the bad model",
            lambda: (s := server.status())["worker"]["connected"] and s["worker"]["pid"] != first["worker"]["pid"]
            and any("option 'model_path'" in w for w in s["warnings"]) and s, timeout=60)
        assert status["model"]["path"] == shipped["path"]
        assert "model_path" not in server.get("/server/pinozcam/settings")["saved"]
        assert any("option 'model_path'" in w for w in server.get("/server/info")["warnings"])


def test_an_unwritable_data_folder_is_reported_and_retried() -> None:
    """A full or read-only SD card (here: a file where the component's folder goes) must not
    leave the worker silently unstarted: the status says why, and it starts once fixed."""
    def block(data: Path) -> None:
        (data / "pinozcam").write_text("not a folder")

    with CameraServer([GOOD]) as camera, \
            _moonraker(pinozcam_section(camera.snapshot_url, None), before_start=block) as server:
        status = server.wait_for("the failure in the status",
                                 lambda: (s := server.status())["worker"]["state"] == "error" and s)
        # The full path: "No space left on device" alone does not say which disk to clean up.
        folder = server.data_path / "pinozcam"
        assert status["worker"]["problem"] == f"cannot create the folder {folder}: File exists"
        assert any(f"did not start: cannot create the folder {folder}" in w
                   for w in server.get("/server/info")["warnings"])

        (server.data_path / "pinozcam").unlink()
        server.wait_worker_connected()


def test_a_worker_that_keeps_dying_is_a_moonraker_warning(tmp_path: Path) -> None:
    """A worker that starts, then dies within seconds (here: a stand-in python that kills the
    real worker a second after starting it), again and again: the print is hardly watched,
    which Mainsail must show as a warning, not only as a line in a log."""
    dying = tmp_path / "dying-python"
    dying.write_text(f"#!/bin/sh\n( sleep 1; kill -9 $$ ) &\nexec {sys.executable} \"$@\"\n")
    dying.chmod(0o755)
    with CameraServer([GOOD]) as camera, \
            _moonraker(pinozcam_section(camera.snapshot_url, None, worker_python=dying)) as server:
        server.wait_for("the warning", lambda: any("keeps exiting" in w
                                                   for w in server.get("/server/info")["warnings"]),
                        timeout=90)
        assert server.status()["worker"]["restarts"] >= 3


def test_a_webcam_without_a_url_is_a_camera_warning() -> None:
    section = ("[webcam broken]\nstream_url:\nsnapshot_url:\n\n"
               + pinozcam_section("broken", None))
    with _moonraker(section) as server:
        status = server.wait_for("the camera problem", lambda: (s := server.status())["worker"]["problem"] and s)
        assert status["worker"]["state"] == "stopped"
        assert "[webcam broken] has no usable URL" in status["worker"]["problem"]
        assert any("option 'camera'" in w for w in server.get("/server/info")["warnings"])


def test_a_webrtc_webcam_is_a_camera_warning_that_says_what_to_do() -> None:
    section = ("[webcam printer]\nservice: webrtc-camerastreamer\nstream_url: /webcam/webrtc\n\n"
               + pinozcam_section("printer", None))
    with _moonraker(section) as server:
        status = server.wait_for("the camera problem", lambda: (s := server.status())["worker"]["problem"] and s)
        assert status["worker"]["state"] == "stopped"
        assert "webcam 'printer' streams WebRTC only; set its snapshot_url" in status["worker"]["problem"]
        warnings = server.get("/server/info")["warnings"]
        assert any("webcam 'printer' streams WebRTC only" in w for w in warnings)


def test_a_camera_url_typed_without_http_keeps_its_password_out_of_the_warning() -> None:
    """``admin:password@192.168.1.50/snap.jpg``, the http:// left out, names no [webcam] and is
    no URL: the warning that says so (Mainsail's notifications, through /server/info, and
    moonraker.log) shows the camera's address, never its password."""
    with _moonraker(pinozcam_section("admin:s3cret-pw@192.168.1.50/snap.jpg", None)) as server:
        status = server.wait_for("the camera problem", lambda: (s := server.status())["worker"]["problem"] and s)
        assert "no [webcam] named '192.168.1.50/snap.jpg'" in status["worker"]["problem"]
        warnings = server.get("/server/info")["warnings"]
        assert any("no [webcam] named '192.168.1.50/snap.jpg'" in w for w in warnings), warnings
        settings = server.get("/server/pinozcam/settings")["settings"]
        assert settings["camera"] == "admin:<redacted>@192.168.1.50/snap.jpg"
        # (Moonraker's own header in moonraker.log lists moonraker.conf as it is: only the
        # component's lines are checked there.)
        logged = [line for line in server.log_file.read_text().splitlines() if "[webcam] named" in line]
        assert logged
        for body in (server.request("GET", "/server/info").text, server.request("GET", "/server/pinozcam/status").text,
                     server.request("GET", "/server/pinozcam/settings").text, *logged):
            assert "s3cret-pw" not in body


def test_a_webcam_with_a_relative_url_is_read_over_loopback() -> None:
    """Crowsnest's usual [webcam]: /webcam/?action=snapshot on this machine's nginx. Read at
    127.0.0.1, it keeps working when the Pi's LAN address changes."""
    section = ("[webcam crowsnest]\nservice: mjpegstreamer-adaptive\nstream_url: /webcam/?action=stream\n"
               "snapshot_url: /webcam/?action=snapshot\n\n" + pinozcam_section("crowsnest", None))
    with _moonraker(section) as server:
        status = server.wait_for("the camera URL", lambda: (s := server.status())["camera_url"] and s)
        assert status["camera_url"] == "http://127.0.0.1/webcam/?action=snapshot"


def test_camera_passwords_and_nested_secrets_never_come_back() -> None:
    """What the panel saves can hold a camera password or, nested in a section (the worker
    accepts those), a bot token: neither is answered back; the hidden password echoed back
    keeps the saved one."""
    with CameraServer([GOOD]) as camera, _moonraker(pinozcam_section(None, None)) as server:
        host = camera.snapshot_url.split("://", 1)[1]
        answer = server.post("/server/pinozcam/settings", {"settings": {
            "camera": f"http://viewer:hunter2@{host}",
            "notify": {"telegram_bot_token": "123456:nested-secret-token"}}})
        for body in (str(answer), server.request("GET", "/server/pinozcam/settings").text,
                     server.request("GET", "/server/pinozcam/status").text):
            assert "hunter2" not in body and "nested-secret-token" not in body
        assert answer["settings"]["camera"] == f"http://viewer:<redacted>@{host}"
        assert answer["saved"]["camera"] == f"http://viewer:<redacted>@{host}"

        # The panel's form sends back what it was shown: the saved password stays.
        server.post("/server/pinozcam/settings", {"settings": {"camera": answer["settings"]["camera"]}})
        assert server.wait_worker_connected()["camera_url"] == f"http://{host}"
        with pytest.raises(MoonrakerError, match="password again"):
            server.post("/server/pinozcam/settings", {"settings": {"camera": "http://other:<redacted>@x/"}})

        # Cameras that take their login in the query string (Reolink, Foscam, ...): the same.
        query_login = f"http://{host}?cmd=Snap&user=viewer&password=hunter3"
        answer = server.post("/server/pinozcam/settings", {"settings": {"camera": query_login}})
        shown = f"http://{host}?cmd=Snap&user=viewer&password=<redacted>"
        assert answer["settings"]["camera"] == shown
        server.post("/server/pinozcam/settings", {"settings": {"camera": shown}})
        status = server.wait_for("the new camera", lambda: (s := server.status())["camera_url"] == shown and s)
        for body in (str(answer), server.request("GET", "/server/pinozcam/settings").text, str(status)):
            assert "hunter3" not in body
        assert server.request("GET", "/server/pinozcam/settings").json()["result"]["saved"]["camera"] == shown


def test_a_hung_worker_is_restarted() -> None:
    """A worker that lives but no longer answers (here: stopped with SIGSTOP) would leave the
    print unwatched; after ``worker_timeout`` seconds it is replaced."""
    with CameraServer([GOOD]) as camera, \
            _moonraker(pinozcam_section(camera.snapshot_url, None, worker_timeout=3)) as server:
        first = server.wait_worker_connected()
        hung = first["worker"]["pid"]
        os.kill(hung, signal.SIGSTOP)
        try:
            again = server.wait_for("a new worker", lambda: (s := server.status())["worker"]["connected"]
                                    and s["worker"]["pid"] != hung and s, timeout=60)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(hung, signal.SIGCONT)
        assert again["worker"]["restarts"] == first["worker"]["restarts"] + 1
        assert "has not answered for 3 s" in server.log_tail(200)


def _wait_for_snapshot_size(server: MoonrakerProcess, size: tuple[int, int]) -> None:
    """Ask for a check, then wait until the worker's picture is ``size`` (width, height)."""
    def shown() -> tuple[int, int] | None:
        image = cv2.imdecode(np.frombuffer(
            server.request("GET", "/server/pinozcam/snapshot", params={"raw": 1}).content, np.uint8),
            cv2.IMREAD_COLOR)
        return None if image is None else (image.shape[1], image.shape[0])

    server.post("/server/pinozcam/detect_now")
    server.wait_for(f"a {size[0]}x{size[1]} picture", lambda: shown() == size)


def test_the_webcams_rotation_reaches_the_worker_and_follows_its_changes() -> None:
    """A camera mounted sideways, turned upright in Mainsail's webcam settings: the model
    sees the print upright too, and an edit of the webcam applies without a restart."""
    good = cv2.imdecode(np.frombuffer(GOOD, np.uint8), cv2.IMREAD_COLOR)
    width, height = good.shape[1], good.shape[0]
    assert width != height
    with CameraServer([GOOD]) as camera, _moonraker(pinozcam_section("", None)) as server:
        webcam = {"name": "sideways", "service": "mjpegstreamer-adaptive", "snapshot_url": camera.snapshot_url,
                  "stream_url": camera.stream_url, "rotation": 90}
        server.post("/server/webcams/item", webcam)  # as Mainsail saves it
        server.wait_worker_connected()
        assert server.get("/server/pinozcam/settings")["settings"]["camera_rotate"] == 90
        _wait_for_snapshot_size(server, (height, width))
        pid = server.status()["worker"]["pid"]

        server.post("/server/webcams/item", {**webcam, "rotation": 0, "flip_vertical": True})
        server.wait_for("the new orientation in the worker",
                        lambda: server.get("/server/pinozcam/settings")["settings"]["camera_rotate"] == 0)
        assert server.get("/server/pinozcam/settings")["settings"]["camera_flip_vertical"] is True
        _wait_for_snapshot_size(server, (width, height))
        assert server.status()["worker"]["pid"] == pid  # applied without restarting the worker
