"""The OctoPrint plugin: mixins only, delegating to the worker and the pure modules beside it.

Life cycle: ``on_after_startup`` writes the worker's settings file and token
into the plugin's data folder, starts the worker (:mod:`.supervisor`) with
OctoPrint's own python, and connects to it (:mod:`.link`), off OctoPrint's
loop. Print events become ``print_state`` (:mod:`.print_state`); the worker's
``action_request`` becomes ``pause_print()`` / ``resume_print()`` /
``cancel_print()`` after :mod:`.actions` allows it, and the outcome goes back
as ``action_result``. Settings live in OctoPrint's settings system
(:mod:`.plugin_settings`); saving them rewrites the worker's file and sends
``configure`` (or restarts the worker when it must).

HTTP (all need a logged-in user or an API key):
``GET /api/plugin/pinozcam`` the status (the camera URL without its password);
``POST /api/plugin/pinozcam`` commands ``detect_now``, ``mute`` (``muted``),
``feedback`` (``incident_id``, ``label``), ``restart_worker``;
``GET /plugin/pinozcam/snapshot.jpg`` the latest annotated picture
(``?raw=1``: the camera's picture with nothing drawn). The status carries the
print's severity ``history`` (asked of the worker again at each status read). A refused
command answers ``{"error": ...}`` (403 without the permission, 409 while the worker is down).
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import Any

import flask
import octoprint.plugin
import yaml
from octoprint.access.permissions import Permissions

from ..settings import Settings, SettingsError
from . import plugin_settings
from .actions import ActionGate, PrinterFlags
from .link import WorkerLink
from .print_state import PrintTracker
from .supervisor import WorkerSpec, WorkerSupervisor
from .view import WorkerView
from .webcam import CameraChoice, choose_camera

__all__ = ["PinozcamPlugin"]

_SNAPSHOT_TIMEOUT = 3.0
_COMMAND_PERMISSIONS = {"detect_now": "CONTROL", "mute": "CONTROL", "feedback": "CONTROL",
                        "restart_worker": "SETTINGS"}


class PinozcamPlugin(octoprint.plugin.StartupPlugin,
                     octoprint.plugin.ShutdownPlugin,
                     octoprint.plugin.SettingsPlugin,
                     octoprint.plugin.TemplatePlugin,
                     octoprint.plugin.AssetPlugin,
                     octoprint.plugin.EventHandlerPlugin,
                     octoprint.plugin.ProgressPlugin,
                     octoprint.plugin.SimpleApiPlugin,
                     octoprint.plugin.BlueprintPlugin):

    def __init__(self) -> None:
        super().__init__()
        self._tracker = PrintTracker()
        self._tracker_lock = threading.Lock()
        self._gate = ActionGate()
        self._gate_lock = threading.Lock()
        self._view = WorkerView()
        self._supervisor: WorkerSupervisor | None = None
        self._link: WorkerLink | None = None
        self._token = ""
        self._spec: WorkerSpec | None = None
        self._camera = CameraChoice("", "none")
        self._settings_problems: list[plugin_settings.SettingsProblem] = []
        self._worker_settings: dict[str, Any] = {}
        self._lifecycle = threading.Lock()

    # -- settings -------------------------------------------------------------------------
    def get_settings_defaults(self) -> dict[str, Any]:
        return plugin_settings.defaults()

    def get_settings_restricted_paths(self) -> dict[str, list[list[str]]]:
        return {"admin": [[key] for key in plugin_settings.ADMIN_ONLY_KEYS]}

    def on_settings_save(self, data: dict[str, Any]) -> dict[str, Any]:
        accepted, problems = plugin_settings.normalise(self._flat_settings(), data or {})
        self._settings_problems = problems
        for problem in problems:
            self._logger.warning("setting not saved: %s", problem.message)
        diff = octoprint.plugin.SettingsPlugin.on_settings_save(self, accepted)
        self._apply_settings()
        return diff

    def _flat_settings(self) -> dict[str, Any]:
        return {key: self._settings.get([key]) for key in plugin_settings.defaults()}

    # -- start and stop ---------------------------------------------------------------------
    def on_after_startup(self) -> None:
        import logging

        # OctoPrint's root logger is at WARNING: let the core's state changes reach octoprint.log.
        logging.getLogger("pinozcam_klipper").setLevel(logging.INFO)
        self._token = self._read_or_make_token()
        self._apply_settings()

    def on_shutdown(self) -> None:
        self._stop_worker()

    def _own_folder(self) -> Path:
        # (OctoPrint injects `_data_folder` itself: hence the other name.)
        return Path(self.get_plugin_data_folder())

    def _read_or_make_token(self) -> str:
        path = self._own_folder() / "token"
        try:
            token = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            token = ""
        if not token:
            token = secrets.token_urlsafe(32)
            _write_private(path, token + "\n")
        return token

    def _apply_settings(self) -> None:
        """Write the worker's settings file, then start, reconfigure, restart or stop the worker."""
        with self._lifecycle:
            flat = self._flat_settings()
            if not flat.get("enabled", True):
                self._stop_worker_locked()
                return
            self._camera = self._choose_camera(flat)
            try:
                tree = self._core_settings(flat)
            except SettingsError as exc:
                # Saved values are validated on save; this is a file edited by hand.
                self._logger.error("pinozcam settings are invalid, the worker is not started: %s", exc)
                self._settings_problems = [plugin_settings.SettingsProblem(exc.option, str(exc))]
                self._stop_worker_locked()
                return
            self._worker_settings = tree.to_dict(reveal_secrets=True)
            config_path = self._own_folder() / "worker.yaml"
            _write_private(config_path, yaml.safe_dump(self._worker_settings, sort_keys=False))
            spec = WorkerSpec(config=config_path, token_file=self._own_folder() / "token",
                              data_dir=self._own_folder() / "worker", port=int(flat.get("worker_port") or 0))
            old_spec, self._spec = self._spec, spec
            if self._supervisor is None:
                self._start_worker_locked(spec)
            elif old_spec != spec:
                self._supervisor.restart(spec)
            elif self._link is not None:
                self._link.send({"type": "configure", "settings": self._worker_settings})

    def _core_settings(self, flat: dict[str, Any]) -> Settings:
        core = plugin_settings.core_mapping(flat)
        core["camera"] = self._camera.url
        if self._camera.source.startswith("webcam:"):
            core.update(camera_flip_horizontal=self._camera.flip_horizontal,
                        camera_flip_vertical=self._camera.flip_vertical,
                        camera_rotate=self._camera.rotate)
        return Settings.from_mapping(core)

    def _choose_camera(self, flat: dict[str, Any]) -> CameraChoice:
        webcams: list[dict[str, Any]] = []
        if not str(flat.get("camera") or "").strip():
            try:
                from octoprint.webcams import get_webcams_as_dicts

                webcams = get_webcams_as_dicts()
            except Exception:  # noqa: BLE001 - a broken webcam plugin must not stop ours
                self._logger.exception("could not read OctoPrint's webcams")
        choice = choose_camera(str(flat.get("camera") or ""), webcams,
                               wanted_name=str(flat.get("webcam_name") or ""),
                               default_name=str(self._settings.global_get(["webcam", "defaultWebcam"]) or ""))
        if choice.problem:
            self._logger.warning("pinozcam: %s", choice.problem)
        return choice

    def _start_worker_locked(self, spec: WorkerSpec) -> None:
        spec.data_dir.mkdir(parents=True, exist_ok=True)
        self._supervisor = WorkerSupervisor(spec)
        self._supervisor.start()
        self._link = WorkerLink(lambda: self._supervisor.address if self._supervisor else None, self._token,
                                on_connect=self._on_link_connect, on_message=self._on_worker_message,
                                client_name="octoprint", on_hung=self._restart_hung_worker)
        self._link.start()
        self._logger.info("pinozcam worker starting (camera from %s)", self._camera.source)

    def _restart_hung_worker(self) -> None:
        """The worker lives but has stopped answering: only a restart brings the checks back."""
        supervisor = self._supervisor
        if supervisor is not None:
            supervisor.restart()

    def _stop_worker(self) -> None:
        with self._lifecycle:
            self._stop_worker_locked()

    def _stop_worker_locked(self) -> None:
        link, supervisor = self._link, self._supervisor
        self._link = self._supervisor = None
        self._spec = None
        if link is not None:
            link.stop()
        if supervisor is not None:
            supervisor.stop()

    # -- print events -----------------------------------------------------------------------
    def on_event(self, event: str, payload: dict[str, Any] | None) -> None:
        with self._tracker_lock:
            message = self._tracker.on_event(event, payload)
        if message is not None and self._link is not None:
            self._link.send(message)
        if event == "SettingsUpdated" and not str(self._settings.get(["camera"]) or "").strip():
            # The webcam may have changed in OctoPrint's own settings, which then calls no save
            # hook of ours: its URL, or only its flip or rotation.
            if self._choose_camera(self._flat_settings()) != self._camera:
                self._apply_settings()

    def on_print_progress(self, storage: str, path: str, progress: int) -> None:
        with self._tracker_lock:
            message = self._tracker.on_progress(path, progress)
        if message is not None and self._link is not None:
            self._link.send(message)

    def _on_link_connect(self) -> list[dict[str, Any]]:
        job = (self._printer.get_current_job() or {}).get("file") or {}
        progress = (self._printer.get_current_data() or {}).get("progress") or {}
        with self._tracker_lock:
            state = self._tracker.current(printing=self._printer.is_printing(),
                                          paused=self._printer.is_paused() or self._printer.is_pausing(),
                                          file=str(job.get("path") or ""), elapsed=progress.get("printTime"))
            again = self._tracker.after_connect()
        # The settings file may be newer than the worker (saved while it was unreachable).
        configure = {"type": "configure", "settings": self._worker_settings}
        return [configure, state, *again, {"type": "status"}, {"type": "list_incidents", "limit": 20}]

    # -- worker messages and actions ------------------------------------------------------------
    def _on_worker_message(self, message: dict[str, Any]) -> None:
        self._view.update(message)
        kind = message.get("type")
        if kind == "status" and message.get("muted") is True:
            with self._tracker_lock:  # e.g. Telegram's Mute, which the worker handles alone
                self._tracker.note_muted(True)
        if kind == "action_request":
            self._on_action_request(message)
        elif kind == "configured" and message.get("restart_needed") and self._supervisor is not None:
            self._logger.info("pinozcam worker restarting: %s changed", ", ".join(message["restart_needed"]))
            self._supervisor.restart()
        elif kind == "feedback_saved" and self._link is not None:
            # The incident list shows the label: ask for it again now it changed.
            self._link.send({"type": "list_incidents", "limit": 20})
        elif kind == "error":
            self._logger.warning("pinozcam worker: %s", message.get("message"))

    def _on_action_request(self, message: dict[str, Any]) -> None:
        incident_id = str(message.get("incident_id") or "")
        action = str(message.get("action") or "")
        request_id = str(message.get("request_id") or "")
        printer = self._printer
        with self._gate_lock:
            flags = PrinterFlags(printing=printer.is_printing(),
                                 paused=printer.is_paused() or printer.is_pausing(),
                                 cancelling=printer.is_cancelling())
            decision = self._gate.decide(incident_id, action, flags, request_id)
            acted = False
            result, reason = decision.result, decision.reason
            if decision.act:
                call = {"pause": printer.pause_print, "resume": printer.resume_print,
                        "cancel": printer.cancel_print}[action]
                try:
                    call(tags={"source:plugin", "plugin:pinozcam"})
                    acted, result, reason = True, "done", ""
                except Exception as exc:  # noqa: BLE001 - the worker must hear that it failed
                    result, reason = "failed", f"octoprint refused: {exc}"[:300]
            self._gate.record(incident_id, action, result, reason, acted=acted, request_id=request_id)
        if acted:
            self._logger.info("%s the print for incident %s (requested by %s)",
                              {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action],
                              incident_id, message.get("source") or "the worker")
        else:
            self._logger.info("did not %s for incident %s: %s", action, incident_id, reason or result)
        if self._link is not None:
            answer = {"type": "action_result", "incident_id": incident_id, "action": action,
                      "result": result, "reason": reason}
            if request_id:
                answer["request_id"] = request_id  # the worker matches the answer to its request
            self._link.send(answer)
            # The incident list shows the action's state: ask for it again now it changed.
            self._link.send({"type": "list_incidents", "limit": 20})

    # -- status and commands --------------------------------------------------------------------
    def is_api_protected(self) -> bool:
        return True

    def get_api_commands(self) -> dict[str, list[str]]:
        return {"detect_now": [], "mute": [], "feedback": ["incident_id", "label"], "restart_worker": []}

    def on_api_get(self, request: Any) -> Any:
        if self._link is not None:
            # The tab polls this: the next read shows the history as of now.
            self._link.send({"type": "history"})
        return flask.jsonify(self.status())

    def on_api_command(self, command: str, data: dict[str, Any]) -> Any:
        needed = _COMMAND_PERMISSIONS.get(command, "ADMIN")
        if not getattr(Permissions, needed).can():
            return flask.make_response(flask.jsonify(
                error=f"{command} needs OctoPrint's {needed} permission, which this user does not have"), 403)
        if command == "restart_worker":
            if self._supervisor is None:
                return flask.make_response(flask.jsonify(error="the worker is not running"), 409)
            self._supervisor.restart()
            return flask.jsonify(ok=True)
        if command == "detect_now":
            message: dict[str, Any] = {"type": "detect_now"}
        elif command == "mute":
            message = {"type": "mute", "muted": bool(data.get("muted", True))}
            with self._tracker_lock:
                if message["muted"] and not self._tracker.running:
                    return flask.make_response(flask.jsonify(
                        error="no print is running: nothing to mute (a mute belongs to one print)"), 409)
                self._tracker.note_muted(message["muted"])
        else:
            message = {"type": "feedback", "incident_id": str(data.get("incident_id")),
                       "label": str(data.get("label"))}
        if self._link is None or not self._link.send(message):
            return flask.make_response(flask.jsonify(error="the worker is not connected"), 409)
        return flask.jsonify(ok=True)

    def status(self) -> dict[str, Any]:
        """What ``GET /api/plugin/pinozcam`` answers."""
        with self._gate_lock:
            actions = self._gate.history()
        return {
            "worker": self._supervisor.status() if self._supervisor else {"running": False},
            "connected": bool(self._link and self._link.connected),
            "camera": self._camera.to_dict(),
            "actions": actions,
            "settings_problems": [p.to_dict() for p in self._settings_problems],
            **self._view.to_dict(),
        }

    @octoprint.plugin.BlueprintPlugin.route("/snapshot.jpg", methods=["GET"])
    def snapshot(self) -> Any:
        import httpx

        address = self._supervisor.address if self._supervisor else None
        if address is None:
            return flask.make_response("the pinozcam worker is not running\n", 503)
        try:
            raw = "?raw=1" if flask.request.args.get("raw", "0") not in ("0", "false", "") else ""
            reply = httpx.get(f"http://{address}/snapshot.jpg{raw}", timeout=_SNAPSHOT_TIMEOUT,
                              headers={"Authorization": f"Bearer {self._token}"})
        except httpx.HTTPError as exc:
            return flask.make_response(f"the pinozcam worker did not answer: {type(exc).__name__}\n", 503)
        if reply.status_code != 200:
            return flask.make_response(reply.text, reply.status_code)
        response = flask.make_response(reply.content)
        response.headers["Content-Type"] = "image/jpeg"
        response.headers["Cache-Control"] = "no-store"
        return response

    def is_blueprint_csrf_protected(self) -> bool:
        return True

    # -- user interface -----------------------------------------------------------------------------
    def get_template_configs(self) -> list[dict[str, Any]]:
        return [{"type": "tab", "name": "PiNozCam", "custom_bindings": True}]

    def is_template_autoescaped(self) -> bool:
        return True

    def get_assets(self) -> dict[str, list[str]]:
        return {"js": ["js/pinozcam_panel.js", "js/pinozcam.js"], "css": ["css/pinozcam.css"]}


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (it holds secrets), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
