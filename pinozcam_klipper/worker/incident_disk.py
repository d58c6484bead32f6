"""The incident folder's disk side: atomic writes, the writer thread, and records read back.

:mod:`.incidents` keeps the records in memory and decides what to write; this
module does the writing (off the event loop, in order, on one thread) and makes a
record read back from an SD card safe to use.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LABELS", "Unwritten", "Writer", "done", "folder_size", "number", "repaired", "write_atomic"]

logger = logging.getLogger(__name__.rsplit(".", 1)[0] + ".incidents")

LABELS = ("real_failure", "false_alarm")


def number(value: Any) -> float | int | None:
    """``value`` when it is a finite number (not a bool), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return value
    return None


def write_atomic(path: Path, data: bytes, *, sync: bool = False) -> None:
    """Write then rename: a killed process or a full disk leaves the old file or the new one,
    never half of one (the partial temporary file is removed). ``sync`` flushes the data to
    the card before the rename, so a power cut cannot leave an empty file either; it costs
    tens of milliseconds on an SD card, which is why only the writer thread asks for it."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
            if sync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _picture_names(value: Any) -> list[str]:
    """The picture names in ``value`` that are plain ``.jpg`` names inside the folder."""
    if not isinstance(value, list):
        return []
    return [n for n in value if isinstance(n, str) and n.endswith(".jpg") and Path(n).name == n]


def _on_disk(folder: Path, name: str) -> bool:
    try:
        return (folder / name).stat().st_size > 0
    except OSError:
        return False


def repaired(raw: Any, folder: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """The record read from ``folder`` made safe to use, and the names of the fields repaired;
    None when it is no incident record at all (not an object, or another folder's id).

    A byte flipped on an SD card, a hand edit or a sync tool can leave valid JSON with a
    field of the wrong type; left as it is, one such record would make every later print
    state, list or incident fail. Pictures it lists that are missing or empty (the disk was
    full, the power cut) are dropped from it.
    """
    if not isinstance(raw, dict) or raw.get("id") != folder.name:
        return None, []
    record = dict(raw)
    fixes: list[str] = []

    def put(key: str, value: Any) -> None:
        if key not in record or record[key] != value:
            fixes.append(key)
        record[key] = value

    if record.get("kind") not in ("incident", "frame"):
        put("kind", "incident")
    if record.get("state") not in ("open", "closed"):
        put("state", "closed")
    for key in ("opened_at", "closed_at", "labelled_at", "opened_monotonic", "severity", "failure_area"):
        if key in record and number(record[key]) is None and record[key] is not None:
            put(key, None)
    for key in ("band", "action", "action_state", "boot"):
        if key in record and record[key] is not None and not isinstance(record[key], str):
            put(key, None)
    if record.get("label") not in (None, *LABELS):
        put("label", None)
    info = record.get("print")
    if not isinstance(info, dict):
        put("print", {})
    elif "started" in info and number(info["started"]) is None and info["started"] is not None:
        put("print", {**info, "started": None})
    classes = record.get("classes")
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        put("classes", [c for c in classes if isinstance(c, str)] if isinstance(classes, list) else [])
    trail = record.get("trail")
    if not isinstance(trail, list) or not all(isinstance(e, dict) for e in trail):
        put("trail", [e for e in trail if isinstance(e, dict)] if isinstance(trail, list) else [])
    frames = [n for n in _picture_names(record.get("frames")) if _on_disk(folder, n)]
    if record.get("frames") != frames:
        put("frames", frames)
    detections = _detections(record.get("detections"), frames)
    if record.get("detections") != detections:
        put("detections", detections)
    annotated = record.get("annotated")
    if annotated is not None and not (_picture_names([annotated]) and _on_disk(folder, annotated)):
        put("annotated", None)
    return record, fixes


def _detections(value: Any, frames: list[str]) -> list[dict[str, Any]]:
    """The detections in ``value`` of pictures in ``frames``, each with a list of box objects."""
    if not isinstance(value, list):
        return []
    kept = []
    for detection in value:
        if isinstance(detection, dict) and detection.get("frame") in frames:
            boxes = detection.get("boxes")
            kept.append({**detection, "boxes": [b for b in boxes if isinstance(b, dict)]
                         if isinstance(boxes, list) else []})
    return kept


def folder_size(folder: Path) -> int:
    total = 0
    try:
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        return 0
    return total


@dataclass
class Unwritten:
    """What of one record is not on disk yet: queued, or tried and failed."""

    pictures: dict[str, bytes] = field(default_factory=dict)
    record: bytes | None = None  # the newest incident.json not written yet


class Writer:
    """One daemon thread doing the store's disk work in the order it was asked for."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None] | None, Future[None]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread unless it runs (:meth:`submit` starts it too)."""
        if self._thread is None or not self._thread.is_alive():
            # A daemon: a card stalled for good must not keep the process from exiting.
            self._thread = threading.Thread(target=self._run, name="incident-writer", daemon=True)
            self._thread.start()

    def submit(self, job: Callable[[], None] | None) -> Future[None]:
        """Queue ``job`` (None: stop the thread once the queue is done); the future is done after it ran.
        Call from one thread only (the event loop)."""
        future: Future[None] = Future()
        if job is None and (self._thread is None or not self._thread.is_alive()):
            future.set_result(None)
            return future
        if job is not None:
            self.start()
        self._jobs.put((job, future))
        return future

    def _run(self) -> None:
        while True:
            job, future = self._jobs.get()
            if job is not None:
                try:
                    job()
                except Exception:  # a bug in one job must not stop every later write
                    logger.exception("incident folder: a write failed unexpectedly")
            with contextlib.suppress(InvalidStateError):  # its waiter gave up (cancelled)
                future.set_result(None)
            if job is None:
                return


def done() -> Future[None]:
    future: Future[None] = Future()
    future.set_result(None)
    return future
