"""A real OctoPrint (PyPI, from .venv-octoprint) in a temporary base folder, for the plugin tests.

:func:`octoprint_python` finds the venv made by ``setup_venv.sh`` (or says why
it is missing). :class:`OctoPrintServer` writes ``config.yaml`` and
``users.yaml`` (an admin and a read-only user, each with a known API key), starts ``octoprint serve`` on
127.0.0.1 with the bundled virtual printer enabled, and waits for the REST API.
:class:`OctoPrintApi` is the few REST calls the tests make. Every wait polls
with a deadline.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

__all__ = ["ROOT", "VENV", "API_KEY", "VIEWER_API_KEY", "octoprint_python", "OctoPrintServer", "OctoPrintApi",
           "wait_until", "free_port"]

ROOT = Path(__file__).resolve().parents[3]
VENV = ROOT / ".venv-octoprint"
API_KEY = "PINOZCAMTESTKEY0123456789ABCDEF0"
USER = "tester"
# A logged-in user of OctoPrint's "readonly" group: may look, may not control or change settings.
VIEWER_API_KEY = "PINOZCAMVIEWERKEY0123456789ABCDE"
VIEWER = "viewer"
T = TypeVar("T")

# Bundled plugins that reach the network or do work the tests do not need.
_DISABLED = ["softwareupdate", "tracking", "announcements", "discovery", "errortracking",
             "achievements", "backup", "pluginmanager", "firmware_check", "file_check", "pi_support",
             "health_check", "gcodeviewer"]


def octoprint_python() -> tuple[Path | None, str]:
    """The venv's python with OctoPrint and the plugin registered, or None and why not."""
    python = VENV / "bin" / "python"
    if not python.exists():
        return None, f"{VENV.name} is missing: run tests/integration/octoprint/setup_venv.sh"
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m, octoprint; "
         "print(any(e.name == 'pinozcam' for e in m.entry_points(group='octoprint.plugin')))"],
        capture_output=True, text=True, cwd="/", timeout=60)
    if probe.returncode != 0:
        return None, f"OctoPrint does not import in {VENV.name}: {probe.stderr.strip()[-300:]}"
    if probe.stdout.strip() != "True":
        return None, (f"the plugin is not registered in {VENV.name}: pyproject.toml needs "
                      '[project.entry-points."octoprint.plugin"] pinozcam = "pinozcam_klipper.octoprint", '
                      "then run tests/integration/octoprint/setup_venv.sh again")
    return python, ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, probe: Callable[[], T | None], timeout: float, *, every: float = 0.1,
               why: Callable[[], str] | None = None) -> T:
    """Poll ``probe`` until it returns something truthy; AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = why() if why is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" +
                                 (f": {detail}" if detail else ""))
        time.sleep(every)


class OctoPrintServer:
    """``with OctoPrintServer(python, basedir, plugin_settings) as server:``"""

    def __init__(self, python: Path, basedir: Path, *, plugin_settings: dict[str, Any],
                 webcam: dict[str, Any] | None = None, startup_timeout: float = 90.0) -> None:
        self.python = python
        self.basedir = basedir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.plugin_settings = plugin_settings
        self.webcam = webcam or {}
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._output = basedir / "octoprint.out"

    def write_config(self) -> None:
        self.basedir.mkdir(parents=True, exist_ok=True)
        config = {
            "server": {"firstRun": False, "onlineCheck": {"enabled": False},
                       "pluginBlacklist": {"enabled": False},
                       "ipCheck": {"enabled": False}},
            "accessControl": {"enabled": True},
            # positionLogWait: a pause waits this long at most for the position report.
            "serial": {"autoconnect": False, "log": False, "timeout": {"positionLogWait": 2.0}},
            "plugins": {
                "_disabled": _DISABLED,
                "virtual_printer": {"enabled": True, "simulated_errors": [], "throttle": 0.001,
                                    "sendWait": False},
                # _config_version: without it OctoPrint "migrates" the legacy webcam settings
                # over these on startup.
                "classicwebcam": {**self.webcam, "_config_version": 1},
                "pinozcam": self.plugin_settings,
            },
        }
        (self.basedir / "config.yaml").write_text(yaml.safe_dump(config))
        # An admin whose API key the tests use; the password hash is never checked.
        users = {"_version": 2, USER: {"password": "unused", "active": True, "groups": ["admins", "users"],
                                       "permissions": [], "apikey": API_KEY, "settings": {}},
                 VIEWER: {"password": "unused", "active": True, "groups": ["readonly"],
                          "permissions": [], "apikey": VIEWER_API_KEY, "settings": {}}}
        (self.basedir / "users.yaml").write_text(yaml.safe_dump(users))

    def start(self) -> "OctoPrintServer":
        self.write_config()
        octoprint = self.python.parent / "octoprint"
        out = open(self._output, "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(
            [str(octoprint), "serve", "--basedir", str(self.basedir), "--host", "127.0.0.1",
             "--port", str(self.port)] + (["--iknowwhatimdoing"] if os.geteuid() == 0 else []),
            cwd=self.basedir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True)
        out.close()
        api = OctoPrintApi(self.url)
        try:
            wait_until("OctoPrint's REST API", lambda: self._alive() and api.ready(), self.startup_timeout,
                       every=0.25, why=self.tail)
        except AssertionError:
            self.stop()
            raise
        return self

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"OctoPrint exited with {self.proc.returncode}: {self.tail()}")
        return True

    def tail(self, chars: int = 3000) -> str:
        texts = []
        for path in (self._output, self.basedir / "logs" / "octoprint.log"):
            if path.exists():
                texts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-chars:])
        return "\n".join(texts)

    def log(self) -> str:
        path = self.basedir / "logs" / "octoprint.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # OctoPrint's shutdown stops the plugin, which stops the worker
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(10)

    def __enter__(self) -> "OctoPrintServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class OctoPrintApi:
    """The REST calls the tests make, with the test admin's API key (or ``api_key``'s user)."""

    def __init__(self, url: str, api_key: str = API_KEY) -> None:
        self.http = httpx.Client(base_url=url, headers={"X-Api-Key": api_key}, timeout=15.0)

    def ready(self) -> bool:
        try:
            reply = self.http.get("/api/version")
        except httpx.HTTPError:
            return False
        return reply.status_code == 200

    def get(self, path: str) -> Any:
        reply = self.http.get(path)
        assert reply.status_code == 200, f"GET {path}: {reply.status_code} {reply.text[:300]}"
        return reply.json()

    def post(self, path: str, data: dict[str, Any], expect: int = 204) -> httpx.Response:
        reply = self.http.post(path, json=data)
        assert reply.status_code in (expect, 200), f"POST {path}: {reply.status_code} {reply.text[:300]}"
        return reply

    def connection_state(self) -> str:
        return self.get("/api/connection")["current"]["state"]

    def job_state(self) -> str:
        return self.get("/api/job")["state"]

    def plugin_status(self) -> dict[str, Any]:
        return self.get("/api/plugin/pinozcam")

    def upload_and_print(self, name: str, gcode: str) -> None:
        reply = self.http.post("/api/files/local", files={"file": (name, gcode.encode(), "application/octet-stream")},
                               data={"select": "true", "print": "true"})
        assert reply.status_code == 201, f"upload: {reply.status_code} {reply.text[:300]}"
