"""The safety rules for the worker's ``action_request``: what the plugin may do to the printer.

Pure: no OctoPrint import. :class:`ActionGate` is asked before any call to
``pause_print()`` / ``resume_print()`` / ``cancel_print()`` and answers with a
:class:`Decision`: act, or answer ``action_result`` without acting. The rules:

- nothing happens when no print runs (pause and cancel need a print that is
  printing or paused; resume needs a paused print);
- each request is carried out at most once: a repeated request (the worker
  repeats a pending one, with the same ``request_id``, to a client that
  reconnects) is answered with the first result, never acted on twice. A new
  request (a new ``request_id``: e.g. a second Telegram Pause after a resume)
  is a new decision. Requests without a ``request_id`` (an older worker) are
  deduplicated on (incident, action);
- pausing a print that is already paused is "done" without a second pause.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PrinterFlags", "Decision", "ActionGate", "PRINTER_ACTIONS"]

#: Actions that touch the printer; ``mute`` is the worker's own business.
PRINTER_ACTIONS = ("pause", "resume", "cancel")
_REMEMBERED = 200


@dataclass(frozen=True)
class PrinterFlags:
    """What OctoPrint's printer says right now."""

    printing: bool = False
    paused: bool = False  # paused or pausing
    cancelling: bool = False


@dataclass(frozen=True)
class Decision:
    """``act``: call the printer. Otherwise answer ``result`` (``done``/``failed``) with ``reason``."""

    act: bool
    result: str = "done"
    reason: str = ""


@dataclass
class ActionRecord:
    incident_id: str
    action: str
    result: str
    reason: str = ""
    acted: bool = False
    time: float = field(default_factory=time.time)
    request_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "action": self.action, "result": self.result,
                "reason": self.reason, "acted": self.acted, "time": round(self.time, 3),
                "request_id": self.request_id}


def _key(incident_id: str, action: str, request_id: str) -> tuple[str, ...]:
    return ("request", request_id) if request_id else ("incident", incident_id, action)


class ActionGate:
    """Decides, then remembers, what was done for each incident; not thread-safe (one caller)."""

    def __init__(self) -> None:
        self._done: OrderedDict[tuple[str, ...], ActionRecord] = OrderedDict()

    def decide(self, incident_id: str, action: str, flags: PrinterFlags, request_id: str = "") -> Decision:
        """Whether to carry out ``action`` for ``incident_id`` given the printer's ``flags``.

        ``request_id``: the worker's id of the request ("" from a worker that sends none).
        """
        previous = self._done.get(_key(incident_id, action, request_id))
        if previous is not None:
            return Decision(False, previous.result, previous.reason or f"already {previous.result}")
        if action not in PRINTER_ACTIONS:
            return Decision(False, "done", "not a printer action")
        running = flags.printing or flags.paused
        if not running or flags.cancelling:
            return Decision(False, "failed", "no print is running")
        if action == "pause" and flags.paused:
            return Decision(False, "done", "the print is already paused")
        if action == "resume" and not flags.paused:
            return Decision(False, "failed", "the print is not paused")
        return Decision(True)

    def record(self, incident_id: str, action: str, result: str, reason: str = "",
               *, acted: bool = False, request_id: str = "") -> ActionRecord:
        """Remember the outcome; a repeat of the same request gets it back."""
        entry = ActionRecord(incident_id, action, result, reason, acted, request_id=request_id)
        if action in PRINTER_ACTIONS:
            self._done[_key(incident_id, action, request_id)] = entry
            while len(self._done) > _REMEMBERED:
                self._done.popitem(last=False)
        return entry

    def history(self) -> list[dict[str, Any]]:
        """Every remembered outcome, oldest first."""
        return [entry.to_dict() for entry in self._done.values()]
