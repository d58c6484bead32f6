"""The worker's plain HTTP routes: ``/healthz``, ``/snapshot.jpg``, ``/stream.mjpg``.

``/snapshot.jpg`` is the latest annotated picture; ``/snapshot.jpg?raw=1`` the
same frame exactly as the camera gave it, with nothing drawn (viewers draw the
boxes of the ``detection`` message over it). Between prints, a fetch of a
picture older than a few seconds also asks for a fresh check, which the next
fetch gets (see :meth:`Worker.snapshot_served`).

All three need the token (``Authorization: Bearer T`` or ``?token=T``) unless
the worker runs with ``--no-auth-loopback-http`` and the request comes from
the same machine (loopback address or unix socket).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from typing import TYPE_CHECKING, Any

from .clients import request_token, token_matches
from .http_front import HttpRequest, HttpResponder

if TYPE_CHECKING:
    from .service import Worker

__all__ = ["HttpRoutes", "BOUNDARY"]

logger = logging.getLogger(__name__)

BOUNDARY = "pinozcamframe"
_SNAPSHOT_WAIT = 10.0


class HttpRoutes:
    def __init__(self, worker: "Worker") -> None:
        self._worker = worker

    @staticmethod
    def peer_is_local(peer: Any) -> bool:
        """True for a unix-socket peer (no address) or a loopback address."""
        if not isinstance(peer, tuple) or not peer:
            return True
        try:
            return ipaddress.ip_address(str(peer[0]).split("%", 1)[0]).is_loopback
        except ValueError:
            return False

    def _authorized(self, request: HttpRequest) -> bool:
        config = self._worker.config
        if config.no_auth_loopback_http and request.peer_is_local:
            return True
        return token_matches(config.token, request_token(request.headers, request.query))

    async def handle(self, request: HttpRequest, responder: HttpResponder) -> None:
        routes = {"/healthz": self._healthz, "/snapshot.jpg": self._snapshot, "/stream.mjpg": self._stream}
        route = routes.get(request.path)
        if route is None:
            responder.send(404, b"not found\n")
            return
        if request.method != "GET":
            responder.send(405, b"only GET\n", headers={"Allow": "GET"})
            return
        if not self._authorized(request):
            responder.send(401, b"token required\n", headers={"WWW-Authenticate": "Bearer"})
            return
        await route(request, responder)

    async def _healthz(self, request: HttpRequest, responder: HttpResponder) -> None:
        body = json.dumps(self._worker.health()).encode()
        responder.send(200, body, "application/json")

    async def _snapshot(self, request: HttpRequest, responder: HttpResponder) -> None:
        raw = request.query.get("raw", "0").lower() not in ("0", "false", "no")
        live = self._worker.live
        if live.latest is None:
            self._worker.request_frame()
            try:
                await asyncio.wait_for(live.next_after(0), _SNAPSHOT_WAIT)
            except asyncio.TimeoutError:
                responder.send(503, b"no picture from the camera yet\n")
                return
        assert live.latest is not None
        self._worker.snapshot_served()  # between prints: refresh an old picture for the next fetch
        picture = live.latest_raw if raw and live.latest_raw is not None else live.latest
        responder.send(200, picture, "image/jpeg")

    async def _stream(self, request: HttpRequest, responder: HttpResponder) -> None:
        live = self._worker.live
        responder.start_stream(f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        live.stream_viewers += 1
        self._worker.stream_viewers_changed()
        closed = asyncio.ensure_future(responder.closed())
        version = live.version - 1 if live.latest is not None else live.version
        waiter: asyncio.Future[tuple[int, bytes]] | None = None
        try:
            while True:
                waiter = asyncio.ensure_future(live.next_after(version))
                done, _ = await asyncio.wait({waiter, closed}, return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    waiter.cancel()
                    return
                version, jpeg = waiter.result()
                if responder.writable:  # otherwise skip: the next picture replaces this one
                    responder.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
        finally:
            closed.cancel()
            if waiter is not None:
                waiter.cancel()
            live.stream_viewers -= 1
            self._worker.stream_viewers_changed()
            responder.close()
