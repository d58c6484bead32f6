"""Plain HTTP on the worker's port: /healthz, /snapshot.jpg, /stream.mjpg, and the token rule."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker.config import Listen, WorkerConfig
from pinozcam_klipper.worker.routes import BOUNDARY
from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import FAILING, TOKEN, BotServer, connect, expect, print_state, settings_for

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_healthz_needs_the_token(worker: Worker) -> None:
    async with httpx.AsyncClient(base_url=f"http://{worker.address}") as client:
        assert (await client.get("/healthz")).status_code == 401
        assert (await client.get("/healthz", headers={"Authorization": "Bearer nope"})).status_code == 401
        answer = await client.get("/healthz", headers=AUTH)
        assert answer.status_code == 200 and answer.json()["ok"] is True
        assert (await client.get(f"/healthz?token={TOKEN}")).status_code == 200
        assert (await client.get("/nothing", headers=AUTH)).status_code == 404
        assert (await client.post("/healthz", headers=AUTH)).status_code == 405


async def test_snapshot_is_a_jpeg_even_before_any_check(worker: Worker) -> None:
    async with httpx.AsyncClient(base_url=f"http://{worker.address}", timeout=20) as client:
        answer = await client.get("/snapshot.jpg", headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.content[:2] == b"\xff\xd8"


async def test_stream_sends_annotated_frames(worker: Worker, camera: CameraServer) -> None:
    async with await connect(worker) as ws:
        await print_state(ws, "printing")
        camera.set_frames([FAILING])
        await expect(ws, "detection", lambda m: m["band"] == "failure")
    async with httpx.AsyncClient(base_url=f"http://{worker.address}", timeout=20) as client:
        async with client.stream("GET", "/stream.mjpg", headers=AUTH) as stream:
            assert stream.headers["content-type"] == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
            data = b""
            async for chunk in stream.aiter_bytes():
                data += chunk
                if data.count(b"--" + BOUNDARY.encode()) >= 2:
                    break
    first = data.split(b"\r\n\r\n", 1)[1]
    assert first[:2] == b"\xff\xd8"


async def test_loopback_http_without_token_when_allowed(camera: CameraServer, bot: BotServer,
                                                       tmp_path: Path) -> None:
    settings = Settings.from_mapping(settings_for(camera, bot))
    config = WorkerConfig(listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path,
                          no_auth_loopback_http=True)
    worker = Worker(settings, config)
    await worker.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://{worker.address}") as client:
            assert (await client.get("/healthz")).status_code == 200
        # The websocket still needs the token.
        async with await connect(worker, token=None) as ws:
            await ws.send(json.dumps({"type": "status"}))
            assert (await expect(ws, "error"))["code"] == "auth_failed"
    finally:
        await worker.stop()


def test_remote_listen_needs_allow_remote(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allow-remote"):
        WorkerConfig(listen=Listen.parse("0.0.0.0:7130"), token=TOKEN, data_dir=tmp_path)
    WorkerConfig(listen=Listen.parse("0.0.0.0:7130"), token=TOKEN, data_dir=tmp_path, allow_remote=True)
    assert Listen.parse("unix:/tmp/x.sock").is_loopback
    assert Listen.parse("[::1]:80").is_loopback


def _decoded(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    return image


def _whole_frames(data: bytes) -> list[bytes]:
    """The complete JPEGs of an MJPEG stream's bytes so far (by each part's Content-Length)."""
    frames = []
    for part in data.split(b"--" + BOUNDARY.encode() + b"\r\n")[1:]:
        head, _, body = part.partition(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) if b"Content-Length: " in head else -1
        if 0 < length <= len(body):
            frames.append(body[:length])
    return frames


def _red_patch_is_red(jpeg: bytes) -> bool:
    """The FAILING frame's red patch (well below the header), still red in this picture."""
    b, g, r = _decoded(jpeg)[120:180, 120:220].reshape(-1, 3).mean(axis=0)
    return bool(r > 150 and r - max(b, g) > 80)


def _header_is_red(jpeg: bytes) -> bool:
    top = _decoded(jpeg)[:12].reshape(-1, 3).astype(int)
    return bool(((top[:, 2] > 150) & (top[:, 2] - top[:, :2].max(axis=1) > 80)).any())


async def test_a_dead_camera_s_last_picture_is_marked_not_live(worker: Worker, camera: CameraServer) -> None:
    """A webcam tile showing /snapshot.jpg or /stream.mjpg must not pass the last picture off as
    live once the camera gives nothing: it turns grey under a red CAMERA OFFLINE header, and the
    camera's next picture replaces it."""
    async with await connect(worker) as ws, httpx.AsyncClient(
            base_url=f"http://{worker.address}", timeout=20) as client:
        await print_state(ws, "printing")
        camera.set_frames([FAILING])
        await expect(ws, "detection", lambda m: m["band"] == "failure")
        live = (await client.get("/snapshot.jpg", headers=AUTH)).content
        assert _red_patch_is_red(live)

        async with client.stream("GET", "/stream.mjpg", headers=AUTH) as stream:
            camera.stop()
            await expect(ws, "status", lambda m: m["camera"]["state"] == "offline")
            data = b""
            async for chunk in stream.aiter_bytes():  # frames until the marked one arrives
                data += chunk
                if any(not _red_patch_is_red(frame) for frame in _whole_frames(data)):
                    break
        marked = (await client.get("/snapshot.jpg", headers=AUTH)).content
        assert not _red_patch_is_red(marked) and _header_is_red(marked)
        raw = (await client.get("/snapshot.jpg?raw=1", headers=AUTH)).content
        assert _red_patch_is_red(raw)  # raw stays the camera's picture: nothing is drawn on it

        camera.start()
        await expect(ws, "detection", lambda m: m["band"] == "failure")
        again = (await client.get("/snapshot.jpg", headers=AUTH)).content
        assert _red_patch_is_red(again)
