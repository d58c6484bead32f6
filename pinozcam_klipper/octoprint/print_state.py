"""OctoPrint's print events as the worker's ``print_state`` messages.

Pure: no OctoPrint import. :class:`PrintTracker` is fed OctoPrint event names
with their payloads (and progress callbacks) and returns the ``print_state``
message to send, or None when the event does not change what the worker must
know. :meth:`PrintTracker.current` rebuilds the message from the printer's
flags, for a worker that (re)connects in the middle of a print.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["EVENT_STATES", "PrintTracker", "state_from_flags"]

#: OctoPrint event -> worker print state (``docs/protocol.md``: ``print_state.state``).
EVENT_STATES: dict[str, str] = {
    "PrintStarted": "printing",
    "PrintPaused": "paused",
    "PrintResumed": "printing",
    "PrintDone": "complete",
    "PrintFailed": "error",
    "PrintCancelled": "cancelled",
}
# Losing the printer ends any print, whatever OctoPrint fires after it.
_CONNECTION_LOST = ("Disconnected", "Error")
_RUNNING = ("printing", "paused")


def state_from_flags(*, printing: bool, paused: bool) -> str:
    """The worker state for OctoPrint's ``is_printing()`` / ``is_paused()`` (pausing counts as paused)."""
    if paused:
        return "paused"
    if printing:
        return "printing"
    return "standby"


def _file_of(payload: Mapping[str, Any] | None) -> str:
    if not payload:
        return ""
    value = payload.get("path") or payload.get("name") or ""
    return str(value)[:1024]


class PrintTracker:
    """Keeps the print state the worker was last told; one instance per plugin."""

    def __init__(self) -> None:
        self.state = "standby"
        self.file = ""
        self.progress: float | None = None
        # Muted for the running print: a restarted worker has forgotten it, so it is sent again
        # after every connect (see :meth:`on_connect_messages`).
        self.muted = False

    @property
    def running(self) -> bool:
        """A print is running (printing or paused): there is something to mute."""
        return self.state in _RUNNING

    def note_muted(self, muted: bool) -> None:
        """A mute (or unmute) of the running print; ignored when no print runs."""
        self.muted = muted and self.state in _RUNNING

    def after_connect(self) -> list[dict[str, Any]]:
        """What a (re)connected worker must hear besides the print state."""
        return [{"type": "mute", "muted": True}] if self.muted else []

    def message(self) -> dict[str, Any]:
        """The ``print_state`` message for the current state."""
        return {"type": "print_state", "state": self.state, "file": self.file, "progress": self.progress}

    def on_event(self, event: str, payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Feed one OctoPrint event; the message to send, or None if nothing changed."""
        if event in _CONNECTION_LOST:
            if self.state not in _RUNNING:
                return None
            new_state, file = "error", self.file
        elif event in EVENT_STATES:
            new_state = EVENT_STATES[event]
            if event == "PrintFailed" and (payload or {}).get("reason") == "cancelled":
                new_state = "cancelled"  # OctoPrint reports a cancel as a failure too
            file = _file_of(payload) or self.file
        else:
            return None
        if event == "PrintStarted":
            self.progress = 0.0
        elif new_state not in _RUNNING:
            self.progress = None
        if new_state not in _RUNNING or event == "PrintStarted":
            self.muted = False
        if new_state == self.state and file == self.file and event != "PrintStarted":
            return None
        self.state, self.file = new_state, file
        return self.message()

    def on_progress(self, path: str, percent: float) -> dict[str, Any] | None:
        """OctoPrint's ``on_print_progress`` (whole percents); a message while a print runs."""
        if self.state not in _RUNNING:
            return None
        progress = min(1.0, max(0.0, float(percent) / 100.0))
        if progress == self.progress:
            return None
        self.progress = progress
        if path and not self.file:
            self.file = str(path)[:1024]
        return self.message()

    def current(self, *, printing: bool, paused: bool, file: str = "",
                elapsed: float | None = None) -> dict[str, Any]:
        """Re-read the printer's flags (after a reconnect) and return the message to send.

        ``elapsed``: how long the print has run (OctoPrint's ``printTime``), sent while one runs,
        so that a worker restarted mid-print warms up only for what is left of its warm-up."""
        state = state_from_flags(printing=printing, paused=paused)
        if state != self.state or (file and file != self.file):
            self.state = state
            self.file = file if state in _RUNNING else ""
            if state not in _RUNNING:
                self.progress = None
                self.muted = False
        message = self.message()
        if state in _RUNNING and isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool) \
                and elapsed >= 0:
            message["elapsed"] = round(float(elapsed), 1)
        return message
