"""A /dev/video or RTSP camera that will not open says why, and is not reopened at every check.

The messages come from real runs: real paths, devices, sockets and ``cv2.VideoCapture``. The
machines that run the tests have no camera, so "a camera another program uses" cannot be run
here; the process scan it relies on is run on a file another process holds. The back-off is
counted with a stand-in opener on a clock that only the test moves.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from pinozcam_klipper.camera import CameraError, CameraSettings, open_source
from pinozcam_klipper.camera.capture import (VideoCaptureSource, device_holders, why_device_failed,
                                             why_stream_failed)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="V4L2 and /proc are Linux's")


async def _error_of(source: VideoCaptureSource) -> str:
    with pytest.raises(CameraError) as caught:
        await source.read()
    return str(caught.value)


# --- what a device that will not open says -------------------------------------------------


async def test_a_missing_device_says_how_to_find_the_cameras_plugged_in() -> None:
    source = VideoCaptureSource("/dev/v4l/by-id/usb-Not_Plugged_In-video-index0")
    try:
        message = await _error_of(source)
    finally:
        await source.close()
    assert message.startswith("no such camera device: /dev/v4l/by-id/usb-Not_Plugged_In-video-index0")
    assert "ls /dev/v4l/by-id" in message


async def test_a_regular_file_where_the_camera_should_be_is_named_as_such(tmp_path: Any) -> None:
    """What `ffmpeg ... /dev/video0` leaves when no camera is plugged in: no camera appears
    there until it is deleted."""
    stray = tmp_path / "video0"
    stray.write_bytes(b"\x00" * 64)
    source = VideoCaptureSource(str(stray))
    try:
        message = await _error_of(source)
    finally:
        await source.close()
    assert message.startswith(f"{stray} is a regular file, not a camera device")
    assert "delete it" in message


@linux_only
async def test_a_device_that_is_no_camera_is_named_as_such() -> None:
    """/dev/null exists, is a character device and opens, but OpenCV cannot use it: it is
    not a V4L2 device, which is said instead of blaming another program."""
    source = VideoCaptureSource("/dev/null")  # the real cv2.VideoCapture
    try:
        message = await _error_of(source)
    finally:
        await source.close()
    assert message == "/dev/null is not a video device (it does not answer as a V4L2 camera)"


@linux_only
async def test_a_missing_camera_number_names_its_device() -> None:
    if os.path.exists("/dev/video7"):
        pytest.skip("this machine has a /dev/video7")
    source = VideoCaptureSource(7)
    try:
        message = await _error_of(source)
    finally:
        await source.close()
    assert message.startswith("camera number 7: no such camera device: /dev/video7")


def _char_device_nobody_may_open() -> str | None:
    """A character device in /dev that the user ``nobody`` (root: see below) or this user may
    not read and write, e.g. /dev/console; None if there is none."""
    for entry in sorted(os.scandir("/dev"), key=lambda e: e.name):
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISCHR(info.st_mode):
            continue
        if os.geteuid() == 0:
            if info.st_mode & 0o006 != 0o006 and 65534 not in (info.st_uid, info.st_gid):
                return entry.path
        elif not os.access(entry.path, os.R_OK | os.W_OK):
            return entry.path
    return None


@linux_only
def test_a_device_this_user_may_not_open_says_which_group_to_join() -> None:
    """Run as a user that may not open the device: as root, a child process that drops to
    ``nobody`` after importing (root may open everything)."""
    device = _char_device_nobody_may_open()
    if device is None:
        pytest.skip("no character device here that this user may not open")
    if os.geteuid() == 0:
        code = textwrap.dedent(f"""
            import os
            from pinozcam_klipper.camera.capture import why_device_failed
            os.setgroups([]); os.setgid(65534); os.setuid(65534)
            print(why_device_failed({device!r}))
        """)
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        message, user = run.stdout.strip(), _user_name(65534)
    else:
        message, user = why_device_failed(device), _user_name(os.geteuid())
    group = _group_name(os.stat(device).st_gid)
    assert message.startswith(f"permission denied on camera device {device}")
    assert f"add the user {user} to the group {group} (sudo usermod -aG {group} {user})" in message


def _user_name(uid: int) -> str:
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    import grp
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@pytest.fixture()
def held_file(tmp_path: Any) -> Iterator[tuple[str, int]]:
    """A file another process has open (as ustreamer holds /dev/video0), and that process's pid."""
    path = tmp_path / "video0"
    path.write_bytes(b"")
    code = "import sys; f = open(sys.argv[1], 'rb'); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield str(path), holder.pid
    finally:
        holder.communicate("")  # closing its stdin ends it


@linux_only
def test_the_program_holding_a_device_is_named(held_file: tuple[str, int]) -> None:
    path, pid = held_file
    holders = device_holders(path)
    assert len(holders) == 1 and holders[0].endswith(f"(pid {pid})")
    assert holders[0].startswith("python")


# --- what a stream that will not open says -------------------------------------------------


@pytest.fixture()
def closed_port() -> Iterator[int]:
    """A local port with nothing listening: bound, so that nothing else takes it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def test_a_stream_refused_says_so_without_its_password(closed_port: int) -> None:
    source = VideoCaptureSource(f"rtsp://admin:hunter2secret@127.0.0.1:{closed_port}/live")  # real OpenCV
    try:
        message = await _error_of(source)
    finally:
        await source.close()
    assert message.startswith(f"cannot open device rtsp://<redacted>@127.0.0.1:{closed_port}/live: "
                              f"127.0.0.1 refused the connection on port {closed_port}")
    assert "hunter2secret" not in message


async def test_a_stream_host_nobody_knows_says_so() -> None:
    source = VideoCaptureSource("rtsp://admin:hunter2secret@no-such-camera.invalid/live?password=pw2")
    try:
        message = await _error_of(source)
    finally:
        await source.close()
    assert "the host name no-such-camera.invalid is not known" in message
    assert "hunter2secret" not in message and "pw2" not in message


def test_a_stream_server_that_answers_but_gives_no_stream_says_to_check_the_url() -> None:
    """OpenCV waits 30 s for such a server before it gives up: the probe is checked alone."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        message = why_stream_failed(f"rtsp://127.0.0.1:{port}/wrong", "the stream", 2.0)
    assert message == (f"cannot open the stream: 127.0.0.1 accepts connections on port {port} but gave "
                       f"no stream (check the path, and the user name and password, in the URL)")


@linux_only
def test_a_stream_server_that_does_not_answer_says_so() -> None:
    """A server whose queue of connections is full lets new ones wait unanswered (Linux)."""
    with socket.socket() as server, socket.socket() as first:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        first.connect(("127.0.0.1", port))  # fills the queue
        message = why_stream_failed(f"rtsp://127.0.0.1:{port}/live", "the stream", 0.3)
    assert message.startswith(f"cannot open the stream: no answer from 127.0.0.1 on port {port} within 0.3 s")


# --- back-off ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StandInCapture:
    """``cv2.VideoCapture`` of a camera that is plugged in (a picture per grab) or not: it
    opens if the camera was plugged in then, and grabs while it still is."""

    def __init__(self, camera: "CountingOpener") -> None:
        self.camera = camera
        self.opened = camera.plugged_in

    def isOpened(self) -> bool:
        return self.opened

    def grab(self) -> bool:
        return self.opened and self.camera.plugged_in

    def retrieve(self) -> tuple[bool, Any]:
        return True, np.zeros((2, 2, 3), np.uint8)

    def get(self, prop: int) -> float:
        return 0.0

    def set(self, prop: int, value: float) -> bool:
        return True

    def release(self) -> None:
        self.opened = False


class CountingOpener:
    """Opens a camera that works while ``plugged_in``; counts the opens. ``hang`` (an event)
    makes an open block until it is set, as OpenCV does on an RTSP server that never answers."""

    def __init__(self) -> None:
        self.opens = 0
        self.plugged_in = False
        self.hang: threading.Event | None = None

    def __call__(self, target: int | str) -> StandInCapture:
        self.opens += 1
        if self.hang is not None:
            self.hang.wait(30)
        return StandInCapture(self)


#: A step short of each delay: exact in binary, so the fake clock lands on the delay exactly.
SHORT = 0.125


async def test_a_broken_camera_is_reopened_after_a_growing_delay_not_at_every_check() -> None:
    clock, opener = FakeClock(), CountingOpener()
    source = VideoCaptureSource("/dev/null", opener=opener, clock=clock, backoff_initial=0.5,
                                reconnect_max=4.0)
    try:
        first = await _error_of(source)
        assert first.startswith("/dev/null is not a video device")
        for _ in range(5):  # checks within the delay: the same message, no open
            assert await _error_of(source) == first
        assert opener.opens == 1
        for delay in (0.5, 1.0, 2.0, 4.0, 4.0, 4.0):  # doubled after each failure, capped
            opens = opener.opens
            clock.now += delay - SHORT
            assert await _error_of(source) == first and opener.opens == opens  # still waiting
            clock.now += SHORT
            assert await _error_of(source) == first and opener.opens == opens + 1
    finally:
        await source.close()


async def test_a_camera_that_comes_back_is_used_within_the_longest_delay_and_the_delay_starts_over() -> None:
    clock, opener = FakeClock(), CountingOpener()
    source = VideoCaptureSource("/dev/null", opener=opener, clock=clock, backoff_initial=0.5,
                                reconnect_max=4.0)
    try:
        for _ in range(10):  # a camera off for a while: the delay has reached its cap
            await _error_of(source)
            clock.now += 1.0
        opener.plugged_in = True
        clock.now += 4.0  # the longest delay, from any point: the camera is used again
        assert (await source.read()).bgr is not None
        opener.plugged_in = False  # unplugged again: the read fails...
        assert (await _error_of(source)).startswith("no picture from")
        clock.now += 0.5  # ...and the delay is back to the first, not the capped one
        opens = opener.opens
        assert (await _error_of(source)).startswith("/dev/null is not a video device")
        assert opener.opens == opens + 1
    finally:
        await source.close()


async def test_closing_or_replacing_a_camera_in_its_back_off_is_not_held_up() -> None:
    clock, opener = FakeClock(), CountingOpener()
    source = VideoCaptureSource("/dev/null", opener=opener, clock=clock, backoff_initial=30.0)
    await _error_of(source)
    await source.close()  # returns at once: nothing waits out the 30 s
    assert await _error_of(source) == "the camera is closed"
    # The user points the camera option at the same device again: the new camera opens at once.
    opener.plugged_in = True
    fresh = VideoCaptureSource("/dev/null", opener=opener, clock=clock, backoff_initial=30.0)
    try:
        assert (await fresh.read()).bgr is not None
    finally:
        await fresh.close()


async def test_a_timed_out_read_names_why_the_one_before_failed(closed_port: int) -> None:
    """An RTSP server that accepts and never answers makes OpenCV block 30 s: such reads time
    out, and why the read before failed is kept in their message."""
    clock, opener = FakeClock(), CountingOpener()
    source = VideoCaptureSource(f"rtsp://127.0.0.1:{closed_port}/live", opener=opener, clock=clock,
                                backoff_initial=0.5)
    opener.hang = threading.Event()
    try:
        opener.hang.set()
        reason = await _error_of(source)
        assert "refused the connection" in reason
        opener.hang.clear()
        source.timeout = 0.05  # only now: the read before had time to find its reason
        clock.now += 0.5
        assert await _error_of(source) == (f"no picture from device rtsp://127.0.0.1:{closed_port}/live "
                                           f"within 0.05 s (the try before: {reason})")
    finally:
        opener.hang.set()
        await source.close()


def test_the_reconnect_max_option_bounds_a_device_camera_s_back_off() -> None:
    for where in ("/dev/video0", "0", "rtsp://cam/live"):
        source = open_source(CameraSettings(camera=where, camera_reconnect_max=7.0))
        assert isinstance(source, VideoCaptureSource) and source.reconnect_max == 7.0
