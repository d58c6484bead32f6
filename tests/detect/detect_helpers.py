"""Helpers for the detect tests: the committed fixture models, frames with coloured patches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

MODELS = Path(__file__).resolve().parent.parent / "fixtures" / "models"
ALL_MODELS = ("grid_int8", "yolov5_float", "yolov8_int8")

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)  # BGR


def model_path(name: str) -> str:
    return str(MODELS / f"{name}.tflite")


def frame_with(width: int, height: int, *patches: tuple[tuple[int, int, int, int], tuple]) -> np.ndarray:
    """A grey frame with solid patches ``((x1, y1, x2, y2), bgr)``."""
    frame = np.full((height, width, 3), 90, np.uint8)
    for (x1, y1, x2, y2), colour in patches:
        frame[y1:y2, x1:x2] = colour
    return frame


def iou(box, rect: tuple[int, int, int, int]) -> float:
    x1, y1, x2, y2 = rect
    w = max(0.0, min(box.x2, x2) - max(box.x1, x1))
    h = max(0.0, min(box.y2, y2) - max(box.y1, y1))
    inter = w * h
    return inter / (box.area + (x2 - x1) * (y2 - y1) - inter)
