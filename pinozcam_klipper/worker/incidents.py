"""Incidents on disk: pictures, detections, the verdict trail and feedback labels.

Each incident is one folder under the incident directory::

    20261121-093012-3fa2/
        incident.json     # the record (written atomically: a kill -9 never leaves half a file)
        annotated.jpg     # the picture that was sent in the alert
        onset.jpg         # the raw frame that opened it (what export-feedback labels)
        before-1.jpg ...  # raw frames just before the onset
        after-1.jpg ...   # raw frames just after it

A frame labelled through ``feedback`` with a frame id (no incident) is kept the
same way, with ``kind: "frame"``. The folder is held under a size cap by
dropping the oldest records (and first any incident folder left without a
readable record); everything is reloaded on start, and a record damaged on the
card is repaired as far as it can be (see :func:`.incident_disk.repaired`). A record still
open on reload (the worker stopped while it was open) stays open until the
worker learns the print state: :meth:`IncidentStore.settle_left_open` then
closes it, or keeps the one the printer is still paused by.
:func:`export_feedback` writes the labelled records as a YOLO dataset.

The disk is best effort; the printer's safety is not. Records live in memory and
every method here only changes memory and queues the writing, which a writer
thread carries out in order (``write_in_background``): a full, read-only or
stalled SD card never delays a pause or an alert. What could not be written is
kept and written again later (see :meth:`IncidentStore.retry_unwritten`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .incident_disk import Unwritten, Writer, done, folder_size, number, repaired, write_atomic

if TYPE_CHECKING:
    from .incident_export import ExportSummary

__all__ = ["IncidentStore", "SavedFrame", "export_feedback"]

logger = logging.getLogger(__name__)

_RECORD = "incident.json"
#: The folder names this store makes (see _new_id): only these are ever dropped by the cap.
_INCIDENT_NAME = re.compile(r"\d{8}-\d{6}-[0-9a-f]{4}")
#: Bytes of pictures held in memory while they cannot be written (a full or stalled card).
#: Past this the oldest are given up: a long outage must not use up a Pi's memory.
UNWRITTEN_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class SavedFrame:
    """One checked frame: the raw JPEG and what the detector saw in it."""

    frame_id: int
    time: float
    jpeg: bytes
    width: int
    height: int
    boxes: tuple[Mapping[str, Any], ...] = ()

    def detection(self, name: str) -> dict[str, Any]:
        return {"frame": name, "frame_id": self.frame_id, "time": self.time,
                "width": self.width, "height": self.height, "boxes": [dict(b) for b in self.boxes]}


def boot_id() -> str:
    """This boot of the machine ("" where the system does not say, e.g. off Linux).

    ``time.monotonic()`` counts from the boot for every process, so a reading saved by an
    earlier worker still compares with ours when both were taken in the same boot. The wall
    clock does not: a Raspberry Pi has no clock of its own and jumps, often by months, when
    the network time arrives, which may be in the middle of a print.
    """
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _sequence(record: Mapping[str, Any]) -> int:
    value = record.get("sequence")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _order(record: Mapping[str, Any]) -> tuple[int, float, str]:
    """Oldest first, by the order the records were made in: a Pi's wall clock may be a day
    or decades behind until the network time arrives, and an incident recorded before that
    must not sort (and be dropped by the size cap) as the oldest. Records of older versions
    have no sequence: they come first, in wall-clock order. Never raises, whatever the record
    holds: the panel's list and the size cap sort with it."""
    return _sequence(record), float(number(record.get("opened_at")) or 0), str(record.get("id"))


def _new_id(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)


class IncidentStore:
    """The incident folder. Use it from one thread (the event loop); with
    ``write_in_background`` the disk work runs on a writer thread of its own.

    Records are plain dicts (the JSON written to ``incident.json``); callers
    read them through :meth:`get` and :meth:`records` and change them only
    through the methods here. The record in memory is the truth at once; the
    disk follows. No method raises for a disk problem or a damaged record: the
    pause and the alert of an incident must not depend on the card.
    ``on_problem_change`` is called (from the writer thread) when :attr:`problem`
    is set or cleared.
    """

    def __init__(self, root: Path, max_bytes: int, *, context_frames: int = 3,
                 write_in_background: bool = False,
                 unwritten_max_bytes: int = UNWRITTEN_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.context_frames = context_frames
        self.unwritten_max_bytes = unwritten_max_bytes
        self.on_problem_change: Callable[[], None] | None = None
        self._records: dict[str, dict[str, Any]] = {}
        # Bytes on disk per record folder, for the cap: the pictures, and incident.json apart
        # (it is rewritten, not added to). Counted when queued, so the cap needs no disk scan.
        self._picture_bytes: dict[str, int] = {}
        self._record_bytes: dict[str, int] = {}
        #: Incident folders without a readable record (a power cut between the pictures and the
        #: record, a record damaged beyond repair), name -> bytes: counted and dropped first.
        self.orphans: dict[str, int] = {}
        #: Ids of records found open on load, oldest first (see settle_left_open).
        self.left_open: list[str] = []
        #: Why the last write failed (disk full, folder unwritable), or None once every record
        #: is written again.
        self.problem: str | None = None
        self._reason: str | None = None  # the cause in problem, without the record's id
        self._boot = boot_id()
        # Shared with the writer thread: what is not on disk yet, and which records failed.
        self._lock = threading.Lock()
        self._unwritten: dict[str, Unwritten] = {}
        self._failed: set[str] = set()
        self._writer = Writer() if write_in_background else None

    def status(self) -> dict[str, str]:
        """``{"state": "ok"|"error", "message": ...}`` for the worker's status."""
        problem = self.problem
        if not problem:
            return {"state": "ok", "message": ""}
        with self._lock:
            unsaved = len(self._failed)
        if unsaved:
            problem += f"; {unsaved} record(s) kept in memory only until they can be written"
        return {"state": "error", "message": problem}

    def unsaved(self) -> list[str]:
        """Ids of the records whose last write failed (kept in memory, written again later)."""
        with self._lock:
            return sorted(self._failed)

    def _note_problem(self, what: str, exc: BaseException) -> None:
        """A write failed: the record lives on in memory. Logged (and the worker told) once
        per new reason, not once per record: the retries of a full card would flood the log."""
        reason = f"{exc.strerror if isinstance(exc, OSError) and exc.strerror else exc} ({self.root})"
        with self._lock:
            new_reason, self._reason = reason != self._reason, reason
            self.problem = f"{what}: {reason}"
        if new_reason:
            logger.error("incident folder: %s; incidents are kept in memory until it can be written",
                         self.problem)
            self._tell_problem_changed()

    def _settle_problem(self) -> None:
        """Clear :attr:`problem` once no record is left unwritten because of it."""
        with self._lock:
            if self._failed or self.problem is None:
                return
            self.problem = self._reason = None
        logger.info("incident folder writable again; every record is saved (%s)", self.root)
        self._tell_problem_changed()

    def _tell_problem_changed(self) -> None:
        if self.on_problem_change is not None:
            try:
                self.on_problem_change()
            except Exception:  # the worker's callback: a failure there must not stop writing
                logger.exception("incident folder: telling the worker about a storage change failed")

    # -- loading ---------------------------------------------------------
    def load(self) -> int:
        """Read every record under the root (creating it); returns how many loaded.

        A folder with a missing or unreadable ``incident.json`` is skipped and logged (and
        counted against the cap when its name is an incident's); a damaged record is repaired
        (:func:`.incident_disk.repaired`); a root that cannot be made or read is logged and left empty (the
        worker runs on without it).
        """
        if self._writer is not None:
            self._writer.start()  # now, not at the first incident: its record lands sooner
        self._records.clear()
        self._picture_bytes.clear()
        self._record_bytes.clear()
        self.orphans = {}
        self.left_open = []
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except OSError as exc:
            self._note_problem("cannot use the incident folder", exc)
            return 0
        for folder in folders:
            record = self._load_one(folder)
            if record is None:
                if _INCIDENT_NAME.fullmatch(folder.name):
                    self.orphans[folder.name] = folder_size(folder)
                continue
            rid = record["id"]
            self._records[rid] = record
            with contextlib.suppress(OSError):
                self._record_bytes[rid] = (folder / _RECORD).stat().st_size
            self._picture_bytes[rid] = max(0, folder_size(folder) - self._record_bytes.get(rid, 0))
            if record["state"] == "open":
                self.left_open.append(rid)
        self.left_open.sort(key=lambda rid: _order(self._records[rid]))
        return len(self._records)

    def _load_one(self, folder: Path) -> dict[str, Any] | None:
        try:
            raw = json.loads((folder / _RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            logger.warning("skipping incident folder %s: %s", folder.name, exc)
            return None
        record, fixes = repaired(raw, folder)
        if record is None:
            logger.warning("skipping incident folder %s: not an incident record", folder.name)
        elif fixes:
            logger.warning("incident %s: damaged record repaired on load (%s)", folder.name,
                           ", ".join(fixes))
        return record

    def settle_left_open(self, keep: str | None, now: float) -> None:
        """Close every record left open by the previous worker except ``keep`` (which the
        worker took over: the printer is still paused by it), noting why in its trail.
        Each record on its own: one that cannot be settled must not keep the worker from
        taking the print state (and with it, from watching the print)."""
        for incident_id in self.left_open:
            try:
                if incident_id == keep:
                    self.add_event(incident_id, {"time": now, "event": "taken_over",
                                                 "reason": "worker restarted; the print is still paused"})
                else:
                    self.add_event(incident_id, {"time": now, "event": "closed",
                                                 "reason": "worker restarted"}, state="closed", closed_at=now)
            except Exception:
                logger.exception("incident %s: could not settle the record left open", incident_id)
        self.left_open = []

    # -- reading ---------------------------------------------------------
    def get(self, incident_id: str) -> dict[str, Any] | None:
        return self._records.get(incident_id)

    def records(self) -> list[dict[str, Any]]:
        """All records, oldest first."""
        return sorted(self._records.values(), key=_order)

    def open_for(self, record: Mapping[str, Any]) -> float | None:
        """Seconds since ``record`` opened, by the monotonic clock of this boot; None when that
        cannot be known (a record from another boot, a system without a boot id, or an older
        version), so that no caller falls back on wall-clock time."""
        opened = number(record.get("opened_monotonic"))
        if not self._boot or record.get("boot") != self._boot or opened is None:
            return None
        return max(0.0, time.monotonic() - float(opened))

    def summary(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The part of a record that goes into protocol messages."""
        keys = ("id", "kind", "state", "opened_at", "closed_at", "severity", "band", "action",
                "action_state", "label", "print")
        return {k: record.get(k) for k in keys}

    # -- changing --------------------------------------------------------
    def open(self, *, now: float, event: Mapping[str, Any], onset: SavedFrame,
             before: Sequence[SavedFrame], annotated_jpeg: bytes,
             print_info: Mapping[str, Any], classes: Sequence[str] = (),
             kind: str = "incident") -> dict[str, Any]:
        """Create a record for an incident that has just opened (or a labelled frame).

        The record exists once this returns, whatever the disk does (full, folder gone,
        stalled): the printer's safety must not hang on it. :attr:`problem` says why a
        write failed, and the error is logged.
        """
        incident_id = _new_id(now)
        while incident_id in self._records or incident_id in self.orphans:
            incident_id = _new_id(now)
        pictures = {"annotated.jpg": annotated_jpeg, "onset.jpg": onset.jpeg}
        detections = [onset.detection("onset.jpg")]
        frames = ["onset.jpg"]
        for index, frame in enumerate(list(before)[-self.context_frames:], start=1):
            name = f"before-{index}.jpg"
            pictures[name] = frame.jpeg
            detections.append(frame.detection(name))
            frames.append(name)
        record: dict[str, Any] = {
            "id": incident_id, "kind": kind, "state": "open" if kind == "incident" else "closed",
            "opened_at": now, "closed_at": None if kind == "incident" else now,
            # The age of an open incident after a restart is read from these (open_for), never
            # from opened_at: the wall clock may have jumped since.
            "opened_monotonic": time.monotonic(), "boot": self._boot,
            # The order records were made in, which the wall clock may not tell (see _order).
            "sequence": max((_sequence(r) for r in self._records.values()), default=0) + 1,
            "severity": event.get("severity"), "band": event.get("band"),
            "failure_area": event.get("failure_area"), "failures": event.get("failures"),
            "action": event.get("action"), "action_state": None, "label": None,
            "engine_id": event.get("incident_id"), "print": dict(print_info),
            "classes": list(classes), "frames": frames, "detections": detections,
            "annotated": "annotated.jpg",
            "trail": [{"time": now, "event": "opened" if kind == "incident" else "frame", **dict(event)}],
        }
        self._records[incident_id] = record
        self._persist(record, pictures)
        try:
            self.enforce_cap(keep=incident_id)
        except Exception:  # best effort: the new record is kept whatever the cap does
            logger.exception("incident folder: could not hold it under its size cap")
        return record

    def add_frame_after(self, incident_id: str, frame: SavedFrame) -> bool:
        """Keep ``frame`` as one of the frames just after the onset; False once enough are kept."""
        record = self._records.get(incident_id)
        if record is None:
            return False
        after = [f for f in record["frames"] if f.startswith("after-")]
        if len(after) >= self.context_frames:
            return False
        name = f"after-{len(after) + 1}.jpg"
        record["frames"].append(name)
        record["detections"].append(frame.detection(name))
        self._persist(record, {name: frame.jpeg})
        return True

    def add_event(self, incident_id: str, event: Mapping[str, Any], **changes: Any) -> dict[str, Any] | None:
        """Append ``event`` to the verdict trail and apply ``changes`` to the record."""
        record = self._records.get(incident_id)
        if record is None:
            return None
        record["trail"].append(dict(event))
        record.update(changes)
        self._persist(record)
        return record

    def set_label(self, incident_id: str, label: str, now: float) -> dict[str, Any] | None:
        return self.add_event(incident_id, {"time": now, "event": "feedback", "label": label},
                              label=label, labelled_at=now)

    def enforce_cap(self, keep: str | None = None) -> list[str]:
        """Drop folders until the incident folder fits under the cap, first those without a
        readable record, then the oldest closed records; returns the ids dropped."""
        total = sum(self.orphans.values()) + sum(self._size(rid) for rid in self._records)
        dropped: list[str] = []
        for name in sorted(self.orphans):
            if total <= self.max_bytes:
                break
            total -= self.orphans.pop(name)
            self._remove_folder(name)
            dropped.append(name)
        for record in self.records():
            if total <= self.max_bytes:
                break
            rid = record["id"]
            if rid == keep or record.get("state") == "open":
                continue
            total -= self._size(rid)
            self._forget(rid)
            dropped.append(rid)
        if dropped:
            logger.info("incident folder over its cap: dropped %d oldest folder(s)", len(dropped))
        return dropped

    def _size(self, rid: str) -> int:
        return self._picture_bytes.get(rid, 0) + self._record_bytes.get(rid, 0)

    def _forget(self, rid: str) -> None:
        """Drop a record from memory and (queued) its folder from disk."""
        del self._records[rid]
        self._picture_bytes.pop(rid, None)
        self._record_bytes.pop(rid, None)
        with self._lock:
            self._unwritten.pop(rid, None)
            self._failed.discard(rid)
        self._remove_folder(rid)
        self._submit(self._settle_problem)  # it may have been the last one unwritten

    def _remove_folder(self, name: str) -> None:
        self._submit(lambda: shutil.rmtree(self.root / name, ignore_errors=True))

    # -- writing ---------------------------------------------------------
    def _persist(self, record: dict[str, Any], pictures: Mapping[str, bytes] | None = None) -> None:
        """Queue ``record`` as it is now (and new ``pictures``) for writing. Never raises."""
        rid = record["id"]
        try:
            snapshot = json.dumps(record, indent=1, default=str).encode("utf-8")
            self._record_bytes[rid] = len(snapshot)
            added = sum(len(data) for data in (pictures or {}).values())
            self._picture_bytes[rid] = self._picture_bytes.get(rid, 0) + added
            with self._lock:
                entry = self._unwritten.setdefault(rid, Unwritten())
                entry.record = snapshot
                entry.pictures.update(pictures or {})
            self._limit_unwritten()
            self._submit(lambda: self._write_out(rid))
        except Exception as exc:  # the store is best effort: a pause or alert must go on
            logger.exception("incident %s: could not queue its record for writing", rid)
            with self._lock:
                self._failed.add(rid)
            self._note_problem(f"cannot save incident {rid}", exc)

    def _limit_unwritten(self) -> None:
        """Give up pictures of the oldest records while more than :attr:`unwritten_max_bytes`
        wait in memory; their records stop listing them, so none lists a picture it lacks."""
        with self._lock:
            total = sum(len(d) for e in self._unwritten.values() for d in e.pictures.values())
            if total <= self.unwritten_max_bytes:
                return
            given_up: dict[str, list[str]] = {}
            for rid in sorted(self._unwritten, key=lambda r: _order(self._records.get(r) or {})):
                pictures = self._unwritten[rid].pictures
                for name in reversed(list(pictures)):  # the onset and the alert's picture last
                    if total <= self.unwritten_max_bytes:
                        break
                    size = len(pictures.pop(name))
                    total -= size
                    given_up.setdefault(rid, []).append(name)
                    self._picture_bytes[rid] = max(0, self._picture_bytes.get(rid, 0) - size)
        for rid, names in given_up.items():
            logger.warning("incident %s: %d picture(s) given up, not written in time (%s)",
                           rid, len(names), self.problem or "the incident folder is slow")
            record = self._records.get(rid)
            if record is None:
                continue
            record["frames"] = [n for n in record["frames"] if n not in names]
            record["detections"] = [d for d in record["detections"] if d.get("frame") not in names]
            if record.get("annotated") in names:
                record["annotated"] = None
            snapshot = json.dumps(record, indent=1, default=str).encode("utf-8")
            with self._lock:
                if rid in self._unwritten:
                    self._unwritten[rid].record = snapshot

    def _submit(self, job: Callable[[], None]) -> Future[None]:
        if self._writer is not None:
            return self._writer.submit(job)
        job()
        return done()

    def _write_out(self, rid: str) -> None:
        """Writer side: write what of ``rid`` is not on disk; once that works, what failed before."""
        if self._write_record(rid):
            for other in self.unsaved():
                self._write_record(other)
        self._settle_problem()

    def _write_picture(self, entry: Unwritten, folder: Path, name: str, data: bytes) -> None:
        """Writer side: one picture to the card; no longer kept in memory once written."""
        write_atomic(folder / name, data)
        with self._lock:
            if entry.pictures.get(name) is data:
                del entry.pictures[name]

    def _write_record(self, rid: str) -> bool:
        """Writer side: write the record, then the pictures, of ``rid``; False if that failed
        (what was not written stays in memory, to be written again)."""
        with self._lock:
            entry = self._unwritten.get(rid)
            if entry is None:
                return True
            pictures, snapshot = list(entry.pictures.items()), entry.record
        folder = self.root / rid
        try:
            # An incident opened while the disk was full has no folder yet: made here, so its
            # record is kept once there is room again (or once the folder is back).
            folder.mkdir(parents=True, exist_ok=True)
            # The alert's picture first: the panel asks for it as soon as it hears of the
            # incident, and the record's fsync below can take seconds on a busy SD card.
            # Then the record: small, and what matters most if the process dies now (a
            # picture it lists that is not written yet is dropped from it on reload).
            first = [item for item in pictures if item[0] == "annotated.jpg"]
            for name, data in first:
                self._write_picture(entry, folder, name, data)
            if snapshot is not None:
                write_atomic(folder / _RECORD, snapshot, sync=True)
                with self._lock:
                    if entry.record is snapshot:
                        entry.record = None
            for name, data in pictures:
                if (name, data) not in first:
                    self._write_picture(entry, folder, name, data)
        except OSError as exc:
            with self._lock:
                self._failed.add(rid)
            self._note_problem(f"cannot save incident {rid}", exc)
            return False
        with self._lock:
            if not entry.pictures and entry.record is None and self._unwritten.get(rid) is entry:
                del self._unwritten[rid]
            self._failed.discard(rid)
        return True

    def retry_unwritten(self) -> None:
        """Try again to write the records that could not be written (call it now and then
        while :attr:`problem` is set: the card may have room again with nothing else to write)."""
        def retry() -> None:
            for rid in self.unsaved():
                self._write_record(rid)
            self._settle_problem()
        self._submit(retry)

    async def written(self, incident_id: str) -> str | None:
        """Wait until what was queued for ``incident_id`` so far has been tried: None when it
        is on disk, else why not (it stays in memory and is written later)."""
        await asyncio.wrap_future(self._submit(lambda: None))
        with self._lock:
            failed = incident_id in self._failed
        return (self.problem or "it could not be written") if failed else None

    async def close(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the queued writes, then stop the writer thread.
        What could not be written by then is lost with the process: logged, by id."""
        if self._writer is not None:
            try:
                await asyncio.wait_for(asyncio.wrap_future(self._writer.submit(None)), timeout)
            except asyncio.TimeoutError:
                logger.warning("incident folder: still writing after %.1f s; stopping anyway", timeout)
        with self._lock:
            lost = sorted(self._unwritten)
        if lost:
            logger.error("incident folder: %d record(s) not written and lost: %s (%s)", len(lost),
                         ", ".join(lost), self.problem or "the incident folder did not answer")


def export_feedback(incident_dir: str | Path, out_dir: str | Path, force: bool = False) -> ExportSummary:
    """Write the labelled records under ``incident_dir`` as a YOLO dataset (see
    :func:`.incident_export.export_feedback`, loaded on use: it needs OpenCV)."""
    from .incident_export import export_feedback as export

    return export(incident_dir, out_dir, force)
