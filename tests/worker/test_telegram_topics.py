"""Alerts in a topic of a forum group (``telegram_topic_id``): they carry the topic, their
buttons work from the group's topics, and a topic that is gone neither loses the alert nor
hides the mistake from the status."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from pinozcam_klipper.notify import NotifySettings, RetryPolicy
from pinozcam_klipper.worker.alerts import Alerts
from tests.servers.base import RecordedRequest
from tests.worker.helpers import BOT_TOKEN, GOOD, BotServer, requests_matching

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
GROUP = "-1001234567890"
TOPIC = 77
RECORD = {"id": "20260101-000001-abcd", "action": "pause", "print": {"file": "cube.gcode"}}


class ForumBot(BotServer):
    """A BotServer whose presses come from a message in a topic of a forum group."""

    def press_in_topic(self, data: str, chat_id: str, topic: int) -> None:
        with self._cond:
            self._update_ids += 1
            self._updates.append({"update_id": self._update_ids, "callback_query": {
                "id": f"q{self._update_ids}", "from": {"id": 7, "username": "tester"}, "data": data,
                "message": {"message_id": 5, "message_thread_id": topic, "is_topic_message": True,
                            "chat": {"id": int(chat_id), "type": "supergroup", "is_forum": True}}}})
            self._cond.notify_all()

    def answers(self) -> list[str]:
        return [r.json()["text"] for r in self.requests if r.route.endswith("/answerCallbackQuery")]


@pytest.fixture
def bot() -> Iterator[ForumBot]:
    with ForumBot() as server:
        yield server


class Presses:
    """The ``on_button`` of the alerts: records each press and answers it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, action: str, incident_id: str) -> str:
        self.seen.append((action, incident_id))
        return f"{action}: ok"


@pytest.fixture
async def alerts(bot: ForumBot) -> AsyncIterator[tuple[Alerts, Presses]]:
    settings = NotifySettings(telegram_bot_token=BOT_TOKEN, telegram_chat_id=GROUP, telegram_topic_id=TOPIC,
                              telegram_api_base=bot.telegram_api_base, notify_interval=0)
    presses = Presses()
    running = Alerts(settings, buttons=True, on_button=presses, retry=FAST, urgent_retry=FAST)
    await running.start()
    try:
        yield running, presses
    finally:
        await running.close(0)


def _is(method: str) -> Callable[[RecordedRequest], bool]:
    return lambda request: request.route.endswith(f"/{method}")


async def test_an_alert_goes_to_the_topic_and_its_buttons_work_from_the_group(
        alerts: tuple[Alerts, Presses], bot: ForumBot) -> None:
    running, presses = alerts
    running.incident_alert("opened", RECORD, GOOD)
    [photo] = await requests_matching(bot, _is("sendPhoto"))
    form = photo.form()
    assert (form["chat_id"].text, form["message_thread_id"].text) == (GROUP, str(TOPIC))
    assert f"pz:pause:{RECORD['id']}" in form["reply_markup"].text
    # The topic does not restrict presses: any topic of the group is the configured chat.
    bot.press_in_topic(f"pz:pause:{RECORD['id']}", GROUP, TOPIC)
    bot.press_in_topic(f"pz:resume:{RECORD['id']}", GROUP, 12)
    bot.press_in_topic(f"pz:cancel:{RECORD['id']}", "-1009999999999", TOPIC)  # another group
    await requests_matching(bot, _is("answerCallbackQuery"), count=3)
    assert presses.seen == [("pause", RECORD["id"]), ("resume", RECORD["id"])]
    assert bot.answers() == ["pause: ok", "resume: ok", "Not allowed from this chat."]


async def test_a_topic_that_is_gone_shows_in_the_status_and_the_alert_reaches_the_chat(
        alerts: tuple[Alerts, Presses], bot: ForumBot) -> None:
    running, _ = alerts
    bot.reply(400, json_body={"ok": False, "error_code": 400, "description": "Bad Request: message thread not found"})
    running.incident_alert("opened", RECORD, GOOD)
    await running.close(10)  # returns once the alert is delivered
    status = running.delivery_status()["telegram"]
    assert (status["ok"], status["status"]) == (True, "sent")
    assert "telegram_topic_id 77 is wrong" in status["error"]
    assert BOT_TOKEN not in json.dumps(status) and BOT_TOKEN.split(":", 1)[1] not in json.dumps(status)
    to_topic, to_chat = bot.telegram_requests("sendPhoto")
    assert to_topic.form()["message_thread_id"].text == str(TOPIC)
    form = to_chat.form()
    assert "message_thread_id" not in form and form["chat_id"].text == GROUP and form["photo"].data == GOOD
    assert f"pz:pause:{RECORD['id']}" in form["reply_markup"].text  # the buttons come along
