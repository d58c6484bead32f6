"""The notifier: a bounded queue and one background task, so sending never blocks detection.

``submit(alert)`` returns at once. The task sends each alert to every
configured channel (Discord and Telegram side by side), with retries, and
reports one :class:`DeliveryResult` per channel through ``on_result`` (and to
``send_now`` callers). When the queue is full the *oldest* alert is dropped
(``dropped`` counts them): a fresh picture beats a stale one.

Pacing: an ``incident`` alert closer than ``notify_interval`` to the last incident
alert sent is skipped (status "rate_limited"), and likewise an ``info`` alert (camera
offline, ...) to the last info alert *with the same title*: each kind (and each kind of
notice) keeps its own clock, so news that the camera died is not swallowed because an
incident was reported a moment before, nor "Camera back" because "Camera offline" was. ``test`` alerts and the
results of actions (``escalated``, ``could_not_pause``) are always sent: the
user must learn the printer was paused, even a minute after the first alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ..redact import RedactingFilter, Redactor
from .alert import Alert, AlertKind, DeliveryResult, welcome_alert
from .discord import DiscordWebhook
from .settings import NotifySettings
from .telegram import TelegramBot
from .transport import NotifyError, RetryPolicy, first_cause

__all__ = ["Notifier", "RATE_LIMITED_KINDS"]

logger = logging.getLogger(__name__)

RATE_LIMITED_KINDS = frozenset({AlertKind.INCIDENT, AlertKind.INFO})

# Loggers that may print a webhook URL or a bot token: ours, and httpx's, which
# logs every request URL at INFO level.
_GUARDED_LOGGERS = ("httpx", "httpcore", "httpcore.connection", "httpcore.http11", "httpcore.http2",
                    "httpcore.proxy", "pinozcam_klipper.notify", __name__,
                    "pinozcam_klipper.notify.transport", "pinozcam_klipper.notify.discord",
                    "pinozcam_klipper.notify.telegram")

_Item = tuple[Alert, "asyncio.Future[list[DeliveryResult]] | None", "Mapping[str, Any] | None"]


class Notifier:
    """Call :meth:`start` inside the event loop, :meth:`close` when done (or ``async with``)."""

    def __init__(self, settings: NotifySettings, *,
                 on_result: Callable[[DeliveryResult], None] | None = None,
                 queue_size: int = 8, retry: RetryPolicy = RetryPolicy(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.on_result = on_result
        self.redactor = Redactor([settings.discord_webhook_url, settings.telegram_bot_token])
        self._filter = RedactingFilter(self.redactor)
        self._clock = clock
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_size)
        self._client = httpx.AsyncClient(timeout=settings.notify_timeout)
        self.discord = DiscordWebhook(settings.discord_webhook_url, client=self._client,
                                      redactor=self.redactor, policy=retry) if settings.discord_enabled else None
        self.telegram = TelegramBot(settings.telegram_bot_token, settings.telegram_chat_id,
                                    api_base=settings.telegram_api_base, client=self._client,
                                    redactor=self.redactor, policy=retry) if settings.telegram_enabled else None
        self._task: asyncio.Task[None] | None = None
        self._current: _Item | None = None  # the alert being sent now
        self._last_sent: dict[tuple[AlertKind, str], float] = {}  # by _pace_key
        self.dropped = 0
        self.sent = 0
        self.failed = 0

    def __repr__(self) -> str:
        return f"Notifier(channels={self.channels}, queued={self._queue.qsize()}, dropped={self.dropped})"

    @property
    def channels(self) -> list[str]:
        return [c.service for c in (self.discord, self.telegram) if c is not None]

    # -- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            for name in _GUARDED_LOGGERS:
                logging.getLogger(name).addFilter(self._filter)
            self._task = asyncio.create_task(self._run(), name="pinozcam-notifier")

    async def close(self, *, drain_timeout: float = 0.0) -> None:
        """Stop sending and release the HTTP client.

        With ``drain_timeout`` > 0, first give queued alerts that long to go
        out; whatever is still queued or in flight after it is abandoned, and
        reported (status "dropped") so nobody waits for it.
        """
        if self._task is not None and drain_timeout > 0:
            try:
                await asyncio.wait_for(self._queue.join(), drain_timeout)
            except asyncio.TimeoutError:
                logger.warning("closing with %d alert(s) not sent", self._queue.qsize() + 1)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        abandoned = [self._current] if self._current is not None else []
        self._current = None
        while not self._queue.empty():
            abandoned.append(self._queue.get_nowait())
            self._queue.task_done()
        for item in abandoned:
            self._finish(item, [DeliveryResult(item[0], "", "dropped", "the notifier closed before it was sent")])
        await self._client.aclose()
        for name in _GUARDED_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    async def __aenter__(self) -> "Notifier":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sending --------------------------------------------------------------------
    def submit(self, alert: Alert, *, reply_markup: Mapping[str, Any] | None = None) -> None:
        """Queue ``alert`` and return at once; results arrive through ``on_result``."""
        self._put((alert, None, reply_markup))

    async def send_now(self, alert: Alert, *,
                       reply_markup: Mapping[str, Any] | None = None) -> list[DeliveryResult]:
        """Queue ``alert`` and wait for its results (one per channel); for the UI's "send test" button.

        Call after :meth:`start`.
        """
        if self._task is None:
            raise RuntimeError("the notifier is not started")
        future: asyncio.Future[list[DeliveryResult]] = asyncio.get_running_loop().create_future()
        self._put((alert, future, reply_markup))
        return await future

    async def send_test(self, image: bytes | None = None) -> list[DeliveryResult]:
        """Send the welcome/test message to every channel and wait for the results."""
        return await self.send_now(welcome_alert(self.settings.printer_name, image))

    def _put(self, item: _Item) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                old = self._queue.get_nowait()
                self._queue.task_done()
                self.dropped += 1
                logger.debug("notification queue full: dropped the oldest alert (%d so far)", self.dropped)
                self._finish(old, [DeliveryResult(old[0], "", "dropped", "the notification queue was full")])

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            self._current = item
            try:
                try:
                    results = await self._deliver(item[0], item[2])
                except Exception as exc:  # the loop must outlive any one alert
                    logger.exception("sending an alert failed")
                    results = [DeliveryResult(item[0], "", "failed", _describe(exc, self.redactor))]
                self._current = None
                self._finish(item, results)
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert, reply_markup: Mapping[str, Any] | None) -> list[DeliveryResult]:
        if not self.channels:
            return [DeliveryResult(alert, "", "no_channel", "no Discord webhook or Telegram bot is configured")]
        now = self._clock()
        kind = AlertKind(alert.kind)
        last = self._last_sent.get(_pace_key(alert))
        if kind in RATE_LIMITED_KINDS and last is not None and now - last < self.settings.notify_interval:
            wait = self.settings.notify_interval - (now - last)
            return [DeliveryResult(alert, "", "rate_limited",
                                   f"another {kind.value} alert was sent {now - last:.0f} s ago "
                                   f"(notify_interval {self.settings.notify_interval:g} s; {wait:.0f} s to go)")]
        jobs = []
        if self.discord is not None:
            jobs.append(self._one("discord", self.discord.send(alert, printer_name=self.settings.printer_name),
                                  alert))
        if self.telegram is not None:
            jobs.append(self._one("telegram", self.telegram.send(alert, printer_name=self.settings.printer_name,
                                                                 reply_markup=reply_markup), alert))
        results = list(await asyncio.gather(*jobs))
        if any(r.ok for r in results) and kind in RATE_LIMITED_KINDS:
            self._last_sent[_pace_key(alert)] = self._clock()
        return results

    async def _one(self, channel: str, sending: Any, alert: Alert) -> DeliveryResult:
        try:
            await sending
        except NotifyError as exc:
            message = self.redactor(exc)
            logger.warning("%s alert not sent: %s", channel, message)
            self.failed += 1
            return DeliveryResult(alert, channel, "failed", message, exc.attempts)
        except Exception as exc:  # noqa: BLE001 - httpx's own, or what it lets through (OverflowError
            # for port 99999, an ExceptionGroup from its TaskGroup): a failed send, never a dead notifier.
            message = f"cannot send to {channel}: {_describe(exc, self.redactor)}"
            logger.warning("%s alert not sent: %s", channel, message)
            self.failed += 1
            return DeliveryResult(alert, channel, "failed", message, 1)
        self.sent += 1
        logger.debug("%s alert sent (%s)", channel, AlertKind(alert.kind).value)
        return DeliveryResult(alert, channel, "sent", attempts=1)

    def _finish(self, item: _Item, results: list[DeliveryResult]) -> None:
        future = item[1]
        if future is not None and not future.done():
            future.set_result(results)
        if self.on_result is None:
            return
        for result in results:
            try:
                self.on_result(result)
            except Exception:  # a broken callback must not stop the notifier; it is logged, not hidden
                logger.exception("notification result callback failed")


def _describe(exc: BaseException, redact: Redactor) -> str:
    """``Kind: message`` of the exception that matters (the first inside an exception group),
    with every secret removed."""
    exc = first_cause(exc)
    text = str(exc)
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


def _pace_key(alert: Alert) -> tuple[AlertKind, str]:
    """What an alert is paced against: incidents against incidents, an info notice against
    earlier notices of the same title (a camera's return must follow news of its loss)."""
    kind = AlertKind(alert.kind)
    return (kind, alert.title) if kind is AlertKind.INFO else (kind, "")
