"""Settings of the notifications: Discord webhook, Telegram bot, pacing."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..options import REDACTED, SettingsError, option, section_to_dict, url_problem


def _webhook_url(value: object) -> str:
    # Errors must not echo the value: it is a secret.
    if not isinstance(value, str):
        raise SettingsError("discord_webhook_url", REDACTED, "text: a Discord webhook URL")
    text = value.strip()
    if text and not text.lower().startswith(("https://", "http://")):
        raise SettingsError("discord_webhook_url", REDACTED,
                            "a webhook URL starting with https:// (Server settings > Integrations > Webhooks)")
    if not text.isascii():
        # Discord's webhook URLs are plain ASCII: anything else is a paste accident (a zero-width
        # space after the token), and would be sent percent-encoded, a form of the secret that
        # the log redaction of the URL as written would not find.
        raise SettingsError("discord_webhook_url", REDACTED,
                            "a webhook URL of plain ASCII text (no invisible, no-break or full-width "
                            "characters pasted in with it)")
    problem = url_problem(text) if text else None
    if problem:
        raise SettingsError("discord_webhook_url", REDACTED, problem)
    return text


#: What @BotFather hands out: the bot's id, a colon, then letters, digits, "_" and "-".
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")


def _token(value: object) -> str:
    if not isinstance(value, str):
        raise SettingsError("telegram_bot_token", REDACTED, "text: the token @BotFather gave you")
    text = value.strip()
    if text and not _TOKEN.fullmatch(text):
        # Never the value, nor the offending character's position: the token is a secret.
        accepted = "a token like 123456:ABC-DEF... from @BotFather (digits, a colon, then letters, digits, _ or -)"
        if any(c.isspace() or not (c.isascii() and c.isprintable()) for c in text):
            accepted += "; it holds a space, or an invisible or non-Latin character pasted in with it"
        raise SettingsError("telegram_bot_token", REDACTED, accepted)
    return text


_CHAT_ID = re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,}")


def _chat_id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("a chat id (a number, or @channelname)")
    text = str(value).strip()
    # A typo here would only show up as Telegram's "chat not found" at the first failure.
    if text and not _CHAT_ID.fullmatch(text):
        accepted = "a chat id: a number such as 123456789 or -100123456789, or @channelname"
        if ":" in text or "/" in text:
            # A bot token or a webhook URL pasted into the wrong box: still a secret.
            raise SettingsError("telegram_chat_id", REDACTED, accepted)
        raise ValueError(accepted)
    return text


def _api_base(value: object) -> str:
    if not isinstance(value, str) or not value.strip().lower().startswith(("https://", "http://")):
        raise ValueError("an http(s) URL")
    problem = url_problem(value.strip())
    if problem:
        raise ValueError(problem)
    return value.strip().rstrip("/")


@dataclass(frozen=True)
class NotifySettings:
    discord_webhook_url: str = option("", secret=True, parse=_webhook_url, accepted="a Discord webhook URL",
                                      doc="Discord webhook URL; alerts are posted there with the picture.")
    telegram_bot_token: str = option("", secret=True, parse=_token, accepted="a Telegram bot token",
                                     doc="Telegram bot token from @BotFather (`123456:ABC-DEF...`: digits, a colon, then "
                                         "letters, digits, `_` or `-`).")
    telegram_chat_id: str = option("", parse=_chat_id, accepted="a chat id (a number, or @channelname)",
                                   doc="Telegram chat to send alerts to.")
    telegram_topic_id: int = option(0, minval=0,
                                    doc="Topic (message_thread_id) of a forum group to post in; 0: the chat itself.")
    telegram_api_base: str = option("https://api.telegram.org", parse=_api_base,
                                    doc="Telegram Bot API server (change only for a local Bot API server).")
    notify_interval: float = option(60.0, minval=0.0, maxval=86400.0,
                                    doc="Least seconds between two notify-only incident alerts, and "
                                        "between repeats of one camera notice (alerts of incidents "
                                        "that pause or cancel the print, their results, a change of "
                                        "camera state and test messages are always sent).")
    printer_name: str = option("Klipper printer", doc="Name shown in alerts.")
    notify_timeout: float = option(15.0, above=0.0, maxval=300.0,
                                   doc="Seconds to wait for Discord or Telegram to answer one request.")

    def __repr__(self) -> str:
        # The dataclass repr would print the token and webhook URL.
        fields = ", ".join(f"{k}={v!r}" for k, v in section_to_dict(self).items())
        return f"NotifySettings({fields})"

    @property
    def discord_enabled(self) -> bool:
        return bool(self.discord_webhook_url)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_chat_id)
