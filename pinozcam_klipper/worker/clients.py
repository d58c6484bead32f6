"""Connected websocket clients: authentication, a send queue each, broadcasting.

A client is authenticated either during the upgrade (``Authorization: Bearer``
header or ``?token=``, checked in :meth:`ClientHub.process_request`) or by a
first message ``{"type": "auth", "token": ...}``. A wrong token gets an
``error`` and close code 4001; so does any other first message.

Each client has a bounded send queue drained by its own task, so one slow
client never holds up the others or the detector: a client whose queue
overflows is closed (1013, try again later) and may reconnect.
"""

from __future__ import annotations

import asyncio
import hmac
import http
import itertools
import json
import logging
import weakref
from urllib.parse import parse_qsl
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .protocol import Auth, ProtocolError, error_message, parse_message

__all__ = ["Client", "ClientHub", "token_matches", "request_token", "CLOSE_AUTH", "CLOSE_PROTOCOL"]

logger = logging.getLogger(__name__)

CLOSE_AUTH = 4001       # missing or wrong token
CLOSE_PROTOCOL = 4002   # protocol major version mismatch
_AUTH_TIMEOUT = 10.0
_QUEUE_LIMIT = 256
_WS_PATHS = ("/", "/ws", "/websocket")


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison (as bytes, so any text is accepted)."""
    if given is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"),
                               given.encode("utf-8", "surrogatepass"))


def request_token(headers: Headers | dict[str, str], query: dict[str, str]) -> str | None:
    """The token a request carries: ``Authorization: Bearer T``, else ``?token=T``, else None."""
    auth = headers.get("Authorization") if isinstance(headers, Headers) else headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return query.get("token") or None


class Client:
    """One websocket connection. ``role`` is ``adapter`` (receives action requests) or ``viewer``."""

    def __init__(self, connection: ServerConnection, client_id: int) -> None:
        self.connection = connection
        self.id = client_id
        self.role = "adapter"
        self.name = ""
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self._dropping = False
        self._sender = asyncio.create_task(self._drain(), name=f"client-{client_id}-sender")

    def send(self, message: dict[str, Any]) -> None:
        """Queue ``message``; a client too slow to keep up is disconnected."""
        try:
            self._queue.put_nowait(json.dumps(message, separators=(",", ":")))
        except asyncio.QueueFull:
            if not self._dropping:
                self._dropping = True
                logger.warning("client %d is not reading its messages: disconnecting it", self.id)
                asyncio.ensure_future(self.connection.close(1013, "too slow"))

    async def _drain(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            try:
                await self.connection.send(text)
            except ConnectionClosed:
                return

    async def flush_and_stop(self) -> None:
        """Send what is queued, then stop the sender task."""
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self._sender.cancel()
        await asyncio.gather(self._sender, return_exceptions=True)

    def abandon(self) -> None:
        """Stop sending at once, whatever is still queued."""
        self._sender.cancel()


MessageHandler = Callable[[Client, Any], Awaitable[None]]


class ClientHub:
    """Authenticates, registers and talks to clients; ``on_connect``/``on_message`` are the worker's."""

    def __init__(self, token: str, *, on_connect: Callable[[Client], None],
                 on_message: MessageHandler) -> None:
        self._token = token
        self._on_connect = on_connect
        self._on_message = on_message
        self._clients: dict[int, Client] = {}
        self._ids = itertools.count(1)
        # Weak: a connection whose handshake fails after the token check never reaches handle().
        self._preauthenticated: weakref.WeakSet[ServerConnection] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"ClientHub({len(self._clients)} clients)"

    @property
    def clients(self) -> list[Client]:
        return list(self._clients.values())

    def broadcast(self, message: dict[str, Any], *, role: str | None = None) -> int:
        """Send ``message`` to every client (of ``role``, if given); returns how many."""
        count = 0
        for client in list(self._clients.values()):
            if role is None or client.role == role:
                client.send(message)
                count += 1
        return count

    # -- websockets hooks ------------------------------------------------------------
    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """websockets' ``process_request``: check the path and a token sent with the upgrade."""
        path, _, query_text = request.path.partition("?")
        if path not in _WS_PATHS:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        token = request_token(request.headers, dict(parse_qsl(query_text)))
        if token is None:
            return None  # it may authenticate with its first message
        if not token_matches(self._token, token):
            logger.warning("refused a websocket connection: wrong token")
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "wrong token\n")
        self._preauthenticated.add(connection)
        return None

    async def handle(self, connection: ServerConnection) -> None:
        """websockets' connection handler: authenticate, register, read messages until closed."""
        authenticated = connection in self._preauthenticated
        self._preauthenticated.discard(connection)
        if not authenticated and not await self._authenticate(connection):
            return
        client = Client(connection, next(self._ids))
        self._clients[client.id] = client
        logger.info("client %d connected", client.id)
        try:
            self._on_connect(client)
            async for raw in connection:
                try:
                    message = parse_message(raw)
                except ProtocolError as exc:
                    # Named after the request, so a client waiting for its answer gets this one.
                    client.send(error_message(exc.code, exc.message, option=exc.option,
                                              request=_request_type(raw)))
                    continue
                if isinstance(message, Auth):
                    continue  # already authenticated: harmless
                try:
                    await self._on_message(client, message)
                except ConnectionClosed:
                    raise
                except Exception:  # a bug handling one message must not end the session
                    logger.exception("handling a %s message failed", type(message).__name__)
                    client.send(error_message("internal", "the worker could not handle that message",
                                              request=_request_type(raw)))
        except ConnectionClosed:
            pass
        finally:
            del self._clients[client.id]
            await client.flush_and_stop()
            logger.info("client %d disconnected", client.id)

    async def _authenticate(self, connection: ServerConnection) -> bool:
        try:
            raw = await asyncio.wait_for(connection.recv(), _AUTH_TIMEOUT)
        except asyncio.TimeoutError:
            await self._refuse(connection, "no auth message within 10 s")
            return False
        except ConnectionClosed:
            return False
        try:
            message = parse_message(raw)
        except ProtocolError as exc:
            await self._refuse(connection, f"the first message must be auth ({exc.message})")
            return False
        if not isinstance(message, Auth):
            await self._refuse(connection, "the first message must be auth")
            return False
        if not token_matches(self._token, message.token):
            logger.warning("refused a websocket client: wrong token")
            await self._refuse(connection, "wrong token")
            return False
        try:
            await connection.send(json.dumps({"type": "authenticated"}))
        except ConnectionClosed:
            return False
        return True

    async def _refuse(self, connection: ServerConnection, why: str) -> None:
        try:
            await connection.send(json.dumps(error_message("auth_failed", why)))
            await connection.close(CLOSE_AUTH, "authentication failed")
        except ConnectionClosed:
            pass

    async def close_all(self, timeout: float = 0.5) -> None:
        """Flush every client's queue for at most ``timeout`` seconds, then stop their senders."""
        clients = list(self._clients.values())
        if not clients:
            return
        _, pending = await asyncio.wait([asyncio.ensure_future(c.flush_and_stop()) for c in clients],
                                           timeout=timeout)
        for client in clients:
            client.abandon()
        for task in pending:
            task.cancel()


def _request_type(raw: str | bytes) -> str | None:
    """The ``type`` of a message that could not be handled, when it has a plain one."""
    try:
        kind = json.loads(raw).get("type")
    except (ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) and kind.isidentifier() and len(kind) <= 32 else None
