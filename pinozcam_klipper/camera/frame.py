"""A captured frame, the frame-source interface and the camera's error type."""

from __future__ import annotations

import abc
import logging

import cv2
import numpy as np

from ..jpeg_size import header_segments, segment_length, too_large
from ..redact import redact_url_credentials

__all__ = ["Backoff", "Frame", "FrameSource", "CameraError", "BrokenFrameError", "is_jpeg", "jpeg_problem",
           "unexpected_camera_error"]

logger = logging.getLogger(__name__)


class Backoff:
    """Waits between tries at a broken camera, for every kind of source: ``initial``,
    doubled after each failure, capped at ``maximum``."""

    def __init__(self, initial: float = 0.25, maximum: float = 30.0) -> None:
        self.initial = min(initial, maximum)
        self.maximum = maximum
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


class CameraError(Exception):
    """The camera gave no usable frame. The message says why, in lowercase, with no secrets."""


class BrokenFrameError(CameraError):
    """A frame arrived but its picture cannot be decoded."""


def unexpected_camera_error(exc: BaseException, where: str) -> CameraError:
    """The :class:`CameraError` for an exception nobody foresaw (a library's ValueError, an
    OpenCV assertion...): its kind and message, with any URL password hidden, and ``where``.

    Sources turn such exceptions into this at their boundary, so a strange reply from a
    camera is one more failed read (health offline, the usual retry) instead of the end
    of the checks.
    """
    detail = redact_url_credentials(str(exc))[:200]
    return CameraError(f"camera read failed ({where}): {type(exc).__name__}" + (f": {detail}" if detail else ""))


def jpeg_problem(data: bytes) -> str | None:
    """Why ``data`` is not a whole JPEG picture (lowercase, for error messages), or None.

    A cheap check that catches truncated and garbage parts; it does not decode (a picture
    whose data is garbage passes, and decoding reports it broken). It wants a start marker
    first and an end-of-image marker (FFD9) after the picture data; whatever follows the end
    marker is ignored: ESP32-CAM and OV2640/OV5640 cameras pad every frame with hundreds to
    thousands of zero or junk bytes after it (espressif/esp32-camera#162), and a check of
    only the last few bytes refused every frame they send.
    """
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        return f"no jpeg start marker at its beginning ({len(data)} bytes)"
    # Inside the picture data every 0xFF byte is followed by 0x00 or a restart marker, so
    # FFD9 there can only be the end marker.
    if data.find(b"\xff\xd9", _picture_data_start(data)) < 0:
        return f"no end-of-image marker after the picture data ({len(data)} bytes; truncated?)"
    return None


def _picture_data_start(data: bytes) -> int:
    """Where the first scan's data begins, found by walking the header segments, so that the
    end marker of an EXIF thumbnail (inside an APP1 header) is not taken for the picture's.
    2 (just after the start marker) when the headers cannot be walked."""
    for marker, offset in header_segments(data):
        if marker == 0xD9:
            break
        if marker == 0xDA:  # start of scan: the entropy-coded data follows its header
            return min(offset + 2 + segment_length(data, offset), len(data))
    return 2


def is_jpeg(data: bytes) -> bool:
    """True when ``data`` is a whole JPEG picture by :func:`jpeg_problem`'s cheap check."""
    return jpeg_problem(data) is None


class Frame:
    """One picture: JPEG bytes and/or a BGR array, each made from the other on demand.

    ``captured_at`` is ``time.monotonic()`` when the source received it;
    ``counter`` numbers the frames a source received (1, 2, ...), so a gap
    between two reads shows how many frames were skipped.
    """

    __slots__ = ("_jpeg", "_bgr", "captured_at", "counter")

    def __init__(self, *, captured_at: float, counter: int, jpeg: bytes | None = None,
                 bgr: np.ndarray | None = None) -> None:
        if jpeg is None and bgr is None:
            raise ValueError("a frame needs jpeg bytes or a bgr image")
        self._jpeg = jpeg
        self._bgr = bgr
        self.captured_at = captured_at
        self.counter = counter

    @property
    def jpeg(self) -> bytes:
        """The JPEG bytes (encoded from the BGR image at quality 90 if the source gave none)."""
        if self._jpeg is None:
            assert self._bgr is not None
            ok, buf = cv2.imencode(".jpg", self._bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise CameraError("could not encode the frame as jpeg")
            self._jpeg = buf.tobytes()
        return self._jpeg

    @property
    def bgr(self) -> np.ndarray:
        """The decoded BGR image (``H x W x 3`` uint8); :class:`CameraError` if the JPEG is broken."""
        if self._bgr is None:
            assert self._jpeg is not None
            oversize = too_large(self._jpeg)
            if oversize:
                raise BrokenFrameError(f"the camera sent a jpeg that {oversize}")
            try:
                image = cv2.imdecode(np.frombuffer(self._jpeg, np.uint8), cv2.IMREAD_COLOR)
            except cv2.error:
                # OpenCV refuses (raises, not None) a header claiming more pixels than it allows.
                image = None
            if image is None or image.size == 0:
                raise BrokenFrameError(f"the camera sent a picture that is not a valid jpeg ({len(self._jpeg)} bytes)")
            self._bgr = image
        return self._bgr

    @property
    def decoded(self) -> bool:
        return self._bgr is not None

    def __repr__(self) -> str:
        size = f"{len(self._jpeg)} B jpeg" if self._jpeg is not None else "bgr"
        return f"Frame(#{self.counter}, {size}, at {self.captured_at:.3f})"


class FrameSource(abc.ABC):
    """Where frames come from. One reader at a time.

    :meth:`read` returns the newest frame, waiting up to the source's timeout
    for one; it raises :class:`CameraError` (never anything else for camera
    trouble) when there is none. :meth:`close` releases connections, threads
    and devices; reading after close raises :class:`CameraError`.
    """

    #: A short human description of the source with no secrets, e.g. "mjpeg http://cam:8080/...".
    description: str = "camera"

    @abc.abstractmethod
    async def read(self) -> Frame:
        """The newest frame, or :class:`CameraError`."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release everything; safe to call twice."""

    async def __aenter__(self) -> "FrameSource":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
