"""Safety rules of the worker: Telegram buttons act only on the open incident of the current
print, every button press is a new request, settings changed mid-print apply at once, and a
camera that stops during a print is reported."""

from __future__ import annotations

import json

from websockets.asyncio.client import ClientConnection

from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import (CHAT_ID, FAILING, GOOD, BotServer, connect, expect, print_state,
                                  requests_matching)


async def _open_incident(ws: ClientConnection, camera: CameraServer, *, file: str = "cube.gcode") -> dict:
    await print_state(ws, "printing", file=file)
    camera.set_frames([FAILING])
    incident = await expect(ws, "incident", lambda m: m["event"] == "opened")
    camera.set_frames([GOOD])
    return incident


async def _paused_by_an_incident(ws: ClientConnection, camera: CameraServer) -> tuple[dict, dict]:
    """An incident opened, its pause carried out and the printer paused: (incident, request)."""
    incident = await _open_incident(ws, camera)
    request = await expect(ws, "action_request")
    await ws.send(json.dumps({"type": "action_result", "incident_id": incident["incident_id"],
                              "action": "pause", "result": "done", "request_id": request["request_id"]}))
    await print_state(ws, "paused")
    return incident, request


def _answers(bot: BotServer) -> list[str]:
    return [r.json()["text"] for r in bot.requests if r.route.endswith("/answerCallbackQuery")]


async def _answer_count(bot: BotServer, count: int) -> list[str]:
    await requests_matching(bot, lambda r: r.route.endswith("/answerCallbackQuery"), count)
    return _answers(bot)


async def _no_action_requested(ws: ClientConnection) -> None:
    """Nothing was asked of the printer up to a fresh status (which comes after whatever the
    worker did with the messages before it)."""
    await ws.send(json.dumps({"type": "status"}))
    seen: list = []
    await expect(ws, "status", seen=seen)
    assert not [m for m in seen if m["type"] == "action_request"]


async def test_pause_on_an_alert_from_an_earlier_print_does_nothing(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        old = await _open_incident(ws, camera)
        await expect(ws, "action_request")
        await print_state(ws, "complete")
        await expect(ws, "incident", lambda m: m["event"] == "closed")
        await print_state(ws, "printing", file="second.gcode")
        await expect(ws, "status", lambda m: m["print"]["file"] == "second.gcode")
        for action in ("pause", "cancel", "mute"):
            bot.press(f"pz:{action}:{old['incident_id']}", chat_id=CHAT_ID)
        answers = await _answer_count(bot, 3)
        assert all("earlier print" in text for text in answers)
        # Nothing reached the printer, and this print is not muted.
        await ws.send(json.dumps({"type": "status"}))
        seen: list = []
        status = await expect(ws, "status", lambda m: m["print"]["file"] == "second.gcode", seen=seen)
        assert not [m for m in seen if m["type"] == "action_request"]
        assert status["muted"] is False


async def test_pause_on_a_closed_incident_of_this_print_does_nothing(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        await ws.send(json.dumps({"type": "configure", "settings": {"consider_time": 1}}))
        await expect(ws, "configured")
        incident = await _open_incident(ws, camera)
        await expect(ws, "incident", lambda m: m["event"] == "closed")  # good frames: the window empties
        bot.press(f"pz:pause:{incident['incident_id']}", chat_id=CHAT_ID)
        [answer] = await _answer_count(bot, 1)
        assert "closed" in answer
        await _no_action_requested(ws)


async def test_each_pause_press_is_a_new_request(worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        incident, engine = await _paused_by_an_incident(ws, camera)
        await print_state(ws, "printing")  # the user resumed by hand
        ids = {engine["request_id"]}
        for _ in range(2):
            bot.press(f"pz:pause:{incident['incident_id']}", chat_id=CHAT_ID)
            request = await expect(ws, "action_request")
            assert request["source"] == "telegram" and request["incident_id"] == incident["incident_id"]
            assert request["request_id"] not in ids  # a new request each time: adapters act again
            ids.add(request["request_id"])


async def test_a_late_result_of_an_earlier_request_does_not_settle_a_new_one(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        incident = await _open_incident(ws, camera)
        engine = await expect(ws, "action_request")
        bot.press(f"pz:cancel:{incident['incident_id']}", chat_id=CHAT_ID)
        await expect(ws, "action_request", lambda m: m["source"] == "telegram")
        # The answer to the engine's pause arrives after the cancel was asked: the cancel stays
        # unconfirmed, so its "could not cancel" alert still goes out.
        await ws.send(json.dumps({"type": "action_result", "incident_id": incident["incident_id"],
                                  "action": "pause", "result": "done", "request_id": engine["request_id"]}))
        await requests_matching(bot, lambda r: b"Could not cancel" in r.body)


async def test_action_changed_mid_print_applies_at_once(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        await print_state(ws, "printing")
        await ws.send(json.dumps({"type": "configure", "settings": {"action": "notify",
                                                                    "max_failure_count": 3}}))
        await expect(ws, "configured")
        camera.set_frames([FAILING])
        seen: list = []
        incident = await expect(ws, "incident", lambda m: m["event"] == "opened", seen=seen)
        assert incident["action"] == "notify"
        failing = [m for m in seen if m["type"] == "detection" and m["band"] == "failure"]
        assert len(failing) >= 2  # max_failure_count 3, not the 2 the print started with
        await ws.send(json.dumps({"type": "status"}))
        later: list = []
        await expect(ws, "status", seen=later)
        assert not [m for m in seen + later if m["type"] == "action_request"]


async def test_a_camera_lost_during_a_print_is_reported_once_and_its_return_too(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        await ws.send(json.dumps({"type": "configure", "settings": {"camera_alert_after": 1}}))
        await expect(ws, "configured")
        await print_state(ws, "printing")
        await expect(ws, "detection")
        camera.stop()
        try:
            await expect(ws, "status", lambda m: m["camera"]["state"] == "offline")
            lost = await requests_matching(
                bot, lambda r: r.route.startswith("/api/webhooks/") and b"not being watched" in r.body)
        finally:
            camera.start()
        back = await requests_matching(
            bot, lambda r: r.route.startswith("/api/webhooks/") and b"Camera back" in r.body)
        assert len(back) == 1
        discord = [r for r in bot.requests if r.route.startswith("/api/webhooks/")]
        assert len([r for r in discord if b"not being watched" in r.body]) == len(lost) == 1
        assert b"Camera offline" in lost[0].body


async def test_a_camera_password_in_the_query_string_stays_out_of_alerts_and_status(
        worker: Worker, bot: BotServer) -> None:
    """Reolink, Foscam and others take their login in the query string; when such a camera
    cannot be reached, the 'not watched' alert and the status name it without the password."""
    url = "http://127.0.0.1:9/cgi-bin/api.cgi?cmd=Snap&user=admin&password=hunter2"
    async with await connect(worker) as ws:
        await expect(ws, "status")
        await ws.send(json.dumps({"type": "configure", "settings": {
            "camera": url, "camera_alert_after": 1}}))
        configured = await expect(ws, "configured")
        await print_state(ws, "printing")
        offline = await expect(ws, "status", lambda m: m["camera"]["state"] == "offline"
                               and "api.cgi" in m["camera"]["message"])
        alerts = await requests_matching(bot, lambda r: b"not being watched" in r.body, count=2)
    assert any(a.route.startswith("/api/webhooks/") for a in alerts)  # Discord and Telegram
    assert any(a.route.endswith("/sendMessage") for a in alerts)
    for text in (json.dumps(configured), json.dumps(offline), *(a.body.decode("utf-8", "replace") for a in alerts)):
        assert "hunter2" not in text
    assert "user=admin&password=<redacted>" in offline["camera"]["message"]


def test_outage_counts_printing_time_only_and_speaks_once_each_way() -> None:
    from pinozcam_klipper.worker.outage import OutageWatch

    watch = OutageWatch()
    step = dict(delay=60.0)
    assert watch.update(camera_ok=False, printing=False, now=0, **step) is None  # idle: not counted
    assert watch.update(camera_ok=False, printing=True, now=100, **step) is None
    assert watch.update(camera_ok=False, printing=True, now=159, **step) is None
    assert watch.update(camera_ok=False, printing=True, now=160, **step) == "lost"
    assert watch.update(camera_ok=False, printing=True, now=900, **step) is None  # once per outage
    assert watch.update(camera_ok=True, printing=True, now=901, **step) == "back"
    assert watch.update(camera_ok=True, printing=True, now=902, **step) is None
    assert watch.update(camera_ok=False, printing=True, now=903, delay=0) is None  # 0: off
    assert watch.update(camera_ok=True, printing=True, now=2000, **step) is None  # no "back" unsaid


async def test_resume_on_an_alert_whose_pause_was_resumed_leaves_another_pause_alone(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    """Within the resume grace the incident stays open (its buttons still work), but its pause
    is over: a second pause (a filament runout, the user's own) is not the alert's to resume.
    Once the incident pauses the printer again, its Resume works again."""
    async with await connect(worker) as ws:
        await expect(ws, "status")
        incident, _ = await _paused_by_an_incident(ws, camera)
        await print_state(ws, "printing")  # the user resumed the incident's pause
        await print_state(ws, "paused")  # a filament runout pauses the print again
        await expect(ws, "status", lambda m: m["print"]["state"] == "paused")
        bot.press(f"pz:resume:{incident['incident_id']}", chat_id=CHAT_ID)
        [answer] = await _answer_count(bot, 1)
        assert "already resumed" in answer
        await _no_action_requested(ws)

        await print_state(ws, "printing")  # resumed from Mainsail; the user then pauses from the alert
        bot.press(f"pz:pause:{incident['incident_id']}", chat_id=CHAT_ID)
        pause = await expect(ws, "action_request", lambda m: m["action"] == "pause")
        await ws.send(json.dumps({"type": "action_result", "incident_id": incident["incident_id"],
                                  "action": "pause", "result": "done", "request_id": pause["request_id"]}))
        await print_state(ws, "paused")
        bot.press(f"pz:resume:{incident['incident_id']}", chat_id=CHAT_ID)
        resume = await expect(ws, "action_request", lambda m: m["action"] == "resume")
        assert resume["incident_id"] == incident["incident_id"]
