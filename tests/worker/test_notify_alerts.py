"""The worker's alerts as the user sees them: incidents that pause are never paced away,
each change of camera state is told, and the last delivery per channel is there to show."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from pinozcam_klipper.notify import NotifySettings, RetryPolicy
from pinozcam_klipper.worker.alerts import Alerts
from tests.worker.helpers import BOT_TOKEN, BotServer

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
WEBHOOK_TOKEN = "discord-SECRET-webhook-token-0123456789"
SECRETS = (WEBHOOK_TOKEN, BOT_TOKEN, BOT_TOKEN.split(":", 1)[1])


async def _no_button(action: str, incident_id: str) -> str:
    return ""


def _record(number: int, action: str = "pause") -> dict:
    return {"id": f"20260101-00000{number}-abcd", "action": action, "print": {"file": "cube.gcode"}}


@pytest.fixture
def bot() -> Iterator[BotServer]:
    """The Discord side."""
    with BotServer() as server:
        yield server


@pytest.fixture
def telegram() -> Iterator[BotServer]:
    with BotServer() as server:
        yield server


@pytest.fixture
async def alerts(bot: BotServer, telegram: BotServer) -> AsyncIterator[Alerts]:
    """Discord and Telegram on their own recording servers, notify_interval 300 s (real time:
    every alert of a test falls inside it)."""
    settings = NotifySettings(discord_webhook_url=bot.discord_webhook_url(token=WEBHOOK_TOKEN),
                              telegram_bot_token=BOT_TOKEN, telegram_chat_id="42",
                              telegram_api_base=telegram.telegram_api_base, notify_interval=300)
    running = Alerts(settings, buttons=False, on_button=_no_button, retry=FAST, urgent_retry=FAST)
    await running.start()
    try:
        yield running
    finally:
        await running.close(0)


async def test_a_second_incident_that_pauses_is_alerted_within_notify_interval(
        alerts: Alerts, bot: BotServer, telegram: BotServer) -> None:
    alerts.incident_alert("opened", _record(1), None)
    alerts.incident_alert("opened", _record(2), None)  # the user resumed; it failed again and paused
    alerts.incident_alert("opened", _record(3, action="notify"), None)  # notify only: paced
    await alerts.close(10)
    for server in (bot, telegram):
        bodies = [r.body for r in server.alerts()]
        assert [b"-000001-" in b for b in bodies] == [True, False]
        assert b"-000002-" in bodies[1]


async def test_camera_offline_after_camera_back_is_not_paced(alerts: Alerts, bot: BotServer) -> None:
    for title in ("Camera offline", "Camera back", "Camera offline", "Camera offline"):
        alerts.info_alert(title, title.lower(), {})
    await alerts.close(10)
    titles = [r.json()["embeds"][0]["title"] for r in bot.discord_requests()]
    assert titles == ["Camera offline", "Camera back", "Camera offline"]  # the repeat was paced


async def test_delivery_status_shows_a_failing_channel_without_secrets(
        alerts: Alerts, bot: BotServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    assert alerts.delivery_status() == {
        channel: {"channel": channel, "ok": None, "status": "none", "kind": "", "time": None, "error": "",
                  "attempts": 0} for channel in ("discord", "telegram")}
    # Discord echoes the webhook (as a proxy might); Telegram, on its own server, works.
    bot.reply(404, json_body={"message": f"Unknown Webhook {bot.discord_webhook_url(token=WEBHOOK_TOKEN)}",
                              "code": 10015})
    alerts.incident_alert("opened", _record(1), None)
    await alerts.close(10)
    status = alerts.delivery_status()
    discord, telegram = status["discord"], status["telegram"]
    assert (discord["ok"], discord["status"], discord["kind"]) == (False, "failed", "incident")
    assert "http 404: Unknown Webhook" in discord["error"] and isinstance(discord["time"], float)
    assert (telegram["ok"], telegram["status"], telegram["error"]) == (True, "sent", "")
    assert "alert not delivered (failed)" in caplog.text
    for text in (json.dumps(status), caplog.text):
        for secret in (*SECRETS, bot.discord_webhook_url(token=WEBHOOK_TOKEN)):
            assert secret not in text


async def test_delivery_status_ignores_a_paced_alert(alerts: Alerts, bot: BotServer,
                                                     telegram: BotServer) -> None:
    alerts.info_alert("Camera offline", "camera offline", {})
    alerts.info_alert("Camera offline", "camera offline", {})  # a repeat: rate limited, not tried
    await alerts.close(10)
    assert len(bot.alerts()) == len(telegram.alerts()) == 1
    assert {entry["status"] for entry in alerts.delivery_status().values()} == {"sent"}


async def test_a_migrated_group_shows_the_new_chat_id_in_the_status() -> None:
    with BotServer() as telegram:
        telegram.reply(400, json_body={"ok": False, "error_code": 400,
                                       "description": "Bad Request: group chat was upgraded to a supergroup chat",
                                       "parameters": {"migrate_to_chat_id": -1001234567890}})
        settings = NotifySettings(telegram_bot_token=BOT_TOKEN, telegram_chat_id="-4242",
                                  telegram_api_base=telegram.telegram_api_base)
        alerts = Alerts(settings, buttons=False, on_button=_no_button, retry=FAST, urgent_retry=FAST)
        await alerts.start()
        alerts.incident_alert("opened", _record(1), None)
        await alerts.close(10)
    status = alerts.delivery_status()["telegram"]
    assert status["status"] == "failed"
    assert "supergroup chat (use telegram_chat_id -1001234567890)" in status["error"]
    assert not any(secret in json.dumps(status) for secret in SECRETS)


async def test_escalation_and_could_not_cancel_alerts_name_the_action_taken(
        alerts: Alerts, bot: BotServer, telegram: BotServer) -> None:
    """The incident paused the print; escalate_after then cancels it, and the cancel fails. Each
    alert's "Action" is the one its title is about, never the incident's first action."""
    record = _record(1, action="pause")
    alerts.incident_alert("escalated", record, None, action="cancel")
    alerts.incident_alert("escalated", record, None)  # an escalation is to cancel, named or not
    alerts.incident_alert("unconfirmed", record, None, reason="Klipper did not answer", action="cancel")
    await alerts.close(10)
    embeds = [r.json()["embeds"][0] for r in bot.discord_requests()]
    assert [(e["title"], {f["name"]: f["value"] for f in e["fields"]}["Action"]) for e in embeds] == [
        ("Print still failing: cancelling it", "cancel"), ("Print still failing: cancelling it", "cancel"),
        ("Could not cancel the printer", "cancel")]
    texts = [r.json()["text"] for r in telegram.alerts()]
    assert len(texts) == 3
    assert all("Action: cancel" in text and "pause" not in text for text in texts)


async def test_a_could_not_pause_alert_for_a_notify_only_incident_says_pause(
        alerts: Alerts, bot: BotServer) -> None:
    """The user pressed Pause on a notify-only incident and the printer refused."""
    alerts.incident_alert("unconfirmed", _record(1, action="notify"), None, reason="the printer refused",
                          action="pause")
    await alerts.close(10)
    [embed] = [r.json()["embeds"][0] for r in bot.discord_requests()]
    assert embed["title"] == "Could not pause the printer"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Action"] == "pause"
