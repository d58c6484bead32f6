"""Discord webhooks: an embed with the alert's fields and the picture attached."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ..redact import Redactor
from .alert import Alert, AlertKind, alert_fields, alert_title, cut_text, late_note
from .transport import RequestCount, RetryPolicy, post_with_retries

__all__ = ["DiscordWebhook", "discord_payload"]

IMAGE_NAME = "snapshot.jpg"
#: Discord refuses a message whose embeds hold more than this many characters in all
#: (title, description, field names and values, footer).
EMBED_TOTAL_LIMIT = 6000
FOOTER = "PiNozCam for Klipper"

_COLOURS = {
    AlertKind.INCIDENT: 0xF0A020,
    AlertKind.ESCALATED: 0xE03C31,
    AlertKind.COULD_NOT_PAUSE: 0x8B0000,
    AlertKind.TEST: 0x3498DB,
    AlertKind.INFO: 0x95A5A6,
}


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2  # as cut_text counts


def discord_payload(alert: Alert, *, printer_name: str = "", sent_at: float | None = None) -> dict[str, Any]:
    """The ``payload_json`` of a webhook message (Discord's limits applied).

    The embed's time is when the alert was raised, not when it is sent; ``sent_at`` (Unix
    seconds, None: now) puts a :func:`~.alert.late_note` first in the description when
    the alert goes out late."""
    embed: dict[str, Any] = {
        "title": cut_text(alert_title(alert), 256),
        "color": _COLOURS[AlertKind(alert.kind)],
        "fields": [{"name": name, "value": cut_text(value, 1024), "inline": name not in ("File", "Action")}
                   for name, value in alert_fields(alert, printer_name=printer_name)][:25],
        "timestamp": dt.datetime.fromtimestamp(alert.raised_at, dt.timezone.utc).isoformat(),
        "footer": {"text": FOOTER},
    }
    note = late_note(alert, time.time() if sent_at is None else sent_at)
    description = f"{note}\n{alert.message}" if note and alert.message else note or alert.message
    # The description gets what the other parts leave of the embed's total.
    room = EMBED_TOTAL_LIMIT - _length(embed["title"]) - _length(FOOTER) - sum(
        _length(f["name"]) + _length(f["value"]) for f in embed["fields"])
    if description and room > 0:
        embed["description"] = cut_text(description, min(4096, room))
    payload: dict[str, Any] = {"username": "PiNozCam", "embeds": [embed], "allowed_mentions": {"parse": []}}
    if alert.image:
        embed["image"] = {"url": f"attachment://{IMAGE_NAME}"}
        payload["attachments"] = [{"id": 0, "filename": IMAGE_NAME}]
    return payload


class DiscordWebhook:
    """Posts alerts to one webhook. The URL is a secret: it is never in reprs or errors."""

    service = "discord"

    def __init__(self, url: str, *, client: httpx.AsyncClient, redactor: Redactor,
                 policy: RetryPolicy = RetryPolicy()) -> None:
        self._url = str(httpx.URL(url).copy_merge_params({"wait": "true"}))
        self._client = client
        self._redactor = redactor
        self.policy = policy
        redactor.add(url)
        redactor.add(self._url)

    def __repr__(self) -> str:
        return "DiscordWebhook(<redacted>)"

    async def send(self, alert: Alert, *, printer_name: str = "", policy: RetryPolicy | None = None,
                   count: RequestCount | None = None) -> None:
        """Post ``alert``; raises :class:`~.transport.NotifyError` when it could not.

        ``policy`` overrides the webhook's retry policy for this alert; ``count`` counts the
        requests made. The embed is written again at each try, so one that goes out late
        says how late."""

        def request() -> Mapping[str, Any]:
            payload = discord_payload(alert, printer_name=printer_name, sent_at=time.time())
            if alert.image:
                return {"data": {"payload_json": json.dumps(payload)},
                        "files": {"files[0]": (IMAGE_NAME, alert.image, "image/jpeg")}}
            return {"json": payload}

        await post_with_retries(self._client, self._url, service=self.service, redactor=self._redactor,
                                policy=policy or self.policy, request=request,  # type: ignore[arg-type]
                                count=count)
