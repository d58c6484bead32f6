"""The OctoPrint adapter's parts that need no OctoPrint: print events, the action rules, the
settings mapping, the webcam choice, and the worker supervisor and link against a real worker
process (the dev venv's python, the fixture "red patch" model, a local camera server)."""

from __future__ import annotations

import os
import queue
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pinozcam_klipper.octoprint.actions import ActionGate, PrinterFlags
from pinozcam_klipper.octoprint.link import WorkerLink
from pinozcam_klipper.octoprint.plugin_settings import (ADAPTER_DEFAULTS, ADMIN_ONLY_KEYS, core_keys, defaults,
                                                       normalise)
from pinozcam_klipper.octoprint.print_state import PrintTracker
from pinozcam_klipper.octoprint.supervisor import WorkerSpec, WorkerSupervisor
from pinozcam_klipper.octoprint.webcam import choose_camera
from tests.integration.octoprint.harness import wait_until
from tests.servers import CameraServer
from tests.worker.helpers import FAILING, GOOD, MODEL

# -- print events ------------------------------------------------------------------------


def test_print_events_become_worker_print_states() -> None:
    tracker = PrintTracker()
    payload = {"name": "cube.gcode", "path": "folder/cube.gcode", "origin": "local"}
    sent = [tracker.on_event(e, payload) for e in
            ("PrintStarted", "PrintPaused", "PrintResumed", "PrintDone")]
    assert [m["state"] for m in sent if m] == ["printing", "paused", "printing", "complete"]
    assert all(m["file"] == "folder/cube.gcode" for m in sent if m)
    assert tracker.on_event("PrintStarted", payload)["progress"] == 0.0
    assert tracker.on_event("PrintFailed", {**payload, "reason": "cancelled"})["state"] == "cancelled"
    # OctoPrint fires PrintCancelled as well: nothing new to say.
    assert tracker.on_event("PrintCancelled", payload) is None
    tracker.on_event("PrintStarted", payload)
    assert tracker.on_event("PrintFailed", {**payload, "reason": "error"})["state"] == "error"


def test_losing_the_printer_ends_a_running_print_only() -> None:
    tracker = PrintTracker()
    assert tracker.on_event("Disconnected", {}) is None
    tracker.on_event("PrintStarted", {"path": "a.gcode"})
    assert tracker.on_event("Error", {"error": "serial"}) == {
        "type": "print_state", "state": "error", "file": "a.gcode", "progress": None}
    assert tracker.on_event("Upload", {"path": "a.gcode"}) is None


def test_progress_is_sent_only_while_printing_and_when_it_changes() -> None:
    tracker = PrintTracker()
    assert tracker.on_progress("a.gcode", 10) is None
    tracker.on_event("PrintStarted", {"path": "a.gcode"})
    assert tracker.on_progress("a.gcode", 10)["progress"] == 0.1
    assert tracker.on_progress("a.gcode", 10) is None


def test_a_reconnecting_worker_hears_the_printers_current_state() -> None:
    tracker = PrintTracker()
    assert tracker.current(printing=True, paused=True, file="b.gcode")["state"] == "paused"
    assert tracker.current(printing=True, paused=False, file="b.gcode")["state"] == "printing"
    assert tracker.current(printing=False, paused=False) == {
        "type": "print_state", "state": "standby", "file": "", "progress": None}


def test_a_worker_restarted_mid_print_hears_how_long_the_print_has_run() -> None:
    """So that it warms up only for what is left, instead of going blind for warmup_seconds."""
    tracker = PrintTracker()
    assert tracker.current(printing=True, paused=False, file="b.gcode", elapsed=312.04)["elapsed"] == 312.0
    assert "elapsed" not in tracker.current(printing=True, paused=False, file="b.gcode", elapsed=None)
    assert "elapsed" not in tracker.current(printing=False, paused=False, elapsed=312.0)


def test_a_mute_of_the_running_print_is_repeated_to_a_reconnected_worker() -> None:
    tracker = PrintTracker()
    tracker.note_muted(True)
    assert tracker.after_connect() == []  # nothing prints: nothing to mute
    tracker.on_event("PrintStarted", {"path": "a.gcode"})
    tracker.note_muted(True)
    assert tracker.after_connect() == [{"type": "mute", "muted": True}]
    tracker.on_event("PrintPaused", {"path": "a.gcode"})
    assert tracker.after_connect() == [{"type": "mute", "muted": True}]
    tracker.on_event("PrintDone", {"path": "a.gcode"})
    assert tracker.after_connect() == []
    tracker.on_event("PrintStarted", {"path": "b.gcode"})
    assert tracker.after_connect() == []  # the next print starts unmuted


# -- action rules --------------------------------------------------------------------------

IDLE = PrinterFlags()
PRINTING = PrinterFlags(printing=True)
PAUSED = PrinterFlags(paused=True)


def test_nothing_is_done_when_no_print_runs() -> None:
    gate = ActionGate()
    for action in ("pause", "cancel", "resume"):
        decision = gate.decide("i1", action, IDLE)
        assert not decision.act and decision.result == "failed" and decision.reason == "no print is running"
    assert not gate.decide("i1", "pause", PrinterFlags(printing=True, cancelling=True)).act


def test_each_incident_pauses_at_most_once() -> None:
    gate = ActionGate()
    assert gate.decide("i1", "pause", PRINTING).act
    gate.record("i1", "pause", "done", acted=True)
    again = gate.decide("i1", "pause", PRINTING)  # e.g. resumed by hand, then the request repeated
    assert not again.act and again.result == "done"
    assert gate.decide("i2", "pause", PRINTING).act  # a new incident may pause again
    assert gate.decide("i1", "cancel", PAUSED).act  # escalation is a different action
    assert [h["incident_id"] for h in gate.history()] == ["i1"]


def test_a_new_request_for_the_same_incident_acts_again_a_repeat_does_not() -> None:
    gate = ActionGate()
    assert gate.decide("i1", "pause", PRINTING, "r1").act
    gate.record("i1", "pause", "done", acted=True, request_id="r1")
    # The worker repeats r1 after a reconnect: answered with the first result, no second pause.
    repeat = gate.decide("i1", "pause", PRINTING, "r1")
    assert not repeat.act and repeat.result == "done"
    # The user resumed by hand and pressed Pause on the alert again: a new request pauses.
    assert gate.decide("i1", "pause", PRINTING, "r2").act
    assert gate.history()[-1]["request_id"] == "r1"


def test_pause_of_a_paused_print_and_resume_of_a_running_one() -> None:
    gate = ActionGate()
    paused = gate.decide("i1", "pause", PAUSED)
    assert not paused.act and paused.result == "done"
    resume = gate.decide("i1", "resume", PRINTING)
    assert not resume.act and resume.result == "failed"
    assert gate.decide("i1", "resume", PAUSED).act
    assert not gate.decide("i1", "mute", PRINTING).act


# -- settings ------------------------------------------------------------------------------


def test_defaults_hold_every_core_option_and_the_adapters() -> None:
    flat = defaults()
    assert set(core_keys()) | set(ADAPTER_DEFAULTS) == set(flat)
    assert flat["printer_name"] == "OctoPrint printer"
    assert flat["masks"] == [] and flat["check_interval"] == 1.0


def test_settings_are_converted_and_a_bad_one_is_refused_alone() -> None:
    accepted, problems = normalise(defaults(), {
        "score_threshold": "0.7", "check_interval": 1000, "worker_port": "7131",
        "masks": "0,0 0.5,0 0.5,0.5", "no_such_option": 1})
    assert accepted == {"score_threshold": 0.7, "worker_port": 7131,
                        "masks": [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]}
    assert {p.option for p in problems} == {"check_interval", "no_such_option"}


def test_a_refused_secret_is_not_repeated() -> None:
    secret = "ftp://discord.example/secret-webhook-token"
    accepted, problems = normalise(defaults(), {"discord_webhook_url": secret})
    assert accepted == {}
    [problem] = problems
    assert problem.option == "discord_webhook_url" and secret not in problem.message


def test_values_shown_redacted_and_sent_back_keep_the_saved_ones() -> None:
    saved = {**defaults(), "camera": "http://cam:hunter2@cam.local/snap?user=admin&password=pw",
             "discord_webhook_url": "https://discord.com/api/webhooks/1/secret-webhook-token"}
    assert {"camera", "discord_webhook_url", "telegram_bot_token"} <= set(ADMIN_ONLY_KEYS)
    accepted, problems = normalise(saved, {
        "camera": "http://<redacted>@cam.local/snap?user=admin&password=<redacted>",
        "discord_webhook_url": "<redacted>", "telegram_bot_token": "<redacted>", "printer_name": "Bench"})
    assert (accepted, problems) == ({"printer_name": "Bench"}, [])
    # Another URL with the placeholder in it cannot know the password: refused, the saved one stays.
    accepted, problems = normalise(saved, {"camera": "http://<redacted>@other.local/snap"})
    assert accepted == {}
    [problem] = problems
    assert problem.option == "camera" and "password again" in problem.message


# -- webcam --------------------------------------------------------------------------------

WEBCAMS = [
    {"name": "classic", "compat": {"stream": "/webcam/?action=stream", "snapshot": ""}, "flipH": True},
    {"name": "usb2", "compat": {"stream": "http://cam2/stream", "snapshot": "http://cam2/snap"},
     "rotate90": True},
]


def test_the_camera_comes_from_the_setting_then_octoprints_webcams() -> None:
    assert choose_camera("http://mine/snap", WEBCAMS).source == "setting"
    first = choose_camera("", WEBCAMS)
    assert (first.url, first.source, first.flip_horizontal) == \
        ("http://127.0.0.1/webcam/?action=stream", "webcam:classic", True)
    default = choose_camera("", WEBCAMS, default_name="usb2")
    assert (default.url, default.rotate) == ("http://cam2/snap", 270)
    named = choose_camera("", WEBCAMS, wanted_name="usb2", default_name="classic")
    assert named.source == "webcam:usb2"


def test_a_missing_or_unusable_webcam_is_reported() -> None:
    fallback = choose_camera("", WEBCAMS, wanted_name="x")
    assert fallback.source == "webcam:classic"
    assert fallback.problem == "no OctoPrint webcam named 'x': watching 'classic'"
    unusable = choose_camera("", [{"name": "pi", "compat": None, "snapshotDisplay": "libcamera"}])
    assert unusable.url == "" and "no OctoPrint webcam has a snapshot or stream URL" in unusable.problem
    missing = choose_camera("", [])
    assert missing.url == "" and "set the camera URL" in missing.problem


def test_the_status_shows_the_camera_without_its_password() -> None:
    mine = choose_camera("http://cam:hunter2@cam.local/snap?user=admin&pwd=pw", [])
    assert mine.url == "http://cam:hunter2@cam.local/snap?user=admin&pwd=pw"  # the worker gets it whole
    assert mine.to_dict()["url"] == "http://<redacted>@cam.local/snap?user=admin&pwd=<redacted>"
    webcam = choose_camera("", [{"name": "w", "compat": {"snapshot": "http://u:p4ss@w.local/snap"}}])
    assert webcam.to_dict()["url"] == "http://<redacted>@w.local/snap"


# -- supervisor and link against a real worker -----------------------------------------------


@pytest.fixture
def camera() -> Iterator[CameraServer]:
    server = CameraServer([GOOD]).start()
    yield server
    server.stop()


@pytest.fixture
def spec(camera: CameraServer, tmp_path: Path) -> WorkerSpec:
    config = tmp_path / "worker.yaml"
    config.write_text(yaml.safe_dump({
        "camera": {"camera": camera.snapshot_url}, "model": {"model_path": str(MODEL)},
        "detection": {"warmup_frames": 0, "warmup_seconds": 0, "start_layer": 0, "max_failure_count": 2},
        "worker": {"check_interval": 0.2, "fast_check_interval": 0.1, "action_confirm_timeout": 5}}))
    token = tmp_path / "token"
    token.write_text("adapter-test-token\n")
    return WorkerSpec(config=config, token_file=token, data_dir=tmp_path / "data", python=sys.executable,
                      verbose=False)


@pytest.mark.timeout(60)
def test_the_link_carries_print_state_and_action_requests_and_survives_a_worker_crash(
        spec: WorkerSpec, camera: CameraServer) -> None:
    supervisor = WorkerSupervisor(spec)
    messages: queue.Queue[dict[str, Any]] = queue.Queue()
    connects: list[int] = []

    def on_connect() -> list[dict[str, Any]]:
        connects.append(1)
        return [{"type": "print_state", "state": "printing", "file": "cube.gcode"}]

    link = WorkerLink(lambda: supervisor.address, "adapter-test-token", on_connect=on_connect,
                      on_message=messages.put)
    supervisor.start()
    link.start()
    try:
        assert supervisor.wait_ready(30), supervisor.status()
        assert link.wait_connected(30)
        camera.set_frames([FAILING])
        request = _next(messages, "action_request")
        assert request["action"] == "pause" and request["source"] == "engine"
        assert link.send({"type": "action_result", "incident_id": request["incident_id"],
                          "action": "pause", "result": "done"})

        pid = supervisor.status()["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_until("a new worker", lambda: supervisor.status()["pid"] not in (None, pid), 30)
        wait_until("the link to reconnect", lambda: len(connects) == 2 and link.connected, 30)
        assert supervisor.starts == 2 and supervisor.status()["last_exit"]["code"] == -signal.SIGKILL
    finally:
        link.stop()
        supervisor.stop()
    assert not supervisor.status()["running"] and not link.connected


@pytest.mark.timeout(60)
def test_a_hung_worker_is_restarted_by_the_link(spec: WorkerSpec) -> None:
    """A worker that lives but no longer answers (stopped with SIGSTOP) would leave the print
    unwatched: after ``hung_after`` seconds without an answer the link has it restarted."""
    supervisor = WorkerSupervisor(spec)
    link = WorkerLink(lambda: supervisor.address, "adapter-test-token", on_connect=list,
                      on_message=lambda message: None, on_hung=supervisor.restart, hung_after=3)
    supervisor.start()
    link.start()
    try:
        assert supervisor.wait_ready(30) and link.wait_connected(30)
        hung = supervisor.status()["pid"]
        os.kill(hung, signal.SIGSTOP)
        wait_until("a new worker", lambda: supervisor.status()["pid"] not in (None, hung), 40)
        wait_until("the link to the new worker", lambda: link.connected, 30)
        assert supervisor.starts == 2
    finally:
        link.stop()
        supervisor.stop()


def _next(messages: queue.Queue[dict[str, Any]], kind: str, timeout: float = 20.0) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        try:
            message = messages.get(timeout=0.1)
        except queue.Empty:
            return None
        return message if message.get("type") == kind else None
    return wait_until(f"a {kind} message", probe, timeout, every=0)
