"""The background notifier: queueing, pacing, timeouts, and no secret in any log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from pinozcam_klipper.notify import Alert, AlertKind, Notifier, NotifySettings, RetryPolicy
from pinozcam_klipper.options import SettingsError, load_section
from tests.servers import NotifyServer, Results, make_jpeg

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)
WEBHOOK_TOKEN = "wh-SECRET-abcdefghijklmnopqrstuvwxyz"
BOT_TOKEN = "987654:BOT-SECRET-abcdefghijklmnop"
SECRETS = (WEBHOOK_TOKEN, BOT_TOKEN, "BOT-SECRET", "wh-SECRET")


@pytest.fixture
def server() -> Iterator[NotifyServer]:
    with NotifyServer() as srv:
        yield srv


def _settings(server: NotifyServer, **extra: object) -> NotifySettings:
    return load_section(NotifySettings, {
        "discord_webhook_url": server.discord_webhook_url(token=WEBHOOK_TOKEN),
        "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": 42,
        "telegram_api_base": server.telegram_api_base, "notify_timeout": 0.3, **extra})


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _paced_discord(server: NotifyServer, results: Results, clock: Clock) -> Notifier:
    """Discord only, one incident alert a minute, on the test's clock."""
    settings = load_section(NotifySettings, {"discord_webhook_url": server.discord_webhook_url(),
                                             "notify_interval": 60})
    return Notifier(settings, on_result=results, retry=FAST, urgent_retry=FAST, clock=clock)


async def test_alert_goes_to_both_channels(server: NotifyServer) -> None:
    results = Results()
    async with Notifier(_settings(server), on_result=results, retry=FAST, urgent_retry=FAST) as notifier:
        notifier.submit(Alert(severity=0.8, image=make_jpeg(100)))
        got = await results.wait(2)
    assert sorted((r.channel, r.status) for r in got) == [("discord", "sent"), ("telegram", "sent")]
    assert len(server.discord_requests()) == 1 and len(server.telegram_requests("sendPhoto")) == 1


async def test_rate_limit_skips_incidents_but_not_tests_or_actions(server: NotifyServer) -> None:
    clock = Clock()
    results = Results()
    async with _paced_discord(server, results, clock) as notifier:
        notifier.submit(Alert(kind=AlertKind.INCIDENT))
        await results.wait(1)
        clock.now += 10
        notifier.submit(Alert(kind=AlertKind.INCIDENT))
        notifier.submit(Alert(kind=AlertKind.TEST))
        notifier.submit(Alert(kind=AlertKind.ESCALATED))
        await results.wait(4)
        clock.now += 51
        notifier.submit(Alert(kind=AlertKind.INCIDENT))
        got = await results.wait(5)
    assert [(r.alert.kind.value, r.status) for r in got] == [
        ("incident", "sent"), ("incident", "rate_limited"), ("test", "sent"), ("escalated", "sent"),
        ("incident", "sent")]
    assert "notify_interval 60 s" in got[1].error
    assert len(server.requests) == 4


async def test_info_alerts_are_paced_apart_from_incidents(server: NotifyServer) -> None:
    """A camera-offline notice right after an incident alert still reaches the user; a second
    notice within the interval does not."""
    clock = Clock()
    results = Results()
    async with _paced_discord(server, results, clock) as notifier:
        notifier.submit(Alert(kind=AlertKind.INCIDENT))
        await results.wait(1)
        clock.now += 5
        notifier.submit(Alert(kind=AlertKind.INFO, title="camera offline"))
        await results.wait(2)
        clock.now += 5
        notifier.submit(Alert(kind=AlertKind.INFO, title="camera offline"))
        notifier.submit(Alert(kind=AlertKind.INCIDENT))
        got = await results.wait(4)
    assert [(r.alert.kind.value, r.status) for r in got] == [
        ("incident", "sent"), ("info", "sent"), ("info", "rate_limited"), ("incident", "rate_limited")]
    assert 'another "camera offline" notice' in got[2].error
    assert len(server.requests) == 2


async def test_full_queue_drops_the_oldest(server: NotifyServer) -> None:
    results = Results()
    settings = load_section(NotifySettings, {"discord_webhook_url": server.discord_webhook_url(),
                                             "notify_interval": 0})
    notifier = Notifier(settings, on_result=results, retry=FAST, urgent_retry=FAST, queue_size=2)
    for title in ("one", "two", "three"):
        notifier.submit(Alert(kind=AlertKind.INFO, title=title))
    assert notifier.dropped == 1
    await notifier.start()
    try:
        got = await results.wait(3)
    finally:
        await notifier.close()
    assert [(r.alert.title, r.status) for r in got] == [("one", "dropped"), ("two", "sent"), ("three", "sent")]


async def test_send_test_waits_for_results(server: NotifyServer) -> None:
    async with Notifier(_settings(server, printer_name="Prusa"), retry=FAST, urgent_retry=FAST) as notifier:
        got = await notifier.send_test()
    assert {r.channel: r.ok for r in got} == {"discord": True, "telegram": True}
    text = server.telegram_requests("sendMessage")[0].json()["text"]
    assert text.startswith("PiNozCam test message") and "Printer: Prusa" in text


async def test_no_channel_is_reported() -> None:
    async with Notifier(NotifySettings()) as notifier:
        [result] = await notifier.send_now(Alert())
    assert result.status == "no_channel"


async def test_hanging_server_times_out_without_blocking(server: NotifyServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.hang(times=10)
    results = Results()
    settings = load_section(NotifySettings, {"discord_webhook_url": server.discord_webhook_url(token=WEBHOOK_TOKEN),
                                             "notify_timeout": 0.3})
    async with Notifier(settings, on_result=results, retry=FAST, urgent_retry=FAST) as notifier:
        notifier.submit(Alert(image=make_jpeg(50)))  # returns at once...
        await server.requests_arrived(1)  # ...while the request hangs, this loop keeps running
        notifier.submit(Alert(kind=AlertKind.TEST))
        got = await results.wait(2)
    assert [r.status for r in got] == ["failed", "failed"]
    assert "did not answer within the timeout" in got[0].error and got[0].attempts == 2
    _assert_no_secret(caplog.text, *(r.error for r in got))


async def test_failing_webhook_and_bot_leak_nothing(server: NotifyServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.reply(404, json_body={"message": f"Unknown Webhook {WEBHOOK_TOKEN}", "code": 10015})
    server.reply(401, json_body={"ok": False, "error_code": 401, "description": "Unauthorized"})
    results = Results()
    settings = _settings(server)
    async with Notifier(settings, on_result=results, retry=FAST, urgent_retry=FAST) as notifier:
        notifier.submit(Alert(kind=AlertKind.TEST))
        got = await results.wait(2)
        _assert_no_secret(repr(notifier), repr(notifier.discord), repr(notifier.telegram))
    assert {r.status for r in got} == {"failed"}
    assert any("http 404: Unknown Webhook <redacted>" in r.error for r in got)
    _assert_no_secret(caplog.text, repr(settings), str(settings), *(r.error for r in got))
    assert "alert not sent" in caplog.text
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text  # httpx's own line was there, redacted


async def test_secrets_with_an_invisible_character_leak_into_no_log_line(
        server: NotifyServer, caplog: pytest.LogCaptureFixture) -> None:
    """Settings built without validation (as a caller might) with a zero-width space pasted
    after each secret: httpx sends and logs them percent-encoded, and that form is redacted too."""
    caplog.set_level(logging.DEBUG)
    settings = NotifySettings(discord_webhook_url=server.discord_webhook_url(token=WEBHOOK_TOKEN + "\u200b"),
                              telegram_bot_token=BOT_TOKEN + "\u200b", telegram_chat_id="42",
                              telegram_api_base=server.telegram_api_base)
    async with Notifier(settings, retry=FAST, urgent_retry=FAST) as notifier:
        await notifier.send_test()
    assert all("%E2%80%8B" in r.path for r in server.requests)  # the encoded form was on the wire
    assert caplog.text.count("HTTP Request: POST") == 2  # httpx's own lines were there, redacted
    _assert_no_secret(caplog.text)


async def test_unreachable_service_is_a_clear_failure(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = load_section(NotifySettings, {
        "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": "1", "telegram_api_base": "http://127.0.0.1:9"})
    async with Notifier(settings, retry=FAST, urgent_retry=FAST) as notifier:
        [result] = await notifier.send_now(Alert(kind=AlertKind.TEST))
    assert result.status == "failed" and "cannot reach telegram: ConnectError" in result.error
    _assert_no_secret(caplog.text, result.error)


async def test_close_can_drain_the_queue(server: NotifyServer) -> None:
    results = Results()
    settings = load_section(NotifySettings, {"discord_webhook_url": server.discord_webhook_url(),
                                             "notify_interval": 0})
    notifier = Notifier(settings, on_result=results, retry=FAST, urgent_retry=FAST)
    await notifier.start()
    for title in ("a", "b", "c"):
        notifier.submit(Alert(kind=AlertKind.INFO, title=title))
    await notifier.close(drain_timeout=10)
    assert [r.status for r in results.items] == ["sent", "sent", "sent"]


async def test_a_webhook_url_httpx_cannot_use_fails_that_alert_only(server: NotifyServer,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    # Port 99999 passes httpx's URL parsing and raises OverflowError at connect: not an httpx error.
    bad = NotifySettings(discord_webhook_url=f"http://127.0.0.1:99999/api/webhooks/1/{WEBHOOK_TOKEN}",
                         telegram_bot_token=BOT_TOKEN, telegram_chat_id="42",
                         telegram_api_base=server.telegram_api_base, notify_interval=0)
    results = Results()
    async with Notifier(bad, on_result=results, retry=FAST, urgent_retry=FAST) as notifier:
        notifier.submit(Alert(kind=AlertKind.TEST, title="first"))
        notifier.submit(Alert(kind=AlertKind.TEST, title="second"))
        got = await results.wait(4)
    by = {(r.alert.title, r.channel): r for r in got}
    assert by[("second", "telegram")].status == "sent"  # the notifier lived on past the first alert
    discord = by[("second", "discord")]
    assert discord.status == "failed" and "OverflowError" in discord.error and "port" in discord.error
    _assert_no_secret(caplog.text, *(r.error for r in got))


def test_a_webhook_port_out_of_range_is_refused_in_settings() -> None:
    with pytest.raises(SettingsError, match="port between 1 and 65535") as info:
        load_section(NotifySettings, {"discord_webhook_url": f"http://127.0.0.1:99999/api/webhooks/1/{WEBHOOK_TOKEN}"})
    _assert_no_secret(str(info.value))
    with pytest.raises(SettingsError, match="telegram_api_base"):
        load_section(NotifySettings, {"telegram_api_base": "http://127.0.0.1:70000"})


async def test_camera_back_gets_through_right_after_camera_offline(server: NotifyServer) -> None:
    """Each change of camera state reaches the user, however quick: the last message must
    say what is true now. Only a repeat of the last notice is paced."""
    clock = Clock()
    results = Results()
    async with _paced_discord(server, results, clock) as notifier:
        notifier.submit(Alert(kind=AlertKind.INFO, title="Camera offline"))
        await results.wait(1)
        clock.now += 5
        notifier.submit(Alert(kind=AlertKind.INFO, title="Camera back"))
        await results.wait(2)
        clock.now += 5
        notifier.submit(Alert(kind=AlertKind.INFO, title="Camera offline"))  # a flapping camera
        await results.wait(3)
        clock.now += 5
        notifier.submit(Alert(kind=AlertKind.INFO, title="Camera offline"))  # a repeat: paced
        got = await results.wait(4)
    assert [(r.alert.title, r.status) for r in got] == [
        ("Camera offline", "sent"), ("Camera back", "sent"), ("Camera offline", "sent"),
        ("Camera offline", "rate_limited")]


def test_a_token_pasted_as_the_chat_id_is_refused_without_showing_it() -> None:
    with pytest.raises(SettingsError, match="telegram_chat_id") as info:
        load_section(NotifySettings, {"telegram_chat_id": "123456:pasted-into-the-wrong-box"})
    assert "pasted-into-the-wrong-box" not in str(info.value)
    with pytest.raises(SettingsError, match="'12ab'"):  # not a secret: shown, to see the typo
        load_section(NotifySettings, {"telegram_chat_id": "12ab"})


async def test_a_hanging_discord_does_not_hold_up_telegram() -> None:
    """Each channel sends on its own: Telegram's alerts go out while Discord's first is still hanging."""
    with NotifyServer() as discord, NotifyServer() as telegram:
        discord.hang(times=10)
        results = Results()
        settings = load_section(NotifySettings, {
            "discord_webhook_url": discord.discord_webhook_url(token=WEBHOOK_TOKEN),
            "telegram_bot_token": BOT_TOKEN, "telegram_chat_id": 42,
            "telegram_api_base": telegram.telegram_api_base, "notify_timeout": 3})
        async with Notifier(settings, on_result=results, retry=FAST, urgent_retry=FAST) as notifier:
            notifier.submit(Alert(kind=AlertKind.INCIDENT, title="first"))
            notifier.submit(Alert(kind=AlertKind.COULD_NOT_PAUSE, title="second"))
            await discord.requests_arrived(1)
            sent = await telegram.requests_arrived(2)
            # Discord is still on its first try of the first alert: nothing has given up yet.
            assert len(discord.requests) == 1
            assert not any(r.status == "failed" for r in results.items)
            discord.stop()  # cuts the hanging request: Discord now gives up on both alerts
            got = await results.wait(4)
    assert [b"first" in r.body for r in sent] == [True, False] and b"second" in sent[1].body
    assert [(r.alert.title, r.channel, r.status) for r in got] == [
        ("first", "discord", "failed"), ("first", "telegram", "sent"),
        ("second", "discord", "failed"), ("second", "telegram", "sent")]


async def test_every_channel_follows_one_pacing_decision() -> None:
    """Telegram reaches the second incident while Discord still retries the first: the second is
    rate limited on both, and each alert's results come together once every channel is done."""
    clock = Clock()
    with NotifyServer() as discord, NotifyServer() as telegram:
        discord.hang(times=1)  # the first try times out; the retry gets through
        results = Results()
        settings = load_section(NotifySettings, {
            "discord_webhook_url": discord.discord_webhook_url(), "telegram_bot_token": BOT_TOKEN,
            "telegram_chat_id": 42, "telegram_api_base": telegram.telegram_api_base,
            "notify_timeout": 0.5, "notify_interval": 60})
        async with Notifier(settings, on_result=results, retry=FAST, urgent_retry=FAST, clock=clock) as notifier:
            notifier.submit(Alert(kind=AlertKind.INCIDENT, title="first"))
            await telegram.requests_arrived(1)
            clock.now += 10
            notifier.submit(Alert(kind=AlertKind.INCIDENT, title="second"))
            got = await results.wait(4)
    assert [(r.alert.title, r.channel, r.status) for r in got] == [
        ("first", "discord", "sent"), ("first", "telegram", "sent"),
        ("second", "discord", "rate_limited"), ("second", "telegram", "rate_limited")]
    assert len(discord.requests) == 2 and len(telegram.requests) == 1
