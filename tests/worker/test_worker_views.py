"""What viewers get: the raw snapshot, the print's history, the display threshold, and alerts
that say how much of the picture fails and how often; and what the log never shows."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from pinozcam_klipper.detect import ModelError
from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker.config import Listen, WorkerConfig
from pinozcam_klipper.worker.history import MAX_POINTS, PrintHistory
from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import (BOT_TOKEN, FAILING, GOOD, TOKEN, BotServer, connect, expect, print_state,
                                  requests_matching, settings_for)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_raw_snapshot_is_the_cameras_own_picture(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await print_state(ws, "printing")
        camera.set_frames([FAILING])
        await expect(ws, "detection", lambda m: m["band"] == "failure")
    async with httpx.AsyncClient(base_url=f"http://{worker.address}", timeout=20) as client:
        raw = await client.get("/snapshot.jpg?raw=1", headers=AUTH)
        drawn = await client.get("/snapshot.jpg", headers=AUTH)
    assert raw.status_code == 200 and raw.headers["content-type"] == "image/jpeg"
    assert raw.content == FAILING  # byte for byte what the camera served: nothing drawn
    assert drawn.content[:2] == b"\xff\xd8" and drawn.content != FAILING


async def test_between_prints_a_fetched_old_snapshot_is_refreshed(worker: Worker, camera: CameraServer) -> None:
    """A Mainsail webcam tile polls the snapshot all day: between prints it must not keep
    showing the last print's picture as if it were live."""
    camera.set_frames([FAILING])
    async with await connect(worker) as ws, \
            httpx.AsyncClient(base_url=f"http://{worker.address}", timeout=20) as client:
        assert (await client.get("/snapshot.jpg?raw=1", headers=AUTH)).content == FAILING
        first = await expect(ws, "detection")
        camera.set_frames([GOOD])
        # A new picture: fetching it again checks nothing.
        assert (await client.get("/snapshot.jpg?raw=1", headers=AUTH)).content == FAILING
        # An old one: the fetch still answers at once with what there is, and asks for a check.
        worker.idle_snapshot_refresh = 0.0
        await client.get("/snapshot.jpg?raw=1", headers=AUTH)
        second = await expect(ws, "detection")
        assert second["reason"] == "snapshot" and second["band"] == "ok"
        assert second["frame_id"] == first["frame_id"] + 1  # no check from the second fetch
        assert (await client.get("/snapshot.jpg?raw=1", headers=AUTH)).content == GOOD


async def test_detections_carry_every_box_and_the_display_threshold(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await ws.send(json.dumps({"type": "configure", "settings": {"display_threshold": 0.999}}))
        await expect(ws, "configured")
        camera.set_frames([FAILING])
        await ws.send(json.dumps({"type": "detect_now"}))
        detection = await expect(ws, "detection")
    assert detection["display_threshold"] == 0.999
    assert detection["boxes"] and min(b["score"] for b in detection["boxes"]) < 0.999  # sent though not drawn


async def test_history_of_the_print_after_hello_and_on_request(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": "1", "role": "viewer"}))
        await expect(ws, "hello")
        empty = await expect(ws, "history")
        assert empty["print"] is None and empty["points"] == [] and empty["incidents"] == []
        assert empty["thresholds"] == {"warning": 0.33, "failure": 0.66}
        await print_state(ws, "printing", file="vase.gcode")
        camera.set_frames([FAILING])
        opened = await expect(ws, "incident", lambda m: m["event"] == "opened")
        await ws.send(json.dumps({"type": "history"}))
        history = await expect(ws, "history")
    assert history["print"]["file"] == "vase.gcode" and history["print"]["started"] > 0
    assert history["points"] and all(len(p) == 3 for p in history["points"])
    assert history["points"][-1][1] == 1.0 and history["points"][-1][2] == "failure"
    assert [(i["id"], i["kind"], i["action"]) for i in history["incidents"]] == \
        [(opened["incident_id"], "opened", "pause")]


def test_history_keeps_at_most_1000_points_and_every_peak() -> None:
    history = PrintHistory()
    history.start("long.gcode", 1000.0)
    for n in range(25_000):
        history.add_point(1000.0 + n, 0.9 if n == 12_345 else 0.1, "ok")
        assert len(history.points) <= MAX_POINTS
    points = history.points
    assert len(points) > MAX_POINTS // 4
    assert [p[1] for p in points].count(0.9) == 1  # the one spike survived the merging
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    gaps = {round(b[0] - a[0]) for a, b in zip(points, points[1:-1])}
    assert len(gaps) <= 3  # one resolution for the whole print (the spike shifts its pair)


def test_history_before_any_print_is_empty_and_a_new_print_starts_afresh() -> None:
    history = PrintHistory()
    history.add_point(1.0, 0.5, "warning")
    assert history.message()["print"] is None and history.message()["points"] == []
    history.start("a.gcode", 10.0)
    history.add_point(11.0, 0.5, "warning")
    history.start("b.gcode", 20.0)
    assert history.message()["print"] == {"file": "b.gcode", "started": 20.0}
    assert history.message()["points"] == []


async def test_incident_alert_names_the_failure_area_and_count(
        worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        await print_state(ws, "printing")
        camera.set_frames([FAILING])
        await expect(ws, "incident", lambda m: m["event"] == "opened")
    [discord] = await requests_matching(
        bot, lambda r: r.route.startswith("/api/webhooks/") and b"Possible print failure" in r.body)
    payload = json.loads(discord.form()["payload_json"].text)
    fields = {f["name"]: f["value"] for f in payload["embeds"][0]["fields"]}
    assert fields["Failure area"].endswith("% of the picture")
    assert float(fields["Failure area"].split("%")[0]) > 10  # the red patch is about a third
    assert fields["Failures seen"] == "2"


async def test_debug_logging_never_shows_the_token_or_notify_secrets(
        worker: Worker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    webhook = "https://discord.com/api/webhooks/123/very-secret-webhook-part"
    async with await connect(worker) as ws:
        await ws.send(json.dumps({"type": "configure", "settings": {
            "discord_webhook_url": webhook, "telegram_bot_token": BOT_TOKEN.replace("abc", "xyz")}}))
        await expect(ws, "configured")
    text = caplog.text
    assert "connection open" in text or caplog.records  # the log was captured at all
    for secret in (TOKEN, webhook, "very-secret-webhook-part", BOT_TOKEN.replace("abc", "xyz")):
        assert secret not in text


@pytest.mark.parametrize("write", [None, b"not a model at all" * 4])
async def test_a_bad_model_path_is_named_as_the_option(
        tmp_path: Path, camera: CameraServer, bot: BotServer, write: bytes | None) -> None:
    model = tmp_path / "mine.tflite"
    if write is not None:
        model.write_bytes(write)
    settings = Settings.from_mapping(settings_for(camera, bot, model={"model_path": str(model)}))
    worker = Worker(settings, WorkerConfig(listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path))
    try:
        with pytest.raises(ModelError) as exc:
            await worker.start()
    finally:
        await worker.stop()
    text = str(exc.value)
    assert text.startswith("option 'model_path': ") and str(model) in text and "\n" not in text
