"""Mask polygons: parsing, point-in-polygon, and masked area on a fine grid.

A mask is a polygon in normalised frame coordinates (``0..1`` on both axes,
``(0, 0)`` the top-left corner) whose inside is never analysed. Masks are
independent of the frame size, so the grid that rasterises them is computed
once per set of polygons (:func:`mask_grid`, memoised) and reused for every
frame and every resolution.

Pure Python: no numpy, no I/O. Blanking the masked pixels is the detector's
job; this module only answers "how much of this rectangle is masked?".
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = [
    "Point", "Polygon", "GRID_SIZE", "MaskGrid",
    "parse_masks", "point_in_polygon", "mask_grid", "masked_fraction",
]

Point = tuple[float, float]
Polygon = tuple[Point, ...]

#: Cells per side of the grid that rasterises masks: 1/200 of the width and of
#: the height. A cell is masked when its centre lies inside a polygon.
GRID_SIZE = 200

MASKS_ACCEPTED = ("polygons of 3 or more x,y points in 0..1, as text "
                  "'0,0 0.2,0 0.2,0.3; 0.8,0.8 1,0.8 1,1' (points apart by spaces, polygons "
                  "by ';' or new lines) or as a list (or JSON list) of [[x, y], ...] polygons")


def parse_masks(value: Any) -> tuple[Polygon, ...]:
    """Normalise a mask setting to a tuple of polygons of ``(x, y)`` floats.

    Accepts ``None``/``""``/``[]`` (no masks), a sequence of polygons (each a
    sequence of ``[x, y]`` pairs), JSON text of that, or the compact text form
    ``"x,y x,y x,y; x,y ..."`` (Moonraker config; new lines also separate
    polygons). Raises ``ValueError`` whose message says what is accepted and
    what was wrong (which polygon, which point).
    """
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if not text or text.lower() in ("none", "null"):
            return ()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{MASKS_ACCEPTED} (the JSON text is invalid: {exc.msg})") from None
        else:
            value = _parse_text(text)
    if isinstance(value, (bytes, bytearray, dict)) or not isinstance(value, Sequence):
        raise ValueError(MASKS_ACCEPTED)
    return tuple(_polygon(poly, index) for index, poly in enumerate(value, start=1))


def _parse_text(text: str) -> list[list[list[str]]]:
    polygons = []
    for index, chunk in enumerate(text.replace("\n", ";").split(";"), start=1):
        chunk = chunk.strip()
        if not chunk:
            continue
        points = []
        for token in chunk.split():
            parts = token.split(",")
            if len(parts) != 2:
                raise ValueError(f"{MASKS_ACCEPTED} (polygon {index}: {token!r} is not an x,y point)")
            points.append(parts)
        polygons.append(points)
    return polygons


def _polygon(poly: Any, index: int) -> Polygon:
    if isinstance(poly, (str, bytes, dict)) or not isinstance(poly, Sequence):
        raise ValueError(f"{MASKS_ACCEPTED} (polygon {index} is not a list of points)")
    points: list[Point] = []
    for point in poly:
        if isinstance(point, (str, bytes, dict)) or not isinstance(point, Sequence) or len(point) != 2:
            raise ValueError(f"{MASKS_ACCEPTED} (polygon {index}: {point!r} is not an x,y point)")
        xy = []
        for coord in point:
            if isinstance(coord, bool):
                raise ValueError(f"{MASKS_ACCEPTED} (polygon {index}: {point!r} is not an x,y point)")
            try:
                number = float(coord)
            except (TypeError, ValueError):
                raise ValueError(f"{MASKS_ACCEPTED} (polygon {index}: {point!r} is not an x,y point)") from None
            if not (math.isfinite(number) and 0.0 <= number <= 1.0):
                raise ValueError(f"{MASKS_ACCEPTED} (polygon {index}: {point!r} lies outside 0..1)")
            xy.append(number)
        points.append((xy[0], xy[1]))
    if len(points) < 3:
        raise ValueError(f"{MASKS_ACCEPTED} (polygon {index} has {len(points)} points)")
    if _area(points) <= 0.0:
        raise ValueError(f"{MASKS_ACCEPTED} (polygon {index} encloses no area)")
    return tuple(points)


def _area(points: Sequence[Point]) -> float:
    """Absolute area by the shoelace formula."""
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, list(points[1:]) + [points[0]]):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2.0


def point_in_polygon(x: float, y: float, polygon: Sequence[Point]) -> bool:
    """Even-odd rule (ray casting). Points exactly on an edge may go either way."""
    inside = False
    count = len(polygon)
    j = count - 1
    for i in range(count):
        xi, yi = polygon[i]
        xj, yj = polygon[j]
        if (yi > y) != (yj > y):
            cross_x = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < cross_x:
                inside = not inside
        j = i
    return inside


@dataclass(frozen=True, eq=False)
class MaskGrid:
    """Masks rasterised on a ``GRID_SIZE`` square grid, as a summed-area table.

    ``table[i][j]`` counts masked cells in rows ``< i`` and columns ``< j``.
    Because the mask is constant within a cell, the masked area below and to
    the left of any point is the bilinear interpolation of the table, which
    makes :meth:`masked_area` exact for the rasterised mask and O(1).
    """

    table: tuple[tuple[int, ...], ...]
    size: int

    @property
    def masked_cells(self) -> int:
        return self.table[self.size][self.size]

    def _cumulative(self, u: float, v: float) -> float:
        """Masked area (in cells) of ``[0, u] x [0, v]``, grid units."""
        size = self.size
        u = min(max(u, 0.0), float(size))
        v = min(max(v, 0.0), float(size))
        j = min(int(u), size - 1)
        i = min(int(v), size - 1)
        fu = u - j
        fv = v - i
        row0 = self.table[i]
        row1 = self.table[i + 1]
        top = row0[j] + fu * (row0[j + 1] - row0[j])
        bottom = row1[j] + fu * (row1[j + 1] - row1[j])
        return top + fv * (bottom - top)

    def masked_area(self, x1: float, y1: float, x2: float, y2: float) -> float:
        """Masked fraction of the frame inside the normalised rectangle, in ``0..1`` frame units.

        Multiply by the frame area to get pixels.
        """
        size = self.size
        u1, u2, v1, v2 = x1 * size, x2 * size, y1 * size, y2 * size
        cells = (self._cumulative(u2, v2) - self._cumulative(u1, v2)
                 - self._cumulative(u2, v1) + self._cumulative(u1, v1))
        rect = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        return min(max(cells / (size * size), 0.0), rect)


@lru_cache(maxsize=16)
def mask_grid(masks: tuple[Polygon, ...], size: int = GRID_SIZE) -> MaskGrid | None:
    """The rasterised masks (``None`` when there are none).

    Memoised: masks come from settings and change rarely, and rasterising
    40,000 cells in pure Python is the only slow step of the area computation.
    """
    if not masks:
        return None
    rows: list[list[bool]] = [[False] * size for _ in range(size)]
    for polygon in masks:
        edges = list(zip(polygon, list(polygon[1:]) + [polygon[0]]))
        for i in range(size):
            y = (i + 0.5) / size
            # Scanline: the crossings of this row's centre line with the edges,
            # filled pairwise (even-odd rule, as point_in_polygon).
            crossings = sorted(
                x1 + (y - y1) * (x2 - x1) / (y2 - y1)
                for (x1, y1), (x2, y2) in edges if (y1 > y) != (y2 > y)
            )
            row = rows[i]
            for start, end in zip(crossings[0::2], crossings[1::2]):
                # Cells whose centre (j + 0.5) / size lies in [start, end).
                first = max(0, math.ceil(start * size - 0.5))
                last = min(size - 1, math.ceil(end * size - 0.5) - 1)
                for j in range(first, last + 1):
                    row[j] = True
    table = [[0] * (size + 1) for _ in range(size + 1)]
    for i in range(size):
        running = 0
        above = table[i]
        below = table[i + 1]
        row = rows[i]
        for j in range(size):
            running += row[j]
            below[j + 1] = above[j + 1] + running
    return MaskGrid(table=tuple(tuple(r) for r in table), size=size)


def masked_fraction(masks: tuple[Polygon, ...]) -> float:
    """The fraction of the frame that the masks hide (``0..1``, on the grid)."""
    grid = mask_grid(masks)
    if grid is None:
        return 0.0
    return grid.masked_cells / (grid.size * grid.size)
