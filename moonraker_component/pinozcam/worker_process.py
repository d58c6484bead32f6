# PiNozCam: on-device AI print-failure detection, as a Moonraker component.
#
# Copyright (C) 2026 The pinozcam-klipper authors
#
# This file may be distributed under the terms of the Apache-2.0 license.
"""The detector worker as a child process, and the one-shot ``notify-test`` command.

The worker is ``python -m pinozcam_klipper.worker.main`` run with ``worker_python``: it gets a
fresh token and its settings in private files (0600), says ``pinozcam worker listening on
HOST:PORT`` on stdout once it listens, and everything it prints goes to its log file (rotated
past 5 MiB). Nothing of the worker is imported here.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import re
import secrets
import signal
from pathlib import Path
from typing import Any, Optional

logger = logging.getLogger(__name__)

_OPTION_IN_ERROR = re.compile(r"option '([^']+)'")
_START_TIMEOUT = 90.0       # model load on a Pi Zero 2 can take a while
_LOG_MAX_BYTES = 5 * 1024 * 1024


class WorkerStartError(Exception):
    """The worker exited before listening; ``option`` names a rejected option, if any."""

    def __init__(self, message: str, option: Optional[str] = None) -> None:
        super().__init__(message)
        self.option = option


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
        self.token = secrets.token_urlsafe(32)
        token_file = self.data_dir / "worker.token"
        config_file = self.data_dir / "worker-config.json"
        writing = f"create the folder {self.data_dir}"
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            writing = f"write {token_file}"
            self._write_private(token_file, self.token + "\n")
            # JSON is YAML: the worker reads it with --config. It may hold secrets: 0600.
            writing = f"write {config_file}"
            self._write_private(config_file, json.dumps(settings, indent=1))
        except OSError as exc:
            # A full SD card or a folder owned by root (an install run with sudo): name the
            # path, since Errno 28 alone does not say which disk to clean up.
            raise WorkerStartError(f"cannot {writing}: {exc.strerror or exc}") from None
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


#: How ``pinozcam notify-test`` starts its first line, before the channels it tries: TESTING in
#: pinozcam_klipper/commands/notify_test.py (not imported: the component runs without it).
_NOTIFY_TESTING = "sending a test message to "


async def run_notify_test(python: str, data_dir: Path, settings: dict[str, Any],
                          timeout: float = 60.0) -> tuple[list[dict[str, Any]], str]:
    """Run ``python -m pinozcam_klipper.cli notify-test``; (results per channel, problem or "").

    notify-test prints each channel's result as soon as that channel is done, so when it is
    still at it after ``timeout`` seconds (a channel that hangs), the channels that answered
    are reported as they answered and the others as "timed out"; a problem is returned only
    when there is no result to show.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / f"notify-test-{secrets.token_hex(4)}.json"
    fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the secrets
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(settings))
    proc: Optional[asyncio.subprocess.Process] = None
    try:
        proc = await asyncio.create_subprocess_exec(
            python, "-m", "pinozcam_klipper.cli", "notify-test", "--config", str(config),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, cwd=str(data_dir))
        # Not wait_for(communicate()): cancelling it would lose what was already read.
        talking = asyncio.ensure_future(proc.communicate())
        done, _ = await asyncio.wait({talking}, timeout=timeout)
        if not done:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        out, err = await talking  # the rest of the output, up to the kill
    except OSError as exc:
        return [], f"cannot run {python}: {exc.strerror or exc}"
    finally:
        if proc is not None and proc.returncode is None:  # cancelled: leave no sender behind
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        with contextlib.suppress(OSError):
            config.unlink()
    unanswered = "" if done else f"timed out (no answer within {timeout:.0f} s)"
    tried, results = _notify_test_results(out.decode("utf-8", "replace"), unanswered)
    if not done and not tried:
        return [], f"no answer from Discord / Telegram within {timeout:.0f} s"
    if done and (proc.returncode not in (0, 1) or not results):
        lines = err.decode("utf-8", "replace").strip().splitlines()
        return results, (lines[-1] if lines else f"notify-test exited {proc.returncode}").replace(
            "pinozcam: error: ", "")
    return results, ""


def _notify_test_results(out: str, unanswered: str) -> tuple[list[str], list[dict[str, Any]]]:
    """notify-test's output: the channels it tried, and a result for each, in the order they
    are configured (it prints them as they finish); a channel that printed none gets
    ``unanswered`` as its detail (none when "")."""
    tried: list[str] = []
    results: dict[str, dict[str, Any]] = {}
    for line in out.splitlines():
        if line.startswith(_NOTIFY_TESTING):
            tried = [c.strip() for c in line[len(_NOTIFY_TESTING):].split(",") if c.strip()]
            continue
        channel, _, detail = line.partition(": ")
        if channel and detail and (not tried or channel in tried):
            # "sent (...)": delivered, with something still to fix (a Telegram topic that is gone).
            sent_with = detail[len("sent ("):-1] if detail.startswith("sent (") and detail.endswith(")") else ""
            results[channel] = {"channel": channel, "ok": detail == "sent" or bool(sent_with),
                                "detail": detail, "warning": sent_with}
    if unanswered:
        for channel in tried:
            results.setdefault(channel, {"channel": channel, "ok": False, "detail": unanswered, "warning": ""})
    order = {channel: n for n, channel in enumerate(tried)}
    return tried, sorted(results.values(), key=lambda r: order.get(r["channel"], len(order)))


def _die_with_parent() -> None:
    """In the child: get SIGTERM when Moonraker dies, so no orphan worker is left (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker outlives a crashed Moonraker
