"""Delivery rules that keep the user informed: incident alerts outlast a network outage,
alerts of a paused or cancelled print are never paced, a full queue gives up notices
before incident alerts, and Telegram's supergroup migration says which id to use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from pinozcam_klipper.notify import URGENT_RETRY, Alert, AlertKind, Notifier, NotifySettings, RetryPolicy
from pinozcam_klipper.options import load_section
from tests.servers import NotifyServer, Results

SHORT = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)
# The urgent policy's shape (no bound on tries, a bound on time) with tiny waits.
LONG = RetryPolicy(attempts=None, base_delay=0.01, max_delay=0.02, give_up_after=60)
WEBHOOK_TOKEN = "wh-SECRET-abcdefghijklmnopqrstuvwxyz"
BOT_TOKEN = "987654:BOT-SECRET-abcdefghijklmnop"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[NotifyServer]:
    with NotifyServer() as srv:
        yield srv


def _discord(server: NotifyServer, **extra: object) -> NotifySettings:
    return load_section(NotifySettings, {"discord_webhook_url": server.discord_webhook_url(token=WEBHOOK_TOKEN),
                                         "notify_timeout": 5, **extra})


def test_the_default_urgent_policy_keeps_trying_for_minutes() -> None:
    assert URGENT_RETRY.attempts is None and URGENT_RETRY.give_up_after == 600
    assert URGENT_RETRY.max_delay <= 30
    with pytest.raises(ValueError, match="never give up"):
        RetryPolicy(attempts=None)


async def test_an_incident_alert_outlasts_an_outage_that_a_notice_does_not(server: NotifyServer) -> None:
    """Six dropped connections: the notice gives up after its two tries, the incident alert
    behind it keeps trying, in order, until the network is back."""
    server.drop(times=6)
    results = Results()
    async with Notifier(_discord(server, notify_interval=0), on_result=results, retry=SHORT,
                        urgent_retry=LONG) as notifier:
        notifier.submit(Alert(kind=AlertKind.INFO, title="Camera offline"))
        notifier.submit(Alert(kind=AlertKind.INCIDENT, action="pause"))
        got = await results.wait(2)
    assert [(r.alert.kind, r.status) for r in got] == [(AlertKind.INFO, "failed"), (AlertKind.INCIDENT, "sent")]
    assert got[0].attempts == 2
    assert len(server.requests) == 7  # 2 for the notice, 4 failed and 1 good for the incident


@pytest.mark.parametrize("kind", [AlertKind.ESCALATED, AlertKind.COULD_NOT_PAUSE])
async def test_action_results_use_the_urgent_policy(server: NotifyServer, kind: AlertKind) -> None:
    server.reply(503, json_body={"message": "down"}, times=3)
    async with Notifier(_discord(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=kind))
    assert result.ok and len(server.requests) == 4


async def test_urgent_retries_end_when_their_time_is_spent(server: NotifyServer) -> None:
    server.reply(503, json_body={"message": "down"}, times=10_000)
    brief = RetryPolicy(attempts=None, base_delay=0.01, max_delay=0.02, give_up_after=0.2)
    async with Notifier(_discord(server), retry=SHORT, urgent_retry=brief) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT))
    assert result.status == "failed" and "http 503" in result.error and " attempts in " in result.error


async def test_closing_drops_an_alert_still_being_retried(server: NotifyServer) -> None:
    server.drop(times=10_000)
    results = Results()
    notifier = Notifier(_discord(server), on_result=results, retry=SHORT, urgent_retry=URGENT_RETRY)
    await notifier.start()
    notifier.submit(Alert(kind=AlertKind.INCIDENT, action="pause"))
    await server.requests_arrived(2)  # the first retry has gone out: the next waits 2 s
    async with asyncio.timeout(5):  # a guard: close does not wait out the retries
        await notifier.close()
    [result] = results.items
    assert result.status == "dropped"


async def test_a_full_queue_drops_a_notice_before_an_incident_alert(server: NotifyServer) -> None:
    results = Results()
    notifier = Notifier(_discord(server, notify_interval=0), on_result=results, retry=SHORT,
                        urgent_retry=LONG, queue_size=2)
    notifier.submit(Alert(kind=AlertKind.INCIDENT, title="first"))
    notifier.submit(Alert(kind=AlertKind.INFO, title="Camera offline"))
    notifier.submit(Alert(kind=AlertKind.INCIDENT, title="second"))
    await notifier.start()
    try:
        got = await results.wait(3)
    finally:
        await notifier.close()
    assert [(r.alert.title, r.status) for r in got] == [
        ("Camera offline", "dropped"), ("first", "sent"), ("second", "sent")]
    assert [b"first" in r.body for r in server.requests] == [True, False]


async def test_an_incident_that_paused_the_print_is_never_rate_limited(server: NotifyServer) -> None:
    """Incident 1 pauses, the user resumes, incident 2 pauses 45 s later: its alert must go out,
    or the printer sits paused with no message. A notify-only incident is still paced."""
    clock = Clock()
    results = Results()
    async with Notifier(_discord(server, notify_interval=300), on_result=results, retry=SHORT,
                        urgent_retry=LONG, clock=clock) as notifier:
        for step, action in ((0, "pause"), (45, "pause"), (5, "notify"), (5, "cancel")):
            clock.now += step
            notifier.submit(Alert(kind=AlertKind.INCIDENT, action=action, title=f"{action} at {clock.now:g}"))
            await results.wait(len(results.items) + 1)
    assert [(r.alert.action, r.status) for r in results.items] == [
        ("pause", "sent"), ("pause", "sent"), ("notify", "rate_limited"), ("cancel", "sent")]
    assert "another incident alert was sent 5 s ago (notify_interval 300 s" in results.items[2].error


async def test_camera_offline_right_after_camera_back_is_sent(server: NotifyServer) -> None:
    """notify_interval 300: offline at 0, back at 5, offline at 66. The last word must be
    "offline", or the user believes a print nobody watches is watched."""
    clock = Clock()
    results = Results()
    async with Notifier(_discord(server, notify_interval=300), on_result=results, retry=SHORT,
                        urgent_retry=LONG, clock=clock) as notifier:
        for step, title in ((0, "Camera offline"), (5, "Camera back"), (61, "Camera offline")):
            clock.now += step
            notifier.submit(Alert(kind=AlertKind.INFO, title=title))
            await results.wait(len(results.items) + 1)
    assert [r.status for r in results.items] == ["sent", "sent", "sent"]


async def test_a_migrated_group_names_the_new_chat_id(server: NotifyServer,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.reply(400, json_body={"ok": False, "error_code": 400,
                                 "description": "Bad Request: group chat was upgraded to a supergroup chat",
                                 "parameters": {"migrate_to_chat_id": -1001234567890}})
    settings = load_section(NotifySettings, {"telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "-4242",
                                             "telegram_api_base": server.telegram_api_base})
    async with Notifier(settings, retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause"))
    assert result.status == "failed" and len(server.requests) == 1  # a 400 is not retried
    assert "upgraded to a supergroup chat (use telegram_chat_id -1001234567890)" in result.error
    for text in (result.error, caplog.text):
        assert BOT_TOKEN not in text and "BOT-SECRET" not in text


def _telegram_topic(server: NotifyServer, topic: int = 77) -> NotifySettings:
    return load_section(NotifySettings, {"telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "-1001234",
                                         "telegram_topic_id": topic, "telegram_api_base": server.telegram_api_base,
                                         "notify_timeout": 5})


def _no_such_topic(server: NotifyServer) -> None:
    # The token in the description, as a self-hosted Bot API server echoing the request might.
    server.reply(400, json_body={"ok": False, "error_code": 400,
                                 "description": f"Bad Request: message thread not found (bot{BOT_TOKEN})"})


async def test_an_alert_for_a_topic_that_is_gone_goes_to_the_chat(server: NotifyServer,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """The topic was deleted: the incident alert is sent once more without the topic, through
    its usual retries (a 502 here), and the result names the option to fix."""
    caplog.set_level(logging.DEBUG)
    _no_such_topic(server)
    server.reply(502, json_body={"ok": False, "error_code": 502, "description": "Bad Gateway"})
    async with Notifier(_telegram_topic(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause", image=b"\xff\xd8jpeg"))
    assert result.status == "sent"
    assert "telegram_topic_id 77 is wrong" in result.error and "went to the chat itself" in result.error
    first, *retries = server.telegram_requests("sendPhoto")
    assert first.form()["message_thread_id"].text == "77"
    assert len(retries) == 2
    for request in retries:
        form = request.form()
        assert "message_thread_id" not in form
        assert (form["chat_id"].text, form["photo"].data) == ("-1001234", b"\xff\xd8jpeg")
    assert "telegram alert sent, but telegram_topic_id 77 is wrong" in caplog.text
    for text in (result.error, caplog.text):
        assert BOT_TOKEN not in text and "BOT-SECRET" not in text


async def test_a_topic_that_is_gone_and_a_chat_that_refuses_fail_with_both_reasons(
        server: NotifyServer) -> None:
    _no_such_topic(server)
    server.reply(403, json_body={"ok": False, "error_code": 403,
                                 "description": "Forbidden: bot was kicked from the supergroup chat"})
    async with Notifier(_telegram_topic(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.TEST))
    assert (result.status, result.attempts) == ("failed", 2)
    assert "telegram_topic_id 77 is wrong" in result.error and "bot was kicked" in result.error
    assert BOT_TOKEN not in result.error and "BOT-SECRET" not in result.error
    assert [r.json().get("message_thread_id") for r in server.telegram_requests("sendMessage")] == [77, None]


async def test_another_refusal_with_a_topic_is_not_sent_elsewhere(server: NotifyServer) -> None:
    server.reply(400, json_body={"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    async with Notifier(_telegram_topic(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.TEST))
    assert result.status == "failed" and "chat not found" in result.error
    assert "telegram_topic_id" not in result.error
    assert len(server.requests) == 1


def _telegram(server: NotifyServer) -> NotifySettings:
    return load_section(NotifySettings, {"telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "-1001234",
                                         "telegram_api_base": server.telegram_api_base, "notify_timeout": 5})


async def test_a_picture_telegram_refuses_leaves_the_alert_as_text(server: NotifyServer) -> None:
    """A picture Telegram will not take (too large, odd dimensions) must not lose the alert."""
    server.reply(400, json_body={"ok": False, "error_code": 400,
                                 "description": "Bad Request: PHOTO_INVALID_DIMENSIONS"})
    async with Notifier(_telegram(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause", file="benchy.gcode",
                                                 image=b"\xff\xd8jpeg"))
    assert result.status == "sent"
    assert "PHOTO_INVALID_DIMENSIONS" in result.error and "went as text" in result.error
    assert len(server.telegram_requests("sendPhoto")) == 1
    [text] = server.telegram_requests("sendMessage")
    body = text.json()
    assert body["chat_id"] == "-1001234"
    assert "benchy.gcode" in body["text"] and "picture could not be sent" in body["text"]


async def test_a_picture_too_large_for_discord_leaves_the_alert_as_text(server: NotifyServer) -> None:
    server.reply(413, json_body={"message": "Request entity too large", "code": 40005})
    async with Notifier(_discord(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause", image=b"\xff\xd8jpeg"))
    assert result.status == "sent" and "went as text" in result.error
    with_picture, as_text = server.requests
    assert "files[0]" in with_picture.form()
    embed = as_text.json()["embeds"][0]
    assert "picture could not be sent" in embed["description"] and "image" not in embed
    assert WEBHOOK_TOKEN not in result.error


# -- a service asking for a long wait (HTTP 429) ---------------------------------------------------

def test_the_urgent_policy_waits_out_any_rate_limit_that_ends_within_its_ten_minutes() -> None:
    """Telegram's flood limit often asks for 121 s or more: more than the 120 s a notice may wait."""
    assert URGENT_RETRY.wait_refused(121, elapsed=0) == ""
    assert URGENT_RETRY.wait_refused(100, elapsed=500) == ""
    assert "600 s allowed for retries" in URGENT_RETRY.wait_refused(101, elapsed=500)


async def test_an_incident_alert_waits_out_a_rate_limit_longer_than_a_notice_would(server: NotifyServer) -> None:
    """Scaled down: a notice may wait 0.1 s (the real 120 s), the incident alert may retry for
    60 s; the service asks for 0.3 s. The alert waits and goes out instead of being dropped."""
    server.reply(429, json_body={"message": "You are being rate limited.", "retry_after": 0.3, "global": False})
    patient = RetryPolicy(attempts=None, base_delay=0.01, max_delay=0.02, max_retry_after=0.1, give_up_after=60)
    async with Notifier(_discord(server), retry=SHORT, urgent_retry=patient) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause"))
    assert result.status == "sent"
    assert len(server.requests) == 2


async def test_a_rate_limit_past_the_retry_time_fails_at_once_and_says_why(server: NotifyServer) -> None:
    server.reply(429, json_body={"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3600",
                                 "parameters": {"retry_after": 3600}})
    settings = load_section(NotifySettings, {"telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "42",
                                             "telegram_api_base": server.telegram_api_base})
    async with Notifier(settings, retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause"))
    assert result.status == "failed" and len(server.requests) == 1
    assert "asked to wait 3600 s, past the 60 s allowed for retries" in result.error
    assert "giving up after 1 attempt" in result.error


# -- attempts: the requests an alert really took ---------------------------------------------------

async def test_a_retried_alert_reports_every_request_it_took(server: NotifyServer) -> None:
    server.reply(503, json_body={"message": "upstream"}, times=3)
    async with Notifier(_discord(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause"))
    assert (result.status, result.attempts) == ("sent", 4)
    assert len(server.requests) == 4


async def test_an_alert_sent_to_the_chat_after_a_missing_topic_counts_both_requests(server: NotifyServer) -> None:
    _no_such_topic(server)
    async with Notifier(_telegram_topic(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause"))
    assert (result.status, result.attempts) == ("sent", 2)
    assert len(server.requests) == 2


async def test_an_alert_sent_as_text_after_its_picture_counts_both_requests(server: NotifyServer) -> None:
    server.reply(413, json_body={"message": "Request entity too large", "code": 40005})
    server.reply(503, json_body={"message": "upstream"})
    async with Notifier(_discord(server), retry=SHORT, urgent_retry=LONG) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.INCIDENT, action="pause", image=b"\xff\xd8jpeg"))
    assert (result.status, result.attempts) == ("sent", 3)  # the picture, then the text twice
    assert len(server.requests) == 3
