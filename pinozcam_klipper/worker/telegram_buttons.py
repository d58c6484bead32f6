"""Telegram inline buttons on alerts: the keyboard, and the ``getUpdates`` long poll that reads presses.

An alert carries Pause / Resume / Cancel / Mute-this-print buttons whose
``callback_data`` is ``pz:<action>:<incident id>``. :class:`ButtonPoller`
long-polls ``getUpdates`` for ``callback_query`` updates, answers every query
(so the user's button stops spinning), and passes a press on only when it comes
from the configured chat (a numeric id, or ``@name`` matched against the chat's
username, as Telegram accepts both for sending); presses from anywhere else are
answered with a refusal and otherwise ignored. The check is by chat only: with
``telegram_topic_id`` set, a press in any topic of that group is accepted, as the alert
may have landed in the chat itself (its topic gone) and a topic is no permission boundary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..notify.transport import first_cause
from ..redact import Redactor

__all__ = ["ButtonPress", "ButtonPoller", "MAX_POLL_BACKOFF", "PollRefused", "alert_keyboard", "chat_matches",
           "parse_callback_data"]

logger = logging.getLogger(__name__)

_PREFIX = "pz"
_BUTTONS = (("Pause", "pause"), ("Resume", "resume"), ("Cancel", "cancel"), ("Mute this print", "mute"))

#: Longest wait between two failed polls. Short, because a press made during the wait is
#: only read after it, and Telegram lets a callback query be answered for a short time only.
MAX_POLL_BACKOFF = 10.0


@dataclass(frozen=True)
class ButtonPress:
    action: str
    incident_id: str
    chat_id: str
    user: str


def alert_keyboard(incident_id: str) -> dict[str, Any]:
    """The ``reply_markup`` of an alert about ``incident_id``: two rows of two buttons."""
    buttons = [{"text": text, "callback_data": f"{_PREFIX}:{action}:{incident_id}"[:64]}
               for text, action in _BUTTONS]
    return {"inline_keyboard": [buttons[:2], buttons[2:]]}


def parse_callback_data(data: Any) -> tuple[str, str] | None:
    """``"pz:pause:ID"`` -> ``("pause", "ID")``; anything else -> None."""
    if not isinstance(data, str):
        return None
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != _PREFIX or parts[1] not in {a for _, a in _BUTTONS}:
        return None
    return parts[1], parts[2]


def chat_matches(configured: str, chat: dict[str, Any]) -> bool:
    """Whether a callback's ``message.chat`` is the configured chat: the same numeric id, or,
    for a configured ``@name``, the same username (Telegram usernames ignore case)."""
    configured = configured.strip()
    if not configured:
        return False
    if configured.startswith("@"):
        username = chat.get("username")
        return isinstance(username, str) and username.lower() == configured[1:].lower()
    return str(chat.get("id", "")) == configured


class PollRefused(ValueError):
    """Telegram answered ``getUpdates`` with an error; the message is safe to log (the
    description is passed through the token's redactor: a self-hosted Bot API server could
    echo the request)."""


def _refusal(status: int, body: Any, redact: Redactor) -> PollRefused:
    description = body.get("description") if isinstance(body, dict) else None
    text = f"Telegram refused getUpdates ({status}"
    text += f": {redact(str(description)[:200])})" if description else ")"
    if status == 409:
        # A webhook on the bot, or a second program polling the same bot: Telegram gives the
        # updates to only one reader, so the buttons would silently do nothing.
        text += ("; the alert buttons cannot work while this bot has a webhook or another"
                 " program reads its updates (remove the webhook with deleteWebhook, or give"
                 " pinozcam its own bot)")
    elif status == 401:
        text += "; check telegram_bot_token"
    return PollRefused(text)


class ButtonPoller:
    """Reads button presses for as long as :meth:`run` runs (cancel it to stop).

    ``on_press`` is awaited for each accepted press; its text answer (or a
    default) is shown to the user. A failed poll (network, refusal, or anything
    else raised) backs off up to :data:`MAX_POLL_BACKOFF` and never ends the loop; :attr:`problem`
    says in words why presses cannot be read right now (None while polling works).
    The bot token appears only in request URLs, which are never logged here.
    """

    def __init__(self, *, api_base: str, bot_token: str, chat_id: str,
                 on_press: Callable[[ButtonPress], Awaitable[str]],
                 poll_timeout: float = 25.0, client: httpx.AsyncClient | None = None) -> None:
        self._base = f"{api_base.rstrip('/')}/bot{bot_token}"
        self._chat_id = str(chat_id).strip()
        self._on_press = on_press
        self._poll_timeout = poll_timeout
        self._client = client
        self._offset: int | None = None
        self._redact = Redactor([bot_token])
        self.problem: str | None = None

    def __repr__(self) -> str:
        return f"ButtonPoller(chat_id={self._chat_id!r})"

    async def run(self) -> None:
        client = self._client or httpx.AsyncClient(timeout=self._poll_timeout + 10)
        backoff = 1.0
        try:
            while True:
                try:
                    updates = await self._get_updates(client)
                    backoff = 1.0
                    self.problem = None
                except Exception as exc:  # noqa: BLE001 - any failure is a failed poll, never the end of it
                    # The message of an httpx error may carry the URL, hence the token: log its kind only.
                    # (Not only httpx's: an OverflowError for a port past 65535 must not end the loop.)
                    kind = type(first_cause(exc)).__name__
                    reason = str(exc) if isinstance(exc, PollRefused) else f"getUpdates failed ({kind})"
                    self.problem = reason
                    logger.warning("telegram buttons: %s; retrying in %.0f s", reason, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_POLL_BACKOFF)
                    continue
                for update in updates:
                    await self._handle(client, update)
        finally:
            if self._client is None:
                await client.aclose()

    async def _get_updates(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"timeout": int(self._poll_timeout),
                                  "allowed_updates": '["callback_query"]'}
        if self._offset is not None:
            params["offset"] = self._offset
        response = await client.get(f"{self._base}/getUpdates", params=params,
                                    timeout=self._poll_timeout + 10)
        body = response.json()
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("ok"):
            raise _refusal(response.status_code, body, self._redact)
        result = body.get("result")
        if not isinstance(result, list):
            raise ValueError("getUpdates answered without a list of updates")
        updates = [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
        if updates:
            self._offset = max(u["update_id"] for u in updates) + 1
        return updates

    async def _handle(self, client: httpx.AsyncClient, update: dict[str, Any]) -> None:
        query = update.get("callback_query")
        if not isinstance(query, dict) or not isinstance(query.get("id"), str):
            return
        message = query.get("message") if isinstance(query.get("message"), dict) else {}
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        chat_id = str(chat.get("id", ""))
        sender = query.get("from") if isinstance(query.get("from"), dict) else {}
        parsed = parse_callback_data(query.get("data"))
        if not chat_matches(self._chat_id, chat):
            logger.warning("ignored a telegram button press from another chat")
            await self._answer(client, query["id"], "Not allowed from this chat.")
            return
        if parsed is None:
            await self._answer(client, query["id"], "Unknown button.")
            return
        action, incident_id = parsed
        press = ButtonPress(action, incident_id, chat_id, str(sender.get("username") or sender.get("id", "")))
        logger.info("telegram button: %s for incident %s", action, incident_id)
        try:
            text = await self._on_press(press)
        except Exception:  # the poll loop must outlive a failing handler
            logger.exception("handling a telegram button press failed")
            text = "Could not do that."
        await self._answer(client, query["id"], text)

    async def _answer(self, client: httpx.AsyncClient, query_id: str, text: str) -> None:
        try:
            await client.post(f"{self._base}/answerCallbackQuery",
                              json={"callback_query_id": query_id, "text": text[:200]}, timeout=10)
        except Exception as exc:  # noqa: BLE001 - an unanswered button must not end the poll loop
            logger.warning("telegram answerCallbackQuery failed (%s)", type(exc).__name__)
