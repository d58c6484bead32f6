"""Alerts that go out late (after an outage, queued behind retries) say when they were raised,
so an old alert never reads as news about the print right now."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator

import pytest

from pinozcam_klipper.notify import Alert, AlertKind, Notifier, NotifySettings, RetryPolicy, discord_payload
from pinozcam_klipper.options import load_section
from tests.servers import NotifyServer, make_jpeg

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
JPEG = make_jpeg(90, size=(64, 48))
BOT_TOKEN = "987654:BOT-SECRET-abcdefghijklmnop"


@pytest.fixture
def server() -> Iterator[NotifyServer]:
    with NotifyServer() as srv:
        yield srv


def _both(server: NotifyServer) -> NotifySettings:
    return load_section(NotifySettings, {"discord_webhook_url": server.discord_webhook_url(),
                                         "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "42",
                                         "telegram_api_base": server.telegram_api_base, "notify_interval": 0})


def _embed(server: NotifyServer) -> dict:
    [request] = server.discord_requests()
    if request.headers.get("content-type", "").startswith("multipart/"):
        return json.loads(request.form()["payload_json"].text)["embeds"][0]
    return request.json()["embeds"][0]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _iso(unix: float) -> str:
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).isoformat()


async def test_an_alert_sent_minutes_after_it_was_raised_says_so_on_both_channels(server: NotifyServer) -> None:
    """Raised 400 s before it could go out (6.7 minutes): both messages say when it was raised
    and how late it is, and Discord dates the message at the raising, not the sending."""
    raised = time.time() - 400
    alert = Alert(kind=AlertKind.INCIDENT, action="pause", message="Incident 1", file="a.gcode", image=JPEG,
                  raised_at=raised)
    note = f"Raised {time.strftime('%H:%M:%S', time.localtime(raised))}, sent 7 min late"
    async with Notifier(_both(server), retry=FAST, urgent_retry=FAST) as notifier:
        results = await notifier.send_now(alert)
    assert [r.status for r in results] == ["sent", "sent"]
    embed = _embed(server)
    assert embed["timestamp"] == _iso(raised)
    assert embed["description"] == f"{note}\nIncident 1"
    [photo] = server.telegram_requests("sendPhoto")
    assert photo.form()["caption"].text.startswith(f"Possible print failure\n{note}\nIncident 1\n")


async def test_an_alert_sent_at_once_carries_no_note_and_the_time_it_was_raised(server: NotifyServer) -> None:
    alert = Alert(kind=AlertKind.INCIDENT, action="pause", message="Incident 1")
    async with Notifier(_both(server), retry=FAST, urgent_retry=FAST) as notifier:
        await notifier.send_now(alert)
    embed = _embed(server)
    assert embed["timestamp"] == _iso(alert.raised_at)
    assert embed["description"] == "Incident 1"
    [message] = server.telegram_requests("sendMessage")
    assert "late" not in message.json()["text"]


def test_a_late_note_names_the_day_and_the_hours_when_it_comes_to_that() -> None:
    raised = time.mktime((2026, 3, 1, 23, 50, 0, 0, 0, -1))
    embed = discord_payload(Alert(kind=AlertKind.INCIDENT, raised_at=raised), sent_at=raised + 2 * 3600 + 5 * 60)
    assert embed["embeds"][0]["description"] == "Raised 2026-03-01 23:50:00, sent 2 h 5 min late"


async def test_a_late_alert_still_fits_each_channels_limits(server: NotifyServer) -> None:
    """The note must not push a long alert past Telegram's 1024 (caption) or 4096 (message)
    units or Discord's 4096 (description) and 6000 (whole embed) characters: Telegram and
    Discord refuse a message that is too long, and the alert would be lost."""
    raised = time.time() - 400
    long = dict(kind=AlertKind.INCIDENT, action="pause", message="m" * 5000, file="f" * 2000,
                printer="p" * 1500, raised_at=raised)
    async with Notifier(_both(server), retry=FAST, urgent_retry=FAST) as notifier:
        await notifier.send_now(Alert(**long, image=JPEG))
        await notifier.send_now(Alert(**long))
    caption = server.telegram_requests("sendPhoto")[0].form()["caption"].text
    text = server.telegram_requests("sendMessage")[0].json()["text"]
    for sent, limit in ((caption, 1024), (text, 4096)):
        assert _utf16(sent) <= limit and "sent 7 min late" in sent
    for request in server.discord_requests():
        body = (json.loads(request.form()["payload_json"].text)
                if request.headers.get("content-type", "").startswith("multipart/") else request.json())
        embed = body["embeds"][0]
        total = (len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
                 + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]))
        assert len(embed["description"]) <= 4096 and total <= 6000
        assert embed["description"].startswith("Raised ") and "sent 7 min late" in embed["description"]
