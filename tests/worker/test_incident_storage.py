"""The incident folder on a troubled SD card, through the real worker: a damaged record, a
stalled card or a full one never costs the pause or the alert, and nothing is lost in silence."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker.config import Listen, WorkerConfig
from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import (FAILING, TOKEN, BotServer, connect, expect, print_state,
                                  requests_matching, settings_for)


@contextlib.asynccontextmanager
async def _worker_on(data_dir: Path, camera: CameraServer, bot: BotServer) -> AsyncIterator[Worker]:
    settings = Settings.from_mapping(settings_for(camera, bot))
    worker = Worker(settings, WorkerConfig(listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=data_dir))
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


async def _failure(ws: ClientConnection, camera: CameraServer) -> tuple[dict, dict]:
    """Print, show failure frames: the ``incident`` opened and the ``action_request`` it sent."""
    await print_state(ws, "printing", layer=3, total_layers=50, progress=0.1)
    camera.set_frames([FAILING])
    opened = await expect(ws, "incident", lambda m: m["event"] == "opened")
    request = await expect(ws, "action_request")
    return opened, request


DAMAGED = {
    # Left open by the previous worker, without its verdict trail.
    "open without a trail": {"id": "20260101-000000-dead", "kind": "incident", "state": "open",
                             "opened_at": 1.0, "print": {"file": "other.gcode"}},
    # Its opening time is text: the list and the size cap could not sort the records.
    "opened_at not a number": {"id": "20260101-000000-dead", "kind": "incident", "state": "closed",
                               "opened_at": "1.0e9x", "trail": [], "frames": [], "detections": []},
}


@pytest.mark.parametrize("damage", list(DAMAGED))
async def test_a_damaged_record_on_the_card_does_not_turn_protection_off(
        damage: str, camera: CameraServer, bot: BotServer, tmp_path: Path) -> None:
    record = DAMAGED[damage]
    folder = tmp_path / "data" / "incidents" / record["id"]
    folder.mkdir(parents=True)
    (folder / "incident.json").write_text(json.dumps(record))
    async with _worker_on(tmp_path / "data", camera, bot) as worker:
        async with await connect(worker) as ws:
            await expect(ws, "status")
            await ws.send(json.dumps({"type": "list_incidents", "limit": 10}))
            listed = await expect(ws, "incidents")
            assert [i["id"] for i in listed["incidents"]] == [record["id"]]
            opened, request = await _failure(ws, camera)
            assert (request["action"], request["incident_id"]) == ("pause", opened["incident_id"])
            await requests_matching(bot, lambda r: r.route.startswith("/api/webhooks/")
                                    and b"Possible print failure" in r.body)
        assert worker.store.get(record["id"])["state"] == "closed"


async def test_a_stalled_card_does_not_delay_the_pause_or_the_alert(
        worker: Worker, camera: CameraServer, bot: BotServer, monkeypatch: Any) -> None:
    """Every write into the incident folder hangs (a dying card, writeback throttling) until the
    test lets it go: the pause request and the alert still go out, and the panel lists the
    incident; once the card answers, everything is written."""
    root = str(worker.store.root)
    release = threading.Event()
    finished: list[str] = []
    real_replace = os.replace

    def stalled_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if str(dst).startswith(root):
            release.wait(timeout=10)  # a hang guard only: the test lets it go
            real_replace(src, dst, *args, **kwargs)
            finished.append(Path(dst).name)
            return
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", stalled_replace)
    try:
        async with await connect(worker) as ws:
            await expect(ws, "status")
            opened, request = await _failure(ws, camera)
            assert finished == []  # the pause was asked for before any write finished
            assert (request["action"], request["incident_id"]) == ("pause", opened["incident_id"])
            await requests_matching(bot, lambda r: r.route.endswith("/sendPhoto"))
            await ws.send(json.dumps({"type": "list_incidents", "limit": 10}))
            listed = await expect(ws, "incidents")
            assert listed["incidents"][0]["id"] == opened["incident_id"]
            assert listed["incidents"][0]["action_state"] == "requested"
            assert finished == []  # all of that with the card still stalled
            release.set()
            await ws.send(json.dumps({"type": "feedback", "incident_id": opened["incident_id"],
                                      "label": "real_failure"}))
            await expect(ws, "feedback_saved")
    finally:
        release.set()
    folder = worker.store.root / opened["incident_id"]
    saved = json.loads((folder / "incident.json").read_text())
    assert saved["label"] == "real_failure" and saved["action_state"] == "requested"
    for name in ("annotated.jpg", *saved["frames"]):
        assert (folder / name).read_bytes()[:2] == b"\xff\xd8"


async def test_a_label_that_could_not_be_saved_is_answered_with_an_error(
        worker: Worker, camera: CameraServer) -> None:
    """The folder cannot be written (a full card; a file in its place here, as root-run tests
    cannot fake a full disk with permissions): the label is refused in words the panel shows,
    kept, and saved, with the incident, once the folder works again."""
    root = worker.store.root
    for path in sorted(root.iterdir()):
        path.unlink()
    root.rmdir()
    root.write_text("not a folder")
    async with await connect(worker) as ws:
        await expect(ws, "status")
        opened, _ = await _failure(ws, camera)
        incident_id = opened["incident_id"]
        await ws.send(json.dumps({"type": "feedback", "incident_id": incident_id, "label": "real_failure"}))
        refused = await expect(ws, "error")
        assert (refused["code"], refused["request"]) == ("not_saved", "feedback")
        assert incident_id in refused["message"] and "could not be saved" in refused["message"]
        await ws.send(json.dumps({"type": "status"}))
        storage = (await expect(ws, "status"))["incident_storage"]
        assert storage["state"] == "error" and "kept in memory only" in storage["message"]
        root.unlink()  # room again
        await ws.send(json.dumps({"type": "feedback", "incident_id": incident_id, "label": "false_alarm"}))
        assert (await expect(ws, "feedback_saved"))["incident_id"] == incident_id
        await ws.send(json.dumps({"type": "status"}))
        assert (await expect(ws, "status"))["incident_storage"] == {"state": "ok", "message": ""}
    saved = json.loads((root / incident_id / "incident.json").read_text())
    assert saved["label"] == "false_alarm"
    assert [e["label"] for e in saved["trail"] if e["event"] == "feedback"] == ["real_failure", "false_alarm"]
    assert (root / incident_id / "onset.jpg").read_bytes()[:2] == b"\xff\xd8"


async def test_the_alert_s_picture_is_on_the_card_before_the_slow_record_sync(
        worker: Worker, camera: CameraServer, monkeypatch: Any) -> None:
    """The panel asks for an incident's picture as soon as it hears of it, while the record's
    fsync can take seconds on a busy SD card: the picture is written before that sync."""
    entered, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        entered.set()
        release.wait(timeout=10)  # a hang guard only: the test lets it go
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    try:
        async with await connect(worker) as ws:
            await expect(ws, "status")
            opened, _ = await _failure(ws, camera)
            await asyncio.to_thread(entered.wait, 10)
            picture = worker.store.root / opened["incident_id"] / "annotated.jpg"
            assert picture.read_bytes()[:2] == b"\xff\xd8"
    finally:
        release.set()
