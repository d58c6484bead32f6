"""Discord and Telegram requests as they arrive at a real local server."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from pinozcam_klipper.notify import (Alert, AlertKind, DiscordWebhook, NotifyError, RetryPolicy, TelegramBot,
                                     discord_payload)
from pinozcam_klipper.redact import Redactor
from tests.servers import NotifyServer, make_jpeg

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
TOKEN = "123456:AAH-telegram-secret-key-zzzz"
JPEG = make_jpeg(90, size=(320, 240))
ALERT = Alert(kind=AlertKind.ESCALATED, printer="Voron", file="benchy.gcode", progress=0.42, layer=12,
              total_layers=250, severity=0.87, failure_area=0.031, failure_count=3, action="paused the print",
              image=JPEG)


@pytest.fixture
def server() -> Iterator[NotifyServer]:
    with NotifyServer() as srv:
        yield srv


async def test_discord_multipart_embed_and_image(server: NotifyServer) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        hook = DiscordWebhook(server.discord_webhook_url(), client=client, redactor=Redactor(), policy=FAST)
        await hook.send(ALERT)
    request = server.requests[0]
    assert request.method == "POST" and request.query == {"wait": "true"}
    form = request.form()
    assert form["files[0]"].data == JPEG
    assert form["files[0]"].content_type == "image/jpeg"
    payload = json.loads(form["payload_json"].text)
    embed = payload["embeds"][0]
    assert embed["image"]["url"] == f"attachment://{form['files[0]'].filename}"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields == {"Printer": "Voron", "File": "benchy.gcode", "Progress": "42%", "Layer": "12 / 250",
                      "Severity": "87%", "Failure area": "3.1% of the picture", "Failures seen": "3",
                      "Action": "paused the print"}
    assert embed["title"] == "Print failure: action taken"


async def test_discord_text_only_is_json(server: NotifyServer) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        hook = DiscordWebhook(server.discord_webhook_url(), client=client, redactor=Redactor(), policy=FAST)
        await hook.send(Alert(kind=AlertKind.INFO, message="hello"), printer_name="Ender")
    body = server.requests[0].json()
    assert body["embeds"][0]["description"] == "hello"
    assert "image" not in body["embeds"][0]
    assert body["embeds"][0]["fields"] == [{"name": "Printer", "value": "Ender", "inline": True}]


async def test_telegram_send_photo_with_caption_and_buttons(server: NotifyServer) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Resume", "callback_data": "resume"}]]}
    async with httpx.AsyncClient(timeout=5) as client:
        bot = TelegramBot(TOKEN, "-100123", api_base=server.telegram_api_base, client=client,
                          redactor=Redactor(), policy=FAST)
        result = await bot.send(ALERT, reply_markup=keyboard)
    assert result.result["message_id"] == 1 and result.warning == ""
    [request] = server.telegram_requests("sendPhoto")
    assert request.route == f"/bot{TOKEN}/sendPhoto"
    form = request.form()
    assert form["chat_id"].text == "-100123"
    assert form["photo"].data == JPEG
    caption = form["caption"].text
    assert caption.startswith("Print failure: action taken\n")
    assert "Severity: 87%" in caption and "Layer: 12 / 250" in caption
    assert json.loads(form["reply_markup"].text) == keyboard


async def test_telegram_text_only_uses_send_message(server: NotifyServer) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        bot = TelegramBot(TOKEN, "42", api_base=server.telegram_api_base, client=client,
                          redactor=Redactor(), policy=FAST)
        await bot.send(Alert(kind=AlertKind.INFO, title="Print started"))
    [request] = server.telegram_requests("sendMessage")
    assert request.json() == {"chat_id": "42", "text": "Print started"}


async def test_telegram_topic_rides_on_every_send(server: NotifyServer) -> None:
    """A forum topic: the photo (multipart) and the text (JSON) both name it, or Telegram
    would post them in the group's "General"."""
    async with httpx.AsyncClient(timeout=5) as client:
        bot = TelegramBot(TOKEN, "-100123", topic_id=77, api_base=server.telegram_api_base, client=client,
                          redactor=Redactor(), policy=FAST)
        await bot.send(ALERT)
        await bot.send(Alert(kind=AlertKind.INFO, title="Print started"))
        await bot.send_message("hello")
    [photo] = server.telegram_requests("sendPhoto")
    form = photo.form()
    assert (form["chat_id"].text, form["message_thread_id"].text) == ("-100123", "77")
    assert form["photo"].data == JPEG
    assert [r.json() for r in server.telegram_requests("sendMessage")] == [
        {"chat_id": "-100123", "message_thread_id": 77, "text": "Print started"},
        {"chat_id": "-100123", "message_thread_id": 77, "text": "hello"}]


async def test_429_with_retry_after_header_is_retried(server: NotifyServer) -> None:
    server.reply(429, headers={"Retry-After": "0.05"},
                 json_body={"message": "You are being rate limited.", "retry_after": 0.05, "global": False})
    async with httpx.AsyncClient(timeout=5) as client:
        hook = DiscordWebhook(server.discord_webhook_url(), client=client, redactor=Redactor(),
                              policy=RetryPolicy(attempts=3, base_delay=60))  # backoff alone would wait 60 s
        await hook.send(ALERT)
    assert len(server.requests) == 2
    assert server.requests[1].form()["files[0]"].data == JPEG  # the retry carries the picture again


async def test_telegram_retry_after_in_body_is_honoured(server: NotifyServer) -> None:
    server.reply(429, json_body={"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 0",
                                 "parameters": {"retry_after": 0}})
    async with httpx.AsyncClient(timeout=5) as client:
        bot = TelegramBot(TOKEN, "42", api_base=server.telegram_api_base, client=client,
                          redactor=Redactor(), policy=RetryPolicy(attempts=2, base_delay=60))
        await bot.send(ALERT)
    assert len(server.telegram_requests("sendPhoto")) == 2


async def test_5xx_and_dropped_connections_are_retried_then_give_up(server: NotifyServer) -> None:
    server.reply(502)
    server.drop()
    server.reply(500, times=3)
    async with httpx.AsyncClient(timeout=5) as client:
        hook = DiscordWebhook(server.discord_webhook_url(), client=client, redactor=Redactor(), policy=FAST)
        with pytest.raises(NotifyError, match="http 500 .*after 3 attempts") as info:
            await hook.send(ALERT)
    assert info.value.attempts == 3
    assert len(server.requests) == 3


async def test_4xx_is_not_retried_and_says_why(server: NotifyServer) -> None:
    server.reply(401, json_body={"ok": False, "error_code": 401, "description": "Unauthorized"})
    async with httpx.AsyncClient(timeout=5) as client:
        bot = TelegramBot(TOKEN, "42", api_base=server.telegram_api_base, client=client,
                          redactor=Redactor(), policy=FAST)
        with pytest.raises(NotifyError, match="telegram answered http 401: Unauthorized") as info:
            await bot.send(ALERT)
    assert TOKEN not in str(info.value)
    assert len(server.requests) == 1


async def test_too_long_retry_after_gives_up_at_once(server: NotifyServer) -> None:
    server.reply(429, headers={"Retry-After": "3600"})
    async with httpx.AsyncClient(timeout=5) as client:
        hook = DiscordWebhook(server.discord_webhook_url(), client=client, redactor=Redactor(), policy=FAST)
        with pytest.raises(NotifyError, match="asked to wait 3600 s"):
            await hook.send(ALERT)


def test_payload_limits_and_reprs() -> None:
    long = Alert(title="t" * 500, message="m" * 5000, file="f" * 2000)
    embed = discord_payload(long)["embeds"][0]
    assert len(embed["title"]) == 256 and len(embed["description"]) == 4096
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])
    assert "image" not in repr(ALERT) and "\\xff" not in repr(ALERT)


async def test_a_caption_full_of_emoji_stays_within_telegrams_count(server: NotifyServer) -> None:
    """Telegram counts a caption in UTF-16 code units: an emoji outside the BMP counts twice,
    so a caption cut to 1024 characters could still be refused, losing the alert."""
    rocket_file = "🚀" * 1200 + ".gcode"
    async with httpx.AsyncClient(timeout=5) as client:
        bot = TelegramBot(TOKEN, "42", api_base=server.telegram_api_base, client=client,
                          redactor=Redactor(), policy=FAST)
        await bot.send(Alert(kind=AlertKind.INCIDENT, file=rocket_file, image=make_jpeg()))
        await bot.send(Alert(kind=AlertKind.INCIDENT, file=rocket_file * 3))
    caption = server.telegram_requests("sendPhoto")[0].form()["caption"].text
    text = server.telegram_requests("sendMessage")[0].json()["text"]
    for sent, limit in ((caption, 1024), (text, 4096)):
        assert len(sent.encode("utf-16-le")) // 2 <= limit
        assert sent.startswith("Possible print failure\n") and sent.endswith("🚀…")
    embed = discord_payload(Alert(file=rocket_file))["embeds"][0]
    assert all(len(f["value"].encode("utf-16-le")) // 2 <= 1024 for f in embed["fields"])
