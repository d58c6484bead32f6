"""What the component does on Klipper: actions asked by the worker (engine and Telegram buttons),
the idle timeout around PINOZCAM_PAUSE, and how long PINOZCAM_DISABLE and a mute last (through
a worker or Moonraker restart, and detection switched off and on, in the same print).

Everything real (the ``stack`` fixture of conftest.py); Telegram is a local Bot API server
(``BotServer``) that the stack's worker is pointed at through the settings API for this module.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.fixtures.klippy_runner import KlippyApi
from tests.integration.moonraker_stack import SLOW_PRINT, MoonrakerEvents, MoonrakerProcess, Stack
from tests.worker.helpers import BOT_TOKEN, CHAT_ID, FAILING, BotServer

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def bot(stack: Stack) -> Iterator[BotServer]:
    """Telegram (with button presses) for the stack's worker while this module runs."""
    with BotServer() as server:
        stack.moonraker.post("/server/pinozcam/settings", {"settings": {
            "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": CHAT_ID,
            "telegram_api_base": server.telegram_api_base}})
        try:
            yield server
        finally:
            stack.moonraker.post("/server/pinozcam/settings", {"settings": {
                "telegram_bot_token": None, "telegram_chat_id": None, "telegram_api_base": None}})


@pytest.fixture(autouse=True)
def idle_afterwards(stack: Stack) -> Iterator[None]:
    yield
    stack.end_print()
    if not stack.moonraker.status()["enabled"]:
        stack.moonraker.gcode("PINOZCAM_ENABLE")


def _wait_klipper(stack: Stack, state: str) -> None:
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == state, timeout=30)


def _long_print(stack: Stack, name: str, start_gcode: str = "") -> str:
    """A print file of four test prints (four minutes) after ``start_gcode``: long enough for
    Moonraker restarts in the middle of it."""
    one = (stack.printer.sdcard_dir / SLOW_PRINT).read_text()
    (stack.printer.sdcard_dir / name).write_text(start_gcode + 4 * one)
    return name


def _start_print(stack: Stack, name: str) -> None:
    stack.moonraker.gcode(f"SDCARD_PRINT_FILE FILENAME={name}")
    stack.moonraker.wait_for("the component to see the print",
                             lambda: stack.moonraker.status()["print_state"] == "printing")


def _restart_moonraker(stack: Stack, while_stopped: Callable[[], None] | None = None) -> None:
    """Stop Moonraker as systemd does (SIGTERM; its worker goes with it) and start it again,
    with ``while_stopped`` done in between; Klipper goes on printing. Returns once the new
    worker is connected and the component has seen Klipper."""
    moonraker = stack.moonraker
    moonraker.stop()
    try:
        if while_stopped is not None:
            while_stopped()
    finally:  # the stack is shared: Moonraker runs again whatever happened
        moonraker.client = httpx.Client(timeout=30)  # stop() closed the old one
        moonraker.start()
    moonraker.wait_ready()
    moonraker.wait_worker_connected()
    moonraker.wait_for("the component to see Klipper", lambda: moonraker.status()["klippy_ready"])


def _incident_ids(moonraker: MoonrakerProcess) -> set[str]:
    return {i["id"] for i in moonraker.get("/server/pinozcam/incidents", limit=1000)["incidents"]}


def _incident_after(moonraker: MoonrakerProcess, known: set[str]) -> dict[str, Any]:
    """The newest incident, once there is one whose id is not in ``known`` (from the worker's
    incident list: a websocket listener could connect after a new worker has opened it)."""
    return moonraker.wait_for("a new incident", lambda: next(
        (i for i in moonraker.get("/server/pinozcam/incidents", limit=1)["incidents"] if i["id"] not in known),
        None), timeout=60)


def _paused_by_the_engine(stack: Stack, events: MoonrakerEvents, print_file: str = SLOW_PRINT) -> str:
    """Start a print, show a failure; return the incident once the component has paused."""
    moonraker = stack.moonraker
    seen = len(events.of("notify_pinozcam_incident"))
    _start_print(stack, print_file)
    stack.set_camera(FAILING)
    _wait_klipper(stack, "paused")
    incident = events.wait("notify_pinozcam_incident", lambda p: p["event"] == "opened", after=seen)
    moonraker.wait_for("the pause to be reported", lambda: (a := moonraker.status()["last_action"])
                       and a["incident_id"] == incident["incident_id"] and a["result"] == "done")
    return str(incident["incident_id"])


def _answers(bot: BotServer) -> list[str]:
    return [str(r.json().get("text")) for r in bot.telegram_requests("answerCallbackQuery")]


def test_a_second_telegram_pause_after_a_resume_pauses_again(stack: Stack, bot: BotServer,
                                                               events: MoonrakerEvents) -> None:
    """After a resume the alert's Pause works again (the incident stays open through the
    resume grace), and the component acts on it as a new request, not from the first pause."""
    moonraker = stack.moonraker
    incident = _paused_by_the_engine(stack, events)
    moonraker.gcode("RESUME")
    _wait_klipper(stack, "printing")
    moonraker.wait_for("the component to see the resume", lambda: moonraker.status()["print_state"] == "printing")

    first = moonraker.status()["last_action"]
    bot.press(f"pz:pause:{incident}", CHAT_ID)
    _wait_klipper(stack, "paused")
    action = moonraker.wait_for("the second pause to be reported",
                                lambda: (a := moonraker.status()["last_action"]) and a != first and a)
    assert action["action"] == "pause" and action["result"] == "done"
    assert action["request_id"] and action["request_id"] != first["request_id"]


def test_a_request_when_the_print_has_ended_sends_no_gcode(stack: Stack, bot: BotServer,
                                                             events: MoonrakerEvents) -> None:
    """A Telegram press that races the end of the print: the worker still thinks the print is
    paused (Moonraker is stopped, so nobody told it), Klipper has already cancelled it."""
    moonraker = stack.moonraker
    incident = _paused_by_the_engine(stack, events)
    pid = moonraker.proc.pid if moonraker.proc else 0
    answered = len(_answers(bot))
    before = time.time()
    os.kill(pid, signal.SIGSTOP)
    try:
        stack.printer.api.call("gcode/script", {"script": "CANCEL_PRINT"})
        _wait_klipper(stack, "cancelled")
        bot.press(f"pz:resume:{incident}", CHAT_ID)
        # Answered: the worker has sent the request (Moonraker reads it once it runs again).
        moonraker.wait_for("the worker to take the press", lambda: len(_answers(bot)) > answered)
    finally:
        os.kill(pid, signal.SIGCONT)
    action = moonraker.wait_for("the answer to the press",
                                lambda: (a := moonraker.status()["last_action"]) and a["action"] == "resume" and a)
    assert action["result"] == "failed"
    assert "the printer is cancelled" in action["reason"] or "the printer is standby" in action["reason"]
    # RESUME on a printer that is not paused would have answered "Print is not paused".
    assert not [r for r in moonraker.gcode_responses(since=before) if "not paused" in r]
    assert stack.print_state() == "cancelled"


def _idle_timeout_lines(stack: Stack, since: float) -> list[str]:
    return [r for r in stack.moonraker.gcode_responses(since=since) if "idle_timeout: Timeout set" in r]


def test_pinozcam_pause_gives_the_idle_timeout_back_on_resume_and_cancel(stack: Stack) -> None:
    """PINOZCAM_PAUSE keeps the heaters on while paused (an hour), not for every later idle."""
    moonraker = stack.moonraker
    started = time.time()
    stack.start_print()
    moonraker.gcode("PINOZCAM_PAUSE")
    _wait_klipper(stack, "paused")
    assert _idle_timeout_lines(stack, started) == ["// idle_timeout: Timeout set to 3600.00 s"]
    moonraker.gcode("RESUME")
    # The stand-in printer has no [idle_timeout]: Klipper's default, 600 s, comes back.
    moonraker.wait_for("the idle timeout back after resume",
                       lambda: _idle_timeout_lines(stack, started)[1:] == ["// idle_timeout: Timeout set to 600.00 s"])

    moonraker.gcode("PINOZCAM_PAUSE")
    _wait_klipper(stack, "paused")
    moonraker.gcode("CANCEL_PRINT")
    moonraker.wait_for("the idle timeout back after cancel",
                       lambda: _idle_timeout_lines(stack, started)[2:] == [
                           "// idle_timeout: Timeout set to 3600.00 s", "// idle_timeout: Timeout set to 600.00 s"])
    # Only what PINOZCAM_PAUSE raised is put back: a print without it changes nothing.
    second = time.time()
    stack.start_print()
    stack.end_print()
    moonraker.gcode("PINOZCAM_STATUS")  # a console line after the end, to know it is all in
    moonraker.wait_for("the status line", lambda: any("PiNozCam:" in r for r in moonraker.gcode_responses(since=second)))
    assert _idle_timeout_lines(stack, second) == []


def _worker_print_state(stack: Stack) -> str:
    return str(((stack.moonraker.status()["detector"] or {}).get("print") or {}).get("state", ""))


def test_disable_in_a_start_gcode_lasts_for_that_print_only(stack: Stack) -> None:
    moonraker = stack.moonraker
    (stack.printer.sdcard_dir / "unwatched.gcode").write_text(
        "PINOZCAM_DISABLE\n" + (stack.printer.sdcard_dir / SLOW_PRINT).read_text())
    moonraker.gcode("SDCARD_PRINT_FILE FILENAME=unwatched.gcode")
    status = moonraker.wait_for("detection off for this print",
                                lambda: (s := moonraker.status())["disabled_until"] and s)
    assert status["disabled_until"] == "print_end" and not status["enabled"]
    assert stack.print_state() == "printing"
    moonraker.wait_for("the worker to be told nothing prints", lambda: _worker_print_state(stack) == "standby")
    started = time.time()
    moonraker.gcode("PINOZCAM_STATUS")
    moonraker.wait_for("the status answer", lambda: any(
        "detection disabled until this print ends" in r for r in moonraker.gcode_responses(since=started)))

    stack.end_print()
    status = moonraker.wait_for("detection on again", lambda: (s := moonraker.status())["enabled"] and s)
    assert status["disabled_until"] is None
    stack.start_print()
    moonraker.wait_for("the next print to be watched", lambda: _worker_print_state(stack) == "printing")


def test_disable_while_idle_lasts_until_enable(stack: Stack) -> None:
    moonraker = stack.moonraker
    moonraker.gcode("PINOZCAM_DISABLE")
    status = moonraker.wait_for("detection off", lambda: (s := moonraker.status())["disabled_until"] and s)
    assert status["disabled_until"] == "enable"
    stack.start_print()
    stack.end_print()
    stack.start_print()
    assert moonraker.status()["disabled_until"] == "enable"
    assert _worker_print_state(stack) == "standby"
    moonraker.gcode("PINOZCAM_ENABLE")
    moonraker.wait_for("the print to be watched", lambda: _worker_print_state(stack) == "printing")
    assert moonraker.status()["disabled_until"] is None


def test_pinozcam_pause_and_cancel_do_nothing_when_no_print_runs(stack: Stack, events: MoonrakerEvents) -> None:
    """The macros check the print state inside Klipper, in line with other gcode: a pause that
    waited behind the user's own CANCEL_PRINT must not pause (and so leave Klipper paused for
    the next print), and the next print still pauses."""
    moonraker = stack.moonraker
    before = time.time()
    stack.end_print()
    moonraker.gcode("PINOZCAM_PAUSE")
    moonraker.gcode("PINOZCAM_CANCEL")
    lines = moonraker.gcode_responses(since=before)
    assert any("no print is running" in r and "nothing paused" in r for r in lines), lines
    assert any("nothing cancelled" in r for r in lines), lines
    paused = stack.printer.api.call("objects/query", {"objects": {"pause_resume": ["is_paused"]}})
    assert paused["status"]["pause_resume"]["is_paused"] is False
    assert not _idle_timeout_lines(stack, before)

    _paused_by_the_engine(stack, events)  # the next print pauses as it should


def test_the_pause_dialog_closes_when_the_print_is_resumed_elsewhere(stack: Stack,
                                                                      events: MoonrakerEvents) -> None:
    """Resumed from Mainsail's button (or Telegram): the dialog must not stay up with a Cancel
    button for a pause that is over."""
    moonraker = stack.moonraker
    before = time.time()
    _paused_by_the_engine(stack, events)
    moonraker.wait_for("the dialog", lambda: any("action:prompt_show" in r
                                                 for r in moonraker.gcode_responses(since=before)))
    resumed = time.time()
    moonraker.gcode("RESUME")
    moonraker.wait_for("the dialog to close", lambda: any(
        "action:prompt_end" in r for r in moonraker.gcode_responses(since=resumed)))
    # A dialog left open elsewhere (another browser): its buttons check again in Klipper, so
    # once the print has ended they send no CANCEL_PRINT or RESUME.
    stack.end_print()
    pressed = time.time()
    moonraker.gcode("_PINOZCAM_PROMPT_CANCEL")
    moonraker.gcode("_PINOZCAM_PROMPT_RESUME")
    moonraker.gcode("PINOZCAM_STATUS")  # a console line after the presses, to know they are in
    lines = moonraker.wait_for("the status line", lambda: (r := moonraker.gcode_responses(since=pressed))
                               and any("PiNozCam:" in x for x in r) and r)
    assert not [r for r in lines if "action:cancel" in r or "not paused" in r], lines


def test_a_mute_survives_a_worker_restart(stack: Stack) -> None:
    """The worker forgets everything when it dies; the component mutes the new one again."""
    moonraker = stack.moonraker

    def detector() -> dict[str, Any]:  # None between a connect and the worker's first status
        return moonraker.status()["detector"] or {}

    stack.start_print()
    moonraker.post("/server/pinozcam/mute", {"muted": True})
    moonraker.wait_for("the mute", lambda: detector().get("muted"))
    first = moonraker.status()
    os.kill(first["worker"]["pid"], signal.SIGKILL)
    again = moonraker.wait_for("a new worker, muted", lambda: (s := moonraker.status())["worker"]["connected"]
                               and s["worker"]["pid"] != first["worker"]["pid"]
                               and (s["detector"] or {}).get("print", {}).get("state") == "printing"
                               and s, timeout=60)
    moonraker.wait_for("the new worker muted", lambda: detector().get("muted") is True)
    assert again["worker"]["restarts"] == first["worker"]["restarts"] + 1
    stack.end_print()
    moonraker.wait_for("the mute to end with the print", lambda: detector().get("muted") is False)


def test_a_false_alarm_stays_muted_through_a_moonraker_restart(stack: Stack, events: MoonrakerEvents) -> None:
    """"False alarm: resume and mute", then Moonraker restarts mid-print (a moonraker.conf edit,
    a crash): the same false alarm must not pause the print again. A new print of the same file,
    started while Moonraker was down, is watched again."""
    moonraker = stack.moonraker
    name = _long_print(stack, "long_print.gcode")
    _paused_by_the_engine(stack, events, name)
    moonraker.gcode("PINOZCAM_FALSE_ALARM")  # the dialog's third button
    _wait_klipper(stack, "printing")
    moonraker.wait_for("the mute", lambda: (moonraker.status()["detector"] or {}).get("muted") is True)
    started = moonraker.status()["print_started_at"]
    known = _incident_ids(moonraker)

    _restart_moonraker(stack)  # the camera still shows the failure the user called a false alarm
    again = _incident_after(moonraker, known)
    assert again["action"] is None  # muted: it asks for no pause
    assert stack.print_state() == "printing"
    assert moonraker.status()["last_action"] is None  # nothing sent to Klipper since the restart

    def new_print_of_the_same_file() -> None:
        stack.printer.api.call("gcode/script", {"script": "CANCEL_PRINT"})
        _wait_klipper(stack, "cancelled")
        # A print of the same file starts a print's length later at least; here the test went
        # so fast that it could start within seconds, which the component takes for the same
        # print (its start is reckoned from Klipper's total_duration, to 5 s): make it 10 s.
        while time.time() - started < 10.0:
            time.sleep(0.1)
        stack.printer.api.call("gcode/script", {"script": f"SDCARD_PRINT_FILE FILENAME={name}"})

    _restart_moonraker(stack, new_print_of_the_same_file)
    third = _incident_after(moonraker, known | {again["id"]})
    assert third["action"] == "pause"
    _wait_klipper(stack, "paused")


def test_disable_in_a_start_gcode_survives_a_moonraker_restart(stack: Stack) -> None:
    """PINOZCAM_DISABLE in a slicer's start gcode, then Moonraker restarts mid-print: the print
    stays unwatched until it ends, and the next one is watched."""
    moonraker = stack.moonraker
    _start_print(stack, _long_print(stack, "unwatched_long.gcode", "PINOZCAM_DISABLE\n"))
    moonraker.wait_for("detection off for this print", lambda: moonraker.status()["disabled_until"] == "print_end")

    _restart_moonraker(stack)
    status = moonraker.status()
    assert status["disabled_until"] == "print_end" and not status["enabled"]
    asked = time.time()
    moonraker.gcode("PINOZCAM_STATUS")
    moonraker.wait_for("the status answer", lambda: any(
        "detection disabled until this print ends" in r for r in moonraker.gcode_responses(since=asked)))
    assert _worker_print_state(stack) == "standby"

    stack.end_print()
    moonraker.wait_for("detection on again", lambda: moonraker.status()["enabled"])
    stack.start_print()
    moonraker.wait_for("the next print to be watched", lambda: _worker_print_state(stack) == "printing")


def test_a_mute_survives_detection_switched_off_and_on_in_the_same_print(stack: Stack,
                                                                        events: MoonrakerEvents) -> None:
    """PINOZCAM_MUTE, then PINOZCAM_DISABLE and PINOZCAM_ENABLE (or the panel's switch) in the
    same print: the print is still muted, so a failure asks for no pause."""
    moonraker = stack.moonraker
    stack.start_print()
    moonraker.wait_for("the worker to watch", lambda: _worker_print_state(stack) == "printing")
    moonraker.gcode("PINOZCAM_MUTE")
    moonraker.wait_for("the mute", lambda: (moonraker.status()["detector"] or {}).get("muted") is True)
    moonraker.gcode("PINOZCAM_DISABLE")
    moonraker.wait_for("the worker to stop watching", lambda: _worker_print_state(stack) == "standby")
    moonraker.gcode("PINOZCAM_ENABLE")
    moonraker.wait_for("the worker to watch again", lambda: _worker_print_state(stack) == "printing")
    moonraker.post("/server/pinozcam/settings", {"settings": {"enabled": False}})  # the panel's switch
    moonraker.wait_for("the worker to stop watching", lambda: _worker_print_state(stack) == "standby")
    moonraker.post("/server/pinozcam/settings", {"settings": {"enabled": None}})
    moonraker.wait_for("the worker to watch again", lambda: _worker_print_state(stack) == "printing")

    seen = len(events.of("notify_pinozcam_incident"))
    stack.set_camera(FAILING)
    incident = events.wait("notify_pinozcam_incident", lambda p: p["event"] == "opened", after=seen)
    assert incident["action"] is None  # muted: it asks for no pause
    assert stack.print_state() == "printing"


def test_the_alert_buttons_work_after_a_worker_restart_while_paused(stack: Stack, bot: BotServer,
                                                                     events: MoonrakerEvents) -> None:
    """The worker died (or Moonraker restarted) while our pause waits for the user: the new
    worker takes the incident over, so the alert's Resume still resumes the print."""
    moonraker = stack.moonraker
    incident = _paused_by_the_engine(stack, events)
    old = moonraker.status()["worker"]
    os.kill(old["pid"], signal.SIGKILL)
    moonraker.wait_for("the new worker to take the incident over", lambda: (
        s := moonraker.status())["worker"]["pid"] != old["pid"]
        and ((s["detector"] or {}).get("open_incident") or {}).get("id") == incident, timeout=60)
    answered = len(_answers(bot))
    bot.press(f"pz:resume:{incident}", CHAT_ID)
    _wait_klipper(stack, "printing")
    assert "Asked the printer to resume" in _answers(bot)[answered]


def test_a_plate_of_many_detailed_parts_is_watched(stack: Stack) -> None:
    """A slicer outlines each of a hundred parts in detail (exclude_object): the print state
    with all of them must still reach the worker, or the whole print goes unwatched."""
    moonraker = stack.moonraker
    defines = []
    for index in range(100):
        x, y = 10 + (index % 10) * 20, 10 + (index // 10) * 20
        outline = ",".join(f"[{x + 5 * math.cos(a / 40 * 2 * math.pi):.3f},{y + 5 * math.sin(a / 40 * 2 * math.pi):.3f}]"
                           for a in range(40))
        defines.append(f"EXCLUDE_OBJECT_DEFINE NAME=part_{index}_of_a_busy_plate.stl CENTER={x},{y} POLYGON=[{outline}]")
    (stack.printer.sdcard_dir / "busy_plate.gcode").write_text(
        "\n".join(defines) + "\n" + (stack.printer.sdcard_dir / SLOW_PRINT).read_text())
    moonraker.gcode("SDCARD_PRINT_FILE FILENAME=busy_plate.gcode")
    moonraker.wait_for("the component to see the print", lambda: moonraker.status()["print_state"] == "printing")
    moonraker.wait_for("the worker to be told the print runs", lambda: _worker_print_state(stack) == "printing")


def test_a_misspelt_cancel_macro_is_reported_as_failed(stack: Stack, bot: BotServer,
                                                       events: MoonrakerEvents) -> None:
    """Klipper only prints 'Unknown command' for a macro that does not exist: the component
    must not report the cancel as done while the print is still there."""
    moonraker = stack.moonraker
    moonraker.post("/server/pinozcam/settings", {"settings": {"cancel_macro": "CANCEL_PRNT"}})
    try:
        incident = _paused_by_the_engine(stack, events)
        first = moonraker.status()["last_action"]
        bot.press(f"pz:cancel:{incident}", CHAT_ID)
        action = moonraker.wait_for("the cancel's result", lambda: (a := moonraker.status()["last_action"])
                                    and a != first and a["action"] == "cancel" and a)
        assert action["result"] == "failed" and "the printer is paused" in action["reason"]
        assert stack.print_state() == "paused"
    finally:
        moonraker.post("/server/pinozcam/settings", {"settings": {"cancel_macro": None}})


def test_a_pause_behind_a_long_command_is_carried_out_not_reported_as_lost(
        stack: Stack, bot: BotServer, events: MoonrakerEvents) -> None:
    """A failure seen while Klipper runs a long command (a mid-print heat-up holds its queue;
    here a dwell) pauses once that command is done. The component says at once that it has sent
    the pause, so the worker does not take the wait for a lost request: no "Could not pause"."""
    moonraker = stack.moonraker
    moonraker.post("/server/pinozcam/settings", {"settings": {"action_confirm_timeout": 1}})
    holding: list[BaseException] = []

    def hold_klippers_queue() -> None:
        # Its own connection: the test's own one reads status updates meanwhile.
        try:
            with KlippyApi.connect(stack.printer.klippy.api_socket) as api:
                api.call("gcode/script", {"script": "M117 held by a long command\nG4 P8000"}, timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            holding.append(exc)

    holder = threading.Thread(target=hold_klippers_queue)
    try:
        stack.start_print()
        seen = len(events.of("notify_pinozcam_incident"))
        stack.printer.api.subscribe({"display_status": ["message"]})
        holder.start()
        stack.printer.api.wait_for_status("display_status", lambda s: s.get("message") == "held by a long command")
        stack.set_camera(FAILING)
        incident = events.wait("notify_pinozcam_incident", lambda p: p["event"] == "opened", after=seen)
        _wait_klipper(stack, "paused")
        action = moonraker.wait_for("the pause to be reported", lambda: (a := moonraker.status()["last_action"])
                                    and a["incident_id"] == incident["incident_id"] and a)
        assert action["result"] == "done"
        record = json.loads((moonraker.data_path / "pinozcam" / "incidents" / incident["incident_id"]
                             / "incident.json").read_text())
        trail = [(e["event"], e.get("result")) for e in record["trail"]]
        assert ("action_unconfirmed", None) not in trail
        assert trail.index(("action_result", "accepted")) < trail.index(("action_result", "done"))
        assert not [r for r in bot.telegram_requests("sendPhoto") + bot.telegram_requests("sendMessage")
                    if b"Could not pause" in r.body]
    finally:
        holder.join(timeout=60)
        moonraker.post("/server/pinozcam/settings", {"settings": {"action_confirm_timeout": None}})
    assert not holding
