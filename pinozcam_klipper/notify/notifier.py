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

Pacing (``notify_interval``, see :mod:`.pacing`) is decided once per alert, by the
first channel to reach it, and every channel follows that decision, so all channels
send or skip the same alerts. Alerts of incidents that paused or cancelled the print,
the results of actions, tests, and a notice that changes the news ("Camera offline"
after "Camera back") are never paced. An alert counts as sent when its first channel
delivers it; one that no channel could deliver does not hold back the next.

Retries: incident alerts and the results of actions (:data:`~.alert.URGENT_KINDS`)
use ``urgent_retry`` (minutes, through a network outage); notices and tests use
``retry``. A channel sends in order, so its later alerts wait behind one being retried;
when its queue is full it drops its oldest *notice* first, and an incident alert only
when nothing else is queued. :meth:`close` drops what is still waiting.

A Telegram topic (``telegram_topic_id``) that does not exist does not lose the alert: it
goes to the chat itself and is reported "sent", with the wrong option named in ``error``.
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
from .alert import Alert, AlertKind, DeliveryResult, is_urgent, welcome_alert, without_picture
from .discord import DiscordWebhook
from .pacing import Pacer
from .settings import NotifySettings
from .telegram import TelegramBot
from .transport import INFO_RETRY, URGENT_RETRY, NotifyError, RequestCount, RetryPolicy, first_cause

__all__ = ["Notifier"]

logger = logging.getLogger(__name__)

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
    # send(alert, reply_markup, policy, count) returns a warning or ""; it adds each request it
    # makes to ``count``.
    send: Callable[[Alert, Mapping[str, Any] | None, RetryPolicy, RequestCount], Awaitable[str]]
    queue: asyncio.Queue[_Delivery]
    task: asyncio.Task[None] | None = None
    current: _Delivery | None = None  # the alert being sent now


class Notifier:
    """Call :meth:`start` inside the event loop, :meth:`close` when done (or ``async with``).

    ``retry`` is the retry policy of notices and tests, ``urgent_retry`` that of incident
    alerts and action results (tests pass tiny ones instead of waiting minutes).
    """

    def __init__(self, settings: NotifySettings, *,
                 on_result: Callable[[DeliveryResult], None] | None = None,
                 queue_size: int = 8, retry: RetryPolicy = INFO_RETRY,
                 urgent_retry: RetryPolicy = URGENT_RETRY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.on_result = on_result
        self.redactor = Redactor([settings.discord_webhook_url, settings.telegram_bot_token])
        self._filter = RedactingFilter(self.redactor)
        self._clock = clock
        self._retry, self._urgent_retry = retry, urgent_retry
        self._client = httpx.AsyncClient(timeout=settings.notify_timeout)
        self.discord = DiscordWebhook(settings.discord_webhook_url, client=self._client,
                                      redactor=self.redactor, policy=retry) if settings.discord_enabled else None
        self.telegram = TelegramBot(settings.telegram_bot_token, settings.telegram_chat_id,
                                    topic_id=settings.telegram_topic_id,
                                    api_base=settings.telegram_api_base, client=self._client,
                                    redactor=self.redactor, policy=retry) if settings.telegram_enabled else None
        senders = {"discord": self._send_discord, "telegram": self._send_telegram}
        self._lanes = [_Lane(channel.service, senders[channel.service], asyncio.Queue(maxsize=queue_size))
                       for channel in (self.discord, self.telegram) if channel is not None]
        self._running = False
        self._unfinished: set[_Delivery] = set()  # submitted, results not all in
        self._pacer = Pacer(settings.notify_interval)
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
                    old = _evict(lane.queue)
                    self.dropped += 1
                    logger.debug("%s queue full: dropped an alert (%d so far)", lane.name, self.dropped)
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
            delivery.skip_reason = self._pacer.reason(alert, self._clock())
        if delivery.skip_reason:
            return DeliveryResult(alert, lane.name, "rate_limited", delivery.skip_reason)
        policy = self._urgent_retry if is_urgent(alert) else self._retry
        count = RequestCount()
        result = await self._one(lane.name, lane.send(alert, delivery.reply_markup, policy, count), alert, count)
        if result.ok and not any(r.ok for r in delivery.results.values()):
            self._pacer.sent(alert, self._clock())  # its first channel delivered it
        return result

    async def _send_discord(self, alert: Alert, reply_markup: Mapping[str, Any] | None,
                            policy: RetryPolicy, count: RequestCount) -> str:
        assert self.discord is not None
        discord = self.discord

        async def send(this: Alert) -> str:
            # No buttons on Discord.
            await discord.send(this, printer_name=self.settings.printer_name, policy=policy, count=count)
            return ""

        return await _picture_or_text(alert, send)

    async def _send_telegram(self, alert: Alert, reply_markup: Mapping[str, Any] | None,
                             policy: RetryPolicy, count: RequestCount) -> str:
        assert self.telegram is not None
        telegram = self.telegram

        async def send(this: Alert) -> str:
            sent = await telegram.send(this, printer_name=self.settings.printer_name,
                                       reply_markup=reply_markup, policy=policy, count=count)
            return sent.warning

        return await _picture_or_text(alert, send)

    async def _one(self, channel: str, sending: Awaitable[str], alert: Alert,
                   count: RequestCount) -> DeliveryResult:
        """Await ``sending`` (which returns a warning, or "") and say what became of the alert;
        ``count`` holds the requests ``sending`` made, reported as the result's ``attempts``."""
        try:
            warning = await sending
        except NotifyError as exc:
            message = self.redactor(exc)
            logger.warning("%s alert not sent: %s", channel, message)
            self.failed += 1
            return DeliveryResult(alert, channel, "failed", message, count.requests)
        except Exception as exc:  # noqa: BLE001 - httpx's own, or what it lets through (OverflowError
            # for port 99999, an ExceptionGroup from its TaskGroup): a failed send, never a dead notifier.
            message = f"cannot send to {channel}: {_describe(exc, self.redactor)}"
            logger.warning("%s alert not sent: %s", channel, message)
            self.failed += 1
            return DeliveryResult(alert, channel, "failed", message, count.requests)
        self.sent += 1
        if warning:
            # Delivered, but not where the user asked (a Telegram topic that is gone): the
            # result carries it so the status shows it, not only the log.
            warning = self.redactor(warning)
            logger.warning("%s alert sent, but %s", channel, warning)
        logger.debug("%s alert sent (%s)", channel, AlertKind(alert.kind).value)
        return DeliveryResult(alert, channel, "sent", warning, attempts=count.requests)

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


#: Words in a service's refusal that point at the picture (Telegram: "PHOTO_INVALID_DIMENSIONS",
#: "IMAGE_PROCESS_FAILED", "file is too big"; Discord: "Request entity too large").
_PICTURE_WORDS = ("photo", "image", "file", "too large", "too big", "attachment", "dimension")


def _picture_refused(exc: NotifyError) -> bool:
    """Whether the service refused the alert for its picture (so the text alone would pass)."""
    says = exc.says.lower()
    return exc.status == 413 or (exc.status == 400 and any(word in says for word in _PICTURE_WORDS))


async def _picture_or_text(alert: Alert, send: Callable[[Alert], Awaitable[str]]) -> str:
    """``send(alert)``; when the service refuses its picture, the alert again as text only,
    so that a failure alert is never lost for its picture. Returns the warning to show."""
    try:
        return await send(alert)
    except NotifyError as exc:
        if not alert.image or not _picture_refused(exc):
            raise
        refused = exc.says or f"http {exc.status}"
    warning = await send(without_picture(alert))
    note = f"the picture was refused ({refused}), so the alert went as text"
    return f"{warning}; {note}" if warning else note


def _describe(exc: BaseException, redact: Redactor) -> str:
    """``Kind: message`` of the exception that matters (the first inside an exception group),
    with every secret removed."""
    exc = first_cause(exc)
    text = str(exc)
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


def _evict(queue: asyncio.Queue[_Delivery]) -> _Delivery:
    """Take out of a full ``queue`` the alert to drop: its oldest notice or test, else (only
    incident alerts queued) its oldest alert. The others keep their order."""
    waiting = [queue.get_nowait() for _ in range(queue.qsize())]
    for _ in waiting:
        queue.task_done()
    victim = next((d for d in waiting if not is_urgent(d.alert)), waiting[0])
    for delivery in waiting:
        if delivery is not victim:
            queue.put_nowait(delivery)
    return victim
