"""Print life cycle and set-up corners: incidents closing, mute, a missing camera, a unix socket."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker.config import Listen, WorkerConfig
from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import (FAILING, GOOD, TOKEN, BotServer, connect, expect, print_state,
                                  settings_for)


async def test_print_end_closes_the_incident(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await print_state(ws, "printing")
        camera.set_frames([FAILING])
        opened = await expect(ws, "incident", lambda m: m["event"] == "opened")
        await print_state(ws, "paused")
        await print_state(ws, "cancelled")
        closed = await expect(ws, "incident", lambda m: m["event"] == "closed")
        assert closed["incident_id"] == opened["incident_id"]
        assert closed["incident"]["state"] == "closed"
        status = await expect(ws, "status", lambda m: m["print"]["state"] == "cancelled")
        assert status["open_incident"] is None


async def test_muted_print_asks_for_nothing(worker: Worker, camera: CameraServer, bot: BotServer) -> None:
    async with await connect(worker) as ws:
        await print_state(ws, "printing")
        await ws.send(json.dumps({"type": "mute"}))
        await expect(ws, "status", lambda m: m["muted"])
        camera.set_frames([FAILING])
        seen: list = []
        opened = await expect(ws, "incident", lambda m: m["event"] == "opened", seen=seen)
        assert opened["action"] is None
        # The next detection is handled after the incident: no action request slipped in.
        await expect(ws, "detection", seen=seen)
        assert not [m for m in seen if m["type"] == "action_request"]
    assert not bot.alerts()


async def test_a_mute_between_prints_is_refused_not_kept_then_dropped(worker: Worker) -> None:
    """A mute belongs to one print: between prints it is refused, instead of a status saying
    "muted" until the next print starts and quietly drops it."""
    async with await connect(worker) as ws:
        await expect(ws, "status")
        await ws.send(json.dumps({"type": "mute"}))
        refused = await expect(ws, "error")
        assert refused["code"] == "no_print" and "no print is running" in refused["message"]
        await ws.send(json.dumps({"type": "status"}))
        assert (await expect(ws, "status"))["muted"] is False


async def test_an_unmuted_print_is_guarded_again(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await print_state(ws, "printing")
        await ws.send(json.dumps({"type": "mute"}))
        await expect(ws, "status", lambda m: m["muted"])
        await ws.send(json.dumps({"type": "mute", "muted": False}))
        await expect(ws, "status", lambda m: not m["muted"])
        camera.set_frames([FAILING])
        opened = await expect(ws, "incident", lambda m: m["event"] == "opened")
        assert opened["action"] == "pause"
        request = await expect(ws, "action_request")
        assert request["action"] == "pause"


async def test_worker_starts_without_a_camera_and_takes_one_later(
        camera: CameraServer, bot: BotServer, tmp_path: Path) -> None:
    data = settings_for(camera, bot)
    data["camera"]["camera"] = ""
    worker = Worker(Settings.from_mapping(data), WorkerConfig(
        listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path))
    await worker.start()
    try:
        async with await connect(worker) as ws:
            status = await expect(ws, "status")
            assert status["camera"]["state"] == "offline"
            await ws.send(json.dumps({"type": "configure", "settings": {"camera": camera.snapshot_url}}))
            await expect(ws, "configured")
            await ws.send(json.dumps({"type": "detect_now"}))
            detection = await expect(ws, "detection")
            assert detection["reason"] == "detect_now"
    finally:
        await worker.stop()


async def test_unix_socket(camera: CameraServer, bot: BotServer, tmp_path: Path) -> None:
    path = tmp_path / "worker.sock"
    camera.set_frames([GOOD])
    worker = Worker(Settings.from_mapping(settings_for(camera, bot)), WorkerConfig(
        listen=Listen.parse(f"unix:{path}"), token=TOKEN, data_dir=tmp_path / "data"))
    await worker.start()
    try:
        assert path.stat().st_mode & 0o077 == 0  # only the owner may connect
        async with websockets.unix_connect(str(path), "ws://localhost/",
                                           additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            await expect(ws, "status")
        transport = httpx.AsyncHTTPTransport(uds=str(path))
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            assert (await client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})).status_code == 200
    finally:
        await worker.stop()
    assert not path.exists()


async def test_action_requests_go_to_adapters_not_viewers(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as adapter, await connect(worker) as viewer:
        await viewer.send(json.dumps({"type": "hello", "protocol": "1", "client": "panel", "role": "viewer"}))
        await expect(viewer, "hello")
        await print_state(adapter, "printing")
        camera.set_frames([FAILING])
        opened = await expect(adapter, "incident", lambda m: m["event"] == "opened")
        await expect(adapter, "action_request")
        seen: list = []
        await expect(viewer, "incident", lambda m: m["event"] == "opened", seen=seen)
        await expect(viewer, "detection", lambda m: m["incident_id"] == opened["incident_id"], seen=seen)
        assert not [m for m in seen if m["type"] == "action_request"]


async def test_a_strange_camera_reply_is_reported_and_checks_go_on(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await print_state(ws, "printing")
        await expect(ws, "detection")
        # One multipart answer with no boundary (once a ValueError that ended the checks for good).
        part = b"--x\r\nContent-Type: image/jpeg\r\n\r\n" + GOOD + b"\r\n--x\r\n"
        camera.reply(200, body=part, headers={"Content-Type": "multipart/x-mixed-replace"})
        offline = await expect(ws, "status", lambda m: m["camera"]["state"] == "offline")
        assert "multipart answer without a boundary" in offline["camera"]["message"]
        await expect(ws, "detection")
        assert worker._status()["camera"]["state"] == "ok"


async def test_a_camera_change_during_a_print_keeps_the_checks_going(
        camera: CameraServer, bot: BotServer, tmp_path: Path) -> None:
    data = settings_for(camera, bot)
    data["camera"]["camera"] = "http://127.0.0.1:9/snapshot"  # nothing listens there
    worker = Worker(Settings.from_mapping(data), WorkerConfig(
        listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path))
    await worker.start()
    try:
        async with await connect(worker) as ws:
            await print_state(ws, "printing")
            await expect(ws, "status", lambda m: "cannot reach the camera" in m["camera"]["message"])
            await ws.send(json.dumps({"type": "configure", "settings": {"camera": camera.snapshot_url}}))
            await expect(ws, "configured")
            for _ in range(3):  # checks go on, on the new camera
                await expect(ws, "detection")
            assert worker._status()["camera"]["state"] == "ok"
    finally:
        await worker.stop()


async def _first_detection_of_a_print(ws: ClientConnection, **fields: object) -> dict:
    """Warm-up of 600 s; a print starts (``fields`` on its print_state): its first detection."""
    await ws.send(json.dumps({"type": "configure", "settings": {"warmup_seconds": 600}}))
    await expect(ws, "configured")
    await print_state(ws, "printing", **fields)
    return await expect(ws, "detection")


async def test_a_print_that_ran_before_the_worker_started_warms_up_only_for_what_is_left(
        worker: Worker, camera: CameraServer) -> None:
    """Moonraker (or the worker) restarted in the middle of a print: the adapter says how long
    the print has run (``elapsed``), and a print already past its warm-up is watched at once,
    not left unguarded for another ``warmup_seconds``."""
    async with await connect(worker) as ws:
        first = await _first_detection_of_a_print(ws, elapsed=3600.0)
        assert first["engine_state"] == "watching"
        camera.set_frames([FAILING])
        opened = await expect(ws, "incident", lambda m: m["event"] == "opened")
        assert opened["action"] == "pause"


@pytest.mark.parametrize("fields", [{"elapsed": 300.0}, {}], ids=["warm-up not over", "older adapter"])
async def test_a_print_warms_up_for_what_is_left_or_all_of_it_when_its_age_is_unknown(
        worker: Worker, fields: dict) -> None:
    async with await connect(worker) as ws:
        first = await _first_detection_of_a_print(ws, **fields)
        assert first["engine_state"] == "warming_up"
