"""``pinozcam notify-test --config FILE``: a test message to every configured channel."""

from __future__ import annotations

import argparse
import asyncio

from ._common import CommandError, load_settings, run_guarded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", required=True,
                        help="YAML settings with discord_webhook_url and/or telegram_bot_token")


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    from ..notify import Notifier

    settings = load_settings(args)

    async def send() -> list:
        async with Notifier(settings.notify) as notifier:
            if not notifier.channels:
                raise CommandError("no notification channel configured: set discord_webhook_url "
                                   "or telegram_bot_token and telegram_chat_id")
            return await notifier.send_test()

    results = asyncio.run(send())
    for result in results:
        if result.ok:
            # Sent, but maybe not where asked (a Telegram topic that is gone): say so here,
            # where the user checks the settings they just made.
            print(f"{result.channel}: sent" + (f" ({result.error})" if result.error else ""))
        else:
            print(f"{result.channel}: {result.status}: {result.error}")
    return 0 if all(result.ok for result in results) else 1
