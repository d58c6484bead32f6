"""Telegram Bot API: ``sendPhoto`` with a caption, or ``sendMessage`` for text only.

With a topic set (``telegram_topic_id``), every message carries ``message_thread_id`` so it
lands in that topic of a forum group, not in "General". When Telegram says the topic does
not exist (deleted, or a wrong id), the message is sent once more to the chat itself: an
alert about a failing print is worth more in the wrong place than lost, and the result's
``warning`` says which option to fix.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..redact import Redactor
from .alert import Alert, alert_text, cut_text
from .transport import NotifyError, RequestCount, RetryPolicy, post_with_retries

__all__ = ["TelegramBot", "TelegramSent"]

CAPTION_LIMIT = 1024
MESSAGE_LIMIT = 4096

#: Telegram's reason (HTTP 400) when ``message_thread_id`` names no topic of the chat.
_NO_SUCH_TOPIC = "message thread not found"


@dataclass(frozen=True)
class TelegramSent:
    """A message Telegram took: its ``result`` (the message object), and ``warning``, a
    problem the user should still fix although the message went out ("" when none)."""

    result: dict[str, Any] = field(default_factory=dict)
    warning: str = ""


class TelegramBot:
    """Sends to one chat, or to one topic of it (``topic_id`` > 0). The token is a secret: it
    is never in reprs or errors.

    ``reply_markup`` (e.g. ``{"inline_keyboard": [[{"text": "Resume", "callback_data": "resume"}]]}``)
    is passed through to Telegram as JSON.
    """

    service = "telegram"

    def __init__(self, token: str, chat_id: str, *, topic_id: int = 0, api_base: str = "https://api.telegram.org",
                 client: httpx.AsyncClient, redactor: Redactor, policy: RetryPolicy = RetryPolicy()) -> None:
        self._base = f"{api_base.rstrip('/')}/bot{token}"
        self.chat_id = chat_id
        self.topic_id = topic_id
        self._client = client
        self._redactor = redactor
        self.policy = policy
        redactor.add(token)

    def __repr__(self) -> str:
        return f"TelegramBot(<redacted>, chat_id={self.chat_id!r}, topic_id={self.topic_id})"

    async def send(self, alert: Alert, *, printer_name: str = "",
                   reply_markup: Mapping[str, Any] | None = None,
                   policy: RetryPolicy | None = None, count: RequestCount | None = None) -> TelegramSent:
        """The alert as a photo with caption, or as a message when it has no image.

        ``policy`` overrides the bot's retry policy for this alert; ``count`` counts the
        requests made. The text is written again at each try, so an alert that goes out
        late says how late (:func:`~.alert.late_note`)."""
        def text(limit: int) -> Callable[[], str]:
            return lambda: alert_text(alert, printer_name=printer_name, limit=limit, sent_at=time.time())

        if alert.image:
            return await self._send("sendPhoto", _photo(alert.image, text(CAPTION_LIMIT), reply_markup),
                                    policy, count)
        return await self._send("sendMessage", _message(text(MESSAGE_LIMIT), reply_markup), policy, count)

    async def send_photo(self, jpeg: bytes, caption: str = "", *,
                         reply_markup: Mapping[str, Any] | None = None,
                         policy: RetryPolicy | None = None) -> TelegramSent:
        return await self._send("sendPhoto", _photo(jpeg, lambda: caption, reply_markup), policy)

    async def send_message(self, text: str, *, reply_markup: Mapping[str, Any] | None = None,
                           policy: RetryPolicy | None = None) -> TelegramSent:
        return await self._send("sendMessage", _message(lambda: text, reply_markup), policy)

    def _target(self, *, in_topic: bool) -> dict[str, Any]:
        """Where a message goes: the chat, and its topic when one is set and ``in_topic``."""
        target: dict[str, Any] = {"chat_id": self.chat_id}
        if in_topic and self.topic_id:
            target["message_thread_id"] = self.topic_id
        return target

    async def _send(self, method: str, request: Callable[[dict[str, Any]], dict[str, Any]],
                    policy: RetryPolicy | None, count: RequestCount | None = None) -> TelegramSent:
        """``method`` to the topic; to the chat itself when Telegram says there is no such topic.

        ``request(target)`` returns the keyword arguments of one POST, ``target`` holding
        ``chat_id`` (and ``message_thread_id``)."""
        try:
            return TelegramSent(await self._call(method, lambda: request(self._target(in_topic=True)), policy,
                                                 count))
        except NotifyError as exc:
            if not (self.topic_id and exc.status == 400 and _NO_SUCH_TOPIC in exc.says.lower()):
                raise
            tried = exc.attempts
        problem = (f"telegram_topic_id {self.topic_id} is wrong: Telegram found no such topic in the chat "
                   "(deleted, or a wrong id)")
        try:
            result = await self._call(method, lambda: request(self._target(in_topic=False)), policy, count)
        except NotifyError as exc:
            raise NotifyError(f"{problem}; sending to the chat itself failed too: {exc}",
                              attempts=tried + exc.attempts, status=exc.status, says=exc.says) from None
        return TelegramSent(result, f"{problem}; the alert went to the chat itself")

    async def _call(self, method: str, request: Callable[[], dict[str, Any]],
                    policy: RetryPolicy | None, count: RequestCount | None) -> dict[str, Any]:
        response = await post_with_retries(self._client, f"{self._base}/{method}", service=self.service,
                                           redactor=self._redactor, policy=policy or self.policy,
                                           request=request, count=count)
        try:
            body = response.json()
        except ValueError:
            raise NotifyError(f"telegram answered {method} with something that is not JSON") from None
        if not isinstance(body, dict) or not body.get("ok"):
            says = self._redactor(body.get("description", "")) if isinstance(body, dict) else ""
            raise NotifyError(f"telegram refused {method}: {says or 'no reason given'}")
        result = body.get("result")
        return result if isinstance(result, dict) else {}


def _photo(jpeg: bytes, caption: Callable[[], str],
           reply_markup: Mapping[str, Any] | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The ``request(target)`` of a ``sendPhoto``; ``caption()`` is asked at each try."""
    def request(target: dict[str, Any]) -> dict[str, Any]:
        # Form fields are text: the topic id goes as its digits.
        data = {name: str(value) for name, value in target.items()}
        data["caption"] = cut_text(caption(), CAPTION_LIMIT)
        if reply_markup is not None:
            data["reply_markup"] = json.dumps(reply_markup)
        return {"data": data, "files": {"photo": ("snapshot.jpg", jpeg, "image/jpeg")}}

    return request


def _message(text: Callable[[], str],
             reply_markup: Mapping[str, Any] | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The ``request(target)`` of a ``sendMessage``; ``text()`` is asked at each try."""
    def request(target: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = target | {"text": cut_text(text(), MESSAGE_LIMIT)}
        if reply_markup is not None:
            body["reply_markup"] = dict(reply_markup)
        return {"json": body}

    return request
