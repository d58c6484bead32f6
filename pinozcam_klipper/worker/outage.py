"""When a camera outage during a print deserves an alert. Pure: no I/O, no clock.

A print must never run unwatched in silence: :class:`OutageWatch` says ``lost``
once the camera has not been ok for ``delay`` seconds *of printing* (time
paused or idle does not count), once per outage, and ``back`` when it is ok
again, only if ``lost`` was said.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["OutageWatch"]

Change = Literal["lost", "back"]


class OutageWatch:
    def __init__(self) -> None:
        self._bad_since: float | None = None  # when printing with a bad camera began
        self.alerted = False  # "lost" said, "back" not yet

    def update(self, *, camera_ok: bool, printing: bool, delay: float, now: float) -> Change | None:
        """Call now and then with the camera's state; ``delay`` 0 turns the alert off."""
        if camera_ok:
            self._bad_since = None
            if self.alerted:
                self.alerted = False
                return "back"
            return None
        if not printing or delay <= 0:
            self._bad_since = None
            return None
        if self._bad_since is None:
            self._bad_since = now
        if not self.alerted and now - self._bad_since >= delay:
            self.alerted = True
            return "lost"
        return None

    def bad_for(self, now: float) -> float:
        """Seconds of printing with a bad camera so far (0 when it is ok)."""
        return 0.0 if self._bad_since is None else now - self._bad_since
