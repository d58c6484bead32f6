"""The notifier: one bounded queue and one background task per channel, so sending never
blocks detection and a channel that hangs or keeps failing delays only itself.

``submit(alert)`` returns at once. Each configured channel (Discord, Telegram)
sends its alerts in order on its own, with retries; a Discord webhook stuck in
its retries does not hold up the Telegram message about a paused printer. Each
channel's queue holds ``queue_size`` alerts; when it is full the channel drops its
*oldest* alert (a fresh picture beats a stale one) and reports it "dropped".

Results: one :class:`DeliveryResult` per channel per alert, through ``on_result``
(and to ``send_now`` callers). An alert's results are reported together, in
channel order, once every channel is done with it, so a caller may count an alert
as finished at its first result. A slow channel delays that report, never another
channel's sending.

Pacing is decided once per alert, by the first channel to reach it, and every
channel follows that decision, so all channels send or skip the same alerts: an
``incident`` alert closer than ``notify_interval`` to the last incident alert sent
is skipped (status "rate_limited"), and likewise an ``info`` alert (camera offline,
...) to the last info alert *with the same title*: each kind (and each kind of notice)
keeps its own clock, so news that the camera died is not swallowed because an
incident was reported a moment before, nor "Camera back" because "Camera offline"
was. An alert counts as sent when its first channel delivers it; one that no channel
could deliver does not hold back the next. ``test`` alerts and the results of actions
(``escalated``, ``could_not_pause``) are always sent: the user must learn the printer
was paused, even a minute after the first alert.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
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


@dataclass(eq=False)
class _Delivery:
    """One alert on its way to every channel: the pacing verdict they all follow, and what
    each channel made of it so far."""

    alert: Alert
    reply_markup: Mapping[str, Any] | None
    future: asyncio.Future[list[DeliveryResult]] | None
    decided: bool = False  # set by the first channel to reach the alert
    skip_reason: str = ""  # why every channel skips it (rate limited); "" to send it
    results: dict[str, DeliveryResult] = field(default_factory=dict)  # by channel


@dataclass(eq=False)
class _Lane:
    """One channel's own queue and sending task."""

    name: str
    send: Callable[[Alert, Mapping[str, Any] | None], Awaitable[None]]
    queue: asyncio.Queue[_Delivery]
    task: asyncio.Task[None] | None = None
    current: _Delivery | None = None  # the alert being sent now


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
        self._client = httpx.AsyncClient(timeout=settings.notify_timeout)
        self.discord = DiscordWebhook(settings.discord_webhook_url, client=self._client,
                                      redactor=self.redactor, policy=retry) if settings.discord_enabled else None
        self.telegram = TelegramBot(settings.telegram_bot_token, settings.telegram_chat_id,
                                    api_base=settings.telegram_api_base, client=self._client,
                                    redactor=self.redactor, policy=retry) if settings.telegram_enabled else None
        senders = {"discord": self._send_discord, "telegram": self._send_telegram}
        self._lanes = [_Lane(channel.service, senders[channel.service], asyncio.Queue(maxsize=queue_size))
                       for channel in (self.discord, self.telegram) if channel is not None]
        self._running = False
        self._unfinished: set[_Delivery] = set()  # submitted, results not all in
        self._last_sent: dict[tuple[AlertKind, str], float] = {}  # by _pace_key
        self.dropped = 0  # these three count per channel: an alert dropped by both channels counts twice
        self.sent = 0
        self.failed = 0

    def __repr__(self) -> str:
        queued = {lane.name: lane.queue.qsize() for lane in self._lanes}
        return f"Notifier(channels={self.channels}, queued={queued}, dropped={self.dropped})"

    @property
    def channels(self) -> list[str]:
        return [lane.name for lane in self._lanes]

    # -- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        for name in _GUARDED_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)
        for lane in self._lanes:
            lane.task = asyncio.create_task(self._run(lane), name=f"pinozcam-notifier-{lane.name}")

    async def close(self, *, drain_timeout: float = 0.0) -> None:
        """Stop sending and release the HTTP client.

        With ``drain_timeout`` > 0, first give queued alerts that long to go
        out on every channel; whatever a channel still has queued or in flight
        after it is abandoned, and reported (status "dropped") so nobody waits for it.
        """
        if self._running and drain_timeout > 0 and self._lanes:
            try:
                await asyncio.wait_for(asyncio.gather(*(lane.queue.join() for lane in self._lanes)),
                                       drain_timeout)
            except asyncio.TimeoutError:
                logger.warning("closing with %d alert(s) not sent", len(self._unfinished))
        self._running = False
        tasks = [lane.task for lane in self._lanes if lane.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for lane in self._lanes:
            lane.task = None
            abandoned = [lane.current] if lane.current is not None else []
            lane.current = None
            while not lane.queue.empty():
                abandoned.append(lane.queue.get_nowait())
                lane.queue.task_done()
            for delivery in abandoned:
                self._record(delivery, DeliveryResult(delivery.alert, lane.name, "dropped",
                                                      "the notifier closed before it was sent"))
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
        """Queue ``alert`` on every channel and return at once; results arrive through ``on_result``."""
        self._put(_Delivery(alert, reply_markup, None))

    async def send_now(self, alert: Alert, *,
                       reply_markup: Mapping[str, Any] | None = None) -> list[DeliveryResult]:
        """Queue ``alert`` and wait for its results (one per channel); for the UI's "send test" button.

        Call after :meth:`start`.
        """
        if not self._running:
            raise RuntimeError("the notifier is not started")
        future: asyncio.Future[list[DeliveryResult]] = asyncio.get_running_loop().create_future()
        self._put(_Delivery(alert, reply_markup, future))
        return await future

    async def send_test(self, image: bytes | None = None) -> list[DeliveryResult]:
        """Send the welcome/test message to every channel and wait for the results."""
        return await self.send_now(welcome_alert(self.settings.printer_name, image))

    def _put(self, delivery: _Delivery) -> None:
        self._unfinished.add(delivery)
        if not self._lanes:
            self._finish(delivery, [DeliveryResult(delivery.alert, "", "no_channel",
                                                   "no Discord webhook or Telegram bot is configured")])
            return
        for lane in self._lanes:
            while True:
                try:
                    lane.queue.put_nowait(delivery)
                    break
                except asyncio.QueueFull:
                    old = lane.queue.get_nowait()
                    lane.queue.task_done()
                    self.dropped += 1
                    logger.debug("%s queue full: dropped the oldest alert (%d so far)", lane.name, self.dropped)
                    self._record(old, DeliveryResult(old.alert, lane.name, "dropped",
                                                     "the notification queue was full"))

    async def _run(self, lane: _Lane) -> None:
        while True:
            delivery = await lane.queue.get()
            lane.current = delivery
            try:
                try:
                    result = await self._deliver(lane, delivery)
                except Exception as exc:  # the loop must outlive any one alert
                    logger.exception("sending an alert failed")
                    result = DeliveryResult(delivery.alert, lane.name, "failed", _describe(exc, self.redactor))
                lane.current = None
                self._record(delivery, result)
            finally:
                lane.queue.task_done()

    async def _deliver(self, lane: _Lane, delivery: _Delivery) -> DeliveryResult:
        alert = delivery.alert
        if not delivery.decided:
            delivery.decided = True
            delivery.skip_reason = self._rate_limit_reason(alert)
        if delivery.skip_reason:
            return DeliveryResult(alert, lane.name, "rate_limited", delivery.skip_reason)
        result = await self._one(lane.name, lane.send(alert, delivery.reply_markup), alert)
        first_delivered = result.ok and not any(r.ok for r in delivery.results.values())
        if first_delivered and AlertKind(alert.kind) in RATE_LIMITED_KINDS:
            self._last_sent[_pace_key(alert)] = self._clock()
        return result

    async def _send_discord(self, alert: Alert, reply_markup: Mapping[str, Any] | None) -> None:
        assert self.discord is not None
        await self.discord.send(alert, printer_name=self.settings.printer_name)  # no buttons on Discord

    async def _send_telegram(self, alert: Alert, reply_markup: Mapping[str, Any] | None) -> None:
        assert self.telegram is not None
        await self.telegram.send(alert, printer_name=self.settings.printer_name, reply_markup=reply_markup)

    def _rate_limit_reason(self, alert: Alert) -> str:
        """Why ``alert`` is skipped on every channel, or "" when it is to be sent."""
        kind = AlertKind(alert.kind)
        last = self._last_sent.get(_pace_key(alert))
        now = self._clock()
        if kind not in RATE_LIMITED_KINDS or last is None or now - last >= self.settings.notify_interval:
            return ""
        wait = self.settings.notify_interval - (now - last)
        return (f"another {kind.value} alert was sent {now - last:.0f} s ago "
                f"(notify_interval {self.settings.notify_interval:g} s; {wait:.0f} s to go)")

    async def _one(self, channel: str, sending: Awaitable[None], alert: Alert) -> DeliveryResult:
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

    def _record(self, delivery: _Delivery, result: DeliveryResult) -> None:
        """Note one channel's result; once every channel has one, report them all."""
        if delivery not in self._unfinished:
            return
        delivery.results[result.channel] = result
        if len(delivery.results) == len(self._lanes):
            self._finish(delivery, [delivery.results[lane.name] for lane in self._lanes])

    def _finish(self, delivery: _Delivery, results: list[DeliveryResult]) -> None:
        self._unfinished.discard(delivery)
        future = delivery.future
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
