"""Which alerts ``notify_interval`` holds back. Pure: no I/O, the caller passes the time.

Pacing exists to keep a run of near-identical messages from flooding the chat; it
must never hide news. So:

- an ``incident`` alert is paced against the last incident alert sent, unless its
  action stops the print (``pause``, ``cancel``): a paused printer with no message
  about why is worse than one message too many;
- an ``info`` notice (camera offline, camera back, ...) is paced only when it repeats
  the last notice sent (same title): one that differs from it reports a change of
  state ("Camera offline" after "Camera back") and is always sent, or the last word
  the user saw would be wrong;
- ``test`` messages and the results of actions (``escalated``, ``could_not_pause``)
  are never paced.

A message counts once it is delivered (:meth:`Pacer.sent`), so a notice that no
channel could deliver does not hold back the next one.
"""

from __future__ import annotations

from .alert import STOPPING_ACTIONS, Alert, AlertKind

__all__ = ["Pacer", "RATE_LIMITED_KINDS"]

#: The kinds that may be paced at all.
RATE_LIMITED_KINDS = frozenset({AlertKind.INCIDENT, AlertKind.INFO})


class Pacer:
    """Remembers the last incident alert and the last notice delivered; call :meth:`reason`
    for each new alert and :meth:`sent` when one is delivered."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last_incident: float | None = None  # when the last incident alert went out
        self._last_notice: tuple[str, float] | None = None  # (title, when) of the last info notice

    def __repr__(self) -> str:
        return f"Pacer(interval={self.interval:g})"

    def reason(self, alert: Alert, now: float) -> str:
        """Why ``alert`` is to be skipped (status "rate_limited"), or "" to send it."""
        kind = AlertKind(alert.kind)
        if kind is AlertKind.INCIDENT and alert.action not in STOPPING_ACTIONS:
            last = self._last_incident
        elif kind is AlertKind.INFO and self._last_notice is not None and self._last_notice[0] == alert.title:
            last = self._last_notice[1]
        else:
            return ""
        if last is None or now - last >= self.interval:
            return ""
        wait = self.interval - (now - last)
        what = "incident alert" if kind is AlertKind.INCIDENT else f'"{alert.title}" notice'
        return (f"another {what} was sent {now - last:.0f} s ago "
                f"(notify_interval {self.interval:g} s; {wait:.0f} s to go)")

    def sent(self, alert: Alert, now: float) -> None:
        """``alert`` reached the user (on its first channel): later alerts are paced against it."""
        kind = AlertKind(alert.kind)
        if kind is AlertKind.INCIDENT:
            self._last_incident = now
        elif kind is AlertKind.INFO:
            self._last_notice = (alert.title, now)
