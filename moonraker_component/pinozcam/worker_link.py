# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""Supervising the worker and talking to it over its loopback websocket.

The supervisor starts the worker (:class:`~.worker_process.WorkerProcess`), restarts it with
bounded backoff when it exits, and drops a rejected option (UI value first, then
moonraker.conf) so a bad setting cannot keep it down. While it lives, one websocket session at
a time carries JSON messages both ways: requests wait for their reply kind (oldest first) with
a timeout; everything the worker sends unasked (status, detections, incidents, action
requests) is dispatched from :meth:`WorkerLinkMixin._on_worker_message`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import tornado.httpclient
import tornado.websocket

from .printer import RUNNING_STATES
from .worker_process import WorkerProcess, WorkerStartError

logger = logging.getLogger(__name__)

PROTOCOL = "1"
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0
_STABLE_AFTER = 30.0        # a worker up this long resets the restart backoff
_QUICK_EXITS_WARN = 3       # exits in a row before _STABLE_AFTER that raise a Moonraker warning
_REPLY_TIMEOUT = 20.0


@dataclass
class Pending:
    """Requests awaiting the worker's reply, oldest first, per reply kind."""

    queues: dict[str, collections.deque[Optional[asyncio.Future[Any]]]] = field(
        default_factory=lambda: collections.defaultdict(collections.deque))

    def add(self, kind: str, future: Optional[asyncio.Future[Any]]) -> None:
        self.queues[kind].append(future)

    def pop(self, kind: str) -> tuple[bool, Optional[asyncio.Future[Any]]]:
        queue = self.queues.get(kind)
        if not queue:
            return False, None
        return True, queue.popleft()

    def discard(self, kind: str, future: asyncio.Future[Any]) -> None:
        """Forget an asker that gave up waiting: the next reply is for the one after it."""
        queue = self.queues.get(kind)
        if queue and future in queue:
            queue.remove(future)

    def fail_all(self, why: str) -> None:
        for queue in self.queues.values():
            while queue:
                future = queue.popleft()
                if future is not None and not future.done():
                    future.set_exception(RuntimeError(why))


class WorkerLinkMixin:
    """The worker's supervision and session; part of :class:`~.component.Pinozcam`, whose
    ``__init__`` sets the state used here (``process``, ``ws``, ``pending``, ``worker_state``,
    ``worker_problem``, ``worker_status``, ``restarts``, ``_wake``, ``_closing``)."""

    # -- the worker: start and supervise ------------------------------------------------
    async def _supervise(self) -> None:
        backoff = _BACKOFF_FIRST
        while not self._closing:
            try:
                backoff = await self._run_worker_once(backoff)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # A full SD card, a bad [webcam] entry, a bug: the supervisor must not end, or
                # the print goes unwatched with the status stuck at "starting".
                logger.exception("pinozcam: supervising the worker failed")
                if self.process is not None and self.process.pid:
                    with contextlib.suppress(Exception):
                        await self.process.stop()
                self._set_worker("error", f"{type(exc).__name__}: {exc}")
                self._warn("worker", f"the detector worker could not run: {type(exc).__name__}: "
                                     f"{exc}; retrying in {backoff:g} s (details in moonraker.log)")
                await self._sleep_or_wake(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _run_worker_once(self, backoff: float) -> float:
        """Start the worker, talk to it while it lives, wait out the restart backoff; returns the
        next backoff."""
        try:
            self.camera_url, self.camera_orientation = await self._resolve_camera(str(self._own_value("camera")))
        except ValueError as exc:
            self._set_worker("stopped", f"camera: {exc}")
            self._warn("camera", f"option 'camera': {exc}")
            await self._sleep_or_wake(None)  # until the webcams or the settings change
            return backoff
        self._clear_warning("camera")
        self.process = WorkerProcess(str(self._own_value("worker_python")), self.data_dir,
                                     self.worker_log)
        self._set_worker("starting", None)
        started = time.monotonic()
        try:
            address = await self.process.start(self._worker_settings())
        except WorkerStartError as exc:
            if exc.option and self._drop_bad_option(exc.option, str(exc)):
                return backoff  # retry at once with the default for that option
            self._set_worker("error", str(exc))
            self._warn("worker", f"the detector worker did not start: {exc} "
                                 f"(log: {self.worker_log})")
            await self._sleep_or_wake(backoff)
            return min(backoff * 2, _BACKOFF_MAX)
        # A start clears a start failure at once; a warning about a worker that keeps dying
        # goes only once this one has lived long enough to count as stable.
        if not self._quick_exits:
            self._clear_warning("worker")
        stable = asyncio.get_running_loop().call_later(_STABLE_AFTER, self._worker_stable)
        self._set_worker("running", None)
        self._restart_requested = False  # a request made while no worker ran is answered now
        try:
            await self._connect_while_alive(address)
            code = await self.process.wait()
        finally:
            stable.cancel()
        if self._closing:
            return backoff
        if self._restart_requested:
            self._restart_requested = False
            return _BACKOFF_FIRST
        if time.monotonic() - started > _STABLE_AFTER:
            backoff = _BACKOFF_FIRST
        else:
            self._quick_exits += 1
            if self._quick_exits >= _QUICK_EXITS_WARN:
                # Each restart alone looks like a hiccup; a loop of them means the print is
                # hardly watched, which must show in Mainsail's warnings, not only in a log.
                self._warn("worker", f"the detector worker keeps exiting soon after it starts "
                                     f"({self._quick_exits} times in a row, last exit code {code}); "
                                     f"restarting every {min(backoff, _BACKOFF_MAX):g} s or so. "
                                     f"See {self.worker_log}")
        self.restarts += 1
        self._set_worker("restarting", f"the worker exited ({code}); restarting in {backoff:g} s")
        logger.warning("pinozcam worker exited with %s; restarting in %.1f s", code, backoff)
        await self._sleep_or_wake(backoff)
        return min(backoff * 2, _BACKOFF_MAX)

    def _worker_stable(self) -> None:
        self._quick_exits = 0
        self._clear_warning("worker")

    async def _sleep_or_wake(self, seconds: Optional[float]) -> None:
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)


    async def _connect_while_alive(self, address: str) -> None:
        """Connect (again and again) while the process lives; returns when it has exited.

        A worker that lives but does not answer (its websocket pings unanswered, then no new
        connection for ``worker_timeout`` seconds) is hung: it is stopped, so the supervisor
        starts a fresh one instead of leaving the print unwatched."""
        assert self.process is not None
        proc_done = asyncio.ensure_future(self.process.wait())
        timeout = float(self._own_value("worker_timeout"))
        delay = 0.1
        unreachable_since = time.monotonic()
        try:
            while not proc_done.done() and not self._closing:
                if time.monotonic() - unreachable_since > timeout:
                    await self._stop_hung_worker(timeout)
                    break
                request = tornado.httpclient.HTTPRequest(
                    f"ws://{address}/", headers={"Authorization": f"Bearer {self.process.token}"},
                    connect_timeout=min(5.0, timeout), request_timeout=min(10.0, timeout))
                try:
                    # Pings are answered by the worker's event loop: unanswered, the connection
                    # closes, even while the process and its socket stay up.
                    ws = await tornado.websocket.websocket_connect(
                        request, max_message_size=4 << 20, ping_interval=timeout / 4,
                        ping_timeout=timeout / 2)
                except (OSError, tornado.httpclient.HTTPClientError, tornado.websocket.WebSocketError,
                        asyncio.TimeoutError) as exc:
                    logger.debug("pinozcam worker connect failed: %s", exc)
                    await asyncio.wait({proc_done}, timeout=delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.1
                await self._session(ws)
                unreachable_since = time.monotonic()
        finally:
            if not proc_done.done():
                proc_done.cancel()

    async def _stop_hung_worker(self, timeout: float) -> None:
        assert self.process is not None
        logger.warning("pinozcam worker (pid %s) has not answered for %g s; restarting it",
                       self.process.pid, timeout)
        self._set_worker("restarting", f"the worker stopped answering for {timeout:g} s")
        await self.process.stop(timeout=2.0)  # a hung process may never act on SIGTERM

    async def _session(self, ws: tornado.websocket.WebSocketClientConnection) -> None:
        self.ws = ws
        self.pending.add("configure", None)
        self._send({"type": "hello", "protocol": PROTOCOL, "client": "moonraker", "role": "adapter"})
        self._send(self._configure_message())
        # A new worker (or connection) has no print yet: the print state, and a mute of this
        # print, go to it as to a worker that was not watching (a restarted worker forgot both).
        # Only once Klipper's state is known: until then nothing goes (_on_klippy_ready sends it).
        self._last_print_state = {}
        self._send_print_state(force=True)
        try:
            while True:
                raw = await ws.read_message()
                if raw is None:
                    break
                if isinstance(raw, bytes):
                    continue
                try:
                    message = json.loads(raw)
                except ValueError:
                    logger.warning("pinozcam worker sent malformed JSON")
                    continue
                if isinstance(message, dict):
                    self._on_worker_message(message)
        finally:
            self.ws = None
            self.pending.fail_all("the detector worker disconnected")
            if not self._closing:
                self._set_worker("running" if self.process and self.process.pid else "restarting",
                                 "disconnected from the worker")
                logger.info("pinozcam worker disconnected")

    def _send(self, message: dict[str, Any]) -> bool:
        if self.ws is None:
            return False
        try:
            self.ws.write_message(json.dumps(message))
        except tornado.websocket.WebSocketClosedError:
            return False
        return True

    async def _request(self, message: dict[str, Any], reply: str) -> dict[str, Any]:
        """Send ``message`` and wait for the worker's ``reply`` (or its error)."""
        if self.ws is None:
            raise self._fail(f"the detector worker is not connected ({self._problem_text()})", 503)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending.add(reply, future)
        if not self._send(message):
            raise self._fail("the detector worker is not connected", 503)
        try:
            return await asyncio.wait_for(future, _REPLY_TIMEOUT)
        except asyncio.TimeoutError:
            self.pending.discard(reply, future)
            raise self._fail("the detector worker did not answer", 504) from None
        except RuntimeError as exc:
            raise self._fail(str(exc), 503) from None

    def _on_worker_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "status":
            self.worker_status = {k: v for k, v in message.items() if k != "type"}
            self.open_incident = self.worker_status.get("open_incident")
            if self.worker_status.get("muted") is True and self.print_state() in RUNNING_STATES \
                    and not self.muted_this_print:
                self.muted_this_print = True  # e.g. Telegram's Mute, which the worker handles alone
                self._save_print_switches()
            self._notify_status()
            while self.pending.queues.get("status"):  # any fresh status answers every asker
                self._resolve("status", message)
        elif kind == "hello":
            # Connected means the handshake is done: from here on the model is known.
            self.model = message.get("model")
            self._set_worker("connected", None)
            logger.info("pinozcam worker connected")
        elif kind == "history":
            # Also sent unasked after hello: any fresh history answers every asker.
            while self.pending.queues.get("history"):
                self._resolve("history", message)
        elif kind == "detection":
            self.server.send_event("pinozcam:detection", {k: v for k, v in message.items() if k != "type"})
        elif kind == "incident":
            if message.get("event") == "closed":
                self.open_incident = None
            else:
                self.open_incident = message.get("incident")
                if message.get("event") == "open" and isinstance(self.open_incident, dict):
                    self._note_incident_still_open(self.open_incident)
            self.server.send_event("pinozcam:incident", {k: v for k, v in message.items() if k != "type"})
        elif kind == "action_request":
            asyncio.ensure_future(self._on_action_request(message))
        elif kind == "configured":
            self._resolve("configure", message)
        elif kind in ("incidents", "feedback_saved"):
            self._resolve(kind, message)
        elif kind == "error":
            self._on_worker_error(message)

    def _resolve(self, kind: str, message: dict[str, Any]) -> None:
        found, future = self.pending.pop(kind)
        if kind == "configure" and message.get("type") == "configured":
            self.settings_tree = message.get("settings") or {}
            self.restart_needed = list(message.get("restart_needed") or [])
        if future is not None and not future.done():
            future.set_result(message)
        elif found and future is None and message.get("type") == "error":
            self._on_startup_configure_error(message)

    def _on_worker_error(self, message: dict[str, Any]) -> None:
        request = message.get("request")
        reply = {"configure": "configure", "feedback": "feedback_saved", "history": "history",
                 "list_incidents": "incidents", "status": "status"}.get(str(request))
        if reply is not None:
            self._resolve(reply, message)
            return
        logger.warning("pinozcam worker: %s", message.get("message"))

    def _on_startup_configure_error(self, message: dict[str, Any]) -> None:
        option = message.get("option")
        if option and self._drop_bad_option(str(option), str(message.get("message"))):
            self.pending.add("configure", None)
            self._send(self._configure_message())
        else:
            self._warn("configure", f"the worker refused the settings: {message.get('message')}")

    def _set_worker(self, state: str, problem: Optional[str]) -> None:
        self.worker_state = state
        self.worker_problem = problem
        if state != "connected":
            self.worker_status = {}
        self._notify_status()

    def _problem_text(self) -> str:
        return self.worker_problem or self.worker_state

    def _on_webcams_changed(self, *args: Any) -> None:
        if self.worker_state == "stopped":
            self._wake.set()  # the camera it waits for may exist now
        elif self.ws is not None:
            asyncio.ensure_future(self._follow_webcam())

    async def _follow_webcam(self) -> None:
        """The webcams were edited in Mainsail or Fluidd: a new URL, flip or rotation of the
        webcam watched reaches the worker now, not at its next restart."""
        try:
            camera = await self._resolve_camera(str(self._own_value("camera")))
        except ValueError as exc:
            self._warn("camera", f"option 'camera': {exc}")  # the worker keeps the camera it has
            return
        if camera == (self.camera_url, self.camera_orientation) or self.ws is None:
            return
        self._clear_warning("camera")
        self.camera_url, self.camera_orientation = camera
        logger.info("pinozcam: the webcam changed; the worker is told")
        self.pending.add("configure", None)  # a refusal is handled as at startup
        self._send(self._configure_message())
        self._notify_status()
