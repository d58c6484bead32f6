"""A recording server that answers like Discord webhooks and the Telegram Bot API.

- ``POST /api/webhooks/<id>/<token>[?wait=true]``: 200 with a message object
  (``wait=true``) or 204, as Discord does;
- ``POST /bot<token>/<method>``: ``{"ok": true, "result": {...}}`` as Telegram does;
- anything else: 200 ``{}``.
Use :meth:`discord_webhook_url` and :attr:`telegram_api_base` to point the clients
at it, and the scripting of :class:`ScriptedServer` for failures, e.g.
``srv.reply(429, json_body={"ok": False, "parameters": {"retry_after": 1}})``.
"""

from __future__ import annotations

import itertools
import json
import re
from http.server import BaseHTTPRequestHandler

from .base import RecordedRequest, ScriptedServer

__all__ = ["NotifyServer"]

_TELEGRAM = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")


class NotifyServer(ScriptedServer):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self._ids = itertools.count(1)

    def discord_webhook_url(self, webhook_id: str = "123456789012345678",
                            token: str = "discord-secret-token-abcdefghijklmnop") -> str:
        return f"{self.url}/api/webhooks/{webhook_id}/{token}"

    @property
    def telegram_api_base(self) -> str:
        return self.url

    def discord_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.route.startswith("/api/webhooks/")]

    def telegram_requests(self, method: str | None = None) -> list[RecordedRequest]:
        out = []
        for r in self.requests:
            match = _TELEGRAM.match(r.route)
            if match and (method is None or match.group("method") == method):
                out.append(r)
        return out

    def handle(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        message_id = next(self._ids)
        if request.route.startswith("/api/webhooks/"):
            if request.query.get("wait") == "true":
                body = json.dumps({"id": str(message_id), "type": 0, "content": ""}).encode()
                self.send(handler, 200, body, {"Content-Type": "application/json"})
            else:
                self.send(handler, 204, b"")
            return
        if _TELEGRAM.match(request.route):
            body = json.dumps({"ok": True, "result": {"message_id": message_id}}).encode()
            self.send(handler, 200, body, {"Content-Type": "application/json"})
            return
        super().handle(handler, request)
