"""Frames from ``cv2.VideoCapture``: a V4L2 device (``/dev/videoN`` or an index) or an RTSP URL.

Deliberately thin, and untested here (the test machines have no camera):
every call into OpenCV runs in a worker thread under a lock, a failed grab
releases the device so the next read reopens it, and each read waits at most
``timeout``.
"""

from __future__ import annotations

import asyncio
import threading
import time

import cv2

from ..redact import redact_url_credentials
from .frame import CameraError, Frame, FrameSource

__all__ = ["VideoCaptureSource"]


class VideoCaptureSource(FrameSource):
    def __init__(self, device: int | str, *, timeout: float = 5.0) -> None:
        self.device = device
        self.timeout = timeout
        self.description = f"device {redact_url_credentials(str(device))}"
        self._lock = threading.Lock()
        self._cap: cv2.VideoCapture | None = None
        self._counter = 0
        self._closed = False

    def _grab(self) -> Frame:
        with self._lock:
            if self._closed:
                raise CameraError("the camera is closed")
            if self._cap is None or not self._cap.isOpened():
                self._cap = cv2.VideoCapture(self.device)
                if not self._cap.isOpened():
                    self._cap.release()
                    self._cap = None
                    raise CameraError(f"cannot open {self.description}")
                # Keep the driver's queue short so a read gets a recent frame, not a stale one.
                self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            ok, image = self._cap.read()
            if not ok or image is None:
                self._cap.release()
                self._cap = None
                raise CameraError(f"no picture from {self.description}")
            self._counter += 1
            return Frame(bgr=image, captured_at=time.monotonic(), counter=self._counter)

    async def read(self) -> Frame:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._grab), self.timeout)
        except asyncio.TimeoutError:
            raise CameraError(f"no picture from {self.description} within {self.timeout:g} s") from None

    def _release(self) -> None:
        with self._lock:
            self._closed = True
            if self._cap is not None:
                self._cap.release()
                self._cap = None

    async def close(self) -> None:
        await asyncio.to_thread(self._release)
