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
dropping the oldest records; everything is reloaded on start. A record still
open on reload (the worker stopped while it was open) stays open until the
worker learns the print state: :meth:`IncidentStore.settle_left_open` then
closes it, or keeps the one the printer is still paused by.
:func:`export_feedback` writes the labelled records as a YOLO dataset.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["IncidentStore", "SavedFrame", "export_feedback", "ExportSummary"]

logger = logging.getLogger(__name__)

_RECORD = "incident.json"


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
    have no sequence: they come first, in wall-clock order."""
    return _sequence(record), float(record.get("opened_at") or 0), str(record.get("id"))


def _new_id(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write then rename: a killed process leaves the old file or the new one, never half of one.

    No fsync: it would cost tens of milliseconds on an SD card, on the event loop,
    right when an incident opens; only a power cut could lose the last write.
    """
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class IncidentStore:
    """The incident folder. Not thread-safe: use it from the event loop only.

    Records are plain dicts (the JSON written to ``incident.json``); callers
    read them through :meth:`get` and :meth:`records` and change them only
    through the methods here, which write them back at once.
    """

    def __init__(self, root: Path, max_bytes: int, *, context_frames: int = 3) -> None:
        self.root = Path(root)
        self.max_bytes = int(max_bytes)
        self.context_frames = context_frames
        self._records: dict[str, dict[str, Any]] = {}
        #: Ids of records found open on load, oldest first (see settle_left_open).
        self.left_open: list[str] = []
        #: Why the last write failed (disk full, folder unwritable), or None once writes work.
        self.problem: str | None = None
        self._boot = boot_id()

    def status(self) -> dict[str, str]:
        """``{"state": "ok"|"error", "message": ...}`` for the worker's status."""
        return {"state": "error", "message": self.problem} if self.problem else {"state": "ok", "message": ""}

    def _failed(self, what: str, exc: OSError) -> None:
        """A write failed: the record lives on in memory; say so once per new reason."""
        problem = f"{what}: {exc.strerror or exc} ({self.root})"
        if problem != self.problem:
            logger.error("incident folder: %s; incidents are kept in memory only until this is fixed",
                         problem)
        self.problem = problem

    # -- loading ---------------------------------------------------------
    def load(self) -> int:
        """Read every record under the root (creating it); returns how many loaded.

        A folder with a missing or unreadable ``incident.json`` is skipped and logged; a root
        that cannot be made or read is logged and left empty (the worker runs on without it).
        """
        self._records.clear()
        self.left_open = []
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except OSError as exc:
            self._failed("cannot use the incident folder", exc)
            return 0
        for folder in folders:
            path = folder / _RECORD
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                logger.warning("skipping incident folder %s: %s", folder.name, exc)
                continue
            if not isinstance(record, dict) or record.get("id") != folder.name:
                logger.warning("skipping incident folder %s: not an incident record", folder.name)
                continue
            self._records[record["id"]] = record
            if record.get("state") == "open":
                self.left_open.append(record["id"])
        self.left_open.sort(key=lambda rid: _order(self._records[rid]))
        return len(self._records)

    def settle_left_open(self, keep: str | None, now: float) -> None:
        """Close every record left open by the previous worker except ``keep`` (which the
        worker took over: the printer is still paused by it), noting why in its trail."""
        for incident_id in self.left_open:
            if incident_id == keep:
                self.add_event(incident_id, {"time": now, "event": "taken_over",
                                             "reason": "worker restarted; the print is still paused"})
            else:
                self.add_event(incident_id, {"time": now, "event": "closed", "reason": "worker restarted"},
                               state="closed", closed_at=now)
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
        opened = record.get("opened_monotonic")
        if not self._boot or record.get("boot") != self._boot or not isinstance(opened, (int, float)):
            return None
        return max(0.0, time.monotonic() - float(opened))

    def summary(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The part of a record that goes into protocol messages."""
        keys = ("id", "kind", "state", "opened_at", "closed_at", "severity", "band", "action",
                "action_state", "label", "print")
        return {k: record.get(k) for k in keys}

    # -- writing ---------------------------------------------------------
    def open(self, *, now: float, event: Mapping[str, Any], onset: SavedFrame,
             before: Sequence[SavedFrame], annotated_jpeg: bytes,
             print_info: Mapping[str, Any], classes: Sequence[str] = (),
             kind: str = "incident") -> dict[str, Any]:
        """Create a record for an incident that has just opened (or a labelled frame).

        The record exists once this returns even when nothing could be written (disk full,
        folder gone): the printer's safety must not hang on the disk. :attr:`problem` then
        says why, and the error is logged.
        """
        incident_id = _new_id(now)
        while incident_id in self._records:
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
        try:
            folder = self.root / incident_id
            folder.mkdir(parents=True)
            for name, data in pictures.items():
                (folder / name).write_bytes(data)
        except OSError as exc:
            self._failed(f"cannot save incident {incident_id}", exc)
            return record
        self._save(record)
        self.enforce_cap(keep=incident_id)
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
        try:
            (self.root / incident_id / name).write_bytes(frame.jpeg)
        except OSError as exc:
            self._failed(f"cannot save incident {incident_id}", exc)
            return False
        record["frames"].append(name)
        record["detections"].append(frame.detection(name))
        self._save(record)
        return True

    def add_event(self, incident_id: str, event: Mapping[str, Any], **changes: Any) -> dict[str, Any] | None:
        """Append ``event`` to the verdict trail and apply ``changes`` to the record."""
        record = self._records.get(incident_id)
        if record is None:
            return None
        record["trail"].append(dict(event))
        record.update(changes)
        self._save(record)
        return record

    def set_label(self, incident_id: str, label: str, now: float) -> dict[str, Any] | None:
        return self.add_event(incident_id, {"time": now, "event": "feedback", "label": label},
                              label=label, labelled_at=now)

    def enforce_cap(self, keep: str | None = None) -> list[str]:
        """Drop the oldest records until the folder fits under the cap; returns the ids dropped."""
        sizes = {rid: _folder_size(self.root / rid) for rid in self._records}
        total = sum(sizes.values())
        dropped = []
        for record in self.records():
            if total <= self.max_bytes:
                break
            rid = record["id"]
            if rid == keep or record.get("state") == "open":
                continue
            shutil.rmtree(self.root / rid, ignore_errors=True)
            total -= sizes[rid]
            del self._records[rid]
            dropped.append(rid)
        if dropped:
            logger.info("incident folder over its cap: dropped %d oldest record(s)", len(dropped))
        return dropped

    def _save(self, record: Mapping[str, Any]) -> None:
        folder = self.root / record["id"]
        try:
            # An incident opened while the disk was full has no folder yet: made here, so its
            # record is kept (and the error clears) once there is room again.
            folder.mkdir(parents=True, exist_ok=True)
            _write_atomic(folder / _RECORD, json.dumps(record, indent=1).encode("utf-8"))
        except OSError as exc:
            self._failed(f"cannot save incident {record['id']}", exc)
            return
        if self.problem is not None:
            logger.info("incident folder writable again (%s)", self.root)
            self.problem = None


def _folder_size(folder: Path) -> int:
    total = 0
    try:
        for entry in os.scandir(folder):
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    except OSError:
        return 0
    return total


@dataclass(frozen=True)
class ExportSummary:
    images: int
    real_failures: int
    false_alarms: int
    classes: tuple[str, ...]


def _yolo_lines(detection: Mapping[str, Any], classes: Sequence[str]) -> list[str]:
    width = float(detection.get("width") or 0)
    height = float(detection.get("height") or 0)
    if width <= 0 or height <= 0:
        return []
    lines = []
    for box in detection.get("boxes", []):
        label = box.get("label")
        if label not in classes:
            continue
        x1, y1 = max(0.0, float(box["x1"])), max(0.0, float(box["y1"]))
        x2, y2 = min(width, float(box["x2"])), min(height, float(box["y2"]))
        if x2 <= x1 or y2 <= y1:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        w, h = (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{classes.index(label)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def _class_names(records: Iterable[Mapping[str, Any]]) -> list[str]:
    names: list[str] = []
    for record in records:
        for name in record.get("classes") or []:
            if name not in names:
                names.append(name)
    for record in records:
        for detection in record.get("detections", []):
            for box in detection.get("boxes", []):
                if box.get("label") not in names:
                    names.append(box.get("label"))
    return [n for n in names if isinstance(n, str)]


_EXPORTED = ("images", "labels", "classes.txt", "data.yaml")  # what export_feedback writes


def export_feedback(incident_dir: Path, out_dir: Path, force: bool = False) -> ExportSummary:
    """Write every labelled record under ``incident_dir`` as a YOLO dataset in ``out_dir``.

    ``out_dir/images/ID.jpg`` is the raw onset frame; ``out_dir/labels/ID.txt``
    holds one ``class cx cy w h`` line (normalised) per detected box for a
    ``real_failure``, and is empty for a ``false_alarm`` (a background image).
    ``classes.txt`` and ``data.yaml`` name the classes in index order.

    Raises ``FileNotFoundError`` when ``incident_dir`` holds no incident record, and
    ``FileExistsError`` when ``out_dir`` is not empty, unless ``force``: then what an
    earlier export wrote there is removed first (other files are left alone).
    """
    store = IncidentStore(Path(incident_dir), max_bytes=1 << 62)
    if not Path(incident_dir).is_dir():
        raise FileNotFoundError(f"no incident folder at {incident_dir}")
    store.load()
    if not store.records():
        raise FileNotFoundError(f"no incident records in {incident_dir}")
    labelled = [r for r in store.records() if r.get("label") in ("real_failure", "false_alarm")]
    classes = _class_names(labelled)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} is not empty")
        for name in _EXPORTED:
            earlier = out / name
            if earlier.is_dir() and not earlier.is_symlink():
                shutil.rmtree(earlier)
            elif earlier.exists() or earlier.is_symlink():
                earlier.unlink()
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    real = false = 0
    for record in labelled:
        source = Path(incident_dir) / record["id"] / "onset.jpg"
        if not source.is_file():
            logger.warning("incident %s has no onset frame; skipped", record["id"])
            continue
        shutil.copyfile(source, out / "images" / f"{record['id']}.jpg")
        lines: list[str] = []
        if record["label"] == "real_failure":
            onset = next((d for d in record.get("detections", []) if d.get("frame") == "onset.jpg"), {})
            lines = _yolo_lines(onset, classes)
            real += 1
        else:
            false += 1
        (out / "labels" / f"{record['id']}.txt").write_text(
            "".join(line + "\n" for line in lines), encoding="utf-8")
    (out / "classes.txt").write_text("".join(c + "\n" for c in classes), encoding="utf-8")
    names = "\n".join(f"  {i}: {json.dumps(c)}" for i, c in enumerate(classes))
    (out / "data.yaml").write_text(
        f"path: {json.dumps(str(out.resolve()))}\ntrain: images\nval: images\nnames:\n{names}\n",
        encoding="utf-8")
    return ExportSummary(real + false, real, false, tuple(classes))
