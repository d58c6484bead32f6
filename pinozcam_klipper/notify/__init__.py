"""Discord and Telegram notifications, sent in the background with retries and redacted secrets.

Typical use::

    notifier = Notifier(settings.notify, on_result=print)
    await notifier.start()
    notifier.submit(Alert(kind=AlertKind.INCIDENT, severity=0.8, image=jpeg_bytes))
    ...
    await notifier.close()
"""

from .alert import Alert, AlertKind, DeliveryResult, alert_fields, alert_text, alert_title, welcome_alert
from .discord import DiscordWebhook, discord_payload
from .notifier import RATE_LIMITED_KINDS, Notifier
from .settings import NotifySettings
from .telegram import TelegramBot
from .transport import NotifyError, RetryPolicy, retry_after_seconds

__all__ = [
    "Alert", "AlertKind", "DeliveryResult", "DiscordWebhook", "Notifier", "NotifyError", "NotifySettings",
    "RATE_LIMITED_KINDS", "RetryPolicy", "TelegramBot", "alert_fields", "alert_text", "alert_title",
    "discord_payload", "retry_after_seconds", "welcome_alert",
]
