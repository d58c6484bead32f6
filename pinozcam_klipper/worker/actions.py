"""Printer action requests and whether an adapter confirmed them.

Every request (an engine action, each Telegram button press) gets a fresh
``request_id``, so an adapter that already carried out an earlier request for the
same incident acts again; a repeat of the same request (sent again to an adapter
that reconnects) keeps its id, so the adapter answers it without acting twice.

A ``pause`` or ``cancel`` waits for the ``action_result`` that answers it. If none
comes within the confirmation timeout, ``on_unconfirmed`` is called: the printer may
still be printing a failure, and the user must hear about it. An adapter may first
answer ``accepted`` (it has checked the print and sent the gcode): Klipper runs it
only once a long command holding its queue (an M109/M190 heat-up mid-print) is done,
and meanwhile the print does not move on, so the wait is then the longer busy timeout.
At most one request per incident waits: a newer one replaces the older, whose late
answer settles nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ActionRequests", "ActionRequest"]

logger = logging.getLogger(__name__)

#: Actions that must be confirmed: the printer keeps printing a failure if they are lost.
CONFIRMED_ACTIONS = ("pause", "cancel")


@dataclass
class ActionRequest:
    """One request; a ``pause`` or ``cancel`` also waits (``timer``) for its answer."""

    incident_id: str
    action: str
    source: str  # "engine" or "telegram"
    request_id: str
    timer: asyncio.Task[None] | None = None
    accepted: bool = False  # the adapter is carrying it out; its result follows

    def message(self, *, repeat: bool = False) -> dict[str, Any]:
        """The ``action_request`` message; ``repeat`` marks the same request sent again."""
        out: dict[str, Any] = {"type": "action_request", "incident_id": self.incident_id,
                               "action": self.action, "source": self.source,
                               "request_id": self.request_id}
        if repeat:
            out["repeat"] = True
        return out


class ActionRequests:
    """The requests of one worker that wait for an adapter's answer.

    ``on_unconfirmed(incident_id, action, reason)`` runs when a ``pause``/``cancel`` is not
    answered within ``confirm_timeout`` seconds, or, once accepted, has no result within
    ``busy_timeout`` seconds.
    """

    def __init__(self, confirm_timeout: float, busy_timeout: float,
                 on_unconfirmed: Callable[[str, str, str], Awaitable[None]]) -> None:
        self._confirm_timeout = confirm_timeout
        self._busy_timeout = busy_timeout
        self._on_unconfirmed = on_unconfirmed
        self._pending: dict[str, ActionRequest] = {}

    def set_timeouts(self, confirm_timeout: float, busy_timeout: float) -> None:
        """New timeouts (changed settings), for the requests made from now on."""
        self._confirm_timeout, self._busy_timeout = confirm_timeout, busy_timeout

    def new(self, incident_id: str, action: str, source: str) -> dict[str, Any]:
        """A new request: its ``action_request`` message (with a fresh ``request_id``).
        A ``pause``/``cancel`` starts waiting for its answer, replacing any older one."""
        request = ActionRequest(incident_id, action, source, secrets.token_hex(8))
        if action in CONFIRMED_ACTIONS:
            self.forget(incident_id)
            request.timer = asyncio.create_task(self._wait(request, self._confirm_timeout,
                                                           "no client confirmed it"))
            self._pending[incident_id] = request
        return request.message()

    def pending(self, incident_id: str) -> ActionRequest | None:
        return self._pending.get(incident_id)

    def settle(self, incident_id: str, request_id: str, action: str) -> ActionRequest | None:
        """An ``action_result`` arrived: the request it answers, no longer waiting, or
        ``None`` when it answers none (a late answer to an earlier request)."""
        pending = self._answered(incident_id, request_id, action)
        if pending is not None:
            self.forget(incident_id)
        return pending

    def accept(self, incident_id: str, request_id: str, action: str) -> ActionRequest | None:
        """An ``accepted`` answer arrived: the request it answers, now waiting up to the busy
        timeout for its result (from the first acceptance: a repeat does not extend it), or
        ``None`` when it answers none."""
        pending = self._answered(incident_id, request_id, action)
        if pending is None or pending.accepted:
            return pending
        pending.accepted = True
        if pending.timer is not None:
            pending.timer.cancel()
        minutes = self._busy_timeout / 60
        pending.timer = asyncio.create_task(self._wait(
            pending, self._busy_timeout,
            f"the printer took it but had not finished after {minutes:g} min "
            "(a long command such as a heat-up may be holding Klipper's queue)"))
        return pending

    def _answered(self, incident_id: str, request_id: str, action: str) -> ActionRequest | None:
        """The waiting request an answer is for, if any."""
        pending = self._pending.get(incident_id)
        if pending is None:
            return None
        # With a request_id only the answer to the waiting request counts; an older adapter
        # without one is matched on the action.
        answers = (request_id == pending.request_id if request_id
                   else not action or action == pending.action)
        return pending if answers else None

    def forget(self, incident_id: str) -> None:
        """Stop waiting for this incident's request (answered, replaced or closed)."""
        pending = self._pending.pop(incident_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def cancel_all(self) -> None:
        for incident_id in list(self._pending):
            self.forget(incident_id)

    async def _wait(self, request: ActionRequest, timeout: float, reason: str) -> None:
        await asyncio.sleep(timeout)
        if self._pending.get(request.incident_id) is request:
            del self._pending[request.incident_id]
        logger.warning("%s for incident %s: %s", request.action, request.incident_id, reason)
        await self._on_unconfirmed(request.incident_id, request.action, reason)
