"""Discord and Telegram notifications, sent in the background with retries and redacted secrets.

Typical use::

    notifier = Notifier(settings.notify, on_result=print)
    await notifier.start()
    notifier.submit(Alert(kind=AlertKind.INCIDENT, severity=0.8, image=jpeg_bytes))
    ...
    await notifier.close()
"""

from .alert import (URGENT_KINDS, Alert, AlertKind, DeliveryResult, alert_fields, alert_text, alert_title,
                    is_urgent, welcome_alert)
from .discord import DiscordWebhook, discord_payload
from .notifier import Notifier
from .pacing import RATE_LIMITED_KINDS, Pacer
from .settings import NotifySettings
from .telegram import TelegramBot, TelegramSent
from .transport import INFO_RETRY, URGENT_RETRY, NotifyError, RequestCount, RetryPolicy, retry_after_seconds

__all__ = [
    "Alert", "AlertKind", "DeliveryResult", "DiscordWebhook", "INFO_RETRY", "Notifier", "NotifyError",
    "NotifySettings", "Pacer", "RATE_LIMITED_KINDS", "RequestCount", "RetryPolicy", "TelegramBot", "TelegramSent",
    "URGENT_KINDS",
    "URGENT_RETRY", "alert_fields", "alert_text", "alert_title", "discord_payload", "is_urgent",
    "retry_after_seconds", "welcome_alert",
]
