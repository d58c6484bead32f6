"""Failure frames through the real worker: detections, one incident, action requests, alerts, buttons."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from websockets.asyncio.client import ClientConnection

from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker import export_feedback
from pinozcam_klipper.worker.config import Listen, WorkerConfig
from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import (BOT_TOKEN, CHAT_ID, FAILING, GOOD, TOKEN, BotServer, connect, expect,
                                  print_state, requests_matching, settings_for)


async def _open_incident(ws: ClientConnection, camera: CameraServer, seen: list) -> dict:
    await expect(ws, "status")
    await print_state(ws, "printing", layer=3, total_layers=50, progress=0.1)
    camera.set_frames([FAILING])
    return await expect(ws, "incident", lambda m: m["event"] == "opened", seen=seen)


async def test_failure_frames_open_one_incident_that_asks_to_pause(
        worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        seen: list = []
        incident = await _open_incident(ws, camera, seen)
        failing = [m for m in seen if m["type"] == "detection" and m["band"] == "failure"]
        assert failing and failing[-1]["boxes"][0]["label"] == "spaghetti"
        assert incident["action"] == "pause"
        assert incident["incident"]["state"] == "open"
        request = await expect(ws, "action_request")
        assert request == {"type": "action_request", "incident_id": incident["incident_id"],
                           "action": "pause", "source": "engine", "request_id": request["request_id"]}
        assert request["request_id"]
        await ws.send(json.dumps({"type": "action_result", "incident_id": incident["incident_id"],
                                  "action": "pause", "result": "done",
                                  "request_id": request["request_id"]}))
        # Several more failure frames: the open incident absorbs them, nothing opens twice.
        later: list = []
        for _ in range(5):
            later.append(await expect(ws, "detection", seen=later))
        assert all(m["band"] == "failure" for m in later if m["type"] == "detection")
        assert not [m for m in later if m["type"] == "incident"]
        print(f"\nfailure frame -> incident message: {worker.incident_latencies[0] * 1000:.1f} ms")
        record = worker.store.get(incident["incident_id"])
        assert record is not None and record["action_state"] == "done"
        folder = worker.store.root / incident["incident_id"]
        assert (folder / "annotated.jpg").read_bytes()[:2] == b"\xff\xd8"
        assert (folder / "onset.jpg").is_file() and (folder / "before-1.jpg").is_file()



async def test_the_alert_picture_of_a_high_resolution_camera_fits_telegram_and_discord(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    """Telegram refuses a photo whose sides add up to more than 10000 px, and both services
    one over 10 MB: a 48 MP camera's frame is shrunk for the alert; the raw frame is kept."""
    big = cv2.resize(cv2.imdecode(np.frombuffer(FAILING, np.uint8), cv2.IMREAD_COLOR), (8000, 6000),
                     interpolation=cv2.INTER_NEAREST)
    big_jpeg = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    async with await connect(worker) as ws:
        await expect(ws, "status")
        await print_state(ws, "printing", layer=3, total_layers=50, progress=0.1)
        camera.set_frames([big_jpeg])
        incident = await expect(ws, "incident", lambda m: m["event"] == "opened", timeout=60)
        [photo] = await requests_matching(bot, lambda r: r.route.endswith("/sendPhoto"))
        [webhook] = await requests_matching(bot, lambda r: r.route.startswith("/api/webhooks/"))
    for picture in (photo.form()["photo"].data, webhook.form()["files[0]"].data):
        height, width = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR).shape[:2]
        assert (width, height) == (1920, 1440)
    onset = worker.store.root / incident["incident_id"] / "onset.jpg"
    assert cv2.imdecode(np.fromfile(onset, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (6000, 8000)

async def test_unconfirmed_pause_sends_could_not_pause_alert(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        incident = await _open_incident(ws, camera, [])
        # No action_result: after action_confirm_timeout the worker alerts on its own.
        alerts = await requests_matching(bot, lambda r: b"Could not pause" in r.body, count=2)
        assert any(r.route.endswith("/sendPhoto") for r in alerts)  # with the latest picture
        assert any(r.route.startswith("/api/webhooks/") for r in alerts)
        trail = worker.store.get(incident["incident_id"])["trail"]
        assert [e["event"] for e in trail][-1] == "action_unconfirmed"


async def test_a_pause_the_printer_took_is_not_reported_until_the_busy_timeout(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    """An adapter that answers ``accepted`` (Klipper runs the pause after a heat-up holding its
    queue) gets the busy timeout, not the confirmation timeout; if no result comes even then,
    the alert says the printer took the pause and why it may not have finished."""
    async with await connect(worker) as ws:
        # The busy timeout shorter than the confirmation one: the reason of the one alert tells
        # which wait ran out.
        await ws.send(json.dumps({"type": "configure", "settings": {
            "action_confirm_timeout": 30, "action_busy_timeout": 1}}))
        await expect(ws, "configured")
        incident = await _open_incident(ws, camera, [])
        request = await expect(ws, "action_request")
        await ws.send(json.dumps({"type": "action_result", "incident_id": incident["incident_id"],
                                  "action": "pause", "result": "accepted",
                                  "request_id": request["request_id"]}))
        alerts = await requests_matching(bot, lambda r: b"Could not pause" in r.body, count=2)
        assert all(b"had not finished" in r.body and b"heat-up" in r.body for r in alerts)
        trail = worker.store.get(incident["incident_id"])["trail"]
        events = [e["event"] for e in trail]
        assert events.index("action_result") < events.index("action_unconfirmed")
        assert events.count("action_unconfirmed") == 1
        assert worker.store.get(incident["incident_id"])["action_state"] == "unconfirmed"


async def test_a_pause_done_after_could_not_pause_is_told(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    """The user heard "Could not pause"; when the pause is carried out after all (Klipper was
    busy past every timeout), a message says so, instead of the printer pausing in silence."""
    async with await connect(worker) as ws:
        incident = await _open_incident(ws, camera, [])
        request = await expect(ws, "action_request")
        await requests_matching(bot, lambda r: b"Could not pause" in r.body, count=2)
        await ws.send(json.dumps({"type": "action_result", "incident_id": incident["incident_id"],
                                  "action": "pause", "result": "done", "reason": "ran PINOZCAM_PAUSE",
                                  "request_id": request["request_id"]}))
        told = await requests_matching(bot, lambda r: b"Printer paused after all" in r.body, count=2)
        assert any(b"ran PINOZCAM_PAUSE" in r.body for r in told)
        assert worker.store.get(incident["incident_id"])["action_state"] == "done"


async def test_telegram_button_from_the_right_chat_only(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        incident = await _open_incident(ws, camera, [])
        first = await expect(ws, "action_request")
        assert first["source"] == "engine"
        photo = (await requests_matching(bot, lambda r: r.route.endswith("/sendPhoto")))[0]
        keyboard = json.loads(photo.form()["reply_markup"].text)["inline_keyboard"]
        cancel = next(b for row in keyboard for b in row if b["text"] == "Cancel")
        bot.press(cancel["callback_data"], chat_id="999")  # a stranger: ignored
        bot.press(cancel["callback_data"], chat_id=CHAT_ID)
        seen: list = []
        request = await expect(ws, "action_request", seen=seen)
        assert request == {"type": "action_request", "incident_id": incident["incident_id"],
                           "action": "cancel", "source": "telegram", "request_id": request["request_id"]}
        assert request["request_id"] != first["request_id"]
        assert not [m for m in seen if m["type"] == "action_request"]
        answered = await requests_matching(bot, lambda r: r.route.endswith("/answerCallbackQuery"), 2)
        answers = [r.json()["text"] for r in answered]
        assert answers[0].startswith("Not allowed")


async def test_reconnecting_client_gets_state_at_once(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        # Long enough that the pause is still waiting for its confirmation on reconnect.
        await ws.send(json.dumps({"type": "configure", "settings": {"action_confirm_timeout": 300}}))
        await expect(ws, "configured")
        incident = await _open_incident(ws, camera, [])
        first = await expect(ws, "action_request")
    async with await connect(worker) as again:
        status = json.loads(await again.recv())
        assert status["type"] == "status"
        assert status["open_incident"]["id"] == incident["incident_id"]
        assert status["print"]["state"] == "printing"
        current = json.loads(await again.recv())
        assert current["type"] == "incident" and current["event"] == "open"
        repeat = json.loads(await again.recv())
        assert repeat["type"] == "action_request" and repeat["repeat"] is True
        assert repeat["request_id"] == first["request_id"]  # the same request, not a new one


async def test_feedback_and_export(worker: Worker, camera: CameraServer, tmp_path: Path) -> None:
    async with await connect(worker) as ws:
        incident = await _open_incident(ws, camera, [])
        await ws.send(json.dumps({"type": "feedback", "incident_id": incident["incident_id"],
                                  "label": "real_failure"}))
        saved = await expect(ws, "feedback_saved")
        assert saved["incident_id"] == incident["incident_id"]
        detection = await expect(ws, "detection")
        await ws.send(json.dumps({"type": "feedback", "frame_id": detection["frame_id"],
                                  "label": "false_alarm"}))
        frame_saved = await expect(ws, "feedback_saved")
        await ws.send(json.dumps({"type": "feedback", "incident_id": "nope", "label": "false_alarm"}))
        assert (await expect(ws, "error"))["code"] == "unknown_incident"
    out = tmp_path / "dataset"
    assert export_feedback(worker.config.data_dir, out) == 2
    label = (out / "labels" / f"{incident['incident_id']}.txt").read_text().split()
    assert label[0] == "0" and len(label) == 5  # spaghetti, one box
    assert (out / "labels" / f"{frame_saved['incident_id']}.txt").read_text() == ""


async def test_detect_now_while_idle(worker: Worker) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        started = time.monotonic()
        await ws.send(json.dumps({"type": "detect_now"}))
        detection = await expect(ws, "detection")
        assert detection["reason"] == "detect_now" and detection["band"] == "ok"
        print(f"\ndetect_now answered in {(time.monotonic() - started) * 1000:.0f} ms")


async def test_a_bot_with_a_webhook_is_reported_not_silently_buttonless(
        worker: Worker, bot: BotServer, caplog) -> None:
    """Telegram gives a bot's updates to one reader only: with a webhook set, getUpdates
    answers 409 and the buttons would do nothing. The status says so, without the token."""
    # The token at the end stands for a self-hosted Bot API server that echoes the request.
    bot.refuse_updates = (409, "Conflict: can't use getUpdates method while webhook is active;"
                               f" use deleteWebhook to delete the webhook first (bot{BOT_TOKEN})")
    polls = len([r for r in bot.requests if r.route.endswith("/getUpdates")])
    # The second refused poll comes after the first refusal was taken in.
    await requests_matching(bot, lambda r: r.route.endswith("/getUpdates"), polls + 2)
    async with await connect(worker) as ws:
        buttons = (await expect(ws, "status"))["telegram_buttons"]
        assert buttons["state"] == "error"
        assert "webhook" in buttons["message"] and "deleteWebhook" in buttons["message"]
        bot.refuse_updates = None
        polls = len([r for r in bot.requests if r.route.endswith("/getUpdates")])
        await requests_matching(bot, lambda r: r.route.endswith("/getUpdates"), polls + 2)
        await ws.send(json.dumps({"type": "status"}))
        assert (await expect(ws, "status"))["telegram_buttons"] == {"state": "ok", "message": ""}
    assert "webhook" in caplog.text
    assert BOT_TOKEN not in caplog.text and BOT_TOKEN not in json.dumps(buttons)


async def test_an_unwritable_incident_folder_still_pauses_and_alerts(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    # The folder vanishes and a plain file takes its place: every write in it fails (as on a
    # full disk, which root-run tests cannot fake with permissions).
    root = worker.store.root
    import shutil
    shutil.rmtree(root)
    root.write_text("not a folder")
    async with await connect(worker) as ws:
        seen: list = []
        incident = await _open_incident(ws, camera, seen)
        assert incident["action"] == "pause" and incident["incident"]["state"] == "open"
        request = await expect(ws, "action_request")
        assert request["incident_id"] == incident["incident_id"] and request["action"] == "pause"
        status = await expect(ws, "status", lambda m: m["incident_storage"]["state"] == "error")
        assert "cannot save incident" in status["incident_storage"]["message"]
        assert status["open_incident"]["id"] == incident["incident_id"]
        await requests_matching(bot, lambda r: r.route.startswith("/api/webhooks/")
                                and b"Possible print failure" in r.body)


async def test_the_button_reader_outlives_an_exception_that_is_not_httpx() -> None:
    import asyncio

    from pinozcam_klipper.worker.telegram_buttons import ButtonPoller

    async def pressed(press: object) -> str:
        return ""

    # Port 99999: OverflowError at connect, which is not an httpx error.
    poller = ButtonPoller(api_base="http://127.0.0.1:99999", bot_token=BOT_TOKEN, chat_id=CHAT_ID,
                          on_press=pressed, poll_timeout=1)
    task = asyncio.create_task(poller.run())
    try:
        async with asyncio.timeout(10):
            while poller.problem is None and not task.done():
                await asyncio.sleep(0)
        assert not task.done()
        assert poller.problem == "getUpdates failed (OverflowError)"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def _restarted_after_a_paused_incident(camera: CameraServer, bot: BotServer, tmp_path: Path,
                                             **detection: Any) -> AsyncIterator[tuple[Worker, dict]]:
    """An incident pauses the print, the worker stops as if it died, and a new worker starts
    on the same data folder: yields the new worker and the incident."""
    settings = Settings.from_mapping(settings_for(camera, bot, detection=detection))
    config = WorkerConfig(listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path / "data")
    first = Worker(settings, config)
    await first.start()
    try:
        async with await connect(first) as ws:
            opened = await _open_incident(ws, camera, [])
            await print_state(ws, "paused", layer=3, total_layers=50, progress=0.1)
            await expect(ws, "status", lambda m: m["print"]["state"] == "paused")
    finally:
        await first.stop()
    camera.set_frames([GOOD])
    second = Worker(settings, config)
    await second.start()
    try:
        yield second, opened
    finally:
        await second.stop()


async def test_a_restarted_worker_takes_over_the_incident_the_printer_is_paused_by(
        camera: CameraServer, bot: BotServer, tmp_path: Path) -> None:
    """Moonraker restarted (a config edit in Mainsail) while our pause waits for the user: the
    alert's buttons, the panel and the incident record must go on, not say "closed"."""
    async with _restarted_after_a_paused_incident(camera, bot, tmp_path, resume_grace=0) as (second, opened):
        async with await connect(second) as ws:
            await print_state(ws, "paused", layer=3, total_layers=50, progress=0.1)
            status = await expect(ws, "status", lambda m: m["print"]["state"] == "paused")
            assert status["open_incident"]["id"] == opened["incident_id"]
            bot.press(f"pz:resume:{opened['incident_id']}", chat_id=CHAT_ID)
            request = await expect(ws, "action_request")
            assert (request["action"], request["incident_id"]) == ("resume", opened["incident_id"])
            # Resumed: it closes like any other incident.
            await print_state(ws, "printing", layer=3, total_layers=50, progress=0.1)
            closed = await expect(ws, "incident", lambda m: m["event"] == "closed")
            assert closed["incident_id"] == opened["incident_id"]
        trail = [e["event"] for e in second.store.get(opened["incident_id"])["trail"]]
        assert "taken_over" in trail and trail[-1] == "closed"


async def test_a_restarted_worker_closes_an_incident_whose_pause_is_over(
        camera: CameraServer, bot: BotServer, tmp_path: Path) -> None:
    async with _restarted_after_a_paused_incident(camera, bot, tmp_path) as (second, opened):
        async with await connect(second) as ws:
            await print_state(ws, "printing", layer=3, total_layers=50, progress=0.1)  # resumed meanwhile
            status = await expect(ws, "status", lambda m: m["print"]["state"] == "printing")
            assert status["open_incident"] is None
            bot.press(f"pz:pause:{opened['incident_id']}", chat_id=CHAT_ID)
            [answer] = await requests_matching(bot, lambda r: r.route.endswith("/answerCallbackQuery"))
            assert "nothing was done" in answer.json()["text"]
        record = second.store.get(opened["incident_id"])
        assert record["state"] == "closed" and record["trail"][-1]["reason"] == "worker restarted"


async def test_a_wall_clock_jump_before_a_restart_does_not_cancel_the_paused_print_early(
        camera: CameraServer, bot: BotServer, tmp_path: Path, monkeypatch: Any) -> None:
    """A Pi has no clock of its own: the network time can move its wall clock by months in the
    middle of a print. A worker restarted after that (Moonraker restarted by a config edit)
    must count escalate_after from when the incident really opened, not cancel at once."""
    escalate_after = 8.0
    started = time.monotonic()  # before the incident opens: what is counted from here is longer
    async with _restarted_after_a_paused_incident(camera, bot, tmp_path, escalate_after=escalate_after,
                                                  resume_grace=0) as (second, opened):
        real_time = time.time
        monkeypatch.setattr(time, "time", lambda: real_time() + 60 * 86400)
        async with await connect(second) as ws:
            await print_state(ws, "paused", layer=3, total_layers=50, progress=0.1)
            status = await expect(ws, "status", lambda m: m["print"]["state"] == "paused")
            assert status["open_incident"]["id"] == opened["incident_id"]
            # It still escalates (the print stays paused), but only once escalate_after is up.
            request = await expect(ws, "action_request", timeout=60)
            assert (request["action"], request["incident_id"]) == ("cancel", opened["incident_id"])
            assert time.monotonic() - started >= escalate_after
