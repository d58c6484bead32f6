"""Printer action requests and whether an adapter confirmed them.

Every request (an engine action, each Telegram button press) gets a fresh
``request_id``, so an adapter that already carried out an earlier request for the
same incident acts again; a repeat of the same request (sent again to an adapter
that reconnects) keeps its id, so the adapter answers it without acting twice.

A ``pause`` or ``cancel`` waits for the ``action_result`` that answers it. If none
comes within the confirmation timeout, ``on_unconfirmed`` is called: the printer may
still be printing a failure, and the user must hear about it. At most one request
per incident waits: a newer one replaces the older, whose late answer settles nothing.
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

    ``on_unconfirmed(incident_id, action)`` runs when a ``pause``/``cancel`` is not
    answered within ``confirm_timeout`` seconds.
    """

    def __init__(self, confirm_timeout: float,
                 on_unconfirmed: Callable[[str, str], Awaitable[None]]) -> None:
        self._confirm_timeout = confirm_timeout
        self._on_unconfirmed = on_unconfirmed
        self._pending: dict[str, ActionRequest] = {}

    def new(self, incident_id: str, action: str, source: str) -> dict[str, Any]:
        """A new request: its ``action_request`` message (with a fresh ``request_id``).
        A ``pause``/``cancel`` starts waiting for its answer, replacing any older one."""
        request = ActionRequest(incident_id, action, source, secrets.token_hex(8))
        if action in CONFIRMED_ACTIONS:
            self.forget(incident_id)
            request.timer = asyncio.create_task(self._wait(incident_id, action, request.request_id))
            self._pending[incident_id] = request
        return request.message()

    def pending(self, incident_id: str) -> ActionRequest | None:
        return self._pending.get(incident_id)

    def settle(self, incident_id: str, request_id: str, action: str) -> ActionRequest | None:
        """An ``action_result`` arrived: the request it answers, no longer waiting, or
        ``None`` when it answers none (a late answer to an earlier request)."""
        pending = self._pending.get(incident_id)
        if pending is None:
            return None
        # With a request_id only the answer to the waiting request counts; an older adapter
        # without one is matched on the action.
        answers = (request_id == pending.request_id if request_id
                   else not action or action == pending.action)
        if not answers:
            return None
        self.forget(incident_id)
        return pending

    def forget(self, incident_id: str) -> None:
        """Stop waiting for this incident's request (answered, replaced or closed)."""
        pending = self._pending.pop(incident_id, None)
        if pending is not None and pending.timer is not None:
            pending.timer.cancel()

    def cancel_all(self) -> None:
        for incident_id in list(self._pending):
            self.forget(incident_id)

    async def _wait(self, incident_id: str, action: str, request_id: str) -> None:
        await asyncio.sleep(self._confirm_timeout)
        pending = self._pending.get(incident_id)
        if pending is not None and pending.request_id == request_id:
            del self._pending[incident_id]
        logger.warning("no client confirmed %s for incident %s", action, incident_id)
        await self._on_unconfirmed(incident_id, action)
