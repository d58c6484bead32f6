"""The test message, as the user sends it: ``pinozcam notify-test`` in a real process, and the
Moonraker component's "Send test" (``run_notify_test``), against local Discord / Telegram
servers that can hang.

A channel that hangs must not hide what the other one answered: notify-test tells each
channel's result as soon as that channel is done, tries a test at most once more, and the
component reports the channels that answered when it stops waiting.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

from pinozcam_klipper.cli import main
from tests.servers import NotifyServer

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "987654:BOTSECRETabcdefghijklmnop"


def _worker_process() -> types.ModuleType:
    """The component's worker_process module: it needs nothing of Moonraker's."""
    spec = importlib.util.spec_from_file_location(
        "pinozcam_component_worker_process", ROOT / "moonraker_component" / "pinozcam" / "worker_process.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settings(discord: NotifyServer, telegram: NotifyServer, notify_timeout: float) -> dict:
    return {"discord_webhook_url": discord.discord_webhook_url(), "telegram_bot_token": BOT_TOKEN,
            "telegram_chat_id": "12345", "telegram_api_base": telegram.telegram_api_base,
            "notify_timeout": notify_timeout}


def test_telegrams_result_comes_first_while_discord_hangs(tmp_path: Path) -> None:
    with NotifyServer() as discord, NotifyServer() as telegram:
        discord.hang(times=10)
        config = tmp_path / "notify.json"
        config.write_text(json.dumps(_settings(discord, telegram, notify_timeout=2)))

        proc = subprocess.Popen([sys.executable, "-m", "pinozcam_klipper.cli", "notify-test", "--config",
                                 str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate()

    lines = out.splitlines()
    results = [line for line in lines if line.split(": ")[0] in ("discord", "telegram")]
    # Telegram's answer is told at once, not after Discord's retries.
    assert results[0] == "telegram: sent", out
    assert results[1].startswith("discord: failed: discord did not answer within the timeout"), out
    assert "a test tries once more at most" in results[1]
    assert lines[0] == "sending a test message to discord, telegram"
    assert proc.returncode == 1
    # One quick retry at most: a hung Discord costs the user seconds, not a minute.
    assert len(discord.discord_requests()) <= 2
    assert "BOTSECRET" not in out + err and "discord-secret-token" not in out + err


def test_a_test_that_fails_fast_is_tried_once_more(tmp_path: Path, capsys) -> None:
    with NotifyServer() as server:
        server.reply(502, body=b"Bad Gateway")
        config = tmp_path / "notify.json"
        config.write_text(json.dumps({"discord_webhook_url": server.discord_webhook_url()}))

        status = main(["notify-test", "--config", str(config)])

    assert status == 0
    assert capsys.readouterr().out.splitlines() == ["sending a test message to discord", "discord: sent"]
    assert len(server.discord_requests()) == 2


async def test_send_test_reports_the_channel_that_answered_when_the_other_hangs(tmp_path: Path) -> None:
    """The panel's Send test: the component stops waiting after its limit (here 8 s, with
    Discord's notify_timeout longer than that); Telegram's delivery is still shown."""
    worker_process = _worker_process()
    with NotifyServer() as discord, NotifyServer() as telegram:
        discord.hang(times=10)
        results, problem = await worker_process.run_notify_test(
            sys.executable, tmp_path, _settings(discord, telegram, notify_timeout=60), timeout=8)

        assert problem == ""
        assert results == [
            {"channel": "discord", "ok": False, "detail": "timed out (no answer within 8 s)", "warning": ""},
            {"channel": "telegram", "ok": True, "detail": "sent", "warning": ""},
        ]
        assert len(telegram.telegram_requests()) == 1
    assert not list(tmp_path.glob("notify-test-*.json"))  # the settings, secrets and all, are gone
