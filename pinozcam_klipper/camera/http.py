"""HTTP frame sources: a snapshot URL polled per read, and an MJPEG stream read in the background.

Both log in with the URL's ``user:password@`` (Basic, or Digest once the camera asks for it: see
:class:`~.auth.CameraLogin`), check the camera's HTTPS certificate unless ``verify_tls`` is off,
and name what a URL sent when it is clearly no picture (a web page, an HLS playlist, a video).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import urllib.parse
from collections.abc import AsyncIterator

import httpx

from ..redact import redact_url_credentials
from .auth import CameraLogin
from .frame import Backoff, CameraError, Frame, FrameSource, jpeg_problem, unexpected_camera_error
from .mjpeg import MjpegParser, boundary_from_content_type

__all__ = ["SnapshotSource", "MjpegSource", "snapshot_url_for", "is_stream_url"]

logger = logging.getLogger(__name__)

_MAX_SNAPSHOT_BYTES = 32 * 1024 * 1024
#: Least seconds an MJPEG stream is kept open with no read (see MjpegSource.idle_after): more
#: than the worker's idle refresh of a watched webcam tile (5 s), so a watched tile keeps it.
MJPEG_IDLE_AFTER = 30.0


def snapshot_url_for(url: str) -> str:
    """An mjpg-streamer/crowsnest ``?action=stream`` URL becomes ``?action=snapshot``; others are unchanged."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if not any(k == "action" and v == "stream" for k, v in query):
        return url
    query = [(k, "snapshot" if k == "action" and v == "stream" else v) for k, v in query]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def is_stream_url(url: str) -> bool:
    """A URL whose path names a stream (ustreamer ``/stream``, ``.mjpg``/``.mjpeg``)."""
    path = urllib.parse.urlsplit(url).path.lower().rstrip("/")
    return path.endswith("/stream") or path.endswith(".mjpg") or path.endswith(".mjpeg")


def _certificate_problem(exc: BaseException) -> str | None:
    """Why the camera's certificate was refused, if that is what ``exc`` comes from (httpx
    wraps the ssl error in its own ConnectError); None for any other failure."""
    cause: BaseException | None = exc
    for _ in range(8):  # a chain is short; a bound guards against a cycle
        if cause is None:
            return None
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or cause.reason or "certificate verify failed"
        cause = cause.__cause__ or cause.__context__
    return None


def _describe_http_error(exc: httpx.HTTPError, what: str, timeout: float) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"the camera did not answer within {timeout:g} s ({what})"
    certificate = _certificate_problem(exc)
    if certificate is not None:
        return (f"the camera's https certificate is not trusted ({certificate}; {what}): for a camera "
                f"with a self-signed certificate on your own network, set camera_verify_tls: False")
    # httpx messages rarely hold the URL, but a URL may hold a password: redact anyway.
    detail = redact_url_credentials(str(exc)) or type(exc).__name__
    return f"cannot reach the camera ({what}): {detail}"


def _not_a_picture(content_type: str) -> str | None:
    """What the camera sent, when its content type is clearly no picture and no MJPEG stream
    (a login page, an HLS playlist, a video); None otherwise. An unknown or missing type is
    still tried as a picture: many cameras label theirs wrongly."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind in ("text/html", "application/xhtml+xml"):
        return f"a web page ({kind})"
    if kind in ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl", "audio/x-mpegurl"):
        return f"an HLS playlist ({kind})"
    if kind.startswith("video/") and "jpeg" not in kind and "mjpg" not in kind:
        return f"a video stream ({kind})"
    return None


@contextlib.asynccontextmanager
async def _get(client: httpx.AsyncClient, url: str, login: CameraLogin) -> AsyncIterator[httpx.Response]:
    """GET ``url`` as a stream, logged in as ``login`` says; a camera that answers asking for
    Digest is asked again at once, with it (see :class:`~.auth.CameraLogin`)."""
    async with client.stream("GET", url, auth=login.auth) as resp:
        if not login.switch_to_digest(resp):
            yield resp
            return
    async with client.stream("GET", url, auth=login.auth) as resp:
        yield resp


def _answer_problem(resp: httpx.Response, login: CameraLogin, what: str) -> str | None:
    """Why this answer holds no picture, judged by its status and headers; None if it may."""
    if resp.status_code == 401:
        return login.refusal(what)
    if resp.status_code != 200:
        return f"the camera answered http {resp.status_code} ({what})"
    sent = _not_a_picture(resp.headers.get("content-type", ""))
    if sent is not None:
        return (f"the camera answered with {sent}, not a picture: PiNozCam needs a JPEG snapshot or "
                f"MJPEG stream URL ({what})")
    return None


class SnapshotSource(FrameSource):
    """GETs one picture per :meth:`read`.

    After a failure, reads within the backoff delay raise at once (or wait out
    a delay shorter than the timeout), so a dead camera is not hammered. A URL
    that answers with an MJPEG stream works too: the first part is taken.
    """

    def __init__(self, url: str, *, timeout: float = 5.0, reconnect_max: float = 30.0,
                 backoff_initial: float = 0.25, client: httpx.AsyncClient | None = None,
                 verify_tls: bool = True) -> None:
        self.url = snapshot_url_for(url)
        self.timeout = timeout
        self.description = "snapshot " + redact_url_credentials(self.url)
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=True, verify=verify_tls)
        self._own_client = client is None
        self._login = CameraLogin(self.url)
        self._backoff = Backoff(backoff_initial, reconnect_max)
        self._retry_at = 0.0
        self._last_error = ""
        self._counter = 0
        self._closed = False
        self._closing = asyncio.Event()

    async def read(self) -> Frame:
        if self._closed:
            raise CameraError("the camera is closed")
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            if wait > self.timeout:
                raise CameraError(f"{self._last_error}; next try in {wait:.0f} s")
            # close() ends the wait: a new camera must not wait out the old one's backoff.
            # (asyncio.wait, not wait_for, which can swallow a cancellation before Python 3.12.)
            closing = asyncio.ensure_future(self._closing.wait())
            try:
                await asyncio.wait({closing}, timeout=wait)
            finally:
                closing.cancel()
            if self._closed:
                raise CameraError("the camera is closed")
        try:
            jpeg = await asyncio.wait_for(self._fetch(), self.timeout)
        except asyncio.TimeoutError:
            message = f"the camera did not answer within {self.timeout:g} s ({self.description})"
            raise self._failed(message) from None
        except httpx.HTTPError as exc:
            raise self._failed(_describe_http_error(exc, self.description, self.timeout)) from None
        except CameraError as exc:
            raise self._failed(str(exc)) from None
        except Exception as exc:
            if self._closed:  # httpx raises RuntimeError for a request on a closed client
                raise CameraError("the camera is closed") from None
            # Anything else (an invalid URL, a reply no parser expected) is still a failed read.
            raise self._failed(str(unexpected_camera_error(exc, self.description))) from None
        self._backoff.reset()
        self._retry_at = 0.0
        self._counter += 1
        return Frame(jpeg=jpeg, captured_at=time.monotonic(), counter=self._counter)

    def _failed(self, message: str) -> CameraError:
        """Note a failure (the next try waits out the backoff); return the error to raise."""
        self._last_error = message
        self._retry_at = time.monotonic() + self._backoff.next_delay()
        return CameraError(message)

    async def _fetch(self) -> bytes:
        async with _get(self._client, self.url, self._login) as resp:
            return await self._picture_from(resp)

    async def _picture_from(self, resp: httpx.Response) -> bytes:
        problem = _answer_problem(resp, self._login, self.description)
        if problem is not None:
            raise CameraError(problem)
        ctype = resp.headers.get("content-type", "")
        if ctype.lower().startswith("multipart/"):
            boundary = boundary_from_content_type(ctype)
            if boundary is None:
                raise CameraError(f"the camera sent a multipart answer without a boundary "
                                  f"({ctype}; {self.description})")
            parser = MjpegParser(boundary)
            async for chunk in resp.aiter_bytes():
                frames = parser.feed(chunk)
                if frames:
                    return frames[-1]
            raise CameraError(f"the camera stream ended before a whole picture ({self.description})")
        body = bytearray()
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > _MAX_SNAPSHOT_BYTES:
                raise CameraError(f"the camera answer is too large for a picture ({self.description})")
        problem = jpeg_problem(bytes(body))
        if problem is not None:
            raise CameraError(f"the camera answered with something that is not a jpeg picture "
                              f"({ctype or 'no content type'}: {problem}; {self.description})")
        return bytes(body)

    async def close(self) -> None:
        self._closed = True
        self._closing.set()
        if self._own_client:
            await self._client.aclose()


def _broken_streak(parser: MjpegParser) -> str:
    """Why the stream gave no picture lately: how many parts in a row were broken, and how the
    last one was; "" when the latest part was a whole picture."""
    count = parser.bad_in_a_row
    if count == 0:
        return ""
    if count == 1:
        return f"a part of the camera's stream was not a whole jpeg picture: {parser.last_problem}"
    return (f"{count} parts in a row of the camera's stream were not whole jpeg pictures; "
            f"the last: {parser.last_problem}")


class MjpegSource(FrameSource):
    """Reads a ``multipart/x-mixed-replace`` stream in a background task, keeping ONLY the newest frame.

    :meth:`read` returns the newest frame not yet returned, waiting up to
    ``timeout`` for one. While waiting, a failed connection attempt ends the
    wait with :class:`CameraError` at once, so a dead camera is reported
    quickly. The reader reconnects by itself with exponential backoff (capped
    at ``reconnect_max``); a stream silent for ``timeout`` is reconnected.
    ``received``, ``dropped`` (frames replaced before anyone read them),
    ``parts`` and ``bad_parts`` (parts that were not whole pictures, skipped) are counters
    for diagnostics. A stream of nothing but broken parts ends a read with how many came in a
    row and what was wrong with the last one, not just "no picture".
    """

    def __init__(self, url: str, *, timeout: float = 5.0, reconnect_max: float = 30.0,
                 backoff_initial: float = 0.25, client: httpx.AsyncClient | None = None,
                 verify_tls: bool = True) -> None:
        self.url = url
        self.timeout = timeout
        self.description = "mjpeg " + redact_url_credentials(url)
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=True, verify=verify_tls)
        self._own_client = client is None
        self._login = CameraLogin(url)
        self._backoff = Backoff(backoff_initial, reconnect_max)
        self._task: asyncio.Task[None] | None = None
        self._cond: asyncio.Condition | None = None
        self._latest: Frame | None = None
        self._returned = 0
        self._failures = 0
        self._last_error = "no frame yet"
        self._closed = False
        self._broken_streak = ""  # why the latest parts were refused, while no good one followed
        self.received = 0
        self.dropped = 0
        self.parts = 0
        self.bad_parts = 0
        self.connected = False
        #: Seconds without a read after which the stream is closed (opened again at the next
        #: read): between prints nothing reads, and pulling a 30 fps stream all day costs CPU
        #: and, on one-viewer cameras (an ESP32-CAM), the only viewer's place.
        self.idle_after = max(MJPEG_IDLE_AFTER, 3 * timeout)
        self._last_read = time.monotonic()

    def _start(self) -> asyncio.Condition:
        self._last_read = time.monotonic()
        if self._cond is None:
            self._cond = asyncio.Condition()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="pinozcam-mjpeg-reader")
        return self._cond

    async def read(self) -> Frame:
        if self._closed:
            raise CameraError("the camera is closed")
        cond = self._start()
        failures = self._failures

        def ready() -> bool:
            return (self._latest is not None and self._latest.counter > self._returned) \
                or self._failures > failures

        async with cond:
            try:
                await asyncio.wait_for(cond.wait_for(ready), self.timeout)
            except asyncio.TimeoutError:
                why = self._broken_streak or f"last error: {self._last_error}"
                raise CameraError(f"no picture from the camera within {self.timeout:g} s "
                                  f"({self.description}; {why})") from None
            if self._latest is not None and self._latest.counter > self._returned:
                self._returned = self._latest.counter
                return self._latest
            raise CameraError(self._last_error)

    async def wait_received(self, count: int, timeout: float | None = None) -> None:
        """Wait until ``count`` frames have arrived in total (for tests and diagnostics)."""
        cond = self._start()
        async with cond:
            await asyncio.wait_for(cond.wait_for(lambda: self.received >= count), timeout or self.timeout)

    async def wait_parts(self, count: int, timeout: float | None = None) -> None:
        """Wait until ``count`` parts, whole pictures or not, have arrived on the current
        connection (for tests and diagnostics)."""
        cond = self._start()
        async with cond:
            await asyncio.wait_for(cond.wait_for(lambda: self.parts >= count), timeout or self.timeout)

    async def _notify(self) -> None:
        assert self._cond is not None
        async with self._cond:
            self._cond.notify_all()

    def _idle(self) -> bool:
        return time.monotonic() - self._last_read > self.idle_after

    async def _run(self) -> None:
        while not self._closed:
            try:
                await self._stream_once()
                if self._idle():
                    logger.info("camera stream closed: nothing read it for %g s (%s)",
                                self.idle_after, self.description)
                    self.connected = False
                    return  # the next read starts it again
                message = f"the camera stream ended ({self.description})"
            except httpx.HTTPError as exc:
                message = _describe_http_error(exc, self.description, self.timeout)
            except CameraError as exc:
                message = str(exc)
            except Exception as exc:  # anything else must not end the reader for good
                message = str(unexpected_camera_error(exc, self.description))
                if not self._closed:
                    logger.warning("camera reader error: %s", message)
            if self._closed:
                break
            if self.connected or self._failures == 0:
                logger.info("camera stream lost: %s", message)
            self.connected = False
            self._last_error = message
            self._failures += 1
            await self._notify()
            await asyncio.sleep(self._backoff.next_delay())

    async def _stream_once(self) -> None:
        async with _get(self._client, self.url, self._login) as resp:
            await self._read_stream(resp)

    async def _read_stream(self, resp: httpx.Response) -> None:
        problem = _answer_problem(resp, self._login, self.description)
        if problem is not None:
            raise CameraError(problem)
        ctype = resp.headers.get("content-type", "")
        boundary = boundary_from_content_type(ctype)
        if not ctype.lower().startswith("multipart/") or boundary is None:
            raise CameraError(f"the camera did not answer with an mjpeg stream "
                              f"({ctype or 'no content type'}; {self.description})")
        parser = MjpegParser(boundary)
        self.parts = self.bad_parts = 0
        self._broken_streak = ""
        async for chunk in resp.aiter_bytes():
            frames = parser.feed(chunk)
            if parser.parts == self.parts and parser.bad_parts == self.bad_parts:
                continue  # no part ended in this chunk
            self.parts, self.bad_parts = parser.parts, parser.bad_parts
            self._broken_streak = _broken_streak(parser)
            if not frames:
                await self._notify()
                continue
            if not self.connected:
                self.connected = True
                self._backoff.reset()
                logger.info("camera stream connected (%s)", self.description)
            for jpeg in frames:
                self.received += 1
                if self._latest is not None and self._latest.counter > self._returned:
                    self.dropped += 1
                self._latest = Frame(jpeg=jpeg, captured_at=time.monotonic(), counter=self.received)
            await self._notify()
            if self._idle():
                return

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._own_client:
            await self._client.aclose()
