"""Camera health: ok, offline, frozen or too dark. Pure: it takes measurements and times.

Health is about the camera, never about the print: the worker shows it and may
stop judging prints while it is not ok, but it must never raise a failure alert
because of it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CameraState", "CameraHealth", "HealthMonitor", "thumbnail"]

# Small enough to be cheap and to average away JPEG blockiness, large enough
# that real sensor noise (a live camera) changes at least one value.
_THUMB_SIZE = (32, 24)


class CameraState(str, enum.Enum):
    OK = "ok"
    OFFLINE = "offline"
    FROZEN = "frozen"
    DARK = "dark"


@dataclass(frozen=True)
class CameraHealth:
    """``state`` with a human ``message`` and ``since``: the monotonic time it began."""

    state: CameraState
    message: str
    since: float

    @property
    def ok(self) -> bool:
        return self.state is CameraState.OK

    def to_dict(self) -> dict[str, object]:
        return {"state": self.state.value, "message": self.message, "since": round(self.since, 3)}


def thumbnail(bgr: np.ndarray) -> np.ndarray:
    """A tiny grey version of the frame used to compare frames and measure brightness."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr
    return cv2.resize(grey, _THUMB_SIZE, interpolation=cv2.INTER_AREA)


class HealthMonitor:
    """Turns frames and errors into :class:`CameraHealth`.

    - offline: the last read failed (the error's message is kept);
    - frozen: the thumbnail has been *identical* for ``frozen_seconds``
      (a live sensor always changes a little, a stuck stream repeats bytes);
    - dark: the thumbnail's mean grey is below ``dark_level`` (0 disables).
    Offline wins over frozen, frozen over dark.
    """

    def __init__(self, *, frozen_seconds: float, dark_level: float, now: float = 0.0) -> None:
        self.frozen_seconds = frozen_seconds
        self.dark_level = dark_level
        self._last_thumb: bytes | None = None
        self._unchanged_since = now
        self.health = CameraHealth(CameraState.OFFLINE, "no frame yet", now)

    def on_frame(self, thumb: np.ndarray, now: float) -> CameraHealth:
        """Record a good frame's thumbnail (see :func:`thumbnail`) seen at ``now``."""
        key = thumb.tobytes()
        if key != self._last_thumb:
            self._last_thumb = key
            self._unchanged_since = now
        still = now - self._unchanged_since
        mean = float(thumb.mean())
        if still >= self.frozen_seconds:
            return self._set(CameraState.FROZEN, f"the camera picture has not changed for {still:.0f} s", now)
        if self.dark_level > 0 and mean < self.dark_level:
            return self._set(CameraState.DARK,
                             f"the camera picture is too dark (mean grey {mean:.0f} < {self.dark_level:g})", now)
        return self._set(CameraState.OK, "ok", now)

    def on_error(self, message: str, now: float) -> CameraHealth:
        """Record a failed read; ``message`` must already be free of secrets."""
        return self._set(CameraState.OFFLINE, message, now)

    def _set(self, state: CameraState, message: str, now: float) -> CameraHealth:
        since = self.health.since if state is self.health.state else now
        self.health = CameraHealth(state, message, since)
        return self.health
