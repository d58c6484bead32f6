"""``export-feedback``: the records labelled through ``feedback`` as a YOLO dataset.

Damaged records are expected here: an SD card that filled up or lost power leaves
empty or cut-short pictures, and a hand-edited record may miss a field. Each such
record is left out with a warning; the rest of the dataset is written.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..detect.errors import FrameError
from ..detect.jpeg import decode_jpeg
from .incident_disk import LABELS, number
from .incidents import IncidentStore

__all__ = ["ExportSummary", "export_feedback"]

logger = logging.getLogger(__name__.rsplit(".", 1)[0] + ".incidents")


@dataclass(frozen=True)
class ExportSummary:
    images: int
    real_failures: int
    false_alarms: int
    classes: tuple[str, ...]
    skipped: int = 0  # labelled records left out: a damaged picture or record (each logged)


class _DamagedRecord(ValueError):
    """A labelled record that cannot be exported as it is."""


def _yolo_lines(detection: Mapping[str, Any], classes: Sequence[str]) -> list[str]:
    """One ``class cx cy w h`` line per box; :class:`_DamagedRecord` for a box without usable
    coordinates: leaving that box out would teach the model that a failure is background."""
    width = number(detection.get("width")) or 0
    height = number(detection.get("height")) or 0
    if width <= 0 or height <= 0:
        return []
    lines = []
    for box in detection.get("boxes", []):
        label = box.get("label")
        if label not in classes:
            continue
        corners = [number(box.get(key)) for key in ("x1", "y1", "x2", "y2")]
        if any(c is None for c in corners):
            raise _DamagedRecord(f"a {label!r} box without numeric x1, y1, x2 and y2")
        x1, y1 = max(0.0, float(corners[0])), max(0.0, float(corners[1]))  # type: ignore[arg-type]
        x2, y2 = min(width, float(corners[2])), min(height, float(corners[3]))  # type: ignore[arg-type]
        if x2 <= x1 or y2 <= y1:
            continue
        cx, cy = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        w, h = (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{classes.index(label)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def _whole_jpeg(path: Path) -> bytes:
    """The JPEG at ``path``; :class:`_DamagedRecord` when it is missing, empty, cut short (a
    full disk, a power cut) or does not decode: a broken image would break the training run."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _DamagedRecord(f"no readable onset frame ({exc.strerror or exc})") from None
    try:
        decode_jpeg(data)  # also refuses a JPEG cut short, which a decoder shows half grey
    except FrameError as exc:
        raise _DamagedRecord(f"its onset frame is not a whole JPEG ({exc})") from None
    return data


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


def export_feedback(incident_dir: str | Path, out_dir: str | Path, force: bool = False) -> ExportSummary:
    """Write every labelled record under ``incident_dir`` as a YOLO dataset in ``out_dir``.

    ``out_dir/images/ID.jpg`` is the raw onset frame; ``out_dir/labels/ID.txt``
    holds one ``class cx cy w h`` line (normalised) per detected box for a
    ``real_failure``, and is empty for a ``false_alarm`` (a background image).
    ``classes.txt`` and ``data.yaml`` name the classes in index order. A record whose
    onset frame is missing, empty or cut short, or whose boxes are damaged, is left out
    with a warning (``skipped``); the rest are exported.

    ``incident_dir`` may also be the worker's data folder, which holds ``incidents/``.
    Raises ``FileNotFoundError`` when it holds no incident record, and
    ``FileExistsError`` when ``out_dir`` is not empty, unless ``force``: then what an
    earlier export wrote there is removed first (other files are left alone).
    """
    if (Path(incident_dir) / "incidents").is_dir():
        incident_dir = Path(incident_dir) / "incidents"
    store = IncidentStore(Path(incident_dir), max_bytes=1 << 62)
    if not Path(incident_dir).is_dir():
        raise FileNotFoundError(f"no incident folder at {incident_dir}")
    store.load()
    if not store.records():
        raise FileNotFoundError(f"no incident records in {incident_dir}")
    labelled = [r for r in store.records() if r.get("label") in LABELS]
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
    real = false = skipped = 0
    for record in labelled:
        try:
            lines = _export_one(record, Path(incident_dir), out, classes)
        except _DamagedRecord as exc:
            logger.warning("incident %s skipped: %s", record["id"], exc)
            skipped += 1
            continue
        if lines is None:
            false += 1
        else:
            real += 1
    (out / "classes.txt").write_text("".join(c + "\n" for c in classes), encoding="utf-8")
    names = "\n".join(f"  {i}: {json.dumps(c)}" for i, c in enumerate(classes))
    (out / "data.yaml").write_text(
        f"path: {json.dumps(str(out.resolve()))}\ntrain: images\nval: images\nnames:\n{names}\n",
        encoding="utf-8")
    if skipped:
        logger.warning("%d damaged labelled record(s) left out of the export", skipped)
    return ExportSummary(real + false, real, false, tuple(classes), skipped)


def _export_one(record: Mapping[str, Any], incident_dir: Path, out: Path,
                classes: Sequence[str]) -> list[str] | None:
    """Export one labelled record: its label lines (None for a false alarm). Everything is
    checked before anything is written, so a damaged record leaves no image without a label."""
    lines: list[str] | None = None
    if record["label"] == "real_failure":
        onset = next((d for d in record.get("detections", []) if d.get("frame") == "onset.jpg"), {})
        lines = _yolo_lines(onset, classes)
    picture = _whole_jpeg(incident_dir / record["id"] / "onset.jpg")
    (out / "images" / f"{record['id']}.jpg").write_bytes(picture)
    (out / "labels" / f"{record['id']}.txt").write_text("".join(line + "\n" for line in lines or ()),
                                                        encoding="utf-8")
    return lines
