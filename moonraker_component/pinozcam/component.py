# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""The :class:`Pinozcam` component: its state, its registration, its lifecycle.

The class is put together from mixins that each do one job (options.py, worker_link.py,
printer.py, endpoints.py); all the state they share is set here, in ``__init__``, where the
options are read and checked, and every endpoint, notification, remote method and event
handler is registered in :meth:`Pinozcam._register`. Cross-component work (the database,
starting the worker) waits for ``component_init``.
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import tornado.websocket

from .endpoints import EndpointsMixin
from .options import OWN_OPTIONS, OptionsMixin, http_safe, parse_own_option, redact_url
from .printer import IDLE_DISABLE_KEY, PrinterMixin
from .worker_link import Pending, WorkerLinkMixin
from .worker_process import WorkerProcess

if TYPE_CHECKING:
    from ...confighelper import ConfigHelper


class Pinozcam(OptionsMixin, WorkerLinkMixin, PrinterMixin, EndpointsMixin):
    """The ``[pinozcam]`` component (see the package's docstring)."""

    def __init__(self, config: ConfigHelper) -> None:
        self.server = config.get_server()
        app_args = self.server.get_app_args()
        self.data_dir = Path(app_args["data_path"]) / "pinozcam"
        log_file = app_args.get("log_file") or ""
        log_dir = Path(log_file).parent if log_file else self.data_dir
        self.worker_log = log_dir / "pinozcam-worker.log"
        self.panel_dir = Path(__file__).resolve().parents[2] / "mainsail_panel"
        self._warnings: dict[str, str] = {}
        self.file_options, self.own = self._read_config(config)
        self.locked = set(self.file_options) | {k for k in OWN_OPTIONS if config.has_option(k)}
        self.ui_options: dict[str, Any] = {}
        # False also after PINOZCAM_DISABLE while idle (until PINOZCAM_ENABLE; kept in the database).
        self.enabled = self.own.enabled
        # PINOZCAM_DISABLE during a print: off until that print ends (then back to ``enabled``).
        self.off_for_this_print = False
        # Muted for the running print (by a macro, the panel, the dialog or Telegram): kept here
        # too, so that a worker restarted mid-print is muted again (it forgets on restart).
        self.muted_this_print = False
        # Which print those two belong to ({"file", "started"}), and what of them the database
        # holds (None: unknown), so that a restarted Moonraker restores them mid-print.
        self._switches_print: Optional[dict[str, Any]] = None
        self._saved_switches: Optional[dict[str, Any]] = {}
        # The pause dialog is up: closed by the component once the print is no longer paused.
        self.prompt_open = False
        self.camera_url = ""
        # The [webcam]'s flip and rotation (Mainsail's and Fluidd's webcam settings, applied in
        # their order: rotate, then flip), for the worker unless camera_flip_*/camera_rotate
        # are set here: the model must see the print upright, as the user does.
        self.camera_orientation: dict[str, Any] = {}
        self.process: Optional[WorkerProcess] = None
        self.ws: Optional[tornado.websocket.WebSocketClientConnection] = None
        self.pending = Pending()
        self.worker_state = "stopped"
        self.worker_problem: Optional[str] = None
        self.restarts = 0
        self._quick_exits = 0  # worker exits in a row, each before it ran stably
        self.worker_status: dict[str, Any] = {}
        self.model: Optional[dict[str, Any]] = None
        self.settings_tree: dict[str, Any] = {}
        self.restart_needed: list[str] = []
        self.open_incident: Optional[dict[str, Any]] = None
        self.last_action: Optional[dict[str, Any]] = None
        self.printer: dict[str, dict[str, Any]] = {}
        self.klippy_ready = False
        self._last_print_state: dict[str, Any] = {}
        # Klipper's exclude_object list last seen, and what of it goes to the worker.
        self._objects_raw: Any = None
        self._objects_sized: list[dict[str, Any]] = []
        # Requests already carried out, by request_id (or (incident, action) from older workers).
        self._acted: collections.OrderedDict[tuple[str, ...], tuple[str, str]] = collections.OrderedDict()
        # Requests being carried out: "" until the gcode is sent, then the "accepted" reason.
        self._acting: dict[tuple[str, ...], str] = {}
        self._restoring_idle_timeout = False
        self._closing = False
        self._wake = asyncio.Event()
        self._supervisor: Optional[asyncio.Task[None]] = None
        self._restart_requested = False
        self._register()

    def _fail(self, message: str, code: int = 400) -> Exception:
        """The error to raise from an endpoint (its text becomes the HTTP reason phrase)."""
        return self.server.error(http_safe(message), code)

    # -- registration -------------------------------------------------------------------
    def _register(self) -> None:
        endpoints = [
            ("/server/pinozcam/status", ["GET"], self._ep_status),
            ("/server/pinozcam/settings", ["GET", "POST"], self._ep_settings),
            ("/server/pinozcam/incidents", ["GET"], self._ep_incidents),
            ("/server/pinozcam/history", ["GET"], self._ep_history),
            ("/server/pinozcam/feedback", ["POST"], self._ep_feedback),
            ("/server/pinozcam/detect_now", ["POST"], self._ep_detect_now),
            ("/server/pinozcam/mute", ["POST"], self._ep_mute),
            ("/server/pinozcam/test_notification", ["POST"], self._ep_test_notification),
        ]
        for path, methods, callback in endpoints:
            self.server.register_endpoint(path, methods, callback)
        self.server.register_endpoint("/server/pinozcam/snapshot", ["GET"], self._ep_snapshot,
                                      transports=["http"], wrap_result=False, content_type="image/jpeg")
        self.server.register_endpoint("/server/pinozcam/incident_picture", ["GET"],
                                      self._ep_incident_picture, transports=["http"],
                                      wrap_result=False, content_type="image/jpeg")
        self._register_panel()
        for name in ("status", "detection", "incident"):
            # Moonraker names it after the event's last part unless told: notify_pinozcam_<name>.
            self.server.register_notification(f"pinozcam:{name}", f"pinozcam_{name}")
        for method, callback in (("pinozcam_enable", self._rm_enable),
                                 ("pinozcam_disable", self._rm_disable),
                                 ("pinozcam_mute", self._rm_mute),
                                 ("pinozcam_status", self._rm_status),
                                 ("pinozcam_false_alarm", self._rm_false_alarm)):
            self.server.register_remote_method(method, callback)
        self.server.register_event_handler("webcam:webcams_changed", self._on_webcams_changed)
        self.server.register_event_handler("server:klippy_ready", self._on_klippy_ready)
        self.server.register_event_handler("server:klippy_shutdown", self._on_klippy_gone)
        self.server.register_event_handler("server:klippy_disconnect", self._on_klippy_gone)

    async def component_init(self) -> None:
        database = self.server.lookup_component("database")
        # Forbidden: the database API may not read it (it can hold tokens) nor write it.
        namespace = database.register_local_namespace("pinozcam", forbidden=True)
        self.db = namespace
        saved = await namespace.get("settings", {})
        self.ui_options = dict(saved) if isinstance(saved, dict) else {}
        self.ui_options.pop("worker_python", None)  # moonraker.conf only
        for name in OWN_OPTIONS:
            if name in self.ui_options and name not in self.locked:
                try:
                    self.ui_options[name] = parse_own_option(name, self.ui_options[name])
                except ValueError:
                    del self.ui_options[name]
        self.enabled = self._own_value("enabled")
        if await namespace.get(IDLE_DISABLE_KEY, False) is True:
            self.enabled = False  # PINOZCAM_DISABLE while idle: off until PINOZCAM_ENABLE
        self._supervisor = asyncio.ensure_future(self._supervise())

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self.ws is not None:
            self.ws.close()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        if self.process is not None:
            await self.process.stop()

    # -- status ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The status endpoint's body (also sent as ``notify_pinozcam_status``)."""
        return {
            "enabled": self.watching(),
            "disabled_until": self.disabled_until(),
            "print_state": self.print_state(),
            "print_started_at": self.print_started_at(),
            "klippy_ready": self.klippy_ready,
            "camera_url": redact_url(self.camera_url),
            # Connected once the worker's hello has come (the model is known), not at the
            # socket's opening: a client must not see "connected" with no model.
            "worker": {"state": self.worker_state,
                       "connected": self.ws is not None and self.worker_state == "connected",
                       "pid": self.process.pid if self.process else None, "restarts": self.restarts,
                       "problem": self.worker_problem, "log": str(self.worker_log)},
            "detector": self.worker_status or None,
            "model": self.model,
            "open_incident": self.open_incident,
            "last_action": self.last_action,
            "warnings": sorted(self._warnings.values()),
            "restart_needed": self.restart_needed,
        }

    def _notify_status(self) -> None:
        self.server.send_event("pinozcam:status", self.status())
