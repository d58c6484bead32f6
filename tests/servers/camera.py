"""A local camera: snapshot and MJPEG endpoints serving frames you choose.

Routes: a path ending ``/stream`` or a query ``action=stream`` is an MJPEG
stream; anything else (``/snapshot``, ``/?action=snapshot``) is one picture.
Frames: ``set_frames([...])`` sets the picture(s); the snapshot is the last
frame pushed or the first of the list; streams get ``push(...)``-ed parts at
once and, with ``fps > 0``, the list in rotation. Stream flavour options cover
what real cameras do: the boundary declared with ``--`` or without, parts
written with ``--`` or without, with or without ``Content-Length``.
"""

from __future__ import annotations

import queue
import threading
import urllib.parse
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler

import cv2
import numpy as np

from .base import RecordedRequest, ScriptedServer

__all__ = ["CameraServer", "make_jpeg"]


def make_jpeg(value: int = 128, *, size: tuple[int, int] = (64, 48), mark: int | None = None,
              quality: int = 90) -> bytes:
    """A small JPEG of flat grey ``value``; ``mark`` draws a distinct white bar so frames differ."""
    width, height = size
    image = np.full((height, width, 3), value, np.uint8)
    if mark is not None:
        x = (mark * 7) % max(1, width - 8)
        image[:, x:x + 8] = 255
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def claiming_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header (SOF0) rewritten to claim ``width`` x ``height``: what a
    broken camera or a hostile URL can send in a few hundred bytes."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[:at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[at + 9:]


class CameraServer(ScriptedServer):
    def __init__(self, frames: Sequence[bytes] = (), *, fps: float = 0.0, boundary: str = "frame",
                 declare_dashes: bool = False, write_dashes: bool = True, content_length: bool = True,
                 port: int = 0) -> None:
        super().__init__(port)
        self.frames: list[bytes] = list(frames) or [make_jpeg()]
        self.fps = fps
        self.boundary = boundary
        self.declare_dashes = declare_dashes
        self.write_dashes = write_dashes
        self.content_length = content_length
        self.frames_sent = 0
        self._current = self.frames[0]
        self._streams: list[queue.Queue[bytes | None]] = []
        self._tick_stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- URLs -------------------------------------------------------------------------
    @property
    def snapshot_url(self) -> str:
        return self.url + "/snapshot"

    @property
    def stream_url(self) -> str:
        return self.url + "/stream"

    @property
    def mjpg_streamer_url(self) -> str:
        """An mjpg-streamer style ``?action=stream`` URL."""
        return self.url + "/webcam/?action=stream"

    # -- control ----------------------------------------------------------------------
    def set_frames(self, frames: Sequence[bytes]) -> None:
        self.frames = list(frames)
        self._current = self.frames[0]

    def push(self, *parts: bytes) -> None:
        """Send these parts (JPEG or deliberately broken bytes) to every open stream now."""
        with self._lock:
            streams = list(self._streams)
            if parts and parts[-1][:2] == b"\xff\xd8":
                self._current = parts[-1]
        for q in streams:
            for part in parts:
                q.put(part)

    def wait_for_streams(self, count: int = 1, timeout: float = 10.0) -> None:
        """Block until ``count`` stream clients are connected."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._streams) >= count, timeout):
                raise TimeoutError(f"{len(self._streams)} of {count} stream clients connected")

    async def streams_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        import asyncio

        await asyncio.to_thread(self.wait_for_streams, count, timeout)

    async def streams_gone(self, timeout: float = 10.0) -> None:
        """Wait until no stream client is connected (a client is seen gone at the next write)."""
        import asyncio

        def wait() -> None:
            with self._lock:
                if not self._lock.wait_for(lambda: not self._streams, timeout):
                    raise TimeoutError(f"{len(self._streams)} stream clients still connected")

        await asyncio.to_thread(wait)

    @property
    def stream_clients(self) -> int:
        with self._lock:
            return len(self._streams)

    def start(self) -> "CameraServer":
        super().start()
        self._tick_stop.clear()
        if self.fps > 0:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="camera-ticker")
            self._ticker.start()
        return self

    def stop(self) -> None:
        self._tick_stop.set()
        with self._lock:
            streams, self._streams = list(self._streams), []
        for q in streams:
            q.put(None)
        super().stop()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None

    # -- serving ----------------------------------------------------------------------
    def _tick(self) -> None:
        index = 0
        while not self._tick_stop.wait(1.0 / self.fps):
            frame = self.frames[index % len(self.frames)]
            index += 1
            self.push(frame)

    def handle(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        parts = urllib.parse.urlsplit(request.path)
        is_stream = parts.path.rstrip("/").endswith("/stream") or \
            ("action", "stream") in urllib.parse.parse_qsl(parts.query)
        if not is_stream:
            self.send(handler, 200, self._current, {"Content-Type": "image/jpeg"})
            return
        declared = ("--" if self.declare_dashes else "") + self.boundary
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={declared}")
        handler.send_header("Cache-Control", "no-cache")
        handler.end_headers()
        q: queue.Queue[bytes | None] = queue.Queue()
        q.put(self._current)  # a new client gets the current picture at once, as real cameras do
        with self._lock:
            self._streams.append(q)
            self._lock.notify_all()
        delimiter = (b"--" if self.write_dashes else b"") + self.boundary.encode()
        try:
            while True:
                part = q.get()
                if part is None:
                    break
                head = delimiter + b"\r\nContent-Type: image/jpeg\r\n"
                if self.content_length:
                    head += b"Content-Length: " + str(len(part)).encode() + b"\r\n"
                handler.wfile.write(head + b"\r\n" + part + b"\r\n")
                handler.wfile.flush()
                with self._lock:
                    self.frames_sent += 1
        except OSError:
            pass  # the client went away: a normal end for a stream
        finally:
            with self._lock:
                if q in self._streams:
                    self._streams.remove(q)
                self._lock.notify_all()
            handler.close_connection = True
