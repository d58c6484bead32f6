"""The worker: camera, detector, decision engine, incidents, alerts and clients in one process.

:class:`Worker` glues the parts together; each part lives in its own module:
:mod:`.watcher` (sampling and the inference thread), :mod:`.clients`
(websocket clients), :mod:`.incidents` (the incident folder), :mod:`.alerts`
(notifications and Telegram buttons), :mod:`.http_front` (HTTP and websockets
on one port), :mod:`.protocol` (the messages).

Sampling policy: every ``fast_check_interval`` while printing with severity up
(a warning or failure frame, or failures counting, and no incident open yet),
every ``check_interval`` while printing or paused, or while someone watches
``/stream.mjpg``; otherwise one check when a client sends ``detect_now``, and one
when ``/snapshot.jpg`` is fetched and its picture is older than
``IDLE_SNAPSHOT_REFRESH`` seconds (a webcam tile between prints stays current).

Safety rules kept here: every ``action_request`` carries a fresh
``request_id`` (a repeat of the same request keeps it; :mod:`.actions`), and a
Telegram button acts only on the open incident of the current print. While printing, a camera
that is not ok for ``camera_alert_after`` seconds gets one alert per outage
(and one when it is back), so a print never runs unwatched in silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, serve

from .. import __version__
from ..annotate import encode_jpeg, fit_within, mark_not_live
from ..camera import CameraError, Frame, FrameSource, open_camera
from ..camera.settings import CameraSettings
from ..engine import TICK_EVERY, DecisionEngine, EngineState, IncidentEvent, Verdict, failure_building
from ..detect.errors import ModelError, blame_option
from ..detect.jpeg import decode_jpeg
from ..pipeline import FrameAnalyser
from ..settings import Settings, SettingsError
from .actions import ActionRequests
from .alerts import Alerts, buttons_off
from .clients import CLOSE_PROTOCOL, Client, ClientHub
from .config import WorkerConfig
from .history import PrintHistory
from .http_front import front_connection_factory
from .incidents import IncidentStore, SavedFrame
from .live import LiveView
from .logs import guard_library_loggers
from .outage import OutageWatch
from .protocol import (PROTOCOL_VERSION, TRANSPORT_MAX_BYTES, ActionResult, Configure, DetectNow,
                       Feedback, Hello, HistoryRequest, ListIncidents, Mute, PrintState, StatusRequest,
                       error_message, major)
from .routes import HttpRoutes
from .watcher import ANNOTATED_MAX_SIDE, Check, Watcher

__all__ = ["Worker"]

logger = logging.getLogger(__name__)

_ENDED = ("standby", "complete", "cancelled", "error")
_STATUS_EVERY = 10.0
#: Seconds: between prints, a fetched snapshot older than this is refreshed by one check.
#: Cheap enough for a Pi that shows the tile all day; fresh enough to aim the camera by.
IDLE_SNAPSHOT_REFRESH = 5.0


class Worker:
    """One detector worker: ``await start()``, later ``await stop()``.

    ``detector`` may be given (tests, benchmarks); otherwise it is loaded from
    ``settings.model`` on start.
    """

    def __init__(self, settings: Settings, config: WorkerConfig, *, detector: Any = None) -> None:
        self.settings = settings
        self.config = config
        self._detector = detector
        self._engine = DecisionEngine(settings.detection)
        self._print = PrintState("standby")
        self._print_started: float | None = None  # unix time the current (or last) print started
        self._history = PrintHistory()
        self._outage = OutageWatch()
        self._verdict: Verdict | None = None
        self._muted = False
        self._recent: deque[Check] = deque(maxlen=max(4, settings.worker.incident_context_frames + 1))
        self._open_id: str | None = None
        # The printer was resumed since the open incident's last pause: its Resume button
        # would now resume some other pause (a filament runout, the user's own), so it is off.
        self._resumed_since_pause = False
        self._actions = ActionRequests(settings.worker.action_confirm_timeout,
                                       settings.worker.action_busy_timeout, self._action_unconfirmed)
        self._hub = ClientHub(config.token, on_connect=self._on_connect, on_message=self._on_message)
        # "~" and relative paths as the Moonraker component reads them (it serves the pictures).
        incident_dir = config.data_dir / Path(settings.worker.incident_dir).expanduser() \
            if settings.worker.incident_dir else config.data_dir / "incidents"
        # Written in the background: a full or stalled SD card must not delay a pause or an alert.
        self.store = IncidentStore(incident_dir, int(settings.worker.incident_dir_max_mb * 1024 * 1024),
                                   context_frames=settings.worker.incident_context_frames,
                                   write_in_background=True)
        self._feedback_replies: set[asyncio.Task[None]] = set()
        self.live = LiveView()
        #: Between prints, a fetched picture older than this is refreshed (one check).
        self.idle_snapshot_refresh = IDLE_SNAPSHOT_REFRESH
        self._snapshot_asked_at = -float("inf")
        self._camera: FrameSource | None = None
        self._watcher: Watcher | None = None
        self._alerts: Alerts | None = None
        self._server: Server | None = None
        self._http = HttpRoutes(self)
        self._http_tasks: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = time.monotonic()
        self._camera_error: str | None = None
        self._marking: asyncio.Task[None] | None = None
        #: Seconds from a frame reaching the worker to the ``incident`` message, per incident.
        self.incident_latencies: list[float] = []

    def __repr__(self) -> str:
        return f"Worker(listen={self.config.listen})"

    # -- life cycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Load the model and the incident folder, open the camera, start listening."""
        loaded = self.store.load()
        if loaded:
            logger.info("reloaded %d incident record(s)", loaded)
        loop = asyncio.get_running_loop()
        # From the writer thread: the panel's "Incident folder" row changes as soon as a write
        # fails or everything is saved again, not at the next periodic status.
        self.store.on_problem_change = lambda: _call_soon(loop, self._broadcast_status)
        guard_library_loggers()
        if self._detector is None:
            from ..detect import Detector

            try:
                self._detector = await asyncio.to_thread(Detector.load, self.settings.model)
            except ModelError as exc:
                if not self.settings.model.model_path:
                    raise  # the shipped model: not an option the user can fix by dropping it
                # Adapters read "option 'model_path'" and drop the bad value instead of crash-looping.
                raise blame_option(exc, "model_path") from None
        self._camera = _open_camera(self.settings.camera)
        self._watcher = Watcher(camera=self._camera, analyser=FrameAnalyser(self.settings, self._detector),
                                interval=self._interval, on_check=self._on_check,
                                on_camera_error=self._on_camera_error,
                                failure_hold=self.settings.worker.failure_box_hold)
        self._alerts = Alerts(self.settings.notify, buttons=self.settings.worker.alert_buttons,
                              on_button=self._on_button)
        await self._alerts.start()
        self._server = await self._listen()
        self._watcher.start()
        self._tasks = [asyncio.create_task(self._tick_loop(), name="ticker")]
        logger.info("worker listening on %s", self.address)

    async def _listen(self) -> Server:
        listen = self.config.listen
        kwargs: dict[str, Any] = dict(
            process_request=self._hub.process_request, max_size=TRANSPORT_MAX_BYTES,
            create_connection=front_connection_factory(self._http.handle, self._http.peer_is_local,
                                                       self._http_tasks),
            compression=None, server_header=None,
        )
        if listen.is_unix:
            assert listen.path is not None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(listen.path)
            old_umask = os.umask(0o177)  # the socket file: owner only
            try:
                return await serve(self._hub.handle, unix=True, path=listen.path, **kwargs)
            finally:
                os.umask(old_umask)
        return await serve(self._hub.handle, listen.host, listen.port, **kwargs)

    @property
    def address(self) -> str:
        """``host:port`` actually bound (the real port when 0 was asked), or ``unix:PATH``."""
        if self.config.listen.is_unix:
            return f"unix:{self.config.listen.path}"
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    async def stop(self) -> None:
        """Close camera, alerts (flushed briefly), clients and the server; about a second at most."""
        logger.info("worker stopping")
        self._actions.cancel_all()
        tasks = [*self._tasks, *([self._marking] if self._marking is not None else []),
                 *self._feedback_replies]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._watcher is not None:
            await self._watcher.stop()
        for task in list(self._http_tasks):
            task.cancel()
        await asyncio.gather(*self._http_tasks, return_exceptions=True)
        # The slow parts run side by side, each with its own bound, so stopping stays near 1 s.
        await asyncio.gather(self._close_server(), self._close_alerts(), self._close_camera(),
                             self.store.close(timeout=1.0))
        if self.config.listen.is_unix and self.config.listen.path:
            with contextlib.suppress(OSError):
                os.unlink(self.config.listen.path)
        logger.info("worker stopped")

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close(code=1001, reason="worker stopping")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        await self._hub.close_all()

    async def _close_alerts(self) -> None:
        if self._alerts is not None:
            await self._alerts.close(timeout=0.5)

    async def _close_camera(self) -> None:
        if self._camera is not None:
            with contextlib.suppress(asyncio.TimeoutError, CameraError):
                await asyncio.wait_for(self._camera.close(), 0.5)

    # -- sampling policy and checks -----------------------------------------------------
    def _interval(self) -> float | None:
        settings = self.settings.worker
        state = self._print.state
        if state == "printing":
            if failure_building(self._verdict, muted=self._muted):
                return settings.fast_check_interval
            return settings.check_interval
        if state == "paused" or self.live.stream_viewers:
            return settings.check_interval
        return None

    async def _on_check(self, check: Check) -> None:
        now = time.monotonic()
        interval_before = self._interval()
        verdict = self._engine.observe(check.analysis.assessment, now)
        self._verdict = verdict
        if self._interval() != interval_before and self._watcher is not None:
            # The sampler chose its wait before this frame was analysed: the first failure
            # frame brings the next check forward now, not one slow interval later.
            self._watcher.poke()
        self._camera_error = None
        self.live.publish(check.annotated, check.frame_id, raw=check.frame.jpeg)
        before = list(self._recent)
        self._recent.append(check)
        if self._print.state in ("printing", "paused"):
            self._history.add_point(check.wall_time, verdict.severity, verdict.band)
        # Every box down to the decode floor goes out; viewers draw those >= display_threshold.
        message = {"type": "detection", "frame_id": check.frame_id, "time": round(check.wall_time, 3),
                   "reason": check.reason, **check.analysis.to_dict(), "severity": round(verdict.severity, 4),
                   "band": verdict.band, "engine_state": verdict.state.value,
                   "failures_in_window": verdict.failures_in_window, "incident_id": self._open_id,
                   "display_threshold": self._engine.settings.display_threshold}
        self._hub.broadcast(message)
        if verdict.events:
            await self._handle_events(verdict.events, check, before)
        elif self._open_id is not None:
            self.store.add_frame_after(self._open_id, _saved(check))

    def _on_camera_error(self, exc: CameraError) -> None:
        if self._camera_error != str(exc):
            self._camera_error = str(exc)
            self._hub.broadcast(self._status())

    async def _tick_loop(self) -> None:
        last_status = time.monotonic()
        while True:
            await asyncio.sleep(TICK_EVERY)
            verdict = self._engine.tick(time.monotonic())
            if verdict is not None:
                await self._handle_events(verdict.events, self._recent[-1] if self._recent else None, [])
            health = self._watch_camera(time.monotonic())
            if self._passes_for_live(health) and (self._marking is None or self._marking.done()):
                self._marking = asyncio.create_task(self._mark_picture_not_live())
            if time.monotonic() - last_status >= _STATUS_EVERY:
                last_status = time.monotonic()
                self._hub.broadcast(self._status())
                if self.store.problem:
                    # The card may have room again with nothing new to write: try what was not saved.
                    self.store.retry_unwritten()

    def _watch_camera(self, now: float) -> dict[str, Any]:
        """Alert when the camera has not been ok for ``camera_alert_after`` s of printing, and
        when it is back (see :class:`.outage.OutageWatch`); the camera's health."""
        health = self._camera_health()
        change = self._outage.update(camera_ok=health.get("state") == "ok",
                                     printing=self._print.state == "printing",
                                     delay=self.settings.worker.camera_alert_after, now=now)
        if change == "lost":
            logger.warning("camera %s for %.0f s while printing: alerting", health.get("state"),
                           self._outage.bad_for(now))
            self._info_alert("Camera offline", "camera offline: the print is not being watched. "
                             f"{str(health.get('message') or '')[:300]}")
        elif change == "back":
            logger.info("camera back: the print is watched again")
            self._info_alert("Camera back", "camera back: the print is watched again")
        return health

    def _passes_for_live(self, health: dict[str, Any]) -> bool:
        """The picture served is an offline camera's last one, not marked as such yet."""
        live = self.live
        return (live.latest is not None and not live.not_live and health.get("state") == "offline"
                and health.get("message") != "no frame yet")  # a camera just set up, not failing

    async def _mark_picture_not_live(self) -> None:
        """While the camera gives nothing, ``/snapshot.jpg`` and ``/stream.mjpg`` keep serving
        the last picture: grey it under a "camera offline" header once, so a webcam tile
        showing it is not taken for a live view of the print. The next check replaces it."""
        live = self.live
        version, picture = live.version, live.latest_raw or live.latest
        taken = time.time() - (time.monotonic() - live.published_at)
        text = f"CAMERA OFFLINE  last picture {time.strftime('%H:%M:%S', time.localtime(taken))}"
        try:
            marked = await asyncio.to_thread(_marked_not_live, picture, text)
        except ValueError as exc:
            logger.debug("could not mark the last picture as not live: %s", exc)
            return
        live.show_not_live(marked, version=version)

    def _info_alert(self, title: str, message: str) -> None:
        if self._alerts is not None:
            self._alerts.info_alert(title, message, self._print_info())

    def _print_info(self) -> dict[str, Any]:
        info = {k: v for k, v in self._print.to_dict().items() if k != "objects"}
        info["started"] = self._print_started
        return info

    # -- incidents ----------------------------------------------------------------------
    async def _handle_events(self, events: tuple[IncidentEvent, ...], check: Check | None,
                             before: list[Check]) -> None:
        for event in events:
            if event.kind == "opened":
                await self._incident_opened(event, check, before)
            elif event.kind == "escalated" and self._open_id is not None:
                record = self.store.add_event(self._open_id, {"time": time.time(), "event": "escalated",
                                                              "action": event.action},
                                              action=event.action, severity=event.severity,
                                              failures=event.failures)
                if record is not None:
                    self._history.add_incident(record["id"], time.time(), "escalated", event.action)
                    self._hub.broadcast(self._incident_message("escalated", record, event.action))
                    if event.action:
                        self._request_action(record["id"], event.action, "engine")
                    await self._alert("escalated", record, check, action=event.action or "")
            elif event.kind == "closed" and self._open_id is not None:
                incident_id, self._open_id = self._open_id, None
                record = self.store.add_event(incident_id, {"time": time.time(), "event": "closed"},
                                              state="closed", closed_at=time.time())
                self._actions.forget(incident_id)
                if record is not None:
                    self._history.add_incident(record["id"], time.time(), "closed", None)
                    self._hub.broadcast(self._incident_message("closed", record, None))

    async def _incident_opened(self, event: IncidentEvent, check: Check | None, before: list[Check]) -> None:
        if check is None:
            return  # the engine opens incidents only on frames; nothing to record without one
        assessment = check.analysis.assessment
        # Memory only (the pictures and the record are written later, off the event loop, and
        # it never raises): the pause request and the alert below never wait for the SD card.
        record = self.store.open(
            now=check.wall_time, onset=_saved(check), before=[_saved(c) for c in before],
            annotated_jpeg=check.annotated, print_info=self._print_info(), classes=self._model_classes(),
            event={"incident_id": event.incident_id, "severity": round(event.severity, 4),
                   "band": assessment.band, "failure_area": round(assessment.failure_area, 6),
                   "action": event.action, "failures": event.failures, "frame_id": check.frame_id})
        self._open_id = record["id"]
        self._resumed_since_pause = False
        self._history.add_incident(record["id"], check.wall_time, "opened", event.action)
        self._hub.broadcast(self._incident_message("opened", record, event.action))
        latency = time.monotonic() - check.received
        self.incident_latencies.append(latency)
        logger.info("incident %s opened (%s), %.0f ms after its frame arrived",
                    record["id"], event.action or "no action", latency * 1000)
        if event.action in ("pause", "cancel"):
            self._request_action(record["id"], event.action, "engine")
        await self._alert("opened", record, check)
        if self.store.problem:
            self._hub.broadcast(self._status())  # the incident is in memory only: say so now

    def _incident_message(self, kind: str, record: dict[str, Any], action: str | None) -> dict[str, Any]:
        return {"type": "incident", "event": kind, "incident_id": record["id"], "action": action,
                "incident": self.store.summary(record)}

    def _request_action(self, incident_id: str, action: str, source: str) -> None:
        """Ask the adapters to act, as a new request (see :mod:`.actions`)."""
        message = self._actions.new(incident_id, action, source)
        sent = self._hub.broadcast(message, role="adapter")
        self.store.add_event(incident_id, {"time": time.time(), "event": "action_requested",
                                           "action": action, "source": source, "clients": sent,
                                           "request_id": message["request_id"]},
                             action_state="requested")

    async def _action_unconfirmed(self, incident_id: str, action: str, reason: str) -> None:
        record = self.store.add_event(incident_id, {"time": time.time(), "event": "action_unconfirmed",
                                                    "action": action, "reason": reason},
                                      action_state="unconfirmed")
        if record is not None:
            await self._alert("unconfirmed", record, None, reason=reason, action=action)

    async def _alert(self, kind: str, record: dict[str, Any], check: Check | None,
                     reason: str = "", action: str = "") -> None:
        if self._alerts is None or (self._muted and kind in ("opened", "escalated")):
            return
        picture = check.annotated if check is not None else self.live.latest
        self._alerts.incident_alert(kind, record, picture, reason=reason, action=action)

    def _model_classes(self) -> list[str]:
        info = getattr(self._detector, "info", None)
        return list(getattr(info, "classes", ()) or ())

    # -- clients --------------------------------------------------------------------------
    def _on_connect(self, client: Client) -> None:
        client.send(self._status())
        if self._open_id is not None:
            record = self.store.get(self._open_id)
            if record is not None:
                client.send(self._incident_message("open", record, record.get("action")))
                pending = self._actions.pending(self._open_id)
                if pending is not None and client.role == "adapter":
                    # The same request again (same request_id): an adapter that already ran it
                    # answers its first result instead of acting twice.
                    client.send(pending.message(repeat=True))

    async def _on_message(self, client: Client, message: Any) -> None:
        if isinstance(message, Hello):
            await self._on_hello(client, message)
        elif isinstance(message, StatusRequest):
            client.send(self._status())
        elif isinstance(message, Configure):
            self._on_configure(client, message)
        elif isinstance(message, PrintState):
            await self._on_print_state(message)
        elif isinstance(message, DetectNow):
            assert self._watcher is not None
            self._watcher.check_now("detect_now")
        elif isinstance(message, Mute):
            if message.muted and self._print.state not in ("printing", "paused"):
                # A mute belongs to one print: taken now, it would say "muted" until the next
                # print starts, and then be dropped without a word.
                client.send(error_message("no_print", "no print is running: nothing to mute",
                                          request="mute"))
            else:
                self._set_muted(message.muted)
        elif isinstance(message, Feedback):
            self._on_feedback(client, message)
        elif isinstance(message, ActionResult):
            self._on_action_result(client, message)
        elif isinstance(message, HistoryRequest):
            client.send(self._history.message())
        elif isinstance(message, ListIncidents):
            records = self.store.records()[-message.limit:]
            client.send({"type": "incidents", "incidents": [self.store.summary(r) for r in reversed(records)]})

    async def _on_hello(self, client: Client, hello: Hello) -> None:
        if major(hello.protocol) != major(PROTOCOL_VERSION):
            client.send(error_message("protocol_mismatch", f"this worker speaks protocol "
                                      f"{PROTOCOL_VERSION}, not {hello.protocol}", option="protocol"))
            await client.flush_and_stop()
            await client.connection.close(CLOSE_PROTOCOL, "protocol version mismatch")
            return
        client.role, client.name = hello.role, hello.client
        info = getattr(self._detector, "info", None)
        client.send({"type": "hello", "protocol": PROTOCOL_VERSION, "worker": __version__,
                     "model": info.to_dict() if info is not None else None})
        client.send(self._history.message())

    def _on_configure(self, client: Client, message: Configure) -> None:
        try:
            # replace: the client sent its complete settings, so an option it left out goes back
            # to its default (a merge would keep the value from an earlier configure).
            new = Settings.from_mapping(message.settings) if message.replace \
                else self.settings.replace(message.settings)
        except SettingsError as exc:
            client.send(error_message("invalid_option", str(exc), option=exc.option, request="configure"))
            return
        except (TypeError, ValueError) as exc:
            client.send(error_message("invalid_option", str(exc), request="configure"))
            return
        new_camera: FrameSource | None = None
        if new.camera != self.settings.camera and self._watcher is not None:
            # Open before committing anything: a camera string that cannot be used is refused
            # whole, and the old settings (and the old camera) stay, as for any invalid option.
            try:
                new_camera = _open_camera(new.camera, refuse_unusable=True)
            except CameraError as exc:
                client.send(error_message("invalid_option", str(exc), option="camera", request="configure"))
                return
        old, self.settings = self.settings, new
        self._actions.set_timeouts(new.worker.action_confirm_timeout, new.worker.action_busy_timeout)
        restart_needed = ["model"] if new.model != old.model else []
        if (new.worker.incident_dir, new.worker.incident_dir_max_mb) != \
                (old.worker.incident_dir, old.worker.incident_dir_max_mb):
            restart_needed.append("incident_dir")
        if new.detection != old.detection:
            # At once, mid-print too: the window and an open incident are kept (see update_settings).
            self._engine.update_settings(new.detection)
        if new_camera is not None and self._watcher is not None:
            old_camera, self._camera = self._camera, new_camera
            self._watcher.camera = self._camera
            if old_camera is not None:
                # Closed in the background: a read of it in flight ends with "closed", which
                # the watcher knows to ignore (it reads the new camera at once instead).
                asyncio.ensure_future(old_camera.close())
        if self._watcher is not None:
            self._watcher.analyser = FrameAnalyser(new, self._detector)
            self._watcher.failure_hold = new.worker.failure_box_hold
            self._watcher.poke()
        buttons_changed = new.worker.alert_buttons != old.worker.alert_buttons
        if (new.notify != old.notify or buttons_changed) and self._alerts is not None:
            self._alerts.reconfigure(new.notify, buttons=new.worker.alert_buttons)
        client.send({"type": "configured", "settings": new.to_dict(), "restart_needed": restart_needed})
        self._hub.broadcast(self._status())

    async def _on_print_state(self, message: PrintState) -> None:
        now = time.monotonic()
        old = self._print
        taken_over = self._left_open_to_take_over(message)
        events: tuple[IncidentEvent, ...] = ()
        was_running = old.state in ("printing", "paused")
        new_print = False
        if message.state in ("printing", "paused"):
            new_print = not was_running or bool(message.file and message.file != old.file)
            if new_print:
                # A print already running when the worker starts watching it (the worker or
                # Moonraker restarted mid-print) started ``elapsed`` seconds ago.
                events = self._engine.print_started(now, file=message.file or None,
                                                    elapsed=message.elapsed or 0.0)
                self._muted = False
            if message.state == "paused" and old.state != "paused":
                self._engine.paused(now)
            elif message.state == "printing" and old.state == "paused" and not new_print:
                self._engine.resumed(now)
                self._resumed_since_pause = True
        elif was_running:
            events = self._engine.print_ended(now)
            self._muted = False
        self._engine.set_layer(message.layer)
        self._print = message
        if new_print:
            # Closing a leftover incident (below) still belongs to the old print's history.
            if events:
                await self._handle_events(events, self._recent[-1] if self._recent else None, [])
                events = ()
            self._print_started = time.time()
            if taken_over is not None:
                # The same print as the incident's: alert buttons and the panel's timeline
                # go on from the print's real start.
                self._print_started = (taken_over.get("print") or {}).get("started") or self._print_started
            self._history.start(message.file, self._print_started)
        if taken_over is not None:
            self._take_over(taken_over, now)
        if message.state != old.state:
            logger.info("print state: %s", message.state)
            self._verdict = None
        if events:
            await self._handle_events(events, self._recent[-1] if self._recent else None, [])
        assert self._watcher is not None
        self._watcher.poke()
        if message.state != old.state or message.file != old.file:
            self._hub.broadcast(self._status())

    def _left_open_to_take_over(self, message: PrintState) -> dict[str, Any] | None:
        """At the first print state after a restart: the newest incident the previous worker
        left open, when the printer is still paused in that incident's print (so its alert's
        buttons, the escalation and the panel go on); every other one left open is closed."""
        if not self.store.left_open:
            return None
        record = self.store.get(self.store.left_open[-1])
        same_print = (record is not None and message.state == "paused"
                      and (record.get("print") or {}).get("file") == message.file)
        keep = record if same_print else None
        self.store.settle_left_open(keep["id"] if keep else None, time.time())
        return keep

    def _take_over(self, record: dict[str, Any], now: float) -> None:
        # By the monotonic clock: with the wall clock's time since opened_at, a jump when the
        # network time arrives (a Pi has no clock of its own) would make the incident months
        # old and escalate_after cancel the paused print at once. Unknown: it starts again now.
        opened_ago = self.store.open_for(record) or 0.0
        escalated = any(event.get("event") == "escalated" for event in record.get("trail", []))
        self._engine.take_over(now, opened_at=now - opened_ago, action=record.get("action"),
                               escalated=escalated)
        self._open_id = record["id"]
        self._history.add_incident(record["id"], float(record.get("opened_at") or time.time()), "opened",
                                   record.get("action"))
        logger.info("incident %s taken over: the printer is still paused by it", record["id"])
        self._hub.broadcast(self._incident_message("open", record, record.get("action")))

    def _set_muted(self, muted: bool) -> None:
        if muted and not self._muted:
            self._engine.mute(time.monotonic())
        elif not muted and self._muted:
            self._engine.unmute(time.monotonic())
        self._muted = muted
        self._hub.broadcast(self._status())

    def _broadcast_status(self) -> None:
        self._hub.broadcast(self._status())

    def _on_feedback(self, client: Client, message: Feedback) -> None:
        now = time.time()
        if message.incident_id is not None:
            record = self.store.set_label(message.incident_id, message.label, now)
            if record is None:
                client.send(error_message("unknown_incident", f"no incident {message.incident_id!r}",
                                          option="incident_id", request="feedback"))
                return
        else:
            check = next((c for c in self._recent if c.frame_id == message.frame_id), None)
            if check is None:
                client.send(error_message("unknown_frame", f"frame {message.frame_id} is no longer "
                                          "kept; send feedback for recent frames or incidents",
                                          option="frame_id", request="feedback"))
                return
            record = self.store.open(now=now, onset=_saved(check), before=[], annotated_jpeg=check.annotated,
                                     print_info={"file": self._print.file}, classes=self._model_classes(),
                                     event={"frame_id": check.frame_id, "band": check.analysis.assessment.band,
                                            "severity": round(check.analysis.assessment.severity, 4)},
                                     kind="frame")
            record = self.store.set_label(record["id"], message.label, now) or record
        # Answered once the label is on disk, without holding up this client's next messages
        # (an adapter's action_result must not wait for a slow card).
        reply = asyncio.create_task(self._reply_feedback(client, record["id"], message))
        self._feedback_replies.add(reply)
        reply.add_done_callback(self._feedback_replies.discard)

    async def _reply_feedback(self, client: Client, incident_id: str, message: Feedback) -> None:
        """``feedback_saved`` once the label is written; an ``error`` the panel shows when it
        could not be (the label is kept in memory and written once the folder has room)."""
        problem = await self.store.written(incident_id)
        if problem is not None:
            client.send(error_message("not_saved", f"the label of {incident_id} is kept but could not be "
                                      f"saved: {problem}; it is saved once the incident folder can be "
                                      "written again", request="feedback"))
            return
        client.send({"type": "feedback_saved", "incident_id": incident_id, "label": message.label,
                     "frame_id": message.frame_id})

    def _on_action_result(self, client: Client, message: ActionResult) -> None:
        record = self.store.get(message.incident_id)
        if record is None:
            client.send(error_message("unknown_incident", f"no incident {message.incident_id!r}",
                                      option="incident_id", request="action_result"))
            return
        pending = self._actions.pending(message.incident_id)
        action = message.action or (pending.action if pending else record.get("action") or "")
        self.store.add_event(message.incident_id, {"time": time.time(), "event": "action_result",
                                                   "action": action, "result": message.result,
                                                   "reason": message.reason, "client": client.name,
                                                   "request_id": message.request_id},
                             action_state=message.result)
        if message.result == "accepted":
            # Under way: Klipper may still be busy with a long command (see .actions).
            self._actions.accept(message.incident_id, message.request_id, message.action)
            return
        answered = self._actions.settle(message.incident_id, message.request_id, message.action)
        if action == "pause" and message.result == "done" and message.incident_id == self._open_id:
            self._resumed_since_pause = False  # paused again for this incident: Resume is its own
        if answered is not None and message.result == "failed":
            asyncio.ensure_future(self._alert("unconfirmed", record, None, action=answered.action,
                                              reason=message.reason or "the printer refused"))
        elif answered is None and message.result == "done" and _told_not_done(record, action):
            # The user was told the printer could not be paused; it was, late (Klipper busy
            # beyond every timeout, or an adapter back after an outage): say so.
            done = {"pause": "paused", "cancel": "cancelled"}.get(action, action)
            self._info_alert(f"Printer {done} after all",
                             f"the {action} reported as not done has now been carried out"
                             f"{': ' + message.reason[:200] if message.reason else ''}. "
                             f"Incident {record['id']}")

    async def _on_button(self, action: str, incident_id: str) -> str:
        """A Telegram button press from the configured chat.

        Printer actions are taken only for the incident open now, in the current print: a
        button on an older alert must never pause or cancel whatever prints now. Mute
        works from any alert of the current print. Each accepted press is a new request.
        """
        record = self.store.get(incident_id)
        running = self._print.state in ("printing", "paused")
        if record is None or not running or (record.get("print") or {}).get("started") != self._print_started:
            return "This alert is from an earlier print: nothing was done."
        if action == "mute":
            self._set_muted(True)
            return "Muted until this print ends."
        if record.get("state") != "open" or incident_id != self._open_id:
            return "This incident is closed: nothing was done."
        if action == "resume" and self._resumed_since_pause:
            return ("This incident's pause was already resumed: nothing was done. The printer "
                    "is paused for another reason; resume it from Mainsail or Fluidd.")
        self._request_action(incident_id, action, "telegram")
        return f"Asked the printer to {action}."

    # -- status ---------------------------------------------------------------------------
    def _camera_health(self) -> dict[str, Any]:
        monitor = getattr(self._camera, "health", None)
        health: dict[str, Any] = monitor.to_dict() if monitor is not None else {
            "state": "offline", "message": self._camera_error or "no camera", "since": 0.0}
        if self._camera_error and health.get("state") == "ok":
            health = {**health, "state": "offline", "message": self._camera_error}
        return health

    def _status(self) -> dict[str, Any]:
        watcher = self._watcher
        health = self._camera_health()
        info = getattr(self._detector, "info", None)
        record = self.store.get(self._open_id) if self._open_id else None
        verdict = self._verdict
        return {
            "type": "status", "protocol": PROTOCOL_VERSION, "worker": __version__,
            "print": {k: v for k, v in self._print.to_dict().items() if k != "objects"},
            "engine_state": verdict.state.value if verdict else (
                EngineState.IDLE.value if self._print.state in _ENDED else "waiting"),
            "severity": round(verdict.severity, 4) if verdict else 0.0,
            "band": verdict.band if verdict else "ok",
            "muted": self._muted, "camera": health,
            "checks_per_minute": watcher.checks_per_minute() if watcher else 0.0,
            "inference_ms": round(watcher.last_inference_ms, 2) if watcher and watcher.last_inference_ms else None,
            "dropped_frames": watcher.dropped if watcher else 0,
            "model": info.to_dict() if info is not None else None,
            "open_incident": self.store.summary(record) if record else None,
            "telegram_buttons": self._alerts.buttons_status() if self._alerts is not None else buttons_off(),
            # The last delivery per channel: a deleted webhook or a bot removed from its group
            # shows here (and in the panel), not only in the worker's log.
            "notifications": self._alerts.delivery_status() if self._alerts is not None else {},
            "incident_storage": self.store.status(),
            "clients": len(self._hub.clients),
            "uptime_s": round(time.monotonic() - self._started, 1), "pid": os.getpid(),
        }

    # -- http -----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The ``/healthz`` body."""
        status = self._status()
        return {"ok": True, "camera": status["camera"], "print": status["print"]["state"],
                "checks_per_minute": status["checks_per_minute"], "open_incident": self._open_id}

    def request_frame(self) -> None:
        """Someone wants a picture and none exists yet: check one frame now."""
        if self._watcher is not None:
            self._watcher.check_now("snapshot")

    def snapshot_served(self) -> None:
        """Someone fetched the picture. Between prints nothing is checked, so the picture
        would stay the last print's (a Mainsail webcam tile showing yesterday's print as if
        live): refresh it with one check when it is older than ``idle_snapshot_refresh``
        seconds, at most that often, and only while someone keeps asking."""
        now = time.monotonic()
        if (self._watcher is None or self._interval() is not None
                or now - max(self.live.published_at, self._snapshot_asked_at) < self.idle_snapshot_refresh):
            return
        self._snapshot_asked_at = now
        self._watcher.check_now("snapshot")

    def stream_viewers_changed(self) -> None:
        if self._watcher is not None:
            self._watcher.poke()


def _marked_not_live(jpeg: bytes, text: str) -> bytes:
    """``jpeg`` greyed under a red ``text`` header (see :func:`annotate.mark_not_live`),
    no larger than an alert's picture; ``ValueError`` if it cannot be decoded."""
    return encode_jpeg(mark_not_live(fit_within(decode_jpeg(jpeg), ANNOTATED_MAX_SIDE), text))


class _NoCamera(FrameSource):
    """Stands in for a camera that could not be opened: every read says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.description = "no camera"

    async def read(self) -> Frame:
        raise CameraError(self.reason)

    async def close(self) -> None:
        return None


def _open_camera(settings: CameraSettings, *, refuse_unusable: bool = False) -> FrameSource:
    """The configured camera, or a :class:`_NoCamera` saying why there is none (the worker
    still starts, reports the camera offline, and a later ``configure`` can fix it).

    With ``refuse_unusable``, a camera string that names something no source can open
    raises its :class:`CameraError` instead (for ``configure``, which then refuses it);
    an empty one still gives "no camera".
    """
    try:
        return open_camera(settings)
    except CameraError as exc:
        if refuse_unusable and settings.camera.strip():
            raise
        logger.warning("camera not opened: %s", exc)
        return _NoCamera(str(exc))


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Any) -> None:
    """``callback`` on ``loop`` from another thread; nothing once the loop is closed (stopping)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)


def _saved(check: Check) -> SavedFrame:
    detection = check.analysis.detection
    return SavedFrame(check.frame_id, check.wall_time, check.frame.jpeg, detection.width,
                      detection.height, tuple(box.to_dict() for box in detection.boxes))


def _told_not_done(record: dict[str, Any], action: str) -> bool:
    """Whether the user's last word on ``action`` for this incident was "could not": its last
    request or "could not" event (answers aside) is an ``action_unconfirmed``."""
    for event in reversed(record.get("trail") or []):
        if event.get("action") == action and event.get("event") in ("action_requested", "action_unconfirmed"):
            return event["event"] == "action_unconfirmed"
    return False
