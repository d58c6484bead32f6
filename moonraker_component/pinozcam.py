# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""The ``[pinozcam]`` Moonraker component.

It runs the detector in a separate process (``python -m
pinozcam_klipper.worker.main`` from ``worker_python``), talks to it over a
loopback websocket with a fresh token per start, and carries out what the
worker asks (pause, cancel, resume) on Klipper, only while a print runs and at
most once per incident. Nothing heavy is imported here: only the standard
library and tornado enter Moonraker's process.

Endpoints (all under ``/server/pinozcam``): ``status``, ``settings`` (GET,
POST), ``snapshot`` (``?raw=1``: the camera's frame without drawing),
``history``, ``incidents``, ``incident_picture``, ``feedback``, ``detect_now``,
``test_notification``, ``panel`` (+ the panel's files).
Websocket notifications: ``notify_pinozcam_status``,
``notify_pinozcam_detection``, ``notify_pinozcam_incident``. Remote methods
for macros: ``pinozcam_enable``, ``pinozcam_disable``, ``pinozcam_mute``,
``pinozcam_status``, ``pinozcam_false_alarm``. See docs/moonraker.md.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
import logging
import mimetypes
import os
import re
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import tornado.httpclient
import tornado.websocket

if TYPE_CHECKING:
    from ..confighelper import ConfigHelper
    from ..common import WebRequest

logger = logging.getLogger(__name__)

PROTOCOL = "1"
#: Options the component reads itself; every other option of [pinozcam] goes to the worker.
OWN_OPTIONS = ("enabled", "camera", "worker_python", "pause_macro", "cancel_macro", "prompt")
#: Worker options whose values are never sent back to a client.
SECRET_OPTIONS = ("discord_webhook_url", "telegram_bot_token")
REDACTED = "<redacted>"
PRINT_STATES = ("printing", "paused", "standby", "complete", "cancelled", "error")
RUNNING_STATES = ("printing", "paused")
#: What the component watches in Klipper (copied, never shared with Moonraker's cache).
SUBSCRIPTION: dict[str, Optional[list[str]]] = {
    "print_stats": ["state", "filename", "info", "total_duration"],
    # Set by PINOZCAM_PAUSE to Klipper's configured idle timeout once it has raised it.
    "gcode_macro PINOZCAM_PAUSE": ["restore_idle_timeout"],
    "virtual_sdcard": ["progress", "is_active"],
    "pause_resume": ["is_paused"],
    "webhooks": ["state", "state_message"],
    "exclude_object": ["objects", "excluded_objects", "current_object"],
}
_MACRO = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*( +[A-Za-z_][A-Za-z0-9_]*=[^\s;\"]+)*$")
_INCIDENT_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$")
_FRAME_NAME = re.compile(r"^(annotated|onset|before-[0-9]{1,2}|after-[0-9]{1,2})$")
_OPTION_IN_ERROR = re.compile(r"option '([^']+)'")
_START_TIMEOUT = 90.0       # model load on a Pi Zero 2 can take a while
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 30.0
_STABLE_AFTER = 30.0        # a worker up this long resets the restart backoff
_REPLY_TIMEOUT = 20.0
_LOG_MAX_BYTES = 5 * 1024 * 1024


class WorkerStartError(Exception):
    """The worker exited before listening; ``option`` names a rejected option, if any."""

    def __init__(self, message: str, option: Optional[str] = None) -> None:
        super().__init__(message)
        self.option = option


@dataclass
class OwnOptions:
    """The component's own options (defaults here and nowhere else)."""

    enabled: bool = True
    camera: str = ""
    worker_python: str = ""
    pause_macro: str = "PINOZCAM_PAUSE"
    cancel_macro: str = "CANCEL_PRINT"
    prompt: bool = True


def default_worker_python(home: Path) -> str:
    """``~/pinozcam-env/bin/python`` (what install.sh creates) if present, else Moonraker's python."""
    candidate = home / "pinozcam-env" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def parse_own_option(name: str, value: Any) -> Any:
    """Convert and check one own option; ValueError says what is accepted."""
    if name in ("enabled", "prompt"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "on", "1"):
            return True
        if text in ("false", "no", "off", "0"):
            return False
        raise ValueError("true or false")
    text = str(value).strip()
    if name in ("pause_macro", "cancel_macro"):
        if not _MACRO.match(text) or len(text) > 200:
            raise ValueError("a macro name with optional KEY=VALUE parameters, e.g. PINOZCAM_PAUSE")
        return text
    if name == "worker_python" and text and not Path(text).expanduser().is_file():
        raise ValueError("the path of a python executable that exists")
    return str(Path(text).expanduser()) if name == "worker_python" and text else text


def redact_url(url: str) -> str:
    """A URL with any ``user:password@`` removed (camera URLs may carry credentials)."""
    return re.sub(r"^(\w+://)[^/@]*@", r"\1", url)


def http_safe(text: str) -> str:
    """An error message tornado accepts as an HTTP reason phrase (no "<", ASCII, one line)."""
    text = text.replace("<redacted>", "[redacted]").replace("<=", "at most").replace(">=", "at least")
    text = text.replace("<", "below").replace("\r", " ").replace("\n", " ")
    return text.encode("ascii", "replace").decode("ascii")[:400]


def _gcode_text(text: str) -> str:
    """Text safe inside ``RESPOND MSG="..."``: no quotes, comments or line breaks."""
    return re.sub(r"[\"';\r\n]", " ", text)[:200]


class WorkerProcess:
    """The worker as a child process: start it, learn its address, keep its log, stop it."""

    def __init__(self, python: str, data_dir: Path, log_path: Path) -> None:
        self.python = python
        self.data_dir = data_dir
        self.log_path = log_path
        self.token = ""
        self.address = ""
        self.proc: Optional[asyncio.subprocess.Process] = None
        self._tail: collections.deque[str] = collections.deque(maxlen=20)
        self._pumps: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    def _write_private(self, path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # an older file may have looser bits
            handle.write(text)

    async def start(self, settings: dict[str, Any]) -> str:
        """Start the worker with ``settings``; return its ``host:port`` once it listens.

        Raises WorkerStartError (naming the option when the worker rejected one).
        """
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_urlsafe(32)
        token_file = self.data_dir / "worker.token"
        config_file = self.data_dir / "worker-config.json"
        self._write_private(token_file, self.token + "\n")
        # JSON is YAML: the worker reads it with --config. It may hold secrets: 0600.
        self._write_private(config_file, json.dumps(settings, indent=1))
        self._rotate_log()
        self._tail.clear()
        command = [self.python, "-m", "pinozcam_klipper.worker.main", "--listen", "127.0.0.1:0",
                   "--token-file", str(token_file), "--config", str(config_file),
                   "--data-dir", str(self.data_dir)]
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=str(self.data_dir), preexec_fn=_die_with_parent)
        except OSError as exc:
            raise WorkerStartError(f"cannot run {self.python}: {exc.strerror or exc}") from None
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [asyncio.ensure_future(self._pump(self.proc.stderr))]
        try:
            line = await asyncio.wait_for(self._first_line(self.proc.stdout), _START_TIMEOUT)
        except asyncio.TimeoutError:
            await self.stop()
            raise WorkerStartError(f"the worker did not start within {_START_TIMEOUT:.0f} s") from None
        if line is None:
            await self.proc.wait()
            await asyncio.gather(*self._pumps, return_exceptions=True)
            last = self._tail[-1] if self._tail else f"exit status {self.proc.returncode}"
            missing = re.search(r"No module named '([^']+)'", " ".join(self._tail))
            if missing:
                what = ("the pinozcam_klipper package" if missing.group(1).startswith("pinozcam_klipper")
                        else f"the {missing.group(1)} module pinozcam_klipper needs")
                last = f"{self.python} lacks {what}: run install.sh or set worker_python"
            match = _OPTION_IN_ERROR.search(last)
            raise WorkerStartError(last.replace("pinozcam worker: error: ", ""),
                                   match.group(1) if match else None)
        self._pumps.append(asyncio.ensure_future(self._pump(self.proc.stdout)))
        self.address = line.rsplit(" ", 1)[1].strip()
        return self.address

    async def _first_line(self, stream: asyncio.StreamReader) -> Optional[str]:
        while True:
            raw = await stream.readline()
            if not raw:
                return None
            text = raw.decode("utf-8", "replace").rstrip()
            self._log(text)
            if text.startswith("pinozcam worker listening on "):
                return text

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        while True:
            raw = await stream.readline()
            if not raw:
                return
            self._log(raw.decode("utf-8", "replace").rstrip())

    def _log(self, text: str) -> None:
        self._tail.append(text)
        try:
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as exc:
            logger.debug("cannot write the worker log %s: %s", self.log_path, exc)

    def _rotate_log(self) -> None:
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > _LOG_MAX_BYTES:
                os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))

    def last_lines(self) -> list[str]:
        return list(self._tail)

    async def wait(self) -> int:
        assert self.proc is not None
        code = await self.proc.wait()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        return code

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


async def run_notify_test(python: str, data_dir: Path, settings: dict[str, Any],
                          timeout: float = 60.0) -> tuple[list[dict[str, Any]], str]:
    """Run ``python -m pinozcam_klipper.cli notify-test``; (results per channel, problem or "")."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / f"notify-test-{secrets.token_hex(4)}.json"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the secrets
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(settings))
    try:
        proc = await asyncio.create_subprocess_exec(
            python, "-m", "pinozcam_klipper.cli", "notify-test", "--config", str(config),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=str(data_dir))
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            return [], f"no answer from Discord / Telegram within {timeout:.0f} s"
    except OSError as exc:
        return [], f"cannot run {python}: {exc.strerror or exc}"
    finally:
        with contextlib.suppress(OSError):
            config.unlink()
    results = []
    for line in out.decode("utf-8", "replace").splitlines():
        channel, _, detail = line.partition(": ")
        if channel and detail:
            results.append({"channel": channel, "ok": detail == "sent", "detail": detail})
    if proc.returncode not in (0, 1) or not results:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        return results, (lines[-1] if lines else f"notify-test exited {proc.returncode}").replace(
            "pinozcam: error: ", "")
    return results, ""


def _die_with_parent() -> None:
    """In the child: get SIGTERM when Moonraker dies, so no orphan worker is left (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker outlives a crashed Moonraker


@dataclass
class _Pending:
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

    def fail_all(self, why: str) -> None:
        for queue in self.queues.values():
            while queue:
                future = queue.popleft()
                if future is not None and not future.done():
                    future.set_exception(RuntimeError(why))


class Pinozcam:
    def __init__(self, config: ConfigHelper) -> None:
        self.server = config.get_server()
        app_args = self.server.get_app_args()
        self.data_dir = Path(app_args["data_path"]) / "pinozcam"
        log_file = app_args.get("log_file") or ""
        log_dir = Path(log_file).parent if log_file else self.data_dir
        self.worker_log = log_dir / "pinozcam-worker.log"
        self.panel_dir = Path(__file__).resolve().parent.parent / "mainsail_panel"
        self._warnings: dict[str, str] = {}
        self.file_options, self.own = self._read_config(config)
        self.locked = set(self.file_options) | {k for k in OWN_OPTIONS if config.has_option(k)}
        self.ui_options: dict[str, Any] = {}
        self.enabled = self.own.enabled
        # PINOZCAM_DISABLE during a print: off until that print ends (then back to ``enabled``).
        self.off_for_this_print = False
        self.camera_url = ""
        self.process: Optional[WorkerProcess] = None
        self.ws: Optional[tornado.websocket.WebSocketClientConnection] = None
        self.pending = _Pending()
        self.worker_state = "stopped"
        self.worker_problem: Optional[str] = None
        self.restarts = 0
        self.worker_status: dict[str, Any] = {}
        self.model: Optional[dict[str, Any]] = None
        self.settings_tree: dict[str, Any] = {}
        self.restart_needed: list[str] = []
        self.open_incident: Optional[dict[str, Any]] = None
        self.last_action: Optional[dict[str, Any]] = None
        self.printer: dict[str, dict[str, Any]] = {}
        self.klippy_ready = False
        self._last_print_state: dict[str, Any] = {}
        # Requests already carried out, by request_id (or (incident, action) from older workers).
        self._acted: collections.OrderedDict[tuple[str, ...], tuple[str, str]] = collections.OrderedDict()
        self._acting: set[tuple[str, ...]] = set()
        self._restoring_idle_timeout = False
        self._closing = False
        self._wake = asyncio.Event()
        self._supervisor: Optional[asyncio.Task[None]] = None
        self._restart_requested = False
        self._register()

    def _fail(self, message: str, code: int = 400) -> Exception:
        """The error to raise from an endpoint (its text becomes the HTTP reason phrase)."""
        return self.server.error(http_safe(message), code)

    # -- configuration ------------------------------------------------------------------
    def _warn(self, key: str, text: str) -> None:
        self._warnings[key] = text
        self.server.add_warning(f"[pinozcam]: {text}", warn_id=f"pinozcam_{key}")

    def _clear_warning(self, key: str) -> None:
        if self._warnings.pop(key, None) is not None:
            self.server.remove_warning(f"pinozcam_{key}")

    def _read_config(self, config: ConfigHelper) -> tuple[dict[str, Any], OwnOptions]:
        """Own options (bad ones: warning + default) and the worker's options as text."""
        own = OwnOptions(worker_python=default_worker_python(Path.home()))
        worker: dict[str, Any] = {}
        for name in config.get_options():
            raw = config.get(name)
            if "{" in raw:
                # Moonraker templates: "{secrets.pinozcam.telegram_bot_token}".
                try:
                    raw = config.gettemplate(name).render()
                except (config.error, self.server.error) as exc:
                    # A bad template (or a missing secret) drops this option, nothing else.
                    self._warn(name, f"option '{name}' could not be rendered ({type(exc).__name__}); "
                                     "it is ignored")
                    continue
            if name in OWN_OPTIONS:
                try:
                    setattr(own, name, parse_own_option(name, raw))
                except ValueError as exc:
                    default = getattr(own, name)
                    self._warn(name, f"option '{name}': {raw!r} is not valid; expected {exc}. "
                                     f"Using the default ({default!r}).")
                continue
            worker[name] = raw
        return worker, own

    def _worker_settings(self) -> dict[str, Any]:
        """What the worker gets: UI-saved values under moonraker.conf's, camera resolved.

        This is the complete set: the worker takes its own defaults for every option left out.
        """
        merged = {k: v for k, v in self.ui_options.items() if k not in OWN_OPTIONS}
        merged.update(self.file_options)
        merged["camera"] = self.camera_url
        return merged

    def _configure_message(self) -> dict[str, Any]:
        """``configure`` with ``replace``: an option removed from the saved values (reset to its
        default from the UI) must go back to the default in the worker too, not keep the value
        an earlier ``configure`` gave it, as a merge would."""
        return {"type": "configure", "settings": self._worker_settings(), "replace": True}

    def _own_value(self, name: str) -> Any:
        if name in self.locked or name not in self.ui_options:
            return getattr(self.own, name)
        return self.ui_options[name]

    async def _resolve_camera(self, value: str) -> str:
        """A Moonraker [webcam] name (or empty: the first webcam) to its URL; URLs pass as-is."""
        webcams: dict[str, Any] = {}
        manager = self.server.lookup_component("webcam", None)
        if manager is not None:
            webcams = manager.get_webcams()
        if value in webcams or not value:
            candidates = [webcams[value]] if value else [
                cam for cam in webcams.values()
                if cam.enabled and "/server/pinozcam" not in (cam.snapshot_url + cam.stream_url)]
            if not candidates:
                raise ValueError("no camera: set 'camera' to a [webcam] name or a URL")
            cam = candidates[0]
            if cam.snapshot_url:
                return await cam.get_snapshot_url()
            return await cam.get_stream_url()
        if value.startswith("/") and not os.path.exists(value) and not value.startswith("/dev/"):
            return "http://127.0.0.1" + value  # a URL relative to this machine's web server
        if re.match(r"^\w+://", value) or value.startswith("/") or value.isdigit():
            return value
        known = ", ".join(sorted(webcams)) or "none configured"
        raise ValueError(f"no [webcam] named {value!r} (known: {known}) and not a URL")

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

    def _register_panel(self) -> None:
        """The panel page and its files: no login needed, they hold no data (the API does)."""
        self.server.register_endpoint("/server/pinozcam/panel", ["GET"], self._ep_panel,
                                      transports=["http"], wrap_result=False,
                                      content_type="text/html; charset=utf-8", auth_required=False)
        if not self.panel_dir.is_dir():
            return
        count = 0
        for path in sorted(self.panel_dir.rglob("*")):
            relative = path.relative_to(self.panel_dir).as_posix()
            if not path.is_file() or relative == "index.html" or relative.startswith(".") or count >= 200:
                continue
            if not re.match(r"^[A-Za-z0-9_./-]+$", relative):
                continue
            count += 1
            kind = mimetypes.guess_type(relative)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
                kind += "; charset=utf-8"

            async def serve(web_request: WebRequest, file: Path = path) -> bytes:
                return await asyncio.to_thread(file.read_bytes)

            self.server.register_endpoint(f"/server/pinozcam/panel/{relative}", ["GET"], serve,
                                          transports=["http"], wrap_result=False, content_type=kind,
                                          auth_required=False)

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

    # -- the worker: start, supervise, talk -------------------------------------------------
    async def _supervise(self) -> None:
        backoff = _BACKOFF_FIRST
        while not self._closing:
            try:
                self.camera_url = await self._resolve_camera(str(self._own_value("camera")))
            except ValueError as exc:
                self._set_worker("stopped", f"camera: {exc}")
                self._warn("camera", f"option 'camera': {exc}")
                await self._sleep_or_wake(None)  # until the webcams or the settings change
                continue
            self._clear_warning("camera")
            self.process = WorkerProcess(str(self._own_value("worker_python")), self.data_dir,
                                         self.worker_log)
            self._set_worker("starting", None)
            started = time.monotonic()
            try:
                address = await self.process.start(self._worker_settings())
            except WorkerStartError as exc:
                if exc.option and self._drop_bad_option(exc.option, str(exc)):
                    continue  # retry at once with the default for that option
                self._set_worker("error", str(exc))
                self._warn("worker", f"the detector worker did not start: {exc} "
                                     f"(log: {self.worker_log})")
                await self._sleep_or_wake(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            self._clear_warning("worker")
            self._set_worker("running", None)
            await self._connect_while_alive(address)
            code = await self.process.wait()
            if self._closing:
                return
            if self._restart_requested:
                self._restart_requested = False
                backoff = _BACKOFF_FIRST
                continue
            if time.monotonic() - started > _STABLE_AFTER:
                backoff = _BACKOFF_FIRST
            self.restarts += 1
            self._set_worker("restarting", f"the worker exited ({code}); restarting in {backoff:g} s")
            logger.warning("pinozcam worker exited with %s; restarting in %.1f s", code, backoff)
            await self._sleep_or_wake(backoff)
            backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _sleep_or_wake(self, seconds: Optional[float]) -> None:
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _drop_bad_option(self, option: str, message: str) -> bool:
        """Forget a rejected option (UI value first, then moonraker.conf); False if not ours."""
        if option in self.ui_options:
            del self.ui_options[option]
            asyncio.ensure_future(self.db.insert("settings", self._saveable_ui()))
            self._warn(option, f"saved setting rejected: {message}. Using the default.")
            return True
        if option in self.file_options:
            del self.file_options[option]
            self._warn(option, f"{message}. Using the default.")
            return True
        return False

    async def _connect_while_alive(self, address: str) -> None:
        """Connect (again and again) while the process lives; returns when it has exited."""
        assert self.process is not None
        proc_done = asyncio.ensure_future(self.process.wait())
        delay = 0.1
        try:
            while not proc_done.done() and not self._closing:
                request = tornado.httpclient.HTTPRequest(
                    f"ws://{address}/", headers={"Authorization": f"Bearer {self.process.token}"},
                    connect_timeout=5, request_timeout=10)
                try:
                    ws = await tornado.websocket.websocket_connect(request, max_message_size=4 << 20)
                except (OSError, tornado.httpclient.HTTPClientError, tornado.websocket.WebSocketError,
                        asyncio.TimeoutError) as exc:
                    logger.debug("pinozcam worker connect failed: %s", exc)
                    await asyncio.wait({proc_done}, timeout=delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.1
                await self._session(ws)
        finally:
            if not proc_done.done():
                proc_done.cancel()

    async def _session(self, ws: tornado.websocket.WebSocketClientConnection) -> None:
        self.ws = ws
        self.pending.add("configure", None)
        self._send({"type": "hello", "protocol": PROTOCOL, "client": "moonraker", "role": "adapter"})
        self._send(self._configure_message())
        self._send_print_state(force=True)
        self._set_worker("connected", None)
        logger.info("pinozcam worker connected")
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
            raise self._fail("the detector worker did not answer", 504) from None
        except RuntimeError as exc:
            raise self._fail(str(exc), 503) from None

    def _on_worker_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "status":
            self.worker_status = {k: v for k, v in message.items() if k != "type"}
            self.open_incident = self.worker_status.get("open_incident")
            self._notify_status()
            while self.pending.queues.get("status"):  # any fresh status answers every asker
                self._resolve("status", message)
        elif kind == "hello":
            self.model = message.get("model")
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
        reply = {"configure": "configure", "feedback": "feedback_saved",
                 "history": "history"}.get(str(request))
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

    def _notify_status(self) -> None:
        self.server.send_event("pinozcam:status", self.status())

    def _on_webcams_changed(self, *args: Any) -> None:
        if self.worker_state == "stopped":
            self._wake.set()  # the camera it waits for may exist now

    # -- printer state ------------------------------------------------------------------
    async def _on_klippy_ready(self) -> None:
        kapis = self.server.lookup_component("klippy_apis")
        try:
            result = await kapis.subscribe_objects(SUBSCRIPTION, self._on_printer_update)
        except self.server.error as exc:
            logger.warning("pinozcam: cannot subscribe to printer objects: %s", exc)
            return
        # Copy: the dicts handed out are Moonraker's own cache objects.
        self.printer = {name: copy.deepcopy(result.get(name) or {}) for name in SUBSCRIPTION}
        self.klippy_ready = True
        self._send_print_state(force=True)
        self._restore_idle_timeout_if_due()

    def _on_klippy_gone(self) -> None:
        self.klippy_ready = False
        self._print_ended()  # Klipper shut down or went away: whatever printed has ended
        self._send_print_state()

    def _on_printer_update(self, status: dict[str, Any], eventtime: float) -> None:
        changed = False
        for name, values in status.items():
            if name in SUBSCRIPTION and isinstance(values, dict):
                self.printer.setdefault(name, {}).update(copy.deepcopy(values))
                changed = True
        new_state = (status.get("print_stats") or {}).get("state")
        if new_state is not None and new_state not in RUNNING_STATES:
            # Only a reported change ends the print: a DISABLE from a print's start gcode can
            # come before the update that says the print started.
            self._print_ended()
        if changed:
            self._send_print_state()
        if new_state is not None or "gcode_macro PINOZCAM_PAUSE" in status:
            self._restore_idle_timeout_if_due()

    def _print_ended(self) -> None:
        if self.off_for_this_print:
            self.off_for_this_print = False
            logger.info("pinozcam: the print ended; detection is on again")
            self._notify_status()

    def _restore_idle_timeout_if_due(self) -> None:
        """PINOZCAM_PAUSE raised the idle timeout (so the heaters stay on while paused) and left
        Klipper's configured value in its ``restore_idle_timeout``: once the print is no longer
        paused (resumed, cancelled, ended), put that value back. Nothing if it did not raise it.

        Called on changes of the print state or of that variable only. The last update may be
        stale, so ``_PINOZCAM_RESTORE_IDLE_TIMEOUT`` checks both again inside Klipper, in line
        with other gcode (a PINOZCAM_PAUSE queued just before it is never undone)."""
        configured = self.printer.get("gcode_macro PINOZCAM_PAUSE", {}).get("restore_idle_timeout")
        if (not isinstance(configured, (int, float)) or isinstance(configured, bool) or configured <= 0
                or not self.klippy_ready or self.print_state() == "paused" or self._restoring_idle_timeout):
            return
        self._restoring_idle_timeout = True
        asyncio.ensure_future(self._restore_idle_timeout())

    async def _restore_idle_timeout(self) -> None:
        kapis = self.server.lookup_component("klippy_apis")
        try:
            await kapis.run_gcode("_PINOZCAM_RESTORE_IDLE_TIMEOUT")
        except self.server.error as exc:
            logger.warning("pinozcam: could not restore the idle timeout: %s", exc)
        finally:
            self._restoring_idle_timeout = False

    def print_state(self) -> str:
        """Klipper's print_stats.state as the component sees it ("error" if Klipper is gone mid-print)."""
        state = str(self.printer.get("print_stats", {}).get("state") or "standby")
        if state not in PRINT_STATES:
            state = "standby"
        if not self.klippy_ready and state in ("printing", "paused"):
            return "error"
        return state

    def _print_state_message(self) -> dict[str, Any]:
        stats = self.printer.get("print_stats", {})
        info = stats.get("info") or {}
        progress = self.printer.get("virtual_sdcard", {}).get("progress")
        objects = []
        for item in (self.printer.get("exclude_object", {}).get("objects") or [])[:500]:
            polygon = [[float(p[0]), float(p[1])] for p in (item.get("polygon") or [])[:200]
                       if isinstance(p, (list, tuple)) and len(p) == 2]
            objects.append({"name": str(item.get("name", ""))[:256], "polygon": polygon})

        def whole(value: Any) -> Optional[int]:
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None

        return {
            "type": "print_state",
            # Detection off: the worker is told nothing prints, so it does not check at all.
            "state": self.print_state() if self.watching() else "standby",
            "file": str(stats.get("filename") or "")[:1024],
            "progress": min(max(float(progress), 0.0), 1.0) if isinstance(progress, (int, float)) else None,
            "layer": whole(info.get("current_layer")),
            "total_layers": whole(info.get("total_layer")),
            "objects": objects,
        }

    def _send_print_state(self, force: bool = False) -> None:
        message = self._print_state_message()
        last = self._last_print_state
        same = {k: v for k, v in message.items() if k != "progress"} == \
            {k: v for k, v in last.items() if k != "progress"}
        small_step = abs((message["progress"] or 0.0) - (last.get("progress") or 0.0)) < 0.01
        if not force and same and small_step:
            return
        if self._send(message):
            self._last_print_state = message

    # -- actions ------------------------------------------------------------------------
    async def _on_action_request(self, message: dict[str, Any]) -> None:
        """Carry out each request once: a repeat (same ``request_id``, e.g. after a reconnect)
        only gets the first answer again. Each new request (a second Telegram Pause after a
        resume) has a new id and is acted on. Workers without request ids: once per
        (incident, action)."""
        incident_id = str(message.get("incident_id") or "")
        action = str(message.get("action") or "")
        request_id = message.get("request_id")
        key: tuple[str, ...] = ("request", str(request_id)) if request_id else (incident_id, action)
        if key in self._acting:
            return  # the first copy answers when it is done
        if key not in self._acted:
            self._acting.add(key)
            try:
                self._acted[key] = await self._carry_out(action)
            finally:
                self._acting.discard(key)
            while len(self._acted) > 100:
                self._acted.popitem(last=False)
            result, reason = self._acted[key]
            self.last_action = {"incident_id": incident_id, "action": action, "result": result,
                                "reason": reason, "time": time.time(), "request_id": request_id}
            log = logger.info if result == "done" else logger.warning
            log("pinozcam: %s for incident %s: %s %s", action, incident_id, result, reason)
            self._notify_status()
        result, reason = self._acted[key]
        answer = {"type": "action_result", "incident_id": incident_id, "result": result,
                  "action": action, "reason": reason}
        if request_id:
            answer["request_id"] = request_id
        self._send(answer)

    async def _carry_out(self, action: str) -> tuple[str, str]:
        """Do ``action`` on Klipper if the print allows it; ("done"|"failed", why)."""
        if not self.watching():
            return "failed", f"detection is disabled ({self._disabled_text()})"
        if action == "mute":
            self._send({"type": "mute", "muted": True})
            return "done", "muted until the print ends"
        allowed = {"pause": ("printing",), "cancel": ("printing", "paused"), "resume": ("paused",)}
        if action not in allowed:
            return "failed", f"unknown action {action!r}"
        kapis = self.server.lookup_component("klippy_apis")
        # Ask Klipper, not the last update: a request can race the end of the print (a Telegram
        # press as the print is cancelled), and gcode must never reach an idle printer.
        state = await self._fresh_print_state(kapis)
        if state not in allowed[action]:
            return "failed", f"the printer is {state}, not {' or '.join(allowed[action])}"
        macro = {"pause": str(self._own_value("pause_macro")),
                 "cancel": str(self._own_value("cancel_macro")), "resume": "RESUME"}[action]
        try:
            await kapis.run_gcode(macro)
        except self.server.error as exc:
            return "failed", f"{macro.split()[0]}: {exc}"
        if action == "pause":
            query = await kapis.query_objects({"print_stats": ["state"]}, None)
            now = ((query or {}).get("print_stats") or {}).get("state")
            if now != "paused":
                return "failed", f"{macro.split()[0]} ran but the printer is {now}"
            if self._own_value("prompt"):
                await self._raise_prompt(kapis)
        return "done", f"ran {macro.split()[0]}"

    async def _fresh_print_state(self, kapis: Any) -> str:
        """print_stats.state asked of Klipper now ("error" when Klipper cannot answer)."""
        if not self.klippy_ready:
            return self.print_state()
        try:
            query = await kapis.query_objects({"print_stats": ["state"]}, None)
        except self.server.error as exc:
            logger.debug("pinozcam: cannot query print_stats: %s", exc)
            return "error"
        state = str(((query or {}).get("print_stats") or {}).get("state") or "standby")
        return state if state in PRINT_STATES else "standby"

    async def _raise_prompt(self, kapis: Any) -> None:
        """A Mainsail/Fluidd dialog: Resume, Cancel, or False alarm (resume and mute)."""
        severity = (self.open_incident or {}).get("severity")
        detail = f" (severity {float(severity):.2f})" if isinstance(severity, (int, float)) else ""
        lines = [
            "action:prompt_begin PiNozCam paused the print",
            f"action:prompt_text A possible print failure was seen{detail}. Check the camera.",
            "action:prompt_footer_button Resume|_PINOZCAM_PROMPT_RESUME|primary",
            "action:prompt_footer_button Cancel|_PINOZCAM_PROMPT_CANCEL|error",
            "action:prompt_footer_button False alarm: resume and mute|PINOZCAM_FALSE_ALARM|warning",
            "action:prompt_show",
        ]
        script = "\n".join(f'RESPOND TYPE=command MSG="{_gcode_text(line)}"' for line in lines)
        try:
            await kapis.run_gcode(script)
        except self.server.error as exc:
            logger.warning("pinozcam: could not raise the pause dialog: %s", exc)

    async def _respond(self, text: str) -> None:
        kapis = self.server.lookup_component("klippy_apis")
        with contextlib.suppress(self.server.error):
            await kapis.run_gcode(f'RESPOND MSG="PiNozCam: {_gcode_text(text)}"')

    # -- remote methods (macros) ----------------------------------------------------------
    async def _rm_enable(self) -> None:
        self.enabled = True
        self.off_for_this_print = False
        self._send_print_state(force=True)
        self._notify_status()
        await self._respond("detection enabled")

    async def _rm_disable(self) -> None:
        """During a print: off until that print ends (a slicer's start gcode must not switch
        detection off for every later print). While idle: off until PINOZCAM_ENABLE."""
        kapis = self.server.lookup_component("klippy_apis")
        # Klipper's own answer: from a print's start gcode, the last update may still say standby.
        if await self._fresh_print_state(kapis) in RUNNING_STATES:
            self.off_for_this_print = True
        else:
            self.enabled = False
        self._send_print_state(force=True)
        self._notify_status()
        await self._respond(f"detection disabled {self._disabled_text()}")

    def watching(self) -> bool:
        """Whether detection is on now (the option and the macros together)."""
        return self.enabled and not self.off_for_this_print

    def disabled_until(self) -> Optional[str]:
        """None while watching; else "print_end" or "enable" (what turns detection back on)."""
        if self.watching():
            return None
        return "enable" if not self.enabled else "print_end"

    def _disabled_text(self) -> str:
        if self.disabled_until() == "print_end":
            return "until this print ends (or PINOZCAM_ENABLE)"
        return "until PINOZCAM_ENABLE"

    async def _rm_mute(self) -> None:
        if self._send({"type": "mute", "muted": True}):
            await self._respond("alerts and actions muted until this print ends")
        else:
            await self._respond(f"cannot mute: the worker is not connected ({self._problem_text()})")

    async def _rm_status(self) -> None:
        await self._respond(self.status_line())

    async def _rm_false_alarm(self) -> None:
        incident = (self.open_incident or {}).get("id")
        if incident:
            self._send({"type": "feedback", "label": "false_alarm", "incident_id": incident})
        self._send({"type": "mute", "muted": True})
        await self._respond("marked as a false alarm; muted until this print ends")

    def status_line(self) -> str:
        if not self.watching():
            return f"detection disabled {self._disabled_text()}"
        if self.worker_state != "connected":
            return f"worker {self.worker_state}: {self._problem_text()}"
        status = self.worker_status
        camera = (status.get("camera") or {}).get("state", "unknown")
        muted = ", muted" if status.get("muted") else ""
        return (f"watching ({status.get('engine_state', '?')}{muted}), camera {camera}, severity "
                f"{float(status.get('severity') or 0):.2f}, {float(status.get('checks_per_minute') or 0):.0f} "
                f"checks/min")

    # -- endpoints ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The status endpoint's body (also sent as ``notify_pinozcam_status``)."""
        return {
            "enabled": self.watching(),
            "disabled_until": self.disabled_until(),
            "print_state": self.print_state(),
            "klippy_ready": self.klippy_ready,
            "camera_url": redact_url(self.camera_url),
            "worker": {"state": self.worker_state, "connected": self.ws is not None,
                       "pid": self.process.pid if self.process else None, "restarts": self.restarts,
                       "problem": self.worker_problem, "log": str(self.worker_log)},
            "detector": self.worker_status or None,
            "model": self.model,
            "open_incident": self.open_incident,
            "last_action": self.last_action,
            "warnings": sorted(self._warnings.values()),
            "restart_needed": self.restart_needed,
        }

    async def _ep_status(self, web_request: WebRequest) -> dict[str, Any]:
        """``?refresh=true`` asks the worker for its status first (else: its last report)."""
        if web_request.get_boolean("refresh", False) and self.ws is not None:
            await self._request({"type": "status"}, "status")
        return self.status()

    def _saveable_ui(self) -> dict[str, Any]:
        return dict(self.ui_options)

    def _effective_settings(self) -> dict[str, Any]:
        flat: dict[str, Any] = {}
        for section in self.settings_tree.values():
            if isinstance(section, dict):
                flat.update(section)
        flat.update({name: self._own_value(name) for name in OWN_OPTIONS})
        flat["camera"] = self._own_value("camera")
        flat["camera_url"] = redact_url(self.camera_url)
        for name in SECRET_OPTIONS:
            if flat.get(name):
                flat[name] = REDACTED
        return flat

    async def _ep_settings(self, web_request: WebRequest) -> dict[str, Any]:
        if web_request.get_request_type().name == "POST":
            changes = web_request.get("settings", None)
            if changes is None:
                changes = {k: v for k, v in web_request.get_args().items() if k != "settings"}
            if not isinstance(changes, dict):
                raise self._fail("'settings' must be an object of option: value", 400)
            await self._apply_settings(changes)
        saved = {k: (REDACTED if k in SECRET_OPTIONS and v else v) for k, v in self.ui_options.items()}
        return {"settings": self._effective_settings(), "locked": sorted(self.locked),
                "saved": saved, "restart_needed": self.restart_needed}

    async def _apply_settings(self, changes: dict[str, Any]) -> None:
        """Validate ``changes`` (own options here, the rest by the worker), then save them."""
        if "worker_python" in changes:
            # Choosing the program Moonraker runs is for whoever edits moonraker.conf only.
            raise self._fail("option 'worker_python' can only be set in moonraker.conf", 400)
        locked = sorted(k for k in changes if k in self.locked)
        if locked:
            raise self._fail(f"option '{locked[0]}' is set in moonraker.conf, which wins over the "
                             "UI; change it there", 400)
        new_ui = dict(self.ui_options)
        for name, value in changes.items():
            if value is None or value == "":
                new_ui.pop(name, None)  # back to the default
            elif name in SECRET_OPTIONS and value == REDACTED:
                continue  # the UI echoed the redacted value back: keep what is saved
            elif name in OWN_OPTIONS:
                try:
                    new_ui[name] = parse_own_option(name, value)
                except ValueError as exc:
                    raise self._fail(f"option '{name}': {value!r} is not valid; expected {exc}", 400) from None
            else:
                new_ui[name] = value
        camera_url = self.camera_url
        if "camera" in changes:
            try:
                camera_url = await self._resolve_camera(str(new_ui.get("camera", self.own.camera)))
            except ValueError as exc:
                raise self._fail(f"option 'camera': {exc}", 400) from None
        old_ui, old_camera = self.ui_options, self.camera_url
        self.ui_options, self.camera_url = new_ui, camera_url
        if self.ws is None:
            # Nothing to check them with: save them; the worker checks them when it starts
            # (a rejected one is dropped with a warning). This is how a camera gets fixed.
            await self.db.insert("settings", self._saveable_ui())
            self._set_enabled_option()
            self._wake.set()
            self._notify_status()
            return
        try:
            reply = await self._request(self._configure_message(), "configure")
        except Exception:
            self.ui_options, self.camera_url = old_ui, old_camera
            raise
        if reply.get("type") == "error":
            self.ui_options, self.camera_url = old_ui, old_camera
            raise self._fail(str(reply.get("message")), 400)
        await self.db.insert("settings", self._saveable_ui())
        if "enabled" in changes:
            self._set_enabled_option()
            self._send_print_state(force=True)
        if self.restart_needed and self.process is not None:
            self._restart_requested = True
            await self.process.stop()
        self._notify_status()

    def _set_enabled_option(self) -> None:
        """The ``enabled`` option was saved: it wins over the macros' switches."""
        self.enabled = self._own_value("enabled")
        if self.enabled:
            self.off_for_this_print = False

    async def _ep_snapshot(self, web_request: WebRequest) -> bytes:
        if self.ws is None or self.process is None:
            raise self._fail(f"the detector worker is not connected ({self._problem_text()})", 503)
        # raw=1: the camera's frame as it came, for viewers that draw the boxes themselves.
        raw = str(web_request.get("raw", "")).strip().lower() in ("1", "true", "yes", "on")
        query = "?raw=1" if raw else ""
        request = tornado.httpclient.HTTPRequest(
            f"http://{self.process.address}/snapshot.jpg{query}",
            headers={"Authorization": f"Bearer {self.process.token}"}, request_timeout=15)
        try:
            response = await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, tornado.httpclient.HTTPClientError) as exc:
            # raise_error=False covers answers only: a refused connection, a connection the
            # worker closed (it was killed or restarts) or a timeout still raise.
            logger.debug("pinozcam snapshot from the worker failed: %s", exc)
            raise self._fail("the detector worker is not reachable (restarting?)", 503) from None
        if response.code != 200:
            raise self._fail(f"no picture from the worker ({response.code})", 503)
        return response.body

    async def _ep_incidents(self, web_request: WebRequest) -> dict[str, Any]:
        limit = web_request.get_int("limit", 50)
        reply = await self._request({"type": "list_incidents", "limit": max(1, min(limit, 1000))},
                                    "incidents")
        return {"incidents": reply.get("incidents", [])}

    async def _ep_history(self, web_request: WebRequest) -> dict[str, Any]:
        """The worker's severity history of the current (or last) print, asked for now."""
        reply = await self._request({"type": "history"}, "history")
        if reply.get("type") == "error":
            raise self._fail(str(reply.get("message")), 503)
        return {k: v for k, v in reply.items() if k != "type"}

    def _incident_dir(self) -> Path:
        configured = self.file_options.get("incident_dir") or self.ui_options.get("incident_dir")
        return Path(str(configured)).expanduser() if configured else self.data_dir / "incidents"

    async def _ep_incident_picture(self, web_request: WebRequest) -> bytes:
        incident = web_request.get_str("id")
        frame = web_request.get_str("frame", "annotated")
        if not _INCIDENT_ID.match(incident) or not _FRAME_NAME.match(frame):
            raise self._fail("unknown incident or picture", 404)
        path = self._incident_dir() / incident / f"{frame}.jpg"
        try:
            return await asyncio.to_thread(path.read_bytes)
        except OSError:
            raise self._fail("unknown incident or picture", 404) from None

    async def _ep_feedback(self, web_request: WebRequest) -> dict[str, Any]:
        label = web_request.get_str("label")
        if label not in ("real_failure", "false_alarm"):
            raise self._fail("'label' must be real_failure or false_alarm", 400)
        message: dict[str, Any] = {"type": "feedback", "label": label}
        incident = web_request.get_str("incident_id", None)
        frame = web_request.get_int("frame_id", None)
        if incident:
            message["incident_id"] = incident
        if frame is not None:
            message["frame_id"] = frame
        reply = await self._request(message, "feedback_saved")
        if reply.get("type") == "error":
            raise self._fail(str(reply.get("message")), 400)
        return {k: v for k, v in reply.items() if k != "type"}

    async def _ep_detect_now(self, web_request: WebRequest) -> dict[str, Any]:
        if not self._send({"type": "detect_now"}):
            raise self._fail(f"the detector worker is not connected ({self._problem_text()})", 503)
        return {"requested": True}

    async def _ep_mute(self, web_request: WebRequest) -> dict[str, Any]:
        muted = web_request.get_boolean("muted", True)
        if not self._send({"type": "mute", "muted": muted}):
            raise self._fail(f"the detector worker is not connected ({self._problem_text()})", 503)
        return {"muted": muted}

    async def _ep_test_notification(self, web_request: WebRequest) -> dict[str, Any]:
        """Send a test message through ``pinozcam notify-test`` with the current settings."""
        results, problem = await run_notify_test(str(self._own_value("worker_python")), self.data_dir,
                                                 self._worker_settings())
        if problem:
            raise self._fail(problem, 400)
        return {"results": results, "ok": all(r["ok"] for r in results)}

    async def _ep_panel(self, web_request: WebRequest) -> bytes:
        page = self.panel_dir / "index.html"
        if page.is_file():
            return await asyncio.to_thread(page.read_bytes)
        return _PLACEHOLDER_PANEL.encode()


_PLACEHOLDER_PANEL = """<!doctype html>
<html><head><meta charset="utf-8"><title>PiNozCam</title>
<style>body{font-family:sans-serif;background:#1e1e1e;color:#ddd;margin:0;padding:8px}
img{max-width:100%;display:block}</style></head>
<body><div id="state">PiNozCam</div><img id="pic" alt="PiNozCam snapshot">
<script>
async function tick() {
  try {
    const r = await fetch("/server/pinozcam/status");
    const s = (await r.json()).result;
    const d = s.detector || {};
    document.getElementById("state").textContent =
      "PiNozCam: " + (s.enabled ? "on" : "off") + ", worker " + s.worker.state +
      ", severity " + (d.severity ?? "-") + ", camera " + ((d.camera || {}).state || "-");
    document.getElementById("pic").src = "/server/pinozcam/snapshot?t=" + Date.now();
  } catch (e) { document.getElementById("state").textContent = "PiNozCam: " + e; }
}
tick(); setInterval(tick, 2000);
</script></body></html>
"""


def load_component(config: ConfigHelper) -> Pinozcam:
    return Pinozcam(config)
