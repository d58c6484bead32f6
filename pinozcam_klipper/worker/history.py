"""The severity history of one print, for the ``history`` message.

Pure: no I/O, no clock. :class:`PrintHistory` keeps the severity of every
check of the current print (or of the last one, once it ended) as
``[unix_time, severity, band]`` points, and the incident events of that print.
It never holds more than :data:`MAX_POINTS` points: when full, neighbouring
pairs are merged (the point with the higher severity stays), and from then on
that many checks make one point, so the whole print keeps one resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine import FAILURE_ABOVE, WARNING_ABOVE

__all__ = ["PrintHistory", "MAX_POINTS"]

#: Most points one print's history holds.
MAX_POINTS = 1000

Point = tuple[float, float, str]


def _worst(a: Point, b: Point) -> Point:
    return b if b[1] > a[1] else a


@dataclass
class PrintHistory:
    """Points and incident events of one print. Use from one thread (the event loop)."""

    max_points: int = MAX_POINTS
    file: str | None = None
    started: float | None = None
    _points: list[Point] = field(default_factory=list)
    _bucket: Point | None = None  # the merged checks not yet a point (stride > 1)
    _bucket_size: int = 0
    _stride: int = 1               # checks per point
    _incidents: list[dict[str, Any]] = field(default_factory=list)

    def start(self, file: str, started: float) -> None:
        """A new print started at ``started`` (unix time): forget the previous one."""
        self.file, self.started = file, started
        self._points, self._incidents = [], []
        self._bucket, self._bucket_size, self._stride = None, 0, 1

    def add_point(self, time: float, severity: float, band: str) -> None:
        """One check of the current print; ignored before any print started."""
        if self.started is None:
            return
        point = (round(time, 3), round(severity, 4), band)
        self._bucket = point if self._bucket is None else _worst(self._bucket, point)
        self._bucket_size += 1
        if self._bucket_size < self._stride:
            return
        self._points.append(self._bucket)
        self._bucket, self._bucket_size = None, 0
        # Stored points stay under max_points - 1 (room for the unfinished bucket), and are
        # merged at an even count, so every merged point covers the same number of checks.
        if len(self._points) >= (self.max_points - 2) // 2 * 2:
            self._points = [_worst(a, b) for a, b in zip(self._points[::2], self._points[1::2])]
            self._stride *= 2

    def add_incident(self, incident_id: str, time: float, kind: str, action: str | None) -> None:
        """An incident event (``opened``, ``escalated``, ``closed``) of the current print."""
        if self.started is not None:
            self._incidents.append({"id": incident_id, "time": round(time, 3), "kind": kind,
                                    "action": action})

    @property
    def points(self) -> list[list[Any]]:
        shown = self._points + ([self._bucket] if self._bucket is not None else [])
        return [list(p) for p in shown]

    def message(self) -> dict[str, Any]:
        """The ``history`` message (see docs/protocol.md)."""
        return {"type": "history",
                "print": None if self.started is None else {"file": self.file or "",
                                                            "started": round(self.started, 3)},
                "points": self.points, "incidents": list(self._incidents),
                "thresholds": {"warning": WARNING_ABOVE, "failure": FAILURE_ABOVE}}
