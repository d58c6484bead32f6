"""The PiNozCam Moonraker component with everything real around it.

Real Moonraker 0.11, real klippy on the stand-in MCU (with pinozcam.cfg included), the real
worker process, a local camera and a recording Discord server (the ``stack`` fixture of
conftest.py). The camera shows a good print unless a test shows the fixture model's red patch.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.moonraker_stack import (MoonrakerError, MoonrakerEvents, MoonrakerProcess, Stack,
                                               established_connections, run_doctor)
from tests.servers import NotifyServer
from tests.worker.helpers import BOT_TOKEN, FAILING

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def good_print_afterwards(stack: Stack):
    yield
    stack.end_print()


def test_component_loads_and_finds_the_camera_and_macros(stack: Stack) -> None:
    moonraker = stack.moonraker
    info = moonraker.get("/server/info")
    assert "pinozcam" in info["components"]
    assert not [w for w in info["warnings"] if "pinozcam" in w]
    status = moonraker.status()
    assert status["worker"]["connected"] and status["enabled"]
    # "camera: testcam" names a Moonraker [webcam]: its snapshot URL is what the worker reads.
    assert status["camera_url"] == stack.camera.snapshot_url
    assert status["model"]["classes"]
    objects = moonraker.get("/printer/objects/list")["objects"]
    for macro in ("PINOZCAM_PAUSE", "PINOZCAM_ENABLE", "PINOZCAM_DISABLE", "PINOZCAM_MUTE",
                  "PINOZCAM_STATUS"):
        assert f"gcode_macro {macro}" in objects


def test_failure_during_a_print_pauses_alerts_and_asks(stack: Stack, events: MoonrakerEvents) -> None:
    moonraker = stack.moonraker
    # The stack is shared: earlier tests' incidents, alerts and console lines must not count.
    started = time.time()
    alerts_before = len(stack.discord.discord_requests())
    stack.start_print()
    stack.set_camera(FAILING)
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "paused", timeout=30)

    incident = events.wait("notify_pinozcam_incident", lambda p: p["event"] == "opened")
    assert incident["action"] == "pause"
    status = moonraker.wait_for(
        "the action result for this incident",
        lambda: (a := moonraker.status()["last_action"]) and a["incident_id"] == incident["incident_id"] and a)
    assert status["result"] == "done" and status["action"] == "pause"
    # The alert with the annotated picture reached "Discord".
    alerts = moonraker.wait_for("the alert", lambda: stack.discord.discord_requests()[alerts_before:],
                                timeout=15)
    assert any(a.method == "POST" and b"\xff\xd8" in a.body for a in alerts)  # a JPEG in the form
    # Mainsail/Fluidd dialog raised through Klipper.
    responses = moonraker.gcode_responses(since=started)
    assert any("action:prompt_begin" in r for r in responses)
    assert any("action:prompt_footer_button False alarm" in r for r in responses)
    # The incident's picture is served through Moonraker.
    picture = moonraker.request("GET", "/server/pinozcam/incident_picture",
                                params={"id": incident["incident_id"]})
    assert picture.status_code == 200 and picture.content[:2] == b"\xff\xd8"
    listed = moonraker.get("/server/pinozcam/incidents")["incidents"]
    assert listed[0]["id"] == incident["incident_id"]

    # The dialog's "False alarm: resume and mute" button.
    moonraker.gcode("PINOZCAM_FALSE_ALARM")
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == "printing")
    moonraker.wait_for("mute", lambda: (moonraker.status()["detector"] or {}).get("muted"))
    moonraker.wait_for("the label", lambda: moonraker.get("/server/pinozcam/incidents")["incidents"][0]
                       ["label"] == "false_alarm")


def test_no_print_nothing_is_sent_to_klipper(stack: Stack, events: MoonrakerEvents) -> None:
    moonraker = stack.moonraker
    started = time.time()
    last_action = moonraker.status()["last_action"]
    stack.set_camera(FAILING)
    for _ in range(3):  # more failure frames than max_failure_count
        seen = len(events.of("notify_pinozcam_detection"))
        moonraker.post("/server/pinozcam/detect_now")
        detection = events.wait("notify_pinozcam_detection", after=seen)
    assert detection["band"] != "ok"  # the picture does show a failure
    # (An earlier test's incident may still be reported closed: only a new one counts.)
    assert not [p for p in events.of("notify_pinozcam_incident") if p["event"] == "opened"]
    assert stack.print_state() not in ("printing", "paused")
    assert moonraker.gcode_responses(since=started) == []
    assert moonraker.status()["last_action"] == last_action


def test_worker_killed_during_a_print_is_back_quickly(stack: Stack) -> None:
    moonraker = stack.moonraker
    stack.start_print()
    old = moonraker.status()["worker"]
    os.kill(old["pid"], signal.SIGKILL)
    status = moonraker.wait_for(
        "the worker to be restarted and reconnected",
        lambda: (s := moonraker.status())["worker"]["connected"] and s["worker"]["pid"] != old["pid"] and s,
        timeout=10)
    assert status["worker"]["restarts"] == old["restarts"] + 1
    # The new worker was told the print is running.
    moonraker.wait_for("the new worker to know the print",
                       lambda: (moonraker.status()["detector"] or {}).get("print", {}).get("state")
                       == "printing", timeout=10)
    assert stack.print_state() == "printing"


def test_macros_toggle_detection(stack: Stack) -> None:
    moonraker = stack.moonraker
    started = time.time()
    stack.start_print()

    def worker_print_state() -> str:
        return ((moonraker.status()["detector"] or {}).get("print") or {}).get("state", "")

    moonraker.wait_for("the worker to watch", lambda: worker_print_state() == "printing")
    moonraker.gcode("PINOZCAM_DISABLE")
    moonraker.wait_for("detection off", lambda: not moonraker.status()["enabled"])
    moonraker.wait_for("the worker to stop watching", lambda: worker_print_state() == "standby")
    moonraker.wait_for("the answer", lambda: any("PiNozCam: detection disabled" in r
                                                  for r in moonraker.gcode_responses(since=started)))
    moonraker.gcode("PINOZCAM_ENABLE")
    moonraker.wait_for("the worker to watch again", lambda: worker_print_state() == "printing")
    assert moonraker.status()["enabled"]
    moonraker.gcode("PINOZCAM_MUTE")
    moonraker.wait_for("muted", lambda: (moonraker.status()["detector"] or {}).get("muted"))
    moonraker.gcode("PINOZCAM_STATUS")
    moonraker.wait_for("the status answer", lambda: any("PiNozCam: watching" in r
                                                         for r in moonraker.gcode_responses(since=started)))


def test_settings_locked_by_moonraker_conf_and_secrets_hidden(stack: Stack) -> None:
    moonraker = stack.moonraker
    settings = moonraker.get("/server/pinozcam/settings")
    assert "camera" in settings["locked"] and "max_failure_count" in settings["locked"]
    assert settings["settings"]["discord_webhook_url"] == "<redacted>"
    assert "discord-secret-token" not in moonraker.request("GET", "/server/pinozcam/settings").text
    with pytest.raises(MoonrakerError, match="moonraker.conf") as locked:
        moonraker.post("/server/pinozcam/settings", {"settings": {"max_failure_count": 9}})
    assert locked.value.status == 400
    with pytest.raises(MoonrakerError, match="display_threshold") as bad:
        moonraker.post("/server/pinozcam/settings", {"settings": {"display_threshold": 5}})
    assert bad.value.status == 400

    saved = moonraker.post("/server/pinozcam/settings", {"settings": {"escalate_after": 120}})
    assert saved["saved"] == {"escalate_after": 120}
    assert saved["settings"]["escalate_after"] == 120
    moonraker.post("/server/pinozcam/settings", {"settings": {"escalate_after": None}})
    assert moonraker.get("/server/pinozcam/settings")["saved"] == {}


def test_a_threshold_reset_from_the_api_goes_back_to_the_preset(stack: Stack, events: MoonrakerEvents) -> None:
    """null for an option resets it in the worker too, not only in the saved values."""
    moonraker = stack.moonraker
    stack.set_camera(FAILING)  # the fixture model scores its red patch 0.996

    def detect() -> dict[str, Any]:
        seen = len(events.of("notify_pinozcam_detection"))
        moonraker.post("/server/pinozcam/detect_now")
        return events.wait("notify_pinozcam_detection", lambda d: d["reason"] == "detect_now", after=seen)

    assert detect()["band"] != "ok"  # the webcam preset's 0.94: the patch counts
    saved = moonraker.post("/server/pinozcam/settings", {"settings": {"score_threshold": 1.0}})
    assert saved["settings"]["score_threshold"] == 1.0
    assert detect()["failure_area"] == 0  # nothing scores 1.0

    reset = moonraker.post("/server/pinozcam/settings", {"settings": {"score_threshold": None}})
    assert "score_threshold" not in reset["saved"]
    assert reset["settings"]["score_threshold"] is None  # from the preset again, in the worker
    assert moonraker.get("/server/pinozcam/settings")["settings"]["score_threshold"] is None
    assert detect()["band"] != "ok"


def _worker_port(moonraker: MoonrakerProcess, status: dict[str, Any]) -> int:
    """The port of the worker now running: the last "listening on" line of its log."""
    def port() -> int | None:
        found = re.findall(r"pinozcam worker listening on 127\.0\.0\.1:(\d+)",
                           Path(status["worker"]["log"]).read_text(errors="replace"))
        return int(found[-1]) if found else None
    return moonraker.wait_for("the worker's address in its log", port)


def test_snapshot_when_the_worker_connection_drops_is_a_503(stack: Stack) -> None:
    """The worker dies while Moonraker waits for its picture: a 503 that says why, not a 500."""
    moonraker = stack.moonraker
    old = moonraker.wait_worker_connected()["worker"]
    port = _worker_port(moonraker, moonraker.status())
    connections = established_connections(port)
    # Stopped, the worker still has its socket (the kernel accepts the snapshot's connection)
    # and its websocket to the component stays up, so the component does ask it.
    os.kill(old["pid"], signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.get, moonraker.url + "/server/pinozcam/snapshot", timeout=60)
            moonraker.wait_for("the snapshot request to reach the worker",
                               lambda: established_connections(port) > connections)
            os.kill(old["pid"], signal.SIGKILL)
            response = pending.result()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(old["pid"], signal.SIGKILL)  # never leave a stopped worker behind
    assert response.status_code == 503, response.text
    assert "the detector worker is not reachable" in response.json()["error"]["message"]
    moonraker.wait_for("the worker to be restarted",
                       lambda: (w := moonraker.status()["worker"])["connected"] and w["pid"] != old["pid"])
    assert moonraker.request("GET", "/server/pinozcam/snapshot").status_code == 200


def test_snapshot_while_the_worker_restarts_is_never_a_500(stack: Stack) -> None:
    moonraker = stack.moonraker
    old = moonraker.wait_worker_connected()["worker"]
    os.kill(old["pid"], signal.SIGKILL)
    answers: list[tuple[int, str]] = []

    def snapshot_or_back() -> bool:
        response = moonraker.request("GET", "/server/pinozcam/snapshot")
        answers.append((response.status_code, response.text[:200]))
        if response.status_code == 503:
            return True
        worker = moonraker.status()["worker"]
        return bool(worker["connected"] and worker["pid"] != old["pid"])

    moonraker.wait_for("a 503 or the worker back", snapshot_or_back)
    assert all(code in (200, 503) for code, _ in answers), answers
    moonraker.wait_for("the worker to be restarted",
                       lambda: (w := moonraker.status()["worker"])["connected"] and w["pid"] != old["pid"])


def test_snapshot_and_panel_through_moonraker(stack: Stack) -> None:
    moonraker = stack.moonraker
    snapshot = moonraker.request("GET", "/server/pinozcam/snapshot")
    assert snapshot.status_code == 200
    assert snapshot.headers["content-type"].startswith("image/jpeg")
    assert snapshot.content[:2] == b"\xff\xd8"
    panel = moonraker.request("GET", "/server/pinozcam/panel")
    assert panel.status_code == 200 and "<html" in panel.text.lower()
    assert panel.headers["content-type"].startswith("text/html")


def test_raw_snapshot_is_the_camera_frame_and_history_comes_from_the_worker(stack: Stack) -> None:
    moonraker = stack.moonraker
    stack.set_camera(FAILING)
    # The worker looks at the camera between prints only when asked (or watched).
    moonraker.post("/server/pinozcam/detect_now")
    raw = moonraker.wait_for("the failing frame, undrawn", lambda: (r := moonraker.request(
        "GET", "/server/pinozcam/snapshot", params={"raw": 1})).content == FAILING and r)
    assert raw.headers["content-type"].startswith("image/jpeg")
    annotated = moonraker.request("GET", "/server/pinozcam/snapshot")
    assert annotated.status_code == 200 and annotated.content != FAILING  # the boxes are drawn

    history = moonraker.get("/server/pinozcam/history")
    assert "type" not in history
    assert set(history) >= {"print", "points", "incidents", "thresholds"}
    assert 0 < history["thresholds"]["warning"] < history["thresholds"]["failure"] <= 1
    assert all(len(point) == 3 for point in history["points"])


def test_doctor_finds_a_healthy_installation_and_sends_a_test(stack: Stack) -> None:
    before = len(stack.discord.discord_requests())
    code, text = run_doctor(stack.moonraker.url, "--send-test")
    assert code == 0, text
    for line in ("the pinozcam component is loaded", "the detector worker runs",
                 "the camera gives pictures", "Klipper has the PiNozCam macros",
                 "notifications configured: Discord", "test message sent to discord"):
        assert line in text
    assert len(stack.discord.discord_requests()) == before + 1


def test_doctor_warns_when_the_test_message_missed_its_telegram_topic(stack: Stack) -> None:
    """A forum topic that is gone: the test message reaches the chat itself, and doctor says
    which option to fix instead of a plain "sent"."""
    with NotifyServer() as telegram:
        telegram.reply(400, json_body={"ok": False, "error_code": 400,
                                       "description": "Bad Request: message thread not found"})
        # No buttons: their update polling would take the scripted answer first.
        stack.moonraker.post("/server/pinozcam/settings", {"settings": {
            "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "-1001234", "telegram_topic_id": 77,
            "telegram_api_base": telegram.telegram_api_base, "alert_buttons": False}})
        try:
            code, text = run_doctor(stack.moonraker.url, "--send-test")
        finally:
            stack.moonraker.post("/server/pinozcam/settings", {"settings": {
                "telegram_bot_token": None, "telegram_chat_id": None, "telegram_topic_id": None,
                "telegram_api_base": None, "alert_buttons": None}})
        assert "test message sent to telegram, but telegram_topic_id 77 is wrong" in text, text
        assert BOT_TOKEN not in text


def test_doctor_says_what_to_do_when_moonraker_is_unreachable(stack: Stack) -> None:
    from tests.integration.moonraker_stack import free_port

    code, text = run_doctor(f"http://127.0.0.1:{free_port()}")
    assert code == 1
    assert "cannot reach Moonraker" in text and "->" in text


def test_a_request_the_worker_refuses_is_a_clear_400_and_the_next_one_works(stack: Stack) -> None:
    """A feedback with an impossible frame id: answered at once with the worker's reason, not
    a 504 after 20 s, and the answers to later requests still reach their own askers."""
    moonraker = stack.moonraker
    refused = moonraker.request("POST", "/server/pinozcam/feedback",
                                json={"label": "false_alarm", "frame_id": -1})
    assert refused.status_code == 400, refused.text
    assert "frame_id" in refused.json()["error"]["message"]  # not a 504 after the 20 s reply timeout
    unknown = moonraker.request("POST", "/server/pinozcam/feedback",
                                json={"label": "false_alarm", "incident_id": "20260101-000000-abcd"})
    assert unknown.status_code == 400 and "no incident" in unknown.json()["error"]["message"]
    assert isinstance(moonraker.get("/server/pinozcam/incidents")["incidents"], list)
