"""Per-class non-maximum suppression, vectorised in numpy."""

from __future__ import annotations

import numpy as np

__all__ = ["nms"]


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float = 0.5,
        max_candidates: int = 300) -> np.ndarray:
    """Indices of the boxes kept, best score first.

    ``boxes`` is ``[N, 4]`` x1 y1 x2 y2. A box is dropped when a better-scoring
    box of the same class overlaps it with IoU above ``iou``. Only the
    ``max_candidates`` best boxes are considered, which bounds the cost.
    """
    if len(boxes) == 0:
        return np.zeros(0, np.int64)
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    # Shifting each class to its own region makes one pass suppress per class.
    span = float(np.max(boxes[order])) + 1.0
    shifted = boxes[order].astype(np.float64) + (classes[order].astype(np.float64) * span)[:, None]
    x1, y1, x2, y2 = shifted.T
    areas = np.maximum(0.0, x2 - x1) * np.maximum(0.0, y2 - y1)
    keep: list[int] = []
    alive = np.arange(len(order))
    while alive.size:
        i = alive[0]
        keep.append(int(order[i]))
        rest = alive[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        union = areas[i] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        alive = rest[overlap <= iou]
    return np.asarray(keep, np.int64)
