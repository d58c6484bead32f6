"""Telegram Bot API: ``sendPhoto`` with a caption, or ``sendMessage`` for text only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ..redact import Redactor
from .alert import Alert, alert_text
from .transport import NotifyError, RetryPolicy, post_with_retries

__all__ = ["TelegramBot"]

CAPTION_LIMIT = 1024
MESSAGE_LIMIT = 4096


class TelegramBot:
    """Sends to one chat. The token is a secret: it is never in reprs or errors.

    ``reply_markup`` (e.g. ``{"inline_keyboard": [[{"text": "Resume", "callback_data": "resume"}]]}``)
    is passed through to Telegram as JSON.
    """

    service = "telegram"

    def __init__(self, token: str, chat_id: str, *, api_base: str = "https://api.telegram.org",
                 client: httpx.AsyncClient, redactor: Redactor, policy: RetryPolicy = RetryPolicy()) -> None:
        self._base = f"{api_base.rstrip('/')}/bot{token}"
        self.chat_id = chat_id
        self._client = client
        self._redactor = redactor
        self.policy = policy
        redactor.add(token)

    def __repr__(self) -> str:
        return f"TelegramBot(<redacted>, chat_id={self.chat_id!r})"

    async def send(self, alert: Alert, *, printer_name: str = "",
                   reply_markup: Mapping[str, Any] | None = None,
                   policy: RetryPolicy | None = None) -> dict[str, Any]:
        """The alert as a photo with caption, or as a message when it has no image.

        ``policy`` overrides the bot's retry policy for this alert."""
        if alert.image:
            caption = alert_text(alert, printer_name=printer_name, limit=CAPTION_LIMIT)
            return await self.send_photo(alert.image, caption, reply_markup=reply_markup, policy=policy)
        text = alert_text(alert, printer_name=printer_name, limit=MESSAGE_LIMIT)
        return await self.send_message(text, reply_markup=reply_markup, policy=policy)

    async def send_photo(self, jpeg: bytes, caption: str = "", *,
                         reply_markup: Mapping[str, Any] | None = None,
                         policy: RetryPolicy | None = None) -> dict[str, Any]:
        data = {"chat_id": self.chat_id, "caption": caption[:CAPTION_LIMIT]}
        if reply_markup is not None:
            data["reply_markup"] = json.dumps(reply_markup)
        return await self._call("sendPhoto", lambda: {
            "data": data, "files": {"photo": ("snapshot.jpg", jpeg, "image/jpeg")}}, policy)

    async def send_message(self, text: str, *, reply_markup: Mapping[str, Any] | None = None,
                           policy: RetryPolicy | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"chat_id": self.chat_id, "text": text[:MESSAGE_LIMIT]}
        if reply_markup is not None:
            body["reply_markup"] = dict(reply_markup)
        return await self._call("sendMessage", lambda: {"json": body}, policy)

    async def _call(self, method: str, request: Any, policy: RetryPolicy | None) -> dict[str, Any]:
        response = await post_with_retries(self._client, f"{self._base}/{method}", service=self.service,
                                           redactor=self._redactor, policy=policy or self.policy,
                                           request=request)
        try:
            body = response.json()
        except ValueError:
            raise NotifyError(f"telegram answered {method} with something that is not JSON") from None
        if not isinstance(body, dict) or not body.get("ok"):
            says = self._redactor(body.get("description", "")) if isinstance(body, dict) else ""
            raise NotifyError(f"telegram refused {method}: {says or 'no reason given'}")
        result = body.get("result")
        return result if isinstance(result, dict) else {}
