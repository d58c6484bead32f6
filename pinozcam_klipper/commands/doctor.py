"""``pinozcam doctor --moonraker URL``: check a running installation through Moonraker's API.

Talks to Moonraker the way any client does (its websocket JSON-RPC API, through the
``moonraker-api`` package), so it checks what a user's printer really does: the component is
loaded, the worker runs and is connected, the camera gives healthy pictures, the model loaded,
Klipper has the macros the component will run (the configured ``pause_macro`` and
``cancel_macro``, the dialog's when ``prompt`` is on, and pinozcam.cfg's own), notifications are
configured and their last alert got through (each channel's last delivery in the worker's status,
and the Telegram alert buttons; ``--send-test`` sends a test message). Every problem is printed
with what to do about it. Exit status: 0 when nothing failed (warnings allowed), 1 when a check
failed, 2 when doctor itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import re
import sys
import time
import urllib.parse
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .notify_test import transient

__all__ = ["add_arguments", "run", "Report", "Finding", "diagnose"]

#: Seconds to wait for the one check doctor asks for (the camera's own timeout is 5 s by default).
CAMERA_WAIT = 12.0
#: pinozcam.cfg's macros that are always used: the user's switches, and the one the component
#: runs when a pause ends.
MACROS = ("PINOZCAM_ENABLE", "PINOZCAM_DISABLE", "PINOZCAM_MUTE", "PINOZCAM_STATUS",
          "_PINOZCAM_RESTORE_IDLE_TIMEOUT")
#: The buttons of the pause dialog (option ``prompt``).
PROMPT_MACROS = ("_PINOZCAM_PROMPT_RESUME", "_PINOZCAM_PROMPT_CANCEL", "PINOZCAM_FALSE_ALARM")
#: pinozcam.cfg's macros for the options pause_macro and cancel_macro (their defaults).
SHIPPED_ACTIONS = ("PINOZCAM_PAUSE", "PINOZCAM_CANCEL")
#: Macros that a pinozcam.cfg macro runs in turn.
CALLS = {"PINOZCAM_PAUSE": ("_PINOZCAM_AFTER_PAUSE",)}
#: What doctor says when Moonraker answers 401, wherever that comes (the websocket or a call).
LOGIN_REFUSED = ("Moonraker refused the login (401): pass --api-key KEY, or add this machine to "
                 "[authorization] trusted_clients")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--moonraker", metavar="URL", default="http://localhost:7125",
                        help="Moonraker's address (default: http://localhost:7125)")
    parser.add_argument("--api-key", metavar="KEY", help="a Moonraker API key, if this machine is "
                                                         "not a trusted client")
    parser.add_argument("--send-test", action="store_true",
                        help="also send a test message to the configured Discord / Telegram")
    parser.add_argument("--timeout", type=float, default=20.0, metavar="S",
                        help="seconds to wait for each answer (default 20)")


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``level`` is ok, warn or fail; ``fix`` says what to do."""

    level: str
    what: str
    fix: str = ""


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.findings.append(Finding("ok", what))

    def warn(self, what: str, fix: str = "") -> None:
        self.findings.append(Finding("warn", what, fix))

    def fail(self, what: str, fix: str = "") -> None:
        self.findings.append(Finding("fail", what, fix))

    @property
    def failed(self) -> bool:
        return any(f.level == "fail" for f in self.findings)

    def render(self) -> str:
        lines = []
        for finding in self.findings:
            lines.append(f"{finding.level.upper():<4}  {finding.what}")
            if finding.fix:
                lines.append(f"      -> {finding.fix}")
        return "\n".join(lines)


class RpcError(Exception):
    """Moonraker answered a JSON-RPC call with an error."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    ssl: bool
    route_prefix: str | None

    @classmethod
    def parse(cls, url: str) -> "Target":
        """``http://host:7125[/prefix]`` (a bare ``host[:port]`` means http)."""
        if "://" not in url:
            url = "http://" + url
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
            raise ValueError(f"not a Moonraker URL: {url!r} (expected e.g. http://localhost:7125)")
        ssl = parts.scheme in ("https", "wss")
        host = parts.hostname
        if ":" in host:  # an IPv6 address: moonraker-api puts the host into a URL as it is
            host = f"[{host}]"
        return cls(host, parts.port or (443 if ssl else 7125), ssl, parts.path.strip("/") or None)


def run(args: argparse.Namespace) -> int:
    try:
        target = Target.parse(args.moonraker)
    except ValueError as exc:
        print(f"pinozcam: error: {exc}", file=sys.stderr)
        return 2
    if importlib.util.find_spec("moonraker_api") is None:  # doctor is its only user
        print("pinozcam: error: doctor needs the moonraker-api package: pip install moonraker-api",
              file=sys.stderr)
        return 2
    if not getattr(args, "verbose", 0):
        # moonraker-api logs its own connection errors at ERROR; the report already says what
        # failed and what to do, and a raw log line above it reads like a crash (-v shows it).
        logging.getLogger("moonraker_api").setLevel(logging.CRITICAL)
    report = asyncio.run(diagnose(target, api_key=args.api_key, send_test=args.send_test,
                                  timeout=args.timeout))
    print(report.render())
    return 1 if report.failed else 0


async def diagnose(target: Target, *, api_key: str | None = None, send_test: bool = False,
                   timeout: float = 20.0) -> Report:
    """Run every check against the Moonraker at ``target``; never raises for a printer problem."""
    import aiohttp
    from moonraker_api import ClientNotAuthenticatedError, MoonrakerClient

    report = Report()
    detections = _Detections()
    where = f"{'https' if target.ssl else 'http'}://{target.host}:{target.port}"
    # Our own session: moonraker-api leaves the one it makes unclosed.
    async with aiohttp.ClientSession() as session:
        client = MoonrakerClient(detections, target.host, target.port, route_prefix=target.route_prefix,
                                 api_key=api_key, ssl=target.ssl, loop=asyncio.get_running_loop(),
                                 timeout=int(max(1, timeout)), session=session)
        try:
            with warnings.catch_warnings():
                # moonraker-api 4 still passes aiohttp a deprecated argument: not the user's concern.
                warnings.filterwarnings("ignore", "float parameter 'receive_timeout'", DeprecationWarning)
                await client.connect()
        except (OSError, asyncio.TimeoutError, aiohttp.ClientError, ClientNotAuthenticatedError) as exc:
            if _unauthorized(exc):
                report.fail(LOGIN_REFUSED)
                return report
            report.fail(f"cannot reach Moonraker at {where}: {_describe(exc)}",
                        "is Moonraker running (systemctl status moonraker)? Is the address right?"
                        " Is this machine a trusted client, or pass --api-key")
            return report
        try:
            await _checks(_Rpc(client), report, send_test, detections)
        except (RpcError, asyncio.TimeoutError, aiohttp.ClientError, ClientNotAuthenticatedError) as exc:
            if _unauthorized(exc):
                report.fail(LOGIN_REFUSED)
                return report
            report.fail(f"Moonraker stopped answering: {_describe(exc)}", "check moonraker.log")
        finally:
            await client.disconnect()
    return report


def _unauthorized(exc: BaseException | type) -> bool:
    """A 401: moonraker-api's error for a refused websocket (which it sets as a class, so it
    arrives as an instance without text), an HTTP 401, or a call refused for want of a login
    (Moonraker 0.11 answers that as ``{"code": -32602, "message": "Unauthorized"}``)."""
    kind = exc if isinstance(exc, type) else type(exc)
    if kind.__name__ == "ClientNotAuthenticatedError" or getattr(exc, "status", None) == 401:
        return True
    return isinstance(exc, RpcError) and (exc.code == 401 or "unauthorized" in str(exc).lower())


def _describe(exc: BaseException | type) -> str:
    if isinstance(exc, type):  # moonraker-api sets some errors as classes
        return exc.__name__
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


class _Rpc:
    def __init__(self, client: Any) -> None:
        self._client = client

    async def __call__(self, method: str, **params: Any) -> Any:
        result = await self._client.call_method(method, **params)
        if isinstance(result, dict) and set(result) == {"error"}:
            error = result["error"] if isinstance(result["error"], dict) else {"message": result["error"]}
            raise RpcError(str(error.get("message", error)), error.get("code"))
        return result


class _Detections:
    """Moonraker's notifications, reduced to: has a ``notify_pinozcam_detection`` arrived?"""

    def __init__(self) -> None:
        self._seen = asyncio.Event()

    async def state_changed(self, state: str) -> None:
        pass

    async def on_exception(self, exception: BaseException | type) -> None:
        pass

    async def on_notification(self, method: str, data: Any) -> None:
        if method == "notify_pinozcam_detection":
            self._seen.set()

    async def wait_for_one(self, timeout: float) -> bool:
        """Forget earlier ones, then wait up to ``timeout`` s for the next; False if none came."""
        self._seen.clear()
        try:
            await asyncio.wait_for(self._seen.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


async def _checks(rpc: _Rpc, report: Report, send_test: bool, detections: _Detections) -> None:
    info = await rpc("server.info")
    report.ok(f"Moonraker {info.get('moonraker_version', '?')} answers")
    if "pinozcam" not in info.get("components", []):
        failed = "pinozcam" in info.get("failed_components", [])
        report.fail("the pinozcam component is not loaded" + (" (it failed to load)" if failed else ""),
                    "run install.sh; moonraker.conf needs a [pinozcam] section; see moonraker.log "
                    "for 'Unable to load component: (pinozcam)'")
        return
    report.ok("the pinozcam component is loaded")
    reply = await rpc("server.pinozcam.get_settings")
    settings = reply.get("settings", {})
    camera_fix = _camera_fix("camera" in reply.get("locked", []))
    for warning in info.get("warnings", []):
        if "pinozcam" in warning.lower():
            report.warn(warning, _warning_fix(warning, camera_fix))

    status = await rpc("server.pinozcam.status")
    if (status.get("worker") or {}).get("connected"):
        # Between prints the worker does not look at the camera: have it check one frame now.
        await rpc("server.pinozcam.detect_now")
        await detections.wait_for_one(CAMERA_WAIT)
        status = await rpc("server.pinozcam.status", refresh=True)
    _check_worker(status, report, camera_fix)
    await _check_klipper(rpc, info, report, settings)
    await _check_notifications(rpc, report, send_test, status, reply)


def _camera_fix(locked: bool) -> str:
    """What to do when the component finds no camera to watch. The worker waits for one and
    starts by itself when a webcam or the panel's Camera is saved: no restart, and no worker
    log to read (it never ran). A camera set in moonraker.conf wins over the panel's."""
    if locked:
        return ("camera: in moonraker.conf's [pinozcam] names the camera: add the [webcam] it names "
                "in Mainsail or Fluidd (the worker then starts by itself), or correct the option "
                "(a [webcam] name, a URL, a camera device or a folder of pictures) and restart Moonraker")
    return ("add a webcam in Mainsail's or Fluidd's webcam settings, or set Camera in the PiNozCam "
            "panel's Settings: the worker starts by itself once either is saved, no restart needed "
            "(camera: in moonraker.conf's [pinozcam] works too, after a Moonraker restart)")


def _warning_fix(warning: str, camera_fix: str) -> str:
    """What to do about one of the component's warnings in Moonraker's list."""
    if "option 'camera'" in warning:
        return camera_fix
    if "saved setting rejected" in warning:
        return "set it again in the PiNozCam panel's Settings (saved at once, no restart needed)"
    if "option '" in warning:
        return "fix the option in moonraker.conf ([pinozcam]) and restart Moonraker"
    return "moonraker.log has the details"


def _log_advice(log: Any) -> str:
    """Where to read why the worker is not running: its log when it has written one (and doctor
    runs on the printer, where that path is), else moonraker.log, which says why it did not
    start."""
    if log and Path(str(log)).is_file():
        return f"read its log: {log}"
    return "moonraker.log says why it did not start (the worker has no log file here)"


def _check_worker(status: dict[str, Any], report: Report, camera_fix: str) -> None:
    worker = status.get("worker") or {}
    if not status.get("enabled"):
        if status.get("disabled_until") == "print_end":
            report.warn("detection is disabled until this print ends (PINOZCAM_DISABLE)",
                        "run PINOZCAM_ENABLE to watch this print too")
        else:
            report.warn("detection is disabled", "run PINOZCAM_ENABLE, or set enabled: True")
    if not worker.get("connected"):
        problem = str(worker.get("problem") or worker.get("state"))
        if worker.get("state") == "stopped" and problem.startswith("camera:"):
            # The component found no camera and waits for one; the worker was never started.
            report.fail(f"the detector worker waits for a camera: {problem[len('camera:'):].strip()}",
                        camera_fix)
            return
        report.fail(f"the detector worker is not running: {problem}", _log_advice(worker.get("log")))
        return
    report.ok(f"the detector worker runs (pid {worker.get('pid')}, {worker.get('restarts', 0)} restarts)")
    if worker.get("restarts"):
        report.warn(f"the worker restarted {worker['restarts']} times since Moonraker started",
                    f"look for crashes in {worker.get('log')}")
    detector = status.get("detector") or {}
    camera = detector.get("camera") or {}
    state = camera.get("state", "unknown")
    url = status.get("camera_url") or "(none)"
    if state == "ok":
        report.ok(f"the camera gives pictures ({url})")
    else:
        report.fail(f"the camera is {state}: {camera.get('message') or 'no picture yet'} ({url})",
                    "check the camera option ([webcam] name, URL, device or folder) and that a URL shows a "
                    "picture in a browser; GET /server/pinozcam/snapshot shows what PiNozCam sees")
    model = status.get("model") or detector.get("model")
    if model:
        timing = detector.get("inference_ms")
        extra = f", {timing} ms per check" if timing else ""
        report.ok(f"model {model.get('name', '?')} {model.get('version', '')} loaded{extra}".replace("  ", " "))
    else:
        report.fail("no model loaded", "check model_path, and the worker log for the model error")


def _command(setting: Any, default: str) -> str:
    """The gcode command a ``pause_macro`` / ``cancel_macro`` value runs (its first word)."""
    words = str(setting or "").split()
    return (words[0] if words else default).upper()


def _needed_macros(settings: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """pinozcam.cfg's macros the configuration uses, and the other commands it runs by option."""
    needed = list(MACROS)
    if str(settings.get("prompt", True)).strip().lower() not in ("false", "no", "off", "0"):
        needed += PROMPT_MACROS
    custom: dict[str, str] = {}
    # The component always reports both; the defaults are for one that predates them.
    for option, default in zip(("pause_macro", "cancel_macro"), SHIPPED_ACTIONS):
        command = _command(settings.get(option), default)
        if command in SHIPPED_ACTIONS:
            needed.append(command)
            needed += CALLS.get(command, ())
        else:
            custom[option] = command
    return list(dict.fromkeys(needed)), custom


async def _check_klipper(rpc: _Rpc, info: dict[str, Any], report: Report, settings: dict[str, Any]) -> None:
    if info.get("klippy_state") != "ready":
        report.warn(f"Klipper is {info.get('klippy_state')}: macros not checked",
                    "fix Klipper first (see klippy.log), then run doctor again")
        return
    objects = (await rpc("printer.objects.list")).get("objects", [])
    macros = {o.split(" ", 1)[1].upper() for o in objects if o.lower().startswith("gcode_macro ")}
    needed, custom = _needed_macros(settings)
    missing = [m for m in needed if m not in macros]
    if missing:
        report.fail(f"Klipper lacks the PiNozCam macros: {', '.join(missing)}",
                    "add [include pinozcam.cfg] to printer.cfg (install.sh does) and FIRMWARE_RESTART")
    unknown = {option: command for option, command in custom.items() if command not in macros}
    if unknown:
        # Not a macro; maybe a command of Klipper's own (PAUSE, CANCEL_PRINT): those are in its help.
        commands = {str(name).upper() for name in await rpc("printer.gcode.help")}
        unknown = {option: command for option, command in unknown.items() if command not in commands}
    for option, command in unknown.items():
        action = "pause" if option == "pause_macro" else "cancel"
        report.fail(f"Klipper has no {command}, the {option} set for PiNozCam: a failure cannot {action} "
                    "the print",
                    f"define [gcode_macro {command}] in printer.cfg, or take {option} out of [pinozcam] "
                    "and the panel's settings to use PiNozCam's own")
    if not missing and not unknown:
        used = ", ".join(f"{option} {command}" for option, command in custom.items())
        report.ok("Klipper has the PiNozCam macros" + (f" and your {used}" if used else ""))
    if "pause_resume" not in objects:
        report.fail("Klipper has no [pause_resume]: PAUSE cannot work",
                    "add [pause_resume] to printer.cfg (Mainsail's and Fluidd's configs have it)")


def _notify_options(reply: dict[str, Any], connected: bool) -> dict[str, Any] | None:
    """The notification options ``get_settings`` answered (secrets redacted, but set), or None
    when it cannot tell. Without its worker the component's ``settings`` hold only its own
    options; then the options set in moonraker.conf (``locked``) or saved from the panel
    (``saved``) are the ones set, their values unchecked."""
    if connected:
        return reply.get("settings", {})
    if "locked" not in reply and "saved" not in reply:  # a component that predates them
        return None
    return {name: True for name in [*reply.get("locked", []), *(reply.get("saved") or {})]}


async def _check_notifications(rpc: _Rpc, report: Report, send_test: bool, status: dict[str, Any],
                               reply: dict[str, Any]) -> None:
    connected = bool((status.get("worker") or {}).get("connected"))
    settings = _notify_options(reply, connected)
    if settings is None:
        report.warn("notifications not checked: the worker is not running",
                    "start the worker, then run doctor again")
        return
    channels = []
    if settings.get("discord_webhook_url"):
        channels.append("discord")
    if settings.get("telegram_bot_token") and settings.get("telegram_chat_id"):
        channels.append("telegram")
    elif settings.get("telegram_bot_token") or settings.get("telegram_chat_id"):
        report.warn("Telegram is half configured", "set both telegram_bot_token and telegram_chat_id")
    if not channels:
        report.warn("no notifications configured: failures pause the printer silently",
                    "set discord_webhook_url or telegram_bot_token + telegram_chat_id "
                    "(keep them in moonraker.secrets)")
        return
    tested, not_sent = await _send_test(rpc, connected) if send_test else ([], None)
    # A test that got through now outdoes an older failure (the settings were fixed since).
    passed = {str(item.get("channel")) for item in tested if item.get("ok")}
    detector = (status.get("detector") or {}) if connected else {}
    deliveries = detector.get("notifications") or {}
    problems = {name: _delivery_problem(name, deliveries.get(name) or {})
                for name in channels if name not in passed}
    fine = [name for name in channels if problems.get(name) is None]
    if fine:
        unchecked = "" if connected else " (set; not checked while the worker is not running)"
        report.ok(f"notifications configured: {', '.join(_NAMES[name] for name in fine)}{unchecked}")
    report.findings += [finding for finding in problems.values() if finding is not None]
    _check_buttons(report, detector.get("telegram_buttons") or {})
    if not_sent is not None:
        report.findings.append(not_sent)
    _report_test(report, tested)


#: How doctor names a channel.
_NAMES = {"discord": "Discord", "telegram": "Telegram"}
#: Secrets in an error from a worker that did not redact them (one older than its redactor):
#: a Discord webhook's token, a Telegram bot token.
_SECRETS = re.compile(r"(?<=/api/webhooks/)(\d+/)[\w-]+|(?<!\d)\d{5,}:[\w-]{20,}")


def _unsecret(text: str) -> str:
    return _SECRETS.sub(lambda m: (m.group(1) or "") + "<redacted>", text)


async def _send_test(rpc: _Rpc, connected: bool) -> tuple[list[dict[str, Any]], Finding | None]:
    """The results of a test message (one per channel), or why none was sent."""
    if not connected:
        return [], Finding("fail", "no test message sent: the worker is not running")
    try:
        result = await rpc("server.pinozcam.test_notification")
    except RpcError as exc:
        return [], Finding("fail", f"the test message failed: {exc}", "check the webhook URL / bot token and chat id")
    return list(result.get("results", [])), None


def _report_test(report: Report, tested: list[dict[str, Any]]) -> None:
    for item in tested:
        name = channel = str(item.get("channel"))  # as the component words it: "discord"
        if item.get("ok") and item.get("warning"):
            # Delivered, but not where asked (a Telegram topic that is gone).
            report.warn(f"test message sent to {name}, but {_unsecret(str(item['warning']))}",
                        "fix the option it names")
        elif item.get("ok"):
            report.ok(f"test message sent to {name}")
        else:
            detail = _unsecret(str(item.get("detail")))
            report.fail(f"the test message to {name} failed: {detail}", _delivery_fix(channel, detail))


def _delivery_problem(channel: str, last: dict[str, Any]) -> Finding | None:
    """What ``channel``'s last delivery (the worker's ``notifications`` entry) says is wrong,
    or None when nothing is (sent, or nothing sent yet)."""
    error = _unsecret(str(last.get("error") or ""))
    name = _NAMES.get(channel, channel)
    which = ", ".join(part for part in (str(last.get("kind") or ""), _when(last.get("time"))) if part)
    alert = f"the last alert to {name}" + (f" ({which})" if which else "")
    if last.get("ok") is None:
        return None
    if last.get("ok"):
        # Delivered; maybe not where asked (a Telegram topic that is gone).
        return Finding("warn", f"{alert} was sent, but {error}", "fix the option it names") if error else None
    if last.get("status") == "dropped":
        # Not tried to the end: the queue was full, or the worker stopped or got new settings.
        return Finding("warn", f"{alert} was dropped: {error or 'not sent'}",
                       f"run doctor --send-test to check {name}; the worker log says more")
    what = f"{alert} was not delivered: {error or last.get('status') or 'failed'}"
    # The entry stays until the next alert: a test says whether the settings work now.
    fix = _delivery_fix(channel, error) + "; then run doctor --send-test to check the settings as they are now"
    # A timeout or a busy service may pass by itself; a refusal will not.
    return Finding("warn" if transient(error) else "fail", what, fix)


def _delivery_fix(channel: str, error: str) -> str:
    """What to do about a delivery that failed with ``error`` (the notifier's words)."""
    if transient(error):
        return (f"{_NAMES.get(channel, channel)} did not answer or was busy: check the printer's "
                "internet connection (the next alert is tried again)")
    if "use telegram_chat_id" in error:  # the group became a supergroup: Telegram gave the new id
        return "set telegram_chat_id to the id Telegram gave"
    if channel == "discord":
        return ("copy the webhook URL again (Discord: Server Settings > Integrations > Webhooks > "
                "Copy Webhook URL) into discord_webhook_url")
    if "http 401" in error or "http 404" in error:
        return "check telegram_bot_token: it must be the token @BotFather gave for this bot"
    if "http 403" in error:
        return ("the bot may not write to that chat: unblock it and press Start in its chat, or add it "
                "back to the group (and allow it to post in a channel)")
    return ("check telegram_chat_id (a number such as -100123456789, or @channelname) and that the bot "
            "is in that chat")


def _check_buttons(report: Report, buttons: dict[str, Any]) -> None:
    """The Telegram alert buttons: an error means presses of Pause / Resume / Cancel do nothing."""
    if buttons.get("state") != "error":
        return
    message = _unsecret(str(buttons.get("message") or "no reason given"))
    what = f"the Telegram alert buttons do not work: {message}"
    if message.startswith("Telegram refused"):
        # Its words say what to do (another reader of the bot, a wrong token).
        report.fail(what, "until this is fixed, pressing them does nothing; or set alert_buttons: False")
    else:
        report.warn(what, "the worker keeps trying; check the printer's internet connection")


def _when(seconds: Any) -> str:
    """A delivery's Unix time as local date and time, or "" when it has none."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))
