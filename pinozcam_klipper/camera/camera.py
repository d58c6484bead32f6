"""``open_camera``: pick a frame source from the ``camera`` string, and wrap it with turning and health."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections.abc import Callable

import cv2
import numpy as np

from ..redact import redact_url_credentials
from .capture import VideoCaptureSource
from .files import FileSource
from .frame import BrokenFrameError, CameraError, Frame, FrameSource, unexpected_camera_error
from .health import CameraHealth, CameraState, HealthMonitor, thumbnail
from .http import MjpegSource, SnapshotSource, is_stream_url
from .settings import CameraSettings

__all__ = ["Camera", "is_capture_device", "open_camera", "open_source", "orient"]

logger = logging.getLogger(__name__)

_ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def open_source(settings: CameraSettings) -> FrameSource:
    """The raw source named by ``settings.camera``; :class:`CameraError` if it names nothing.

    - ``http(s)://...``: a path ending ``/stream``, ``.mjpg`` or ``.mjpeg`` is read as an
      MJPEG stream; anything else (including ``?action=stream``, rewritten to
      ``?action=snapshot``) is polled as a snapshot URL;
    - ``rtsp://...`` or ``rtsps://...``, a number, or a camera device (see :func:`is_capture_device`):
      ``cv2.VideoCapture``;
    - anything else: a file or folder to replay.

    A string no source can use (a malformed URL, an unknown ``~user``) is a
    :class:`CameraError` too, naming the option.
    """
    where = settings.camera.strip()
    if not where:
        raise CameraError("no camera configured (set the 'camera' option)")
    try:
        return _source_for(where, settings)
    except CameraError:
        raise
    except Exception as exc:  # urllib's ValueError, pathlib's RuntimeError, httpx's InvalidURL...
        raise CameraError(f"option 'camera': {redact_url_credentials(where)!r} cannot be used: "
                          f"{redact_url_credentials(str(exc))}") from None


def _source_for(where: str, settings: CameraSettings) -> FrameSource:
    lowered = where.lower()
    if lowered.startswith(("http://", "https://")):
        kind = MjpegSource if is_stream_url(where) else SnapshotSource
        return kind(where, timeout=settings.camera_timeout, reconnect_max=settings.camera_reconnect_max,
                    verify_tls=settings.camera_verify_tls)
    if lowered.startswith(("rtsp://", "rtsps://")) or is_capture_device(where):
        return VideoCaptureSource(where, timeout=settings.camera_timeout,
                                  reconnect_max=settings.camera_reconnect_max)
    if where.isdigit():
        return VideoCaptureSource(int(where), timeout=settings.camera_timeout,
                                  reconnect_max=settings.camera_reconnect_max)
    return FileSource(where, fps=settings.camera_replay_fps)


def is_capture_device(path: str) -> bool:
    """Whether ``path`` names a camera device for ``cv2.VideoCapture`` rather than pictures.

    True for a character device once links are followed: ``/dev/video0``, but also the
    stable names crowsnest recommends (``/dev/v4l/by-id/usb-...-video-index0``) and udev
    links such as ``/dev/webcam``, all links to a ``/dev/videoN``. True too for a ``/dev``
    path that does not exist (yet): an unplugged camera is then reported at each read as
    "no such camera device" and used once it is plugged in, where a picture folder would
    fail with a misleading "camera path does not exist".
    """
    try:
        return stat.S_ISCHR(os.stat(path).st_mode)
    except (OSError, ValueError):  # missing, a dangling link, no permission, a NUL in the string
        return path.startswith("/dev/")


def open_camera(settings: CameraSettings, *, clock: Callable[[], float] = time.monotonic) -> "Camera":
    """A :class:`Camera` on the source ``settings.camera`` names (see :func:`open_source`)."""
    return Camera(open_source(settings), settings, clock=clock)


def orient(image: np.ndarray, *, flip_horizontal: bool, flip_vertical: bool, rotate: int,
           rotate_first: bool = False) -> np.ndarray:
    """The picture turned as the user's web interface shows it, so the model sees the same.

    ``rotate`` is clockwise (0/90/180/270). The order of flipping and rotating matters with a
    90 or 270 degree rotation and one flip (the two orders then differ by 180 degrees), and
    the interfaces differ:

    - ``rotate_first=False``: flip, then rotate. OctoPrint's classic webcam flips the ``<img>``
      and rotates a wrapper around it (``rotate(-90deg)``, i.e. ``rotate=270`` here).
    - ``rotate_first=True``: rotate, then flip. Mainsail and Fluidd put one CSS transform
      such as ``scaleX(-1) rotate(90deg)`` on the picture, and CSS applies the rightmost
      function first.
    """
    if rotate_first:
        return _flip(_rotate(image, rotate), flip_horizontal, flip_vertical)
    return _rotate(_flip(image, flip_horizontal, flip_vertical), rotate)


def _flip(image: np.ndarray, horizontal: bool, vertical: bool) -> np.ndarray:
    if horizontal and vertical:
        return cv2.flip(image, -1)
    if horizontal:
        return cv2.flip(image, 1)
    if vertical:
        return cv2.flip(image, 0)
    return image


def _rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    return cv2.rotate(image, _ROTATIONS[degrees]) if degrees else image


class Camera(FrameSource):
    """A frame source with the picture turned as configured and its health tracked.

    :meth:`read` returns a decoded frame (``frame.bgr`` is ready; ``frame.jpeg``
    is the camera's own bytes unless the picture was turned). Any failure, foreseen
    by the source or not, is a :class:`CameraError` and turns :attr:`health`
    offline; health recovers by itself on the next good frame. A broken picture
    is skipped once in favour of the next frame. Decoding runs in a thread, off the event loop.
    """

    def __init__(self, source: FrameSource, settings: CameraSettings, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.settings = settings
        self.description = source.description
        self._clock = clock
        self._monitor = HealthMonitor(frozen_seconds=settings.camera_frozen_seconds,
                                      dark_level=settings.camera_dark_level, now=clock())
        self._turn = (settings.camera_flip_horizontal or settings.camera_flip_vertical
                      or settings.camera_rotate != 0)
        self._logged_state: CameraState | None = None

    @property
    def health(self) -> CameraHealth:
        return self._monitor.health

    async def read(self) -> Frame:
        try:
            try:
                frame, thumb = await self._read_decoded()
            except BrokenFrameError as exc:
                logger.debug("skipping a broken picture: %s", exc)
                frame, thumb = await self._read_decoded()
        except CameraError as exc:
            self._record(self._monitor.on_error(str(exc), self._clock()))
            raise
        except Exception as exc:
            # A source that let something else escape: still a failed read, never the end of the checks.
            logger.debug("unexpected camera error", exc_info=True)
            error = unexpected_camera_error(exc, self.description)
            self._record(self._monitor.on_error(str(error), self._clock()))
            raise error from None
        self._record(self._monitor.on_frame(thumb, self._clock()))
        return frame

    async def _read_decoded(self) -> tuple[Frame, np.ndarray]:
        frame = await self.source.read()
        return await asyncio.to_thread(self._prepare, frame)

    def _prepare(self, frame: Frame) -> tuple[Frame, np.ndarray]:
        image = frame.bgr
        if self._turn:
            image = orient(image, flip_horizontal=self.settings.camera_flip_horizontal,
                           flip_vertical=self.settings.camera_flip_vertical,
                           rotate=self.settings.camera_rotate,
                           rotate_first=self.settings.camera_rotate_first)
            frame = Frame(bgr=image, captured_at=frame.captured_at, counter=frame.counter)
        return frame, thumbnail(image)

    def _record(self, health: CameraHealth) -> None:
        if health.state is self._logged_state:
            return
        self._logged_state = health.state
        if health.state is CameraState.OK:
            logger.info("camera ok (%s)", self.description)
        else:
            logger.warning("camera %s: %s", health.state.value, health.message)

    async def close(self) -> None:
        await self.source.close()
