"""Telegram alert buttons: presses from a channel configured as ``@name``, and a poll
backoff short enough that a press made after a network outage is read in time."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Iterator
from typing import Any

import pytest

from pinozcam_klipper.worker import telegram_buttons
from pinozcam_klipper.worker.telegram_buttons import ButtonPoller, ButtonPress, chat_matches
from tests.worker.helpers import BOT_TOKEN, BotServer


class ChannelBot(BotServer):
    """A BotServer whose presses come from a chat described in full (id, type, username)."""

    def press_in(self, data: str, chat: dict[str, Any]) -> None:
        with self._cond:
            self._update_ids += 1
            self._updates.append({"update_id": self._update_ids, "callback_query": {
                "id": f"q{self._update_ids}", "from": {"id": 7, "username": "tester"}, "data": data,
                "message": {"message_id": 1, "chat": chat}}})
            self._cond.notify_all()

    def answers(self) -> list[str]:
        return [r.json()["text"] for r in self.requests if r.route.endswith("/answerCallbackQuery")]


@pytest.fixture
def bot() -> Iterator[ChannelBot]:
    with ChannelBot() as server:
        yield server


def test_chat_matches_an_id_or_a_username() -> None:
    channel = {"id": -1001234, "type": "channel", "username": "PrinterAlerts"}
    assert chat_matches("@printeralerts", channel) and chat_matches("-1001234", channel)
    assert not chat_matches("@other", channel) and not chat_matches("-1009999", channel)
    assert not chat_matches("@printeralerts", {"id": -1001234})  # no username: not the channel
    assert not chat_matches("", channel)


async def test_a_press_in_a_channel_set_as_at_name_is_accepted(bot: ChannelBot) -> None:
    pressed: list[ButtonPress] = []

    async def on_press(press: ButtonPress) -> str:
        pressed.append(press)
        return "Pausing"

    poller = ButtonPoller(api_base=bot.telegram_api_base, bot_token=BOT_TOKEN, chat_id="@PrinterAlerts",
                          on_press=on_press, poll_timeout=1)
    task = asyncio.create_task(poller.run())
    try:
        bot.press_in("pz:pause:INC1", {"id": -1001234, "type": "channel", "username": "printeralerts"})
        bot.press_in("pz:pause:INC1", {"id": -1005678, "type": "channel", "username": "someone_else"})
        while len(bot.answers()) < 2:
            await bot.requests_arrived(len(bot.requests) + 1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert bot.answers() == ["Pausing", "Not allowed from this chat."]
    assert [(p.action, p.incident_id, p.chat_id) for p in pressed] == [("pause", "INC1", "-1001234")]


class _RecordedSleep(types.SimpleNamespace):
    """Stands in for the ``asyncio`` module inside telegram_buttons: each backoff is recorded
    instead of waited out, and after ``wanted`` of them the poller waits until cancelled."""

    def __init__(self, wanted: int) -> None:
        super().__init__(delays=[], enough=asyncio.Event(), wanted=wanted)

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        if len(self.delays) >= self.wanted:
            self.enough.set()
            await asyncio.Event().wait()
        await asyncio.sleep(0)


async def test_the_poll_backoff_stays_short_through_an_outage(bot: ChannelBot,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Telegram unreachable for a while: the wait between polls grows to 10 s, not a minute,
    so a press made when the network is back is read while its query can still be answered."""
    sleep = _RecordedSleep(wanted=8)
    monkeypatch.setattr(telegram_buttons, "asyncio", sleep)
    bot.refuse_updates = (502, "Bad Gateway")

    async def on_press(press: ButtonPress) -> str:
        return ""

    poller = ButtonPoller(api_base=bot.telegram_api_base, bot_token=BOT_TOKEN, chat_id="42",
                          on_press=on_press, poll_timeout=1)
    task = asyncio.create_task(poller.run())
    try:
        async with asyncio.timeout(30):  # a guard against a hang; a passing run takes no time
            await sleep.enough.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sleep.delays == [1, 2, 4, 8, 10, 10, 10, 10]
    assert poller.problem is not None and "502" in poller.problem and BOT_TOKEN not in poller.problem
