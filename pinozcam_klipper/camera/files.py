"""Replaying pictures from a file or a folder (sorted by name), for demos and tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from .frame import CameraError, Frame, FrameSource, is_jpeg

__all__ = ["FileSource", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class FileSource(FrameSource):
    """Frames from one picture (returned again each read) or a folder of pictures, looping.

    With ``fps`` 0 each :meth:`read` gives the next picture; with ``fps`` > 0
    the picture shown follows the clock, as a camera would. The folder is
    listed on first read, so a missing path is a :class:`CameraError` then,
    not at construction.
    """

    def __init__(self, path: str | Path, *, fps: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path).expanduser()
        self.fps = fps
        self.description = f"files {self.path}"
        self._clock = clock
        self._files: list[Path] | None = None
        self._next = 0
        self._started: float | None = None
        self._counter = 0
        self._closed = False

    def _list(self) -> list[Path]:
        if self._files is None:
            if self.path.is_dir():
                files = sorted(p for p in self.path.iterdir()
                               if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
                if not files:
                    raise CameraError(f"no pictures ({', '.join(IMAGE_SUFFIXES)}) in folder {self.path}")
            elif self.path.is_file():
                files = [self.path]
            else:
                raise CameraError(f"camera path {self.path} does not exist")
            self._files = files
        return self._files

    async def read(self) -> Frame:
        if self._closed:
            raise CameraError("the camera is closed")
        files = self._list()
        now = self._clock()
        if self.fps > 0:
            if self._started is None:
                self._started = now
            index = int((now - self._started) * self.fps) % len(files)
        else:
            index = self._next % len(files)
            self._next += 1
        path = files[index]
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise CameraError(f"cannot read {path}: {exc.strerror}") from None
        self._counter += 1
        if is_jpeg(data):
            return Frame(jpeg=data, captured_at=now, counter=self._counter)
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise CameraError(f"{path} is not a picture opencv can read")
        return Frame(bgr=image, captured_at=now, counter=self._counter)

    async def close(self) -> None:
        self._closed = True
