"""Per-frame assessment: which boxes count, how much of the image they cover, how bad it is.

:func:`assess_frame` is a pure function shared by the live engine and the
offline evaluator. The union of the kept boxes is measured exactly (coordinate
compression along x, merged intervals along y); the part of it hidden by masks
is measured on the masks' 200 x 200 grid (:mod:`.masks`), so with masks the
result is exact for the rasterised mask and within about one grid cell of
each polygon's edge otherwise. Cost: O(n^2) in the number of kept boxes, with
no per-pixel work; hundreds of boxes take milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .masks import MaskGrid, Polygon, mask_grid
from .settings import DetectionSettings, ResolvedDetection
from .types import Box

__all__ = ["Band", "FrameAssessment", "assess_frame", "band_for", "failure_coverage",
           "WARNING_ABOVE", "FAILURE_ABOVE"]

Band = Literal["ok", "warning", "failure"]

#: Severity above which a frame is a warning, and above which it is a failure.
WARNING_ABOVE = 0.33
FAILURE_ABOVE = 0.66


@dataclass(frozen=True)
class FrameAssessment:
    """What one analysed frame shows.

    ``failure_area``: the fraction (0..1) of the analysed (unmasked) image
    covered by the union of kept boxes. ``severity``: ``min(failure_area /
    image_sensitivity, 1)``. ``boxes``: the kept boxes (score at or above the
    score threshold), in input order.
    """

    failure_area: float
    severity: float
    band: Band
    boxes: tuple[Box, ...]

    @property
    def is_failure(self) -> bool:
        return self.band == "failure"

    def to_dict(self) -> dict[str, Any]:
        return {
            "failure_area": round(self.failure_area, 6),
            "severity": round(self.severity, 4),
            "band": self.band,
            "boxes": [box.to_dict() for box in self.boxes],
        }


def band_for(severity: float) -> Band:
    """``ok`` up to 0.33, ``warning`` above it, ``failure`` above 0.66."""
    if severity > FAILURE_ABOVE:
        return "failure"
    if severity > WARNING_ABOVE:
        return "warning"
    return "ok"


def assess_frame(boxes: Sequence[Box], width: int, height: int,
                 settings: DetectionSettings | ResolvedDetection) -> FrameAssessment:
    """Assess one frame of ``width`` x ``height`` pixels from its detector boxes.

    Every label is a failure class. Boxes are clipped to the frame; boxes with
    non-finite coordinates are kept in ``boxes`` if their score qualifies but
    add no area. Raises ``ValueError`` for a non-positive frame size.
    """
    resolved = settings.resolved() if isinstance(settings, DetectionSettings) else settings
    kept = tuple(box for box in boxes if box.score >= resolved.score_threshold)
    covered, analysed = failure_coverage(kept, width, height, resolved.masks)
    failure_area = covered / analysed if analysed > 0.0 else 0.0
    failure_area = min(max(failure_area, 0.0), 1.0)
    severity = min(failure_area / resolved.image_sensitivity, 1.0)
    return FrameAssessment(failure_area=failure_area, severity=severity,
                           band=band_for(severity), boxes=kept)


def failure_coverage(boxes: Sequence[Box], width: int, height: int,
                     masks: tuple[Polygon, ...] = ()) -> tuple[float, float]:
    """``(covered, analysed)`` in square pixels.

    ``covered``: the area of the union of ``boxes`` outside the masks;
    ``analysed``: the frame area outside the masks. Scores are not looked at.
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    frame_area = float(width) * float(height)
    grid = mask_grid(masks) if masks else None
    analysed = frame_area if grid is None else frame_area * (1.0 - grid.masked_cells / grid.size ** 2)
    rects = _clipped(boxes, float(width), float(height))
    if not rects:
        return 0.0, max(analysed, 0.0)
    return _union_outside(rects, float(width), float(height), grid), max(analysed, 0.0)


def _clipped(boxes: Sequence[Box], width: float, height: float) -> list[tuple[float, float, float, float]]:
    rects = []
    for box in boxes:
        coords = (box.x1, box.y1, box.x2, box.y2)
        if not all(math.isfinite(c) for c in coords):
            continue
        x1, x2 = min(max(box.x1, 0.0), width), min(max(box.x2, 0.0), width)
        y1, y2 = min(max(box.y1, 0.0), height), min(max(box.y2, 0.0), height)
        if x2 > x1 and y2 > y1:
            rects.append((x1, y1, x2, y2))
    return rects


def _union_outside(rects: list[tuple[float, float, float, float]], width: float, height: float,
                   grid: MaskGrid | None) -> float:
    """Area of the union of ``rects`` minus its masked part: a sweep over x slabs."""
    xs = sorted({x for r in rects for x in (r[0], r[2])})
    total = 0.0
    for left, right in zip(xs, xs[1:]):
        spans = sorted((r[1], r[3]) for r in rects if r[0] <= left and r[2] >= right)
        if not spans:
            continue
        slab = right - left
        start, end = spans[0]
        for y1, y2 in spans[1:]:
            if y1 > end:
                total += _outside(left, start, right, end, slab, width, height, grid)
                start, end = y1, y2
            elif y2 > end:
                end = y2
        total += _outside(left, start, right, end, slab, width, height, grid)
    return total


def _outside(x1: float, y1: float, x2: float, y2: float, slab: float,
             width: float, height: float, grid: MaskGrid | None) -> float:
    area = slab * (y2 - y1)
    if grid is None:
        return area
    hidden = grid.masked_area(x1 / width, y1 / height, x2 / width, y2 / height) * width * height
    return max(area - hidden, 0.0)
