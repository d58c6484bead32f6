"""Helpers of the integration tests (used by conftest.py's fixtures): a real Moonraker with the PiNozCam component, a real
klippy on the stand-in MCU, the real worker, a local camera and a recording Discord server.

Moonraker runs from its own virtualenv (its pinned dependencies stay out of .venv):
``$PINOZCAM_MOONRAKER_PYTHON``, else ``.venv-moonraker/bin/python``; without one these tests
are skipped with the command that makes it (``tests/setup.sh`` should run it). The component is
loaded straight from ``moonraker_component/`` (appended to ``moonraker.components.__path__`` by a
launcher), so the Moonraker virtualenv is never modified: Moonraker imports the package
``moonraker_component/pinozcam/`` as ``moonraker.components.pinozcam``, as it does through the
``components/pinozcam`` link that install.sh makes.

Pieces, reusable by later tests (the panel's):

* :func:`moonraker_python` / :func:`moonraker_missing_reason`;
* :func:`free_port`, :func:`write_moonraker_conf`, :class:`MoonrakerProcess` (start, HTTP
  helpers, ``wait_for``), :class:`MoonrakerEvents` (Moonraker's websocket, notifications);
* :class:`Stack` (what conftest.py's session fixture ``stack`` yields): camera + Discord
  server + klippy + Moonraker + worker, ready, with the camera showing a good print.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from tests.fixtures.klippy_runner import RunningKlippy
from tests.servers import CameraServer, NotifyServer
from tests.worker.helpers import GOOD, MODEL

ROOT = Path(__file__).resolve().parents[2]
COMPONENT_DIR = ROOT / "moonraker_component"
SLOW_PRINT = "slow_print.gcode"

_LAUNCHER = (
    "import sys, moonraker.components as c; c.__path__.append(sys.argv.pop(1)); "
    "from moonraker.server import main; main()"
)


def moonraker_python() -> Path | None:
    """The python of a virtualenv with Moonraker 0.11, or None."""
    configured = os.environ.get("PINOZCAM_MOONRAKER_PYTHON")
    candidates = [Path(configured)] if configured else [ROOT / ".venv-moonraker" / "bin" / "python"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return None


def moonraker_missing_reason() -> str | None:
    python = moonraker_python()
    if python is None:
        return ("no Moonraker virtualenv: python3 -m venv .venv-moonraker && "
                ".venv-moonraker/bin/pip install moonraker==0.11.0 (or set PINOZCAM_MOONRAKER_PYTHON)")
    probe = subprocess.run([str(python), "-c", "import moonraker.server"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"{python} cannot import moonraker: {probe.stderr.strip()[-200:]}"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_moonraker_conf(path: Path, *, port: int, klippy_socket: Path, extra: str = "") -> Path:
    """A moonraker.conf for tests: loopback only, trusted loopback, no systemd, plus ``extra``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[server]\nhost: 127.0.0.1\n"
        f"port: {port}\nklippy_uds_address: {klippy_socket}\n\n"
        "[authorization]\ntrusted_clients:\n  127.0.0.0/8\n\n"
        "[machine]\nprovider: none\nvalidate_service: False\n\n"
        "[file_manager]\nenable_object_processing: False\n\n"
        f"{extra}\n")
    return path


class MoonrakerError(Exception):
    """Moonraker answered with an error status; ``status`` and ``message`` say which."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass
class MoonrakerProcess:
    """Moonraker in a subprocess (``start`` returns at once; ``wait_ready`` waits)."""

    data_path: Path
    config_file: Path
    port: int
    python: Path
    with_component_dir: bool = True
    proc: subprocess.Popen[bytes] | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_path / "logs" / "moonraker.log"

    def start(self) -> MoonrakerProcess:
        (self.data_path / "logs").mkdir(parents=True, exist_ok=True)
        if self.with_component_dir:
            command = [str(self.python), "-c", _LAUNCHER, str(COMPONENT_DIR)]
        else:
            command = [str(self.python), "-m", "moonraker"]
        command += ["-d", str(self.data_path), "-c", str(self.config_file), "-l", str(self.log_file)]
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        self.client.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no moonraker log)"

    # -- HTTP --------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, self.url + path, **kwargs)

    def get(self, path: str, **params: Any) -> Any:
        return self._result(self.request("GET", path, params=params))

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._result(self.request("POST", path, json=body or {}))

    def gcode(self, script: str) -> Any:
        return self.post("/printer/gcode/script", {"script": script})

    @staticmethod
    def _result(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text
            raise MoonrakerError(response.status_code, message)
        return response.json()["result"]

    def status(self) -> dict[str, Any]:
        return self.get("/server/pinozcam/status")

    def gcode_responses(self, count: int = 200, *, since: float | None = None) -> list[str]:
        """Klipper's latest console lines; ``since`` (a ``time.time()``): only those from then on.

        Use ``since`` to see only what one test caused: the stack, and its console, are shared.
        """
        items = self.get("/server/gcode_store", count=count)["gcode_store"]
        return [item["message"] for item in items if since is None or item["time"] >= since]

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Poll ``probe()`` until it returns something truthy (errors count as not yet)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"moonraker exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                last = probe()
            except (httpx.HTTPError, MoonrakerError) as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; last: {last!r}\n{self.log_tail()}")

    def wait_ready(self, *, klippy: bool = True, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the server answers (and Klippy is ready, and our macros are known)."""
        def ready() -> Any:
            info = self.get("/server/info")
            if klippy and info["klippy_state"] != "ready":
                return None
            return info
        return self.wait_for("moonraker ready", ready, timeout)

    def wait_worker_connected(self, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_for("the pinozcam worker to connect",
                             lambda: (s := self.status())["worker"]["connected"] and s, timeout)


class MoonrakerEvents:
    """Moonraker's websocket in a thread: collects notifications; ``wait`` on them."""

    def __init__(self, url: str) -> None:
        self._exit = contextlib.ExitStack()
        self._ws = self._exit.enter_context(
            ws_connect(url.replace("http://", "ws://") + "/websocket", open_timeout=10))
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True, name="moonraker-events")
        self._thread.start()

    def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # the socket closes when the test ends
            while True:
                message = json.loads(self._ws.recv())
                with self._cond:
                    self.messages.append(message)
                    self._cond.notify_all()

    def of(self, method: str) -> list[Any]:
        with self._cond:
            return [m.get("params", [None])[0] for m in self.messages if m.get("method") == method]

    def wait(self, method: str, predicate: Callable[[Any], bool] = lambda _: True, *,
             after: int = 0, timeout: float = 30.0) -> Any:
        """The first ``method`` notification (from index ``after`` on) matching ``predicate``."""
        def found() -> Any:
            return next((p for p in self.of(method)[after:] if predicate(p)), None)
        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout):
                raise AssertionError(f"no {method} notification matching within {timeout} s")
        return found()

    def close(self) -> None:
        self._exit.close()
        self._thread.join(5)


@dataclass
class Stack:
    """Everything running together, as a user's printer would."""

    camera: CameraServer
    discord: NotifyServer
    printer: RunningKlippy
    moonraker: MoonrakerProcess
    workdir: Path

    def set_camera(self, jpeg: bytes) -> None:
        self.camera.set_frames([jpeg])

    def print_state(self) -> str:
        query = self.printer.api.call("objects/query", {"objects": {"print_stats": ["state"]}})
        return query["status"]["print_stats"]["state"]

    def start_print(self) -> None:
        """Start the slow test print and wait until the component has seen it printing."""
        self.moonraker.gcode(f"SDCARD_PRINT_FILE FILENAME={SLOW_PRINT}")
        self.moonraker.wait_for("the component to see the print",
                                lambda: self.moonraker.status()["print_state"] == "printing")

    def end_print(self) -> None:
        """Cancel whatever print runs, show a good picture, wait for the component to see it."""
        self.set_camera(GOOD)
        if self.print_state() in ("printing", "paused"):
            self.moonraker.gcode("CANCEL_PRINT")
        self.moonraker.wait_for("the print to end", lambda: self.moonraker.status()["print_state"]
                                in ("standby", "cancelled", "complete"))


def established_connections(port: int) -> int:
    """TCP connections to 127.0.0.1:``port`` the kernel has set up (accepted or not), from
    /proc/net/tcp: a connection shows here even while the process listening there is stopped."""
    count = 0
    with open("/proc/net/tcp", encoding="ascii") as table:
        next(table)  # the header
        for line in table:
            fields = line.split()
            address, state = fields[1], fields[3]
            if address == f"0100007F:{port:04X}" and state == "01":  # 127.0.0.1, ESTABLISHED
                count += 1
    return count


@contextlib.contextmanager
def moonraker_without_klipper(section: str, *, secrets: str = "",
                              before_start: Callable[[Path], None] | None = None,
                              edit_conf: Callable[[str], str] | None = None) -> Iterator[MoonrakerProcess]:
    """A Moonraker with ``section`` in its moonraker.conf and no Klipper behind it, started (not
    waited for); stopped, and its folder removed, on exit. ``secrets`` is moonraker.secrets;
    ``before_start`` gets the data folder, ``edit_conf`` rewrites the conf's text, both before
    Moonraker starts. Skips the test when Moonraker is not installed."""
    import pytest

    reason = moonraker_missing_reason()
    if reason is not None:
        pytest.skip(reason)
    python = moonraker_python()
    assert python is not None
    workdir = Path(tempfile.mkdtemp(prefix="pzm-"))
    try:
        data = workdir / "mr"
        data.mkdir()
        if secrets:
            (data / "moonraker.secrets").write_text(secrets)
        if before_start is not None:
            before_start(data)
        port = free_port()
        conf = write_moonraker_conf(data / "config" / "moonraker.conf", port=port,
                                    klippy_socket=workdir / "no-klippy.sock", extra=section)
        if edit_conf is not None:
            conf.write_text(edit_conf(conf.read_text()))
        server = MoonrakerProcess(data, conf, port, python).start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_doctor(url: str, *extra: str) -> tuple[int, str]:
    """``pinozcam doctor --moonraker URL`` in this process: its exit code and what it printed."""
    import argparse
    import io

    from pinozcam_klipper.commands import doctor

    parser = argparse.ArgumentParser()
    doctor.add_arguments(parser)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = doctor.run(parser.parse_args(["--moonraker", url, "--timeout", "10", *extra]))
    return code, out.getvalue()


def pinozcam_section(camera: str | None, discord_url: str | None, **extra: Any) -> str:
    """A [pinozcam] section with the fixture model and settings that make incidents quick (None: unset)."""
    options = {
        "camera": camera, "model_path": str(MODEL), "worker_python": sys.executable,
        "warmup_frames": 0, "warmup_seconds": 0, "start_layer": 0, "max_failure_count": 2,
        "check_interval": 0.2, "fast_check_interval": 0.1, "discord_webhook_url": discord_url,
        "notify_interval": 0, "printer_name": "Test printer",
        # The test camera shows still pictures, which a real sensor never does: without this a
        # slow run would see the camera as "frozen" after the default 30 s.
        "camera_frozen_seconds": 3600,
    }
    options.update(extra)
    return "[pinozcam]\n" + "".join(f"{k}: {v}\n" for k, v in options.items() if v is not None)
