"""Running the detector worker as a child process of OctoPrint, and restarting it when it dies.

No OctoPrint import. :class:`WorkerSupervisor` starts ``python -m
pinozcam_klipper.worker.main`` with OctoPrint's own interpreter, learns the
address from the worker's "listening on" line, forwards the worker's log lines
to this process's logging, and restarts a worker that exits on its own with a
bounded backoff (1 s doubling to 30 s; back to 1 s after a minute of uptime).
Everything runs on one monitor thread per supervisor, never on OctoPrint's
event loop.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import IO, Any

__all__ = ["WorkerSpec", "WorkerSupervisor"]

logger = logging.getLogger(__name__)
worker_log = logging.getLogger("pinozcam_klipper.worker.process")

_READY_PREFIX = "pinozcam worker listening on "
_BACKOFF_FIRST = 1.0
_BACKOFF_MAX = 30.0
_STABLE_AFTER = 60.0
_STOP_GRACE = 5.0
_CHATTY = ("httpx:", "httpcore", "websockets.")
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


@dataclass(frozen=True)
class WorkerSpec:
    """How to start the worker. ``port`` 0: any free port (the worker says which)."""

    config: Path
    token_file: Path
    data_dir: Path
    port: int = 0
    python: str = field(default_factory=lambda: sys.executable)
    verbose: bool = True

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "pinozcam_klipper.worker.main", "--listen", f"127.0.0.1:{self.port}",
               "--token-file", str(self.token_file), "--config", str(self.config),
               "--data-dir", str(self.data_dir)]
        return cmd + (["-v"] if self.verbose else [])


class WorkerSupervisor:
    """Start with :meth:`start`; :meth:`stop` ends the worker (SIGTERM, then SIGKILL after 5 s).

    :attr:`address` is ``host:port`` while a worker is up and listening, else None;
    :meth:`wait_ready` blocks until then. Thread-safe.
    """

    def __init__(self, spec: WorkerSpec) -> None:
        self._spec = spec
        self._lock = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None
        self._address: str | None = None
        self._stopping = threading.Event()
        self._restart_now = threading.Event()
        self._thread: threading.Thread | None = None
        self.starts = 0
        self.last_exit: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"WorkerSupervisor(address={self._address}, starts={self.starts})"

    @property
    def address(self) -> str | None:
        with self._lock:
            return self._address

    def wait_ready(self, timeout: float) -> str | None:
        """Block until the worker listens (its address) or ``timeout`` passes (None)."""
        with self._lock:
            self._lock.wait_for(lambda: self._address is not None or self._stopping.is_set(), timeout)
            return self._address

    def status(self) -> dict[str, Any]:
        with self._lock:
            proc = self._proc
            return {"running": proc is not None and proc.poll() is None, "address": self._address,
                    "pid": proc.pid if proc is not None else None, "starts": self.starts,
                    "last_exit": self.last_exit}

    def start(self) -> None:
        """Start the worker and keep it running; call once."""
        if self._thread is not None:
            raise RuntimeError("the supervisor is already started")
        self._thread = threading.Thread(target=self._run, name="pinozcam-supervisor", daemon=True)
        self._thread.start()

    def restart(self, spec: WorkerSpec | None = None) -> None:
        """Stop the running worker and start it again at once (with ``spec``, if given)."""
        if spec is not None:
            self._spec = spec
        self._restart_now.set()
        # Stopping takes up to a second or two: not on the caller's (OctoPrint's) thread.
        threading.Thread(target=self._terminate, name="pinozcam-restart", daemon=True).start()

    def stop(self) -> None:
        """Stop the worker and the monitor thread; returns within about 6 s."""
        self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        self._terminate()
        if self._thread is not None:
            self._thread.join(_STOP_GRACE + 2)

    # -- monitor thread ----------------------------------------------------------------
    def _run(self) -> None:
        backoff = _BACKOFF_FIRST
        while not self._stopping.is_set():
            started = time.monotonic()
            code, last_line = self._run_once()
            if self._stopping.is_set():
                break
            ran = time.monotonic() - started
            if self._restart_now.is_set():
                self._restart_now.clear()
                backoff = _BACKOFF_FIRST
                continue
            if ran >= _STABLE_AFTER:
                backoff = _BACKOFF_FIRST
            logger.warning("pinozcam worker exited with status %s after %.0f s (%s); restarting in %.0f s",
                           code, ran, last_line or "no message", backoff)
            # A restart request (new settings) cuts the wait short.
            if self._restart_now.wait(backoff):
                self._restart_now.clear()
                backoff = _BACKOFF_FIRST
            else:
                backoff = min(_BACKOFF_MAX, backoff * 2)

    def _run_once(self) -> tuple[int | None, str]:
        spec = self._spec
        try:
            proc = subprocess.Popen(spec.command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, bufsize=1,
                                    preexec_fn=_death_signal_setter())
        except OSError as exc:
            return None, f"cannot start {spec.python}: {exc.strerror or exc}"
        with self._lock:
            self._proc = proc
            self.starts += 1
        if self._stopping.is_set():
            self._terminate()  # stop() ran while this one was starting
        last: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        err_reader = threading.Thread(target=self._read_stderr, args=(proc.stderr, last),
                                      name="pinozcam-worker-stderr", daemon=True)
        err_reader.start()
        self._read_stdout(proc.stdout)
        code = proc.wait()
        err_reader.join(2)
        with self._lock:
            self._proc = None
            self._address = None
            self.last_exit = {"code": code, "message": last[-1] if last else "", "time": time.time()}
            self._lock.notify_all()
        return code, last[-1] if last else ""

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            line = line.strip()
            if line.startswith(_READY_PREFIX):
                address = line[len(_READY_PREFIX):].strip()
                with self._lock:
                    self._address = address
                    self._lock.notify_all()
                logger.info("pinozcam worker listening on %s", address)
            elif line:
                worker_log.info("%s", line)
        stream.close()

    @staticmethod
    def _read_stderr(stream: IO[str], last: list[str]) -> None:
        for line in stream:
            line = line.rstrip()
            if not line:
                continue
            # "2026-01-01 12:00:00,000 INFO name: message" -> the worker's own level; other
            # lines (LiteRT's "INFO: ...", a traceback) as they announce themselves.
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[2] in _LEVELS:
                level, text = _LEVELS[parts[2]], parts[3]
                if level == logging.INFO and text.startswith(_CHATTY):
                    level = logging.DEBUG  # one line per camera request or connection
            else:
                level, text = _LEVELS.get(line.split(":", 1)[0], logging.WARNING), line
            worker_log.log(level, "%s", text)
            if level >= logging.WARNING:
                last[:] = [line[-300:]]
        stream.close()

    def _terminate(self) -> None:
        with self._lock:
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            logger.warning("pinozcam worker did not stop within %.0f s: killing it", _STOP_GRACE)
            proc.kill()
            proc.wait(5)


def _death_signal_setter() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the worker when its parent thread (the monitor
    thread, which lives as long as the worker) dies, even by SIGKILL; None elsewhere.

    prctl is looked up here, in the parent: the child between fork and exec only calls it.
    """
    if sys.platform != "linux":
        return None
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def setter() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return setter
