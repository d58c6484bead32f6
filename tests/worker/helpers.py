"""Helpers of the worker tests: frames for the fixture "red patch" model, a recording
Discord/Telegram server that also serves ``getUpdates``, settings, and websocket helpers."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection

from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer, NotifyServer
from tests.servers.base import RecordedRequest

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests" / "fixtures" / "models" / "grid_int8.tflite"
TOKEN = "test-token-0123456789"
CHAT_ID = "4242"
BOT_TOKEN = "123456:telegram-secret-token-abcdef"


def frame_jpeg(red: bool) -> bytes:
    """A grey 320x240 picture; ``red`` paints a big strongly red patch the fixture model boxes."""
    image = np.full((240, 320, 3), 128, np.uint8)
    image[10:20, 10 + 0:300] = 140  # a little texture so the picture is not flat
    if red:
        image[60:200, 80:260] = (0, 0, 255)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


GOOD = frame_jpeg(False)
FAILING = frame_jpeg(True)


class BotServer(NotifyServer):
    """NotifyServer that also long-polls ``getUpdates`` from a queue of updates the test adds."""

    def __init__(self) -> None:
        super().__init__()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = 1000
        self._cond = threading.Condition()
        # (status, description) to answer getUpdates with instead of updates, as Telegram does
        # when the bot has a webhook (409) or the token is wrong (401).
        self.refuse_updates: tuple[int, str] | None = None

    def press(self, data: str, chat_id: str) -> None:
        """Queue a button press (a callback_query) from ``chat_id``."""
        with self._cond:
            self._update_ids += 1
            self._updates.append({"update_id": self._update_ids, "callback_query": {
                "id": f"q{self._update_ids}", "from": {"id": 7, "username": "tester"}, "data": data,
                "message": {"message_id": 1, "chat": {"id": int(chat_id)}}}})
            self._cond.notify_all()

    def handle(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        if request.route.endswith("/getUpdates") and self.refuse_updates is not None:
            status, description = self.refuse_updates
            body = json.dumps({"ok": False, "error_code": status, "description": description}).encode()
            self.send(handler, status, body, {"Content-Type": "application/json"})
            return
        if request.route.endswith("/getUpdates"):
            offset = int(request.query.get("offset", 0))
            with self._cond:
                # Long poll like Telegram, but never past 1 s so stopping stays quick.
                self._cond.wait_for(lambda: any(u["update_id"] >= offset for u in self._updates),
                                    timeout=min(1.0, float(request.query.get("timeout", 0))))
                result = [u for u in self._updates if u["update_id"] >= offset]
            body = json.dumps({"ok": True, "result": result}).encode()
            try:
                self.send(handler, 200, body, {"Content-Type": "application/json"})
            except OSError:
                pass  # the worker stopped polling mid-request: normal on shutdown
            return
        super().handle(handler, request)

    def alerts(self) -> list[RecordedRequest]:
        return [r for r in self.requests if not r.route.endswith(("/getUpdates", "/answerCallbackQuery"))]


def settings_for(camera: CameraServer, bot: BotServer, **extra: Any) -> dict[str, Any]:
    """Settings that make incidents quick: no warm-up, two failure frames, fast checks."""
    data: dict[str, Any] = {
        "camera": {"camera": camera.snapshot_url, "camera_timeout": 5},
        "model": {"model_path": str(MODEL)},
        "detection": {"warmup_frames": 0, "warmup_seconds": 0, "start_layer": 0,
                      "max_failure_count": 2, "action": "pause"},
        "notify": {"discord_webhook_url": bot.discord_webhook_url(), "telegram_bot_token": BOT_TOKEN,
                   "telegram_chat_id": CHAT_ID, "telegram_api_base": bot.telegram_api_base,
                   "notify_interval": 0},
        "worker": {"check_interval": 0.2, "fast_check_interval": 0.1, "action_confirm_timeout": 1.0},
    }
    for section, values in extra.items():
        data.setdefault(section, {}).update(values)
    return data


async def connect(worker: Worker, *, token: str | None = TOKEN, path: str = "/") -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return await websockets.connect(f"ws://{worker.address}{path}", additional_headers=headers,
                                    open_timeout=10)


async def expect(ws: ClientConnection, kind: str, where: Any = None, *, seen: list | None = None,
                 timeout: float = 20.0) -> dict[str, Any]:
    """Read messages until one of ``kind`` (matching ``where(message)``) arrives; others go to ``seen``.

    ``timeout`` only guards against a hang; nothing waits for it in a passing test.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        message = json.loads(await asyncio.wait_for(ws.recv(), max(remaining, 0.001)))
        if message.get("type") == kind and (where is None or where(message)):
            return message
        if seen is not None:
            seen.append(message)


async def print_state(ws: ClientConnection, state: str = "printing", **fields: Any) -> None:
    await ws.send(json.dumps({"type": "print_state", "state": state, "file": "cube.gcode", **fields}))


async def requests_matching(server: BotServer, predicate: Any, count: int = 1) -> list[RecordedRequest]:
    """Wait until ``count`` recorded requests satisfy ``predicate``; return those."""
    while True:
        found = [r for r in server.requests if predicate(r)]
        if len(found) >= count:
            return found
        await server.requests_arrived(len(server.requests) + 1)
