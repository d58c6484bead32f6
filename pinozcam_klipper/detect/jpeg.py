"""JPEG bytes -> BGR frame, with a clear error for broken or truncated files."""

from __future__ import annotations

import cv2
import numpy as np

from ..jpeg_size import too_large
from .errors import FrameError

__all__ = ["decode_jpeg"]

_SOI = b"\xff\xd8\xff"
_EOI = b"\xff\xd9"
# Cameras and MJPEG streams may pad a frame after its end marker.
_PADDING = b"\x00\r\n\t "


def decode_jpeg(data: bytes) -> np.ndarray:
    """Decode a JPEG into an ``H x W x 3`` uint8 BGR array.

    Raises :class:`FrameError` when ``data`` is empty, is not a JPEG, is
    truncated (no end-of-image marker: the decoder would silently fill the
    missing part with grey) or cannot be decoded.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FrameError(f"JPEG data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise FrameError("empty JPEG (0 bytes)")
    if not data.startswith(_SOI):
        raise FrameError(f"not a JPEG: {len(data)} bytes starting with {data[:4].hex()}")
    if not data.rstrip(_PADDING).endswith(_EOI):
        raise FrameError(f"truncated JPEG: {len(data)} bytes without an end-of-image marker")
    oversize = too_large(data)
    if oversize:
        raise FrameError(f"JPEG {oversize}")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # a header OpenCV itself refuses
        image = None
    if image is None:
        raise FrameError(f"broken JPEG: {len(data)} bytes could not be decoded")
    return image
