"""The worker's alerts across a change of notification settings: nothing queued or being
retried is lost, and stopping does not wait for alerts that can no longer be sent."""

from __future__ import annotations

import asyncio

from pinozcam_klipper.notify import NotifySettings
from pinozcam_klipper.worker.alerts import Alerts
from tests.worker.helpers import BotServer

RECORD = {"id": "20260101-000000-abcd", "action": "pause", "print": {"file": "cube.gcode"}}


async def _no_button(action: str, incident_id: str) -> str:
    return ""


async def test_an_alert_being_retried_is_still_sent_after_new_settings() -> None:
    with BotServer() as bot:
        alerts = Alerts(NotifySettings(discord_webhook_url=bot.discord_webhook_url(), notify_interval=0),
                        buttons=False, on_button=_no_button)
        await alerts.start()
        bot.reply(500, json_body={"message": "try again"})  # the first try fails; a retry follows
        alerts.incident_alert("opened", RECORD, b"\xff\xd8jpeg\xff\xd9")
        await bot.requests_arrived(1)
        alerts.reconfigure(NotifySettings(discord_webhook_url=bot.discord_webhook_url(), notify_interval=0,
                                          printer_name="renamed"), buttons=False)
        requests = await bot.requests_arrived(2)
        assert all(b"Possible print failure" in r.body for r in requests[:2])
        async with asyncio.timeout(5):  # the alert is done: stopping does not wait out 30 s
            await alerts.close(30)


async def test_stopping_does_not_wait_for_an_old_notifier_that_cannot_send() -> None:
    with BotServer() as old_bot, BotServer() as new_bot:
        old_bot.hang(times=10)
        alerts = Alerts(NotifySettings(discord_webhook_url=old_bot.discord_webhook_url(), notify_interval=0,
                                       notify_timeout=60), buttons=False, on_button=_no_button)
        await alerts.start()
        alerts.info_alert("Camera offline", "camera offline", {})
        await old_bot.requests_arrived(1)
        alerts.reconfigure(NotifySettings(discord_webhook_url=new_bot.discord_webhook_url(), notify_interval=0),
                           buttons=False)
        async with asyncio.timeout(5):
            await alerts.close(0.5)
        assert alerts._all_finished.is_set()  # the stuck alert was reported dropped, not forgotten


async def test_stopping_waits_for_a_channel_still_retrying_after_another_has_sent() -> None:
    """An alert is unfinished until every channel is done with it, not just the fastest."""
    with BotServer() as discord, BotServer() as telegram:
        alerts = Alerts(NotifySettings(discord_webhook_url=discord.discord_webhook_url(), notify_interval=0,
                                       telegram_bot_token="123:abc", telegram_chat_id="42",
                                       telegram_api_base=telegram.telegram_api_base),
                        buttons=False, on_button=_no_button)
        await alerts.start()
        discord.reply(500, json_body={"message": "try again"})  # Discord's first try fails; a retry follows
        alerts.incident_alert("opened", RECORD, None)
        await telegram.requests_arrived(1)
        await discord.requests_arrived(1)
        async with asyncio.timeout(10):
            await alerts.close(30)
        assert len(discord.requests) == 2  # the retry went out before stopping
        assert alerts._all_finished.is_set()
