"""The worker's alerts: incident messages through the notifier, and the Telegram buttons.

The worker sends alerts itself because it holds the picture. :class:`Alerts`
turns incident records into notifier alerts (with the Pause / Resume / Cancel /
Mute keyboard on Telegram) and, when Telegram is configured, runs the
:class:`~.telegram_buttons.ButtonPoller` that reads the presses. It also keeps
the last delivery per channel (:meth:`Alerts.delivery_status`), so a webhook
that stopped working shows in the status instead of only in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..notify import INFO_RETRY, URGENT_RETRY, Alert, AlertKind, DeliveryResult, Notifier, NotifySettings, RetryPolicy
from ..redact import Redactor
from .telegram_buttons import ButtonPoller, ButtonPress, alert_keyboard

__all__ = ["Alerts", "buttons_off", "RETIRE_DRAIN"]

logger = logging.getLogger(__name__)

#: Seconds a notifier replaced by new settings may spend sending what it still had: as long
#: as an incident alert may be retried, so saving the settings during an outage loses nothing.
RETIRE_DRAIN = URGENT_RETRY.give_up_after or 600.0

#: Delivery results that say something about a channel (rate limited alerts were not tried).
_TRIED = frozenset({"sent", "failed", "dropped"})

#: Per incident event: the alert's kind, its title, and the action it is about when the
#: caller names none ("": the incident's own). An escalation is always to cancel, as its
#: title says (see the engine's ``escalate_after``).
_KINDS = {
    "opened": (AlertKind.INCIDENT, "Possible print failure", ""),
    "escalated": (AlertKind.ESCALATED, "Print still failing: cancelling it", "cancel"),
    "unconfirmed": (AlertKind.COULD_NOT_PAUSE, "Could not {action} the printer", ""),
}


def buttons_off() -> dict[str, Any]:
    """The Telegram-buttons status when no poller runs (no Telegram, buttons off, not started)."""
    return {"state": "off", "message": ""}


class Alerts:
    """Sends incident alerts; ``on_button(action, incident_id)`` gets Telegram presses.

    ``retry`` and ``urgent_retry`` are the notifier's retry policies (see
    :class:`~pinozcam_klipper.notify.Notifier`); tests pass tiny ones.
    """

    def __init__(self, settings: NotifySettings, *, buttons: bool,
                 on_button: Callable[[str, str], Awaitable[str]],
                 retry: RetryPolicy = INFO_RETRY, urgent_retry: RetryPolicy = URGENT_RETRY) -> None:
        self._on_button = on_button
        self._buttons = buttons
        self._settings = settings
        self._retry, self._urgent_retry = retry, urgent_retry
        # Every secret seen so far: a retiring notifier still reports with the old settings.
        self._redact = Redactor([settings.discord_webhook_url, settings.telegram_bot_token])
        self._last_delivery: dict[str, dict[str, Any]] = {}  # by channel
        self._notifier = self._new_notifier(settings)
        self._poller: ButtonPoller | None = None
        self._poller_task: asyncio.Task[None] | None = None
        self._unfinished: set[int] = set()  # ids of alerts submitted and not yet delivered
        self._retiring: dict[asyncio.Future[None], Notifier] = {}  # old notifiers still draining
        self._all_finished = asyncio.Event()
        self._all_finished.set()

    def __repr__(self) -> str:
        return f"Alerts(buttons={self._buttons})"

    def _new_notifier(self, settings: NotifySettings) -> Notifier:
        return Notifier(settings, on_result=self._delivered, retry=self._retry, urgent_retry=self._urgent_retry)

    def _delivered(self, result: DeliveryResult) -> None:
        if result.status not in ("sent", "rate_limited", "no_channel"):
            logger.warning("alert not delivered (%s): %s", result.status, result.error)
        if result.status in _TRIED and result.channel:
            self._last_delivery[result.channel] = {
                "channel": result.channel, "ok": result.ok, "status": result.status,
                "kind": AlertKind(result.alert.kind).value, "time": round(time.time(), 3),
                "error": self._redact(result.error)[:300], "attempts": result.attempts}
        self._unfinished.discard(id(result.alert))
        if not self._unfinished:
            self._all_finished.set()

    async def start(self) -> None:
        """Start the notifier and the Telegram button reader (when Telegram and buttons are set)."""
        await self._notifier.start()
        self._start_poller()

    def _start_poller(self) -> None:
        settings = self._settings
        if not (self._buttons and settings.telegram_bot_token and settings.telegram_chat_id):
            return
        poller = ButtonPoller(api_base=settings.telegram_api_base, bot_token=settings.telegram_bot_token,
                              chat_id=str(settings.telegram_chat_id), on_press=self._pressed)
        self._poller = poller
        self._poller_task = asyncio.create_task(poller.run(), name="telegram-buttons")

    def buttons_status(self) -> dict[str, Any]:
        """Whether Telegram button presses reach the worker: ``off`` (no Telegram or buttons
        turned off), ``ok``, or ``error`` with the reason in words (never the token)."""
        if self._poller is None:
            return buttons_off()
        if self._poller.problem:
            return {"state": "error", "message": self._poller.problem}
        return {"state": "ok", "message": ""}

    def delivery_status(self) -> dict[str, dict[str, Any]]:
        """The last delivery on each configured channel, JSON-able and free of secrets:
        ``{"discord": {"channel", "ok", "status", "kind", "time", "error", "attempts"}}``.

        ``status`` is ``sent``, ``failed`` or ``dropped`` (``none`` and ``ok: null`` before the
        first); ``time`` is Unix seconds; ``error`` says why in words (redacted), and for a
        sent alert what is still to fix (a Telegram topic that does not exist). Alerts
        skipped by ``notify_interval`` are not deliveries and do not change it.
        """
        none = {"ok": None, "status": "none", "kind": "", "time": None, "error": "", "attempts": 0}
        return {channel: dict(self._last_delivery.get(channel) or {"channel": channel, **none})
                for channel in self._notifier.channels}

    async def _pressed(self, press: ButtonPress) -> str:
        return await self._on_button(press.action, press.incident_id)

    def reconfigure(self, settings: NotifySettings, *, buttons: bool) -> None:
        """New notification settings: a new notifier and poller for what comes next.

        The old notifier retires in the background: it first sends what it had queued or
        in flight (a retry after a 500 included), for at most ``RETIRE_DRAIN`` seconds, so an
        alert about a failing print is not lost because someone saved the settings page.
        """
        old = self._notifier
        self._settings, self._buttons = settings, buttons
        self._redact.add(settings.discord_webhook_url)
        self._redact.add(settings.telegram_bot_token)
        self._notifier = self._new_notifier(settings)
        asyncio.ensure_future(self._notifier.start())
        retiring = asyncio.ensure_future(old.close(drain_timeout=RETIRE_DRAIN))
        self._retiring[retiring] = old
        retiring.add_done_callback(lambda task: self._retiring.pop(task, None))
        if self._poller_task is not None:
            self._poller_task.cancel()
            self._poller_task = None
            self._poller = None
        self._start_poller()

    def incident_alert(self, kind: str, record: dict[str, Any], picture: bytes | None,
                       *, reason: str = "", action: str = "") -> None:
        """Queue the alert for ``kind`` (opened, escalated, unconfirmed) of ``record``.

        The failure area is the onset frame's (``record["failure_area"]``); the
        failure count is the engine's latest for the incident (``record["failures"]``).
        ``action``: the action an ``escalated`` or ``unconfirmed`` alert is about, the one
        taken or attempted (default: ``cancel`` for ``escalated``, else the incident's). It
        is the alert's "Action", so the message never says "pause" under the title "Could
        not cancel the printer".
        """
        kind_value, title, usual_action = _KINDS[kind]
        action = action or usual_action or record.get("action") or ""
        printed = record.get("print") or {}
        message = f"Incident {record['id']}"
        if reason:
            message = f"{reason[:300]}. {message}"
        alert = Alert(kind=kind_value, title=title.format(action=action or "pause"), file=printed.get("file") or "",
                      progress=printed.get("progress"), layer=printed.get("layer"),
                      total_layers=printed.get("total_layers"), severity=record.get("severity"),
                      failure_area=record.get("failure_area"), failure_count=record.get("failures"),
                      action=action, message=message, image=picture)
        markup = alert_keyboard(record["id"]) if self._buttons else None
        self._unfinished.add(id(alert))
        self._all_finished.clear()
        self._notifier.submit(alert, reply_markup=markup)

    def info_alert(self, title: str, message: str, print_info: dict[str, Any],
                   picture: bytes | None = None) -> None:
        """Queue a plain INFO alert (no buttons) about the print in ``print_info``."""
        alert = Alert(kind=AlertKind.INFO, title=title, file=print_info.get("file") or "",
                      progress=print_info.get("progress"), layer=print_info.get("layer"),
                      total_layers=print_info.get("total_layers"), message=message, image=picture)
        self._unfinished.add(id(alert))
        self._all_finished.clear()
        self._notifier.submit(alert)

    async def close(self, timeout: float) -> None:
        """Stop the poller; give queued alerts ``timeout`` seconds to go out."""
        if self._poller_task is not None:
            self._poller_task.cancel()
            await asyncio.wait({self._poller_task}, timeout=0.5)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._all_finished.wait(), timeout)
        for retiring, old in list(self._retiring.items()):
            retiring.cancel()
            await asyncio.gather(retiring, return_exceptions=True)
            await old.close()  # reports what it still had as dropped
        await self._notifier.close()
