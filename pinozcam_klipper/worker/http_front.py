"""Plain HTTP (snapshot, MJPEG stream, health) and websockets on one port.

``websockets`` answers plain HTTP only with a whole response from
``process_request``; an MJPEG stream never ends, so it cannot be one. Rather
than run a second server, every accepted connection first meets a tiny
:class:`asyncio.Protocol` that reads the request head:

- a websocket upgrade is *handed over*: the transport is switched to the
  websockets :class:`~websockets.asyncio.server.ServerConnection` built for it,
  which receives the head bytes and does the whole handshake and framing itself
  (authentication included, in ``process_request``);
- any other request goes to an :class:`HttpHandler` coroutine, which writes its
  own response through an :class:`HttpResponder` and may keep streaming.

The hook is websockets' documented ``create_connection`` escape hatch, so the
websockets server still owns the listening socket, its shutdown and its
connection bookkeeping. No websocket framing is written here.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection

__all__ = ["HttpRequest", "HttpResponder", "HttpHandler", "front_connection_factory"]

logger = logging.getLogger(__name__)

_MAX_HEAD = 16 * 1024
_HEAD_TIMEOUT = 10.0
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}


@dataclass(frozen=True)
class HttpRequest:
    """A parsed request head; header names are lowercase."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    peer_is_local: bool


class HttpResponder:
    """Writes one HTTP/1.1 response (``Connection: close``) on a transport.

    :meth:`send` writes a whole response and closes; :meth:`start_stream` writes
    the head of an endless response, :meth:`write` appends to it while
    :attr:`writable` (the client is keeping up), and :meth:`closed` resolves
    when the client goes away.
    """

    def __init__(self, transport: asyncio.Transport, closed: asyncio.Future[None]) -> None:
        self._transport = transport
        self._closed = closed
        self._paused = False

    def send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        self._transport.write(self._head(status, content_type, len(body), headers) + body)
        self._transport.close()

    def start_stream(self, content_type: str) -> None:
        self._transport.write(self._head(200, content_type, None, None))

    def flow(self, paused: bool) -> None:
        """The transport's write buffer went over (True) or back under (False) its limit."""
        self._paused = paused

    @property
    def writable(self) -> bool:
        """False while the client's socket buffer is full: skip this frame, a newer one comes."""
        return not self._paused and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    async def closed(self) -> None:
        await asyncio.shield(self._closed)

    def close(self) -> None:
        self._transport.close()

    def _head(self, status: int, content_type: str, length: int | None,
              headers: dict[str, str] | None) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                 f"Content-Type: {content_type}", "Cache-Control: no-store", "Connection: close"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


HttpHandler = Callable[[HttpRequest, HttpResponder], Awaitable[None]]


def _parse_head(head: bytes, peer_is_local: bool) -> HttpRequest | None:
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1."):
        return None
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            return None
        headers[name.strip().lower()] = value.strip()
    url = urllib.parse.urlsplit(target)
    query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    return HttpRequest(method.upper(), url.path or "/", query, headers, peer_is_local)


def _is_upgrade(request: HttpRequest) -> bool:
    return (request.headers.get("upgrade", "").lower() == "websocket"
            and "upgrade" in request.headers.get("connection", "").lower())


class _FrontProtocol(asyncio.Protocol):
    """Reads the request head; hands upgrades to websockets, the rest to ``handler``."""

    def __init__(self, websocket: ServerConnection, handler: HttpHandler,
                 is_local: Callable[[Any], bool], tasks: set[asyncio.Task[None]]) -> None:
        self._websocket = websocket
        self._handler = handler
        self._is_local = is_local
        self._tasks = tasks
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closed: asyncio.Future[None] | None = None
        self._responder: HttpResponder | None = None
        self._dispatched = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        self._timer = loop.call_later(_HEAD_TIMEOUT, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self._dispatched:
            return  # a plain HTTP client has nothing more to say; ignore pipelining
        assert self._transport is not None
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                self._reject(431)
            return
        if self._timer is not None:
            self._timer.cancel()
        peer = self._transport.get_extra_info("peername")
        request = _parse_head(bytes(self._buffer[:end]), self._is_local(peer))
        if request is None:
            self._reject(400)
            return
        self._dispatched = True
        if _is_upgrade(request):
            self._hand_over()
            return
        assert self._closed is not None
        self._responder = HttpResponder(self._transport, self._closed)
        task = asyncio.get_running_loop().create_task(self._serve(request, self._responder))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _hand_over(self) -> None:
        assert self._transport is not None
        transport, head = self._transport, bytes(self._buffer)
        self._buffer.clear()
        transport.set_protocol(self._websocket)
        self._websocket.connection_made(transport)
        self._websocket.data_received(head)

    async def _serve(self, request: HttpRequest, responder: HttpResponder) -> None:
        try:
            await self._handler(request, responder)
        except Exception:
            logger.exception("http request %s failed", request.path)
            responder.close()

    def _reject(self, status: int) -> None:
        assert self._transport is not None and self._closed is not None
        self._dispatched = True
        HttpResponder(self._transport, self._closed).send(status, f"{_REASONS[status]}\n".encode())

    def pause_writing(self) -> None:
        if self._responder is not None:
            self._responder.flow(paused=True)

    def resume_writing(self) -> None:
        if self._responder is not None:
            self._responder.flow(paused=False)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)


def front_connection_factory(handler: HttpHandler, is_local: Callable[[Any], bool],
                             tasks: set[asyncio.Task[None]]) -> Callable[..., asyncio.Protocol]:
    """A ``create_connection`` for :func:`websockets.asyncio.server.serve`.

    ``tasks`` collects the running HTTP handler tasks, so the caller can cancel
    streams on shutdown (websockets' own ``close`` only knows websockets).
    """

    def create_connection(protocol: Any, server: Any, **kwargs: Any) -> asyncio.Protocol:
        websocket = ServerConnection(protocol, server, **kwargs)
        return _FrontProtocol(websocket, handler, is_local, tasks)

    return create_connection
