"""``pinozcam notify-test --config FILE``: a test message to every configured channel.

Output, one line each, flushed at once (the Moonraker component reads it through a pipe and
gives up after a fixed time, so a hung Discord must not hide what Telegram answered)::

    sending a test message to discord, telegram
    telegram: sent
    discord: failed: discord did not answer within the timeout (...); a test ...

The first line names the channels tried; then each channel's result, as soon as that channel
is done (so in the order they finish): ``CHANNEL: sent``, ``CHANNEL: sent (what to fix)`` or
``CHANNEL: STATUS: why``. Exit status 0 when every channel got it, 1 when one did not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import re
from typing import TYPE_CHECKING

from ..notify.transport import URGENT_RETRY, RetryPolicy
from ._common import CommandError, load_settings, run_guarded

if TYPE_CHECKING:
    from ..notify import DeliveryResult, NotifySettings

__all__ = ["TESTING", "TEST_RETRY", "add_arguments", "run", "transient"]

#: The first line's start; moonraker_component/pinozcam/worker_process.py reads the channels
#: after it (it cannot import this package), so change both together.
TESTING = "sending a test message to"

#: A test is interactive: someone waits for the answer (the panel gives up after 60 s). So
#: one retry at most, and only while it is quick: a failure that came fast (a refused
#: connection, a 502, a short 429) is tried once more a second later, a request that used up
#: ``notify_timeout`` is not. Worst case per channel: about 5 s + ``notify_timeout``.
TEST_RETRY = RetryPolicy(attempts=2, base_delay=1.0, max_delay=1.0, max_retry_after=5.0, give_up_after=5.0)

_HTTP_STATUS = re.compile(r"answered http (\d{3})")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", required=True,
                        help="YAML settings with discord_webhook_url and/or telegram_bot_token")


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


def transient(error: str) -> bool:
    """Whether a delivery error (as the notifier, or the component's test, words it) may pass
    by itself: no answer in time, no connection, Discord or Telegram busy (429, 5xx). A refusal
    (401, 403, 404, other 4xx) or anything else needs the settings fixed."""
    status = _HTTP_STATUS.search(error)
    if status:
        code = int(status.group(1))
        return code == 429 or code >= 500
    return any(words in error for words in ("did not answer", "no answer", "cannot reach"))


def _retry_note() -> str:
    """What a user should know about a test that failed where a retry might have helped."""
    if URGENT_RETRY.give_up_after:
        longer = f"for up to {URGENT_RETRY.give_up_after / 60:.0f} minutes"
    else:
        longer = f"up to {URGENT_RETRY.attempts} times"
    return f"a test tries once more at most, and only quickly; alerts about a failing print keep trying {longer}"


def _one_channel_each(settings: "NotifySettings") -> list["NotifySettings"]:
    """``settings`` split into one per configured channel, so that each channel gets a
    notifier of its own and its result can be told as soon as it is in (a notifier reports
    an alert's results only once every channel is done with it)."""
    alone = []
    if settings.discord_enabled:
        alone.append(dataclasses.replace(settings, telegram_bot_token="", telegram_chat_id=""))
    if settings.telegram_enabled:
        alone.append(dataclasses.replace(settings, discord_webhook_url=""))
    return alone


def _line(result: "DeliveryResult") -> str:
    if result.ok:
        # Sent, but maybe not where asked (a Telegram topic that is gone): say so here,
        # where the user checks the settings they just made.
        return f"{result.channel}: sent" + (f" ({result.error})" if result.error else "")
    note = f"; {_retry_note()}" if result.status == "failed" and transient(result.error) else ""
    return f"{result.channel}: {result.status}: {result.error}{note}"


async def _send(settings: "NotifySettings") -> bool:
    """Send the test on every channel at once; print each result when it is in. True if all got it."""
    from ..notify import Notifier

    everyone_got_it = True
    async with contextlib.AsyncExitStack() as stack:
        notifiers = [await stack.enter_async_context(Notifier(alone, retry=TEST_RETRY))
                     for alone in _one_channel_each(settings)]
        if not notifiers:
            raise CommandError("no notification channel configured: set discord_webhook_url "
                               "or telegram_bot_token and telegram_chat_id")
        print(f"{TESTING} {', '.join(n.channels[0] for n in notifiers)}", flush=True)
        for finished in asyncio.as_completed([n.send_test() for n in notifiers]):
            for result in await finished:
                print(_line(result), flush=True)
                everyone_got_it = everyone_got_it and result.ok
    return everyone_got_it


def _run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    return 0 if asyncio.run(_send(settings.notify)) else 1
