"""What a Moonraker restart (a config edit in Mainsail, an update, a crash) in the middle of things
must not lose: the incident the print is paused by (its alert's buttons, the pause dialog), a
print's warm-up already over, and PINOZCAM_DISABLE run while idle (which also outlasts a setting
saved while the worker is out of reach).

Everything real (the ``stack`` fixture of conftest.py): klippy on the stand-in MCU, Moonraker with
the component, the worker, a local camera and a recording Discord server; Telegram is the local
Bot API server of test_moonraker_actions.py's ``bot`` fixture.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.moonraker_stack import MoonrakerEvents, MoonrakerProcess, Stack
from tests.integration.test_moonraker_actions import (_answers, _long_print, _paused_by_the_engine,
                                                      _restart_moonraker, _start_print, _wait_klipper,
                                                      bot)  # noqa: F401 (bot: a fixture)
from tests.worker.helpers import CHAT_ID, GOOD, BotServer

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def idle_and_enabled_afterwards(stack: Stack) -> Iterator[None]:
    yield
    stack.end_print()
    if stack.moonraker.status()["disabled_until"] is not None:
        stack.moonraker.gcode("PINOZCAM_ENABLE")


def _detector(moonraker: MoonrakerProcess) -> dict[str, Any]:
    """The worker's status, asked of it now (so it has handled every message sent before)."""
    return moonraker.get("/server/pinozcam/status", refresh="true")["detector"] or {}


def _console_since(moonraker: MoonrakerProcess, since: float, text: str) -> list[str]:
    return [line for line in moonraker.gcode_responses(since=since) if text in line]


def test_the_incident_the_print_is_paused_by_outlives_a_moonraker_restart(
        stack: Stack, bot: BotServer, events: MoonrakerEvents) -> None:  # noqa: F811
    """The restarted worker takes the incident over: the panel shows it, the alert's Resume
    resumes, and the pause dialog raised before the restart closes with the pause. A dialog
    still shown somewhere (a second browser) cannot cancel the resumed print."""
    moonraker = stack.moonraker
    before = time.time()
    incident = _paused_by_the_engine(stack, events, _long_print(stack, "paused_over_a_restart.gcode"))
    moonraker.wait_for("the dialog", lambda: _console_since(moonraker, before, "action:prompt_show"))
    stack.set_camera(GOOD)

    _restart_moonraker(stack)
    moonraker.wait_for("the worker to be told the print is paused",
                       lambda: (_detector(moonraker).get("print") or {}).get("state") == "paused")
    status = moonraker.status()
    assert (status["open_incident"] or {}).get("id") == incident
    assert stack.print_state() == "paused"

    answered = len(_answers(bot))
    resumed = time.time()
    bot.press(f"pz:resume:{incident}", CHAT_ID)
    _wait_klipper(stack, "printing")
    assert "Asked the printer to resume" in _answers(bot)[answered]
    moonraker.wait_for("the dialog to close", lambda: _console_since(moonraker, resumed, "action:prompt_end"))

    pressed = time.time()
    moonraker.gcode("_PINOZCAM_PROMPT_CANCEL")  # the stale dialog's Cancel
    assert stack.print_state() == "printing"
    assert _console_since(moonraker, pressed, "this dialog was out of date, the print is printing")


@contextlib.contextmanager
def _warm_up_of(stack: Stack, seconds: int) -> Iterator[None]:
    """moonraker.conf's warmup_seconds (which the UI cannot change there) set to ``seconds``,
    through a Moonraker restart; put back, through another, on exit."""
    conf = stack.moonraker.config_file
    original = conf.read_text()
    assert "\nwarmup_seconds: 0\n" in original
    _restart_moonraker(stack, lambda: conf.write_text(
        original.replace("\nwarmup_seconds: 0\n", f"\nwarmup_seconds: {seconds}\n")))
    try:
        yield
    finally:
        stack.end_print()
        _restart_moonraker(stack, lambda: conf.write_text(original))


def test_a_print_past_its_warm_up_is_watched_at_once_after_a_moonraker_restart(stack: Stack) -> None:
    """The restarted worker is told how long the print has run: it does not leave the print
    unguarded for another warmup_seconds."""
    moonraker = stack.moonraker
    with _warm_up_of(stack, 15):
        _start_print(stack, _long_print(stack, "warmed_up.gcode"))
        moonraker.wait_for("the warm-up to end", lambda: _detector(moonraker).get("engine_state") == "watching",
                           timeout=60)
        _restart_moonraker(stack)
        first = moonraker.wait_for("the restarted worker's first check of the print", lambda: (
            d := _detector(moonraker)).get("print", {}).get("state") == "printing"
            and d.get("engine_state") not in (None, "waiting") and d)
        assert first["engine_state"] == "watching"


def test_pinozcam_disable_while_idle_outlives_a_moonraker_restart(stack: Stack) -> None:
    moonraker = stack.moonraker
    moonraker.gcode("PINOZCAM_DISABLE")
    moonraker.wait_for("detection off", lambda: moonraker.status()["disabled_until"] == "enable")

    _restart_moonraker(stack)
    status = moonraker.status()
    assert status["disabled_until"] == "enable" and not status["enabled"]
    stack.start_print()
    assert _detector(moonraker)["print"]["state"] == "standby"  # the print is not watched
    stack.end_print()

    moonraker.gcode("PINOZCAM_ENABLE")
    _restart_moonraker(stack)
    status = moonraker.status()
    assert status["enabled"] and status["disabled_until"] is None


def test_a_setting_saved_while_the_worker_is_away_leaves_pinozcam_disable_alone(stack: Stack) -> None:
    """PINOZCAM_DISABLE, then a setting saved while the worker does not answer (the way a
    camera gets fixed): detection stays off."""
    moonraker = stack.moonraker
    # A short worker_timeout (for the next worker: restarted here) notices a stopped one soon.
    moonraker.post("/server/pinozcam/settings", {"settings": {"worker_timeout": 10}})
    old = moonraker.status()["worker"]
    os.kill(old["pid"], signal.SIGKILL)
    hung = moonraker.wait_for("a new worker", lambda: (w := moonraker.status()["worker"])["connected"]
                              and w["pid"] != old["pid"] and w, timeout=60)["pid"]
    try:
        moonraker.gcode("PINOZCAM_DISABLE")
        moonraker.wait_for("detection off", lambda: moonraker.status()["disabled_until"] == "enable")
        os.kill(hung, signal.SIGSTOP)
        moonraker.wait_for("the worker to be out of reach", lambda: not moonraker.status()["worker"]["connected"])
        moonraker.post("/server/pinozcam/settings", {"settings": {"camera_timeout": 8}})
        status = moonraker.status()
        assert status["disabled_until"] == "enable" and not status["enabled"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung, signal.SIGCONT)
        moonraker.wait_worker_connected()
        moonraker.post("/server/pinozcam/settings", {"settings": {"worker_timeout": None, "camera_timeout": None}})
    stack.start_print()
    assert _detector(moonraker)["print"]["state"] == "standby"  # the print is not watched
