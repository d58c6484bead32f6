"""Detector metrics on a labelled YOLO dataset (pure numpy; ``pinozcam eval`` wraps it).

The caller runs a detector over :func:`load_yolo_dataset`'s images and hands the predicted
boxes (frame pixels, :class:`~pinozcam_klipper.engine.types.Box`) to :func:`evaluate`, which
returns:

* image level: recall on images that hold a failure and the false-alarm rate on images that
  do not, where an image "alarms" when its boxes reach the failure band under the given
  thresholds (the engine's per-frame decision, :func:`reaches_failure_band`);
* AUROC of the per-image score (the best failure-class box score, 0 without boxes);
* box AP at IoU 0.5 per class (all-point interpolated, VOC style) with its PR curve.

:func:`draw_pr_curve` plots PR points to a PNG with OpenCV.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from pinozcam_klipper.camera.files import IMAGE_SUFFIXES
from pinozcam_klipper.engine.assess import FAILURE_ABOVE, failure_coverage
from pinozcam_klipper.engine.types import Box

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class LabeledImage:
    """One dataset image and its ground-truth boxes in frame pixels."""

    name: str
    path: Path
    width: int
    height: int
    boxes: tuple[Box, ...]

    @property
    def has_failure(self) -> bool:
        return bool(self.boxes)


@dataclass(frozen=True)
class Thresholds:
    """The two engine settings the per-image decision depends on."""

    score_threshold: float
    image_sensitivity: float

    @classmethod
    def shipped(cls) -> "Thresholds":
        """The values of the engine's default preset (the defaults live only there)."""
        from pinozcam_klipper.engine.settings import DetectionSettings

        resolved = DetectionSettings().resolved()
        return cls(resolved.score_threshold, resolved.image_sensitivity)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0:
            raise ValueError(f"score_threshold must lie in [0, 1], got {self.score_threshold}")
        if not 0.0 < self.image_sensitivity <= 1.0:
            raise ValueError(f"image_sensitivity must lie in (0, 1], got {self.image_sensitivity}")


def _image_size(path: Path) -> tuple[int, int]:
    """Width and height of the frame the detector sees: the same colour decode, so an EXIF
    orientation turns the size as it turns the frame."""
    import cv2  # decoding is the only non-numpy step; keep it local to loading

    try:
        img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        img = None
    if img is None:
        raise ValueError(f"cannot read image {path}")
    return int(img.shape[1]), int(img.shape[0])


def load_yolo_dataset(root: Path | str, classes: Sequence[str]) -> list[LabeledImage]:
    """Reads ``root/images/*`` with ``root/labels/<stem>.txt`` (``class cx cy w h``, normalised).

    A missing label file means no boxes; a missing ``labels/`` folder is an error (it would
    make every image a normal one). Raises ValueError naming the file and line on a
    malformed label or an unknown class id.
    """
    root = Path(root)
    img_dir, lab_dir = root / "images", root / "labels"
    if not img_dir.is_dir():
        raise ValueError(f"no images/ folder in {root}")
    if not lab_dir.is_dir():
        raise ValueError(f"no labels/ folder in {root}")
    out: list[LabeledImage] = []
    for path in sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        w, h = _image_size(path)
        boxes: list[Box] = []
        label_file = lab_dir / (path.stem + ".txt")
        if label_file.exists():
            for n, line in enumerate(label_file.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                parts = line.split()
                try:
                    cls, cx, cy, bw, bh = int(parts[0]), *(float(v) for v in parts[1:5])
                except (ValueError, IndexError) as exc:
                    raise ValueError(f"{label_file}:{n}: bad YOLO line {line!r}") from exc
                if not 0 <= cls < len(classes):
                    raise ValueError(f"{label_file}:{n}: class id {cls} outside 0..{len(classes) - 1}")
                boxes.append(Box(max(0.0, (cx - bw / 2) * w), max(0.0, (cy - bh / 2) * h),
                                 min(float(w), (cx + bw / 2) * w), min(float(h), (cy + bh / 2) * h),
                                 1.0, classes[cls]))
        out.append(LabeledImage(path.stem, path, w, h, tuple(boxes)))
    return out


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------

def iou(a: Box, b: Box) -> float:
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a.area + b.area - inter)


def union_area(boxes: Sequence[Box], width: float, height: float) -> float:
    """Area covered by the union of the boxes clipped to the frame (the engine's own measure)."""
    return failure_coverage(boxes, width, height)[0]


# ---------------------------------------------------------------------------------------------
# Image level
# ---------------------------------------------------------------------------------------------

def failure_severity(boxes: Sequence[Box], width: int, height: int, thresholds: Thresholds) -> float:
    """The engine's per-frame severity (``engine.assess_frame`` without masks): union area of the
    boxes scoring at least ``score_threshold``, as a fraction of the frame, over
    ``image_sensitivity``, capped at 1."""
    kept = [b for b in boxes if b.score >= thresholds.score_threshold]
    covered, analysed = failure_coverage(kept, width, height)
    area = min(max(covered / analysed, 0.0), 1.0) if analysed > 0 else 0.0
    return min(area / thresholds.image_sensitivity, 1.0)


def reaches_failure_band(boxes: Sequence[Box], width: int, height: int, thresholds: Thresholds) -> bool:
    """True when the frame's severity lies in the engine's failure band."""
    return failure_severity(boxes, width, height, thresholds) > FAILURE_ABOVE


def image_score(boxes: Sequence[Box], labels: Sequence[str] | None = None) -> float:
    """Best score among the boxes of the failure classes (all if ``labels`` is None); 0 if none."""
    scores = [b.score for b in boxes if labels is None or b.label in labels]
    return max(scores, default=0.0)


def auroc(scores: Sequence[float], positives: Sequence[bool]) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half). NaN without both kinds."""
    s = np.asarray(scores, float)
    p = np.asarray(positives, bool)
    n_pos, n_neg = int(p.sum()), int((~p).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), float)
    sorted_s = s[order]
    # Average ranks over ties.
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[p].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class ImageLevel:
    recall: float
    false_alarm_rate: float
    n_failure: int
    n_normal: int
    detected: int
    false_alarms: int


def image_level(alarms: Sequence[bool], has_failure: Sequence[bool]) -> ImageLevel:
    """Recall over failure images and false-alarm rate over normal images (NaN when empty)."""
    a = np.asarray(alarms, bool)
    f = np.asarray(has_failure, bool)
    if a.shape != f.shape:
        raise ValueError(f"{len(a)} decisions for {len(f)} images")
    n_f, n_n = int(f.sum()), int((~f).sum())
    det, fa = int((a & f).sum()), int((a & ~f).sum())
    return ImageLevel(det / n_f if n_f else math.nan, fa / n_n if n_n else math.nan, n_f, n_n, det, fa)


# ---------------------------------------------------------------------------------------------
# Box level
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PRPoint:
    recall: float
    precision: float
    score: float


@dataclass(frozen=True)
class ClassAP:
    label: str
    ap: float
    n_truth: int
    points: tuple[PRPoint, ...] = field(repr=False)


def average_precision(predictions: Sequence[Sequence[Box]], truths: Sequence[Sequence[Box]],
                      label: str, iou_threshold: float = 0.5) -> ClassAP:
    """VOC all-point AP for one class over a set of images.

    Predictions are matched greedily by descending score to the unmatched ground-truth box of
    the same image with the highest IoU >= ``iou_threshold``; a second match of the same truth is
    a false positive. NaN when the class has no ground truth.
    """
    if len(predictions) != len(truths):
        raise ValueError(f"{len(predictions)} prediction lists for {len(truths)} images")
    gts = [[g for g in t if g.label == label] for t in truths]
    n_truth = sum(len(g) for g in gts)
    dets = [(b.score, i, b) for i, ps in enumerate(predictions) for b in ps if b.label == label]
    dets.sort(key=lambda d: -d[0])
    used = [np.zeros(len(g), bool) for g in gts]
    tp = np.zeros(len(dets))
    for k, (_, i, b) in enumerate(dets):
        best, best_j = iou_threshold, -1
        for j, g in enumerate(gts[i]):
            if not used[i][j]:
                o = iou(b, g)
                if o >= best:
                    best, best_j = o, j
        if best_j >= 0:
            used[i][best_j] = True
            tp[k] = 1
    if n_truth == 0:
        return ClassAP(label, math.nan, 0, ())
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_truth
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    points = tuple(PRPoint(float(r), float(p), float(d[0])) for r, p, d in zip(recall, precision, dets))
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1])
    ap = float(((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]).sum())
    return ClassAP(label, ap, n_truth, points)


# ---------------------------------------------------------------------------------------------
# Everything at once
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Report:
    thresholds: Thresholds
    image: ImageLevel
    auroc: float
    ap50: dict[str, ClassAP]

    def to_dict(self) -> dict:
        """JSON-ready summary (PR points left out; NaN, for "not measurable", becomes None)."""
        return nan_to_none({
            "thresholds": asdict(self.thresholds),
            "image": asdict(self.image),
            "auroc": self.auroc,
            "ap50": {k: v.ap for k, v in self.ap50.items()},
        })


def nan_to_none(value):
    """``value`` with every NaN float (in nested dicts and lists) replaced by None, for JSON."""
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_none(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def evaluate(dataset: Sequence[LabeledImage], predictions: Sequence[Sequence[Box]],
             classes: Sequence[str], thresholds: Thresholds | None = None) -> Report:
    """All metrics for predictions made on ``dataset`` (same order, boxes in frame pixels),
    at ``thresholds`` (default: the engine's default preset)."""
    if len(dataset) != len(predictions):
        raise ValueError(f"{len(predictions)} prediction lists for {len(dataset)} images")
    thresholds = thresholds if thresholds is not None else Thresholds.shipped()
    alarms = [reaches_failure_band(p, d.width, d.height, thresholds) for d, p in zip(dataset, predictions)]
    has_failure = [d.has_failure for d in dataset]
    scores = [image_score(p, classes) for p in predictions]
    truths = [d.boxes for d in dataset]
    return Report(thresholds, image_level(alarms, has_failure), auroc(scores, has_failure),
                  {c: average_precision(predictions, truths, c) for c in classes})


def draw_pr_curve(points: Sequence[PRPoint], path: Path | str, title: str = "",
                  size: tuple[int, int] = (360, 300)) -> None:
    """Writes a small precision-recall plot (PNG) with OpenCV."""
    import cv2

    w, h = size
    m = 40
    img = np.full((h, w, 3), 255, np.uint8)
    x0, y0, x1, y1 = m, h - m, w - 15, 25
    for v in np.linspace(0, 1, 6):
        xv = int(x0 + v * (x1 - x0))
        yv = int(y0 - v * (y0 - y1))
        cv2.line(img, (xv, y0), (xv, y1), (225, 225, 225), 1)
        cv2.line(img, (x0, yv), (x1, yv), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.1f}", (xv - 10, y0 + 15), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (60, 60, 60), 1, cv2.LINE_AA)
        cv2.putText(img, f"{v:.1f}", (5, yv + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (60, 60, 60), 1, cv2.LINE_AA)
    cv2.rectangle(img, (x0, y1), (x1, y0), (0, 0, 0), 1)
    if points:
        pts = np.array([[x0 + p.recall * (x1 - x0), y0 - p.precision * (y0 - y1)] for p in points])
        cv2.polylines(img, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], False, (200, 80, 0), 2, cv2.LINE_AA)
    cv2.putText(img, "recall", ((x0 + x1) // 2 - 20, h - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "precision", (x0 + 4, y1 - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    if title:
        cv2.putText(img, title, (x0 + 80, y1 - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    try:
        written = cv2.imwrite(str(path), img)
    except cv2.error:  # no or unknown file extension
        written = False
    if not written:
        raise ValueError(f"cannot write PR plot to {path}")
