"""The plugin's websocket connection to the worker, on a thread with its own asyncio loop.

No OctoPrint import. :class:`WorkerLink` connects (token in the upgrade
request), says ``hello`` as an ``adapter``, sends what ``on_connect`` returns
(the current print state), then forwards every worker message to
``on_message`` on its own thread, and reconnects with a bounded backoff when
the worker goes away. ``action_request`` messages are handed over on a
worker thread of their own, so a slow printer call never stops the reading.
OctoPrint's own loop and threads never wait on the worker: :meth:`send`
queues and returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import websockets
from websockets.exceptions import InvalidHandshake, WebSocketException

from ..worker.logs import guard_library_loggers
from ..worker.protocol import PROTOCOL_VERSION, TRANSPORT_MAX_BYTES

__all__ = ["WorkerLink"]

logger = logging.getLogger(__name__)

_RETRY_FIRST = 0.2
_RETRY_MAX = 5.0
_ADDRESS_POLL = 0.2
_OPEN_TIMEOUT = 5.0

Message = dict[str, Any]


class WorkerLink:
    """A reconnecting adapter client of the worker.

    ``address()`` returns the worker's ``host:port`` or None while it is down.
    ``on_connect()`` returns the messages to send right after ``hello`` (called
    on the link thread). ``on_message(message)`` gets every worker message.
    ``on_hung()`` is called (on the link thread) when the worker has an address but
    has not answered for ``hung_after`` seconds (its pings unanswered, then no new
    connection): a process that lives but hangs, which only a restart ends.
    """

    def __init__(self, address: Callable[[], str | None], token: str, *,
                 on_connect: Callable[[], list[Message]], on_message: Callable[[Message], None],
                 client_name: str = "octoprint", on_hung: Callable[[], None] | None = None,
                 hung_after: float = 60.0) -> None:
        self._address = address
        self._token = token
        self._on_connect = on_connect
        self._on_message = on_message
        self._client_name = client_name
        self._on_hung = on_hung
        self._hung_after = hung_after
        self._last_answer = time.monotonic()  # the end of the last session (however it ended)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[str] | None = None
        self._main: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._connected = threading.Event()
        self._stopping = False

    def __repr__(self) -> str:
        return f"WorkerLink(connected={self.connected})"

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Start the link thread; returns once its loop runs."""
        if self._thread is not None:
            raise RuntimeError("the link is already started")
        guard_library_loggers()  # websockets' DEBUG lines would show the token
        self._thread = threading.Thread(target=self._thread_main, name="pinozcam-link", daemon=True)
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 5.0) -> None:
        """Close the connection and end the thread."""
        self._stopping = True
        loop, main = self._loop, self._main
        if loop is not None and main is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own meanwhile
                loop.call_soon_threadsafe(main.cancel)
        if self._thread is not None:
            self._thread.join(timeout)

    def send(self, message: Message) -> bool:
        """Queue ``message`` for the worker; False (dropped) while not connected.

        Nothing is lost by dropping: on every connect the link sends the current
        state again (``on_connect``).
        """
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or not self.connected:
            return False
        text = json.dumps(message, separators=(",", ":"))
        try:
            loop.call_soon_threadsafe(queue.put_nowait, text)
        except RuntimeError:  # the loop is closing
            return False
        return True

    # -- link thread -------------------------------------------------------------------
    def _thread_main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._main = asyncio.current_task()
        self._started.set()
        retry = _RETRY_FIRST
        unreachable_since = time.monotonic()
        try:
            while not self._stopping:
                address = self._address()
                if address is None:
                    unreachable_since = time.monotonic()  # starting: the supervisor's business
                    await asyncio.sleep(_ADDRESS_POLL)
                    continue
                silent = time.monotonic() - max(unreachable_since, self._last_answer)
                if self._on_hung is not None and silent > self._hung_after:
                    logger.warning("the pinozcam worker at %s has not answered for %.0f s; restarting it",
                                   address, self._hung_after)
                    self._on_hung()
                    unreachable_since = time.monotonic()
                try:
                    await self._session(address)
                    retry = _RETRY_FIRST
                except (OSError, asyncio.TimeoutError, InvalidHandshake, WebSocketException) as exc:
                    logger.debug("worker at %s not reachable: %s", address, exc)
                    await asyncio.sleep(retry)
                    retry = min(_RETRY_MAX, retry * 2)
        except asyncio.CancelledError:
            pass
        finally:
            self._connected.clear()

    async def _session(self, address: str) -> None:
        async with websockets.connect(
                f"ws://{address}/", additional_headers={"Authorization": f"Bearer {self._token}"},
                open_timeout=min(_OPEN_TIMEOUT, self._hung_after), max_size=TRANSPORT_MAX_BYTES,
                compression=None, ping_interval=self._hung_after / 4,
                ping_timeout=self._hung_after / 2) as ws:
            self._queue = asyncio.Queue()
            await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION,
                                      "client": self._client_name, "role": "adapter"}))
            for message in self._on_connect():
                await ws.send(json.dumps(message, separators=(",", ":")))
            self._connected.set()
            logger.info("connected to the pinozcam worker at %s", address)
            sender = asyncio.create_task(self._send_loop(ws, self._queue))
            try:
                async for raw in ws:
                    self._dispatch(raw)
            finally:
                self._last_answer = time.monotonic()
                self._connected.clear()
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
                logger.info("disconnected from the pinozcam worker")

    @staticmethod
    async def _send_loop(ws: Any, queue: asyncio.Queue[str]) -> None:
        while True:
            await ws.send(await queue.get())

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            logger.warning("the worker sent something that is not JSON: ignored")
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "action_request":
            # Printer calls may block briefly: keep reading meanwhile.
            asyncio.get_running_loop().run_in_executor(None, self._deliver, message)
        else:
            self._deliver(message)

    def _deliver(self, message: Message) -> None:
        try:
            self._on_message(message)
        except Exception:  # noqa: BLE001 - a handler bug must not end the link
            logger.exception("handling the worker's %r message failed", message.get("type"))
