"""What the plugin knows about the worker, for its status endpoint and tab.

No OctoPrint import. :class:`WorkerView` folds worker messages (``status``,
``detection``, ``incident``, ``incidents``, ``history``, ``configured``, ``error``) into one
JSON-ready dict, under a lock: the link thread writes, OctoPrint's request
threads read.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

__all__ = ["WorkerView"]

_INCIDENTS_KEPT = 50
_ERRORS_KEPT = 10


class WorkerView:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, Any] | None = None
        self._detection: dict[str, Any] | None = None
        self._detections = 0
        self._incidents: list[dict[str, Any]] = []
        self._errors: deque[dict[str, Any]] = deque(maxlen=_ERRORS_KEPT)
        self._configured: dict[str, Any] | None = None
        self._history: dict[str, Any] | None = None

    def update(self, message: dict[str, Any]) -> None:
        """Fold one worker message in."""
        kind = message.get("type")
        with self._lock:
            if kind == "status":
                self._status = {k: v for k, v in message.items() if k != "type"}
            elif kind == "detection":
                self._detections += 1
                self._detection = {
                    "frame_id": message.get("frame_id"), "time": message.get("time"),
                    "reason": message.get("reason"), "severity": message.get("severity"),
                    "band": message.get("band"), "engine_state": message.get("engine_state"),
                    "failures_in_window": message.get("failures_in_window"),
                    "boxes": len(message.get("boxes") or ()), "incident_id": message.get("incident_id"),
                    "display_threshold": message.get("display_threshold"),
                    "shown_boxes": sum(1 for b in message.get("boxes") or ()
                                       if isinstance(b, dict) and (b.get("score") or 0)
                                       >= (message.get("display_threshold") or 0)),
                }
                if self._status is not None:
                    # Keep the tab's severity live between the worker's 10 s status messages.
                    self._status.update(severity=message.get("severity"), band=message.get("band"),
                                        engine_state=message.get("engine_state"))
            elif kind == "history":
                self._history = {k: v for k, v in message.items() if k != "type"}
            elif kind == "incidents":
                self._incidents = list(message.get("incidents") or [])[:_INCIDENTS_KEPT]
            elif kind == "incident":
                summary = message.get("incident") or {}
                if summary.get("id"):
                    self._incidents = [summary] + [i for i in self._incidents
                                                   if i.get("id") != summary["id"]][:_INCIDENTS_KEPT - 1]
            elif kind == "configured":
                self._configured = {"settings": message.get("settings"),
                                    "restart_needed": message.get("restart_needed") or [],
                                    "time": time.time()}
            elif kind == "error":
                self._errors.append({k: message.get(k) for k in ("code", "message", "option", "request")}
                                    | {"time": time.time()})

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"status": self._status, "last_detection": self._detection,
                    "detections": self._detections, "incidents": list(self._incidents),
                    "configured": self._configured, "errors": list(self._errors),
                    "history": self._history}

    @property
    def detections(self) -> int:
        with self._lock:
            return self._detections
