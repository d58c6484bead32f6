"""Discord webhooks: an embed with the alert's fields and the picture attached."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import httpx

from ..redact import Redactor
from .alert import Alert, AlertKind, alert_fields, alert_title, cut_text
from .transport import RetryPolicy, post_with_retries

__all__ = ["DiscordWebhook", "discord_payload"]

IMAGE_NAME = "snapshot.jpg"

_COLOURS = {
    AlertKind.INCIDENT: 0xF0A020,
    AlertKind.ESCALATED: 0xE03C31,
    AlertKind.COULD_NOT_PAUSE: 0x8B0000,
    AlertKind.TEST: 0x3498DB,
    AlertKind.INFO: 0x95A5A6,
}


def discord_payload(alert: Alert, *, printer_name: str = "", now: dt.datetime | None = None) -> dict[str, Any]:
    """The ``payload_json`` of a webhook message (Discord's limits applied)."""
    embed: dict[str, Any] = {
        "title": cut_text(alert_title(alert), 256),
        "color": _COLOURS[AlertKind(alert.kind)],
        "fields": [{"name": name, "value": cut_text(value, 1024), "inline": name not in ("File", "Action")}
                   for name, value in alert_fields(alert, printer_name=printer_name)][:25],
        "timestamp": (now or dt.datetime.now(dt.timezone.utc)).isoformat(),
        "footer": {"text": "PiNozCam for Klipper"},
    }
    if alert.message:
        embed["description"] = cut_text(alert.message, 4096)
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

    async def send(self, alert: Alert, *, printer_name: str = "", policy: RetryPolicy | None = None) -> None:
        """Post ``alert``; raises :class:`~.transport.NotifyError` when it could not.

        ``policy`` overrides the webhook's retry policy for this alert."""
        payload = discord_payload(alert, printer_name=printer_name)

        def request() -> Mapping[str, Any]:
            if alert.image:
                return {"data": {"payload_json": json.dumps(payload)},
                        "files": {"files[0]": (IMAGE_NAME, alert.image, "image/jpeg")}}
            return {"json": payload}

        await post_with_retries(self._client, self._url, service=self.service, redactor=self._redactor,
                                policy=policy or self.policy, request=request)  # type: ignore[arg-type]
