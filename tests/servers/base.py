"""A scriptable, recording HTTP server on 127.0.0.1 for tests: the base of the camera and notify servers.

It runs in its own threads, so it works the same from sync and asyncio tests
and keeps answering while the test's event loop is busy. Every request is
recorded; the next requests can be scripted to fail (status + headers + body,
e.g. 429 with Retry-After), hang (never answer, until :meth:`stop`) or drop
the connection without an answer.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import socket
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedServer", "RecordedRequest", "FormPart", "Reply"]


@dataclass(frozen=True)
class FormPart:
    name: str
    filename: str | None
    content_type: str
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. ``path`` includes the query string."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def route(self) -> str:
        return urllib.parse.urlsplit(self.path).path

    @property
    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, FormPart]:
        """The fields of a ``multipart/form-data`` body (or of a urlencoded one), by name."""
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            return {k: FormPart(k, None, "text/plain", v.encode())
                    for k, v in urllib.parse.parse_qsl(self.body.decode())}
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.body)
        parts: dict[str, FormPart] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            parts[name] = FormPart(name, part.get_filename(), part.get_content_type(),
                                   part.get_payload(decode=True) or b"")
        return parts


@dataclass(frozen=True)
class Reply:
    """A scripted answer: ``kind`` is "status", "hang" or "drop"."""

    kind: str = "status"
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str] | None = None) -> "Reply":
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        return cls("status", status, tuple(hdrs.items()), json.dumps(data).encode())


class _Handler(BaseHTTPRequestHandler):
    server: "_HTTPServer"
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(self.command, self.path,
                                  {k.lower(): v for k, v in self.headers.items()}, body)
        owner = self.server.owner
        reply = owner._record(request)
        if reply is None:
            owner.handle(self, request)
        else:
            owner._play(self, reply)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    owner: "ScriptedServer"

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = super().get_request()
        self.owner._connections.add(conn)
        return conn, addr

    def shutdown_request(self, request: Any) -> None:
        self.owner._connections.discard(request)
        super().shutdown_request(request)


class ScriptedServer:
    """Subclass and override :meth:`handle` for the default answers.

    ``with Server() as srv:`` or ``srv.start()`` / ``srv.stop()``;
    :meth:`restart` comes back on the same port. ``srv.url`` is the base URL.
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Condition()
        self._release = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> "ScriptedServer":
        self._release.clear()
        httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.owner = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every open connection (streams, hanging requests)."""
        self._release.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        for conn in list(self._connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed by the other side
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- scripting ------------------------------------------------------------------
    def reply(self, status: int, *, json_body: Any = None, body: bytes = b"",
              headers: dict[str, str] | None = None, times: int = 1) -> None:
        """Answer the next ``times`` requests with this status (and JSON or raw body)."""
        if json_body is not None:
            reply = Reply.json(status, json_body, headers)
        else:
            reply = Reply("status", status, tuple((headers or {}).items()), body)
        with self._lock:
            self._script.extend([reply] * times)

    def hang(self, times: int = 1) -> None:
        """Never answer the next ``times`` requests (they are released by :meth:`stop`)."""
        with self._lock:
            self._script.extend([Reply("hang")] * times)

    def drop(self, times: int = 1) -> None:
        """Close the connection without an answer for the next ``times`` requests."""
        with self._lock:
            self._script.extend([Reply("drop")] * times)

    # -- observing ------------------------------------------------------------------
    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until ``count`` requests have arrived in total; return them all."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} requests arrived in {timeout} s")
            return list(self.requests)

    async def requests_arrived(self, count: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """:meth:`wait_for_requests` for asyncio tests (waits in a thread)."""
        return await asyncio.to_thread(self.wait_for_requests, count, timeout)

    # -- internals ------------------------------------------------------------------
    def _record(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()
            return self._script.popleft() if self._script else None

    def _play(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.kind == "hang":
            self._release.wait()
            handler.close_connection = True
            return
        if reply.kind == "drop":
            handler.close_connection = True
            return
        self.send(handler, reply.status, reply.body, dict(reply.headers))

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
             headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def handle(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        """The default answer; subclasses override it."""
        self.send(handler, 200, b"{}", {"Content-Type": "application/json"})
