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

OpenCV says only that it could not open something, so a failed open is looked into (in the
read's thread, off the event loop) to say why: a device path that is missing, no device, not
readable by this user, no video device, a camera's metadata node, or a camera another program
(crowsnest's ustreamer or camera-streamer) is using; a stream whose host is unknown, refuses,
or does not answer. After a failed read, reads fail at once with the same message until a
back-off delay has passed (doubling up to ``reconnect_max``, as the HTTP sources do), so a
camera that stays broken is not reopened at every check, each time with a line in the log
from FFmpeg or V4L2.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import grp
import logging
import os
import pwd
import socket
import stat
import struct
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import cv2

from ..redact import redact_url_credentials
from .frame import Backoff, CameraError, Frame, FrameSource, unexpected_camera_error

__all__ = ["Capture", "GrabPlan", "Grabbed", "VideoCaptureSource", "device_holders", "device_problem",
           "grab_newest", "plan_grabs", "why_device_failed", "why_stream_failed"]

logger = logging.getLogger(__name__)

#: The frame rate assumed when a stream reports none that is plausible (FFmpeg may report
#: 90000, an RTP clock rate, or 0).
DEFAULT_FPS = 30.0
#: Most grabs one read of a network stream makes: 10 s of a 30 fps stream.
MAX_NETWORK_GRABS = 300
#: Extra grabs allowed on a V4L2 device past the buffers it says it has (a driver may
#: allocate more than asked for).
EXTRA_DEVICE_GRABS = 8
#: Longest wait, in seconds, for a TCP connection when finding out why a stream did not open.
STREAM_PROBE_TIMEOUT = 2.0
#: Default ports of the stream schemes, for that probe.
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
#: ``VIDIOC_QUERYCAP``: ``_IOR('V', 0, struct v4l2_capability)``, a 104-byte struct, in the
#: ioctl encoding of x86 and ARM (every board a printer runs on).
_VIDIOC_QUERYCAP = 0x80685600
_V4L2_CAPABILITY = struct.Struct("=16s32s32sIII12x")
_V4L2_CAP_VIDEO_CAPTURE = 0x00000001
_V4L2_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_V4L2_CAP_DEVICE_CAPS = 0x80000000
#: How a Klipper user reads the camera when another program (crowsnest) streams it.
_STREAM_HINT = ("read the camera through that program instead: set camera to its stream or snapshot URL, "
                "e.g. http://localhost/webcam/?action=stream (the URL in Mainsail's or Fluidd's webcam settings)")


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


def device_problem(path: str) -> str | None:
    """Why ``path`` can be no camera at all, found without opening it; None if it may be one.

    Missing (an unplugged camera, a crowsnest by-id link to a camera not plugged in) or not
    a character device: a regular file at ``/dev/video0`` is what a program that wrote there
    while no camera was plugged in leaves behind, and no camera appears there until it is gone.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"no such camera device: {path} (unplugged? `ls /dev/v4l/by-id` lists the cameras plugged in)"
    except OSError as exc:
        return f"cannot look at camera device {path}: {exc.strerror}"
    if stat.S_ISCHR(mode):
        return None
    if stat.S_ISREG(mode):
        return (f"{path} is a regular file, not a camera device (a program that wrote to it while no camera "
                f"was plugged in leaves one behind): delete it, then plug the camera in again")
    kind = "a folder" if stat.S_ISDIR(mode) else "a block device" if stat.S_ISBLK(mode) else "a special file"
    return f"{path} is {kind}, not a camera device (a camera is a character device such as /dev/video0)"


def why_device_failed(path: str) -> str:
    """Why OpenCV could not open the camera device ``path``, as far as can be told cheaply.

    Opens it the way a V4L2 program starts (which several may do at once) and asks what it is:
    opening tells a permission problem; the ``VIDIOC_QUERYCAP`` answer tells a device that is
    no camera, or a USB camera's second node (metadata, no pictures); a camera that answers
    but would not stream is most often in use by crowsnest's ustreamer or camera-streamer
    (a camera streams to one program at a time), named when this user may see it.
    """
    problem = device_problem(path)
    if problem is not None:
        return problem
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        return _device_open_refused(path, exc)
    try:
        caps = bytearray(_V4L2_CAPABILITY.size)
        fcntl.ioctl(fd, _VIDIOC_QUERYCAP, caps, True)
    except OSError:
        return f"{path} is not a video device (it does not answer as a V4L2 camera)"
    finally:
        os.close(fd)
    _driver, card, _bus, _version, capabilities, device_caps = _V4L2_CAPABILITY.unpack(caps)
    name = card.split(b"\0", 1)[0].decode("utf-8", "replace") or "camera"
    if capabilities & _V4L2_CAP_DEVICE_CAPS:
        capabilities = device_caps  # what this node does, not the whole device
    if not capabilities & (_V4L2_CAP_VIDEO_CAPTURE | _V4L2_CAP_VIDEO_CAPTURE_MPLANE):
        return (f"{path} ({name}) gives no pictures: a USB camera's second /dev/video node carries only "
                f"metadata; use its first, e.g. /dev/v4l/by-id/...-video-index0")
    holders = device_holders(path)
    if holders:
        return f"camera device {path} ({name}) is in use by {', '.join(holders)}: {_STREAM_HINT}"
    return (f"cannot open camera device {path} ({name}): another program may be using it (crowsnest's "
            f"ustreamer or camera-streamer; a camera streams to one program at a time): {_STREAM_HINT}")


def _device_open_refused(path: str, exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return _permission_denied(path)
    if exc.errno == errno.EBUSY:
        return f"camera device {path} is busy (another program is using it): {_STREAM_HINT}"
    if exc.errno in (errno.ENODEV, errno.ENXIO):
        return f"no camera behind {path} (unplugged?)"
    return f"cannot open camera device {path}: {exc.strerror}"


def _permission_denied(path: str) -> str:
    """Who may use ``path``, and how this user joins them (a new group applies to processes
    started after ``usermod``: the service must be restarted)."""
    try:
        info = os.stat(path)
        group = _name_of(grp.getgrgid, info.st_gid)
        mode = stat.filemode(info.st_mode)
    except OSError:
        group, mode = "video", "?"
    user = _name_of(pwd.getpwuid, os.geteuid())
    return (f"permission denied on camera device {path} ({mode}, group {group}): add the user {user} to "
            f"the group {group} (sudo usermod -aG {group} {user}), then restart PiNozCam")


def _name_of(lookup: Callable[[int], Any], number: int) -> str:
    try:
        return str(lookup(number)[0])
    except KeyError:  # an id with no name on this machine (a container)
        return str(number)


def device_holders(path: str, *, limit: int = 3) -> list[str]:
    """Other processes that have ``path`` open, as ``"name (pid N)"``, at most ``limit``.

    Only those whose ``/proc/PID/fd`` this user may read: all of them as root, the user's own
    otherwise (crowsnest runs as the same user as Klipper, so its ustreamer is found).
    """
    target = os.path.realpath(path)
    try:
        pids = [entry for entry in os.listdir("/proc") if entry.isdigit() and int(entry) != os.getpid()]
    except OSError:  # no /proc: not Linux
        return []
    found: list[str] = []
    for pid in pids:
        if _has_open(pid, target):
            found.append(f"{_process_name(pid)} (pid {pid})")
            if len(found) >= limit:
                break
    return found


def _has_open(pid: str, target: str) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # another user's process, or one that just ended
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False


def _process_name(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as comm:
            return comm.read().strip() or "?"
    except OSError:
        return "?"


def why_stream_failed(url: str, description: str, timeout: float = STREAM_PROBE_TIMEOUT) -> str:
    """Why OpenCV could not open the stream ``url``: one TCP connection to its host and port
    (at most ``timeout`` seconds) tells an unknown host, a refusal and silence apart from a
    server that answers but gave no stream. ``description`` names the stream (no password)."""
    parts = urllib.parse.urlsplit(url)
    try:
        host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:  # a port that is no number
        host, port = None, None
    if not host or not port:
        return f"cannot open {description}"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.gaierror:
        return (f"cannot open {description}: the host name {host} is not known (a typo? a .local name "
                f"needs mDNS/avahi on this machine; the camera's IP address always works)")
    except ConnectionRefusedError:
        return (f"cannot open {description}: {host} refused the connection on port {port} (is the camera's "
                f"RTSP server turned on, and is the port right?)")
    except TimeoutError:
        return (f"cannot open {description}: no answer from {host} on port {port} within {timeout:g} s "
                f"(is the camera on, and is the address right?)")
    except OSError as exc:
        return f"cannot open {description}: cannot reach {host} on port {port}: {exc.strerror or exc}"
    return (f"cannot open {description}: {host} accepts connections on port {port} but gave no stream "
            f"(check the path, and the user name and password, in the URL)")


def _open_capture(target: int | str) -> Capture:
    return cv2.VideoCapture(target)


class VideoCaptureSource(FrameSource):
    """Reads ``device``: an RTSP URL (anything with ``://``), a camera device path or an index.

    ``opener`` makes the capture (``cv2.VideoCapture`` unless a test passes a stand-in);
    ``clock`` times the grabs and the back-off. After a failed read, reads within the back-off
    delay (``backoff_initial``, doubled after each failure up to ``reconnect_max`` seconds,
    back to the start after a picture) fail at once with its message.
    """

    def __init__(self, device: int | str, *, timeout: float = 5.0, reconnect_max: float = 30.0,
                 backoff_initial: float = 0.25,
                 opener: Callable[[int | str], Capture] = _open_capture,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.device = device
        self.timeout = timeout
        self.reconnect_max = reconnect_max
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
        self._backoff = Backoff(backoff_initial, reconnect_max)
        self._retry_at = 0.0  # a clock value; set by the read thread, read by the event loop
        self._last_error = ""
        self.reconnects_to_catch_up = 0

    def _open(self) -> Capture:
        target = self.device
        if isinstance(target, str) and not self.network:
            problem = device_problem(target)
            if problem is not None:
                raise CameraError(problem)
            # /dev/v4l/by-id/... is a link to /dev/videoN; followed at each open, as a camera
            # plugged in again may get another number.
            target = os.path.realpath(target)
        cap = self._opener(target)
        if not cap.isOpened():
            cap.release()
            raise CameraError(self._why_not_opened(target))
        if not self.network:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # a short queue: less to drop at each read
        self._fastest_grab = 0.0
        return cap

    def _why_not_opened(self, target: int | str) -> str:
        if self.network:
            return why_stream_failed(str(target), self.description, min(STREAM_PROBE_TIMEOUT, self.timeout))
        if not sys.platform.startswith("linux"):
            return f"cannot open {self.description}"
        if isinstance(target, int):  # OpenCV's V4L2 back-end opens camera number N as /dev/videoN
            return f"camera number {target}: {why_device_failed(f'/dev/video{target}')}"
        return why_device_failed(target)

    def _drop_capture(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _newest(self) -> tuple[Grabbed | None, Any]:
        """The newest frame of the capture (opened first if need be): what draining did, and
        the picture (None if there was none)."""
        if self._cap is None or not self._cap.isOpened():
            self._cap = self._open()
        cap = self._cap
        plan = plan_grabs(network=self.network, fps=cap.get(cv2.CAP_PROP_FPS),
                          buffers=cap.get(cv2.CAP_PROP_BUFFERSIZE), fastest=self._fastest_grab,
                          now=self._clock(), budget=self.timeout / 2)
        grabbed = grab_newest(cap, plan, self._clock)
        ok, image = cap.retrieve() if grabbed is not None else (False, None)
        return grabbed, image if ok else None

    def _grab(self) -> Frame:
        with self._lock:
            if self._closed:
                raise CameraError("the camera is closed")
            error: CameraError | None = None
            try:
                grabbed, image = self._newest()
            except CameraError as exc:
                error, grabbed, image = exc, None, None
            except Exception as exc:  # cv2.error from a strange device or stream: one more failed read
                error, grabbed, image = unexpected_camera_error(exc, self.description), None, None
            if self._closed:  # closed while OpenCV was blocked (see close)
                self._drop_capture()
                raise CameraError("the camera is closed")
            if grabbed is None or image is None:
                self._drop_capture()
                raise self._failed(str(error) if error else f"no picture from {self.description}")
            self._backoff.reset()
            self._retry_at = 0.0
            self._last_error = ""
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

    def _failed(self, message: str) -> CameraError:
        """Note a failed read (reads wait out the back-off); return the error to raise."""
        self._last_error = message
        self._retry_at = self._clock() + self._backoff.next_delay()
        return CameraError(message)

    async def read(self) -> Frame:
        if self._closed:
            raise CameraError("the camera is closed")
        if self._busy is not None and not self._busy.done():
            raise CameraError(self._with_last_error(f"no picture from {self.description}: it has not "
                                                    "answered the last read yet"))
        if self._clock() < self._retry_at:
            # No thread and no open: the camera was broken a moment ago, and reopening it at
            # every check only fills the log (FFmpeg and V4L2 write a line per failed open).
            # The very same message, so the worker does not tell its clients of a change.
            raise CameraError(self._last_error)
        self._busy = _in_daemon_thread(self._grab)
        try:
            # Shielded: a timeout leaves the read running (OpenCV cannot be stopped), and
            # _busy says so until its thread returns.
            return await asyncio.wait_for(asyncio.shield(self._busy), self.timeout)
        except asyncio.TimeoutError:
            raise CameraError(self._with_last_error(
                f"no picture from {self.description} within {self.timeout:g} s")) from None

    def _with_last_error(self, message: str) -> str:
        """``message``, with why the read before failed, if it did: an open that hangs (an RTSP
        server that accepts and never answers) times the reads out, and its reason, found when
        it gives up 30 s later, would otherwise never be seen."""
        return f"{message} (the try before: {self._last_error})" if self._last_error else message

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
