"""YOLO dataset reading, letterboxing and grid targets for ``pinozcam-grid-v1``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pinozcam_klipper.detect.preprocess import Letterbox
from pinozcam_klipper.detect.preprocess import letterbox as runtime_letterbox
from training.model import CLASSES, INPUT_H, INPUT_W, STRIDE

PAD = 114


def letterbox(bgr: np.ndarray, width: int = INPUT_W, height: int = INPUT_H) -> tuple[np.ndarray, Letterbox]:
    """The runtime's letterbox (so training sees the runtime's pixels), returned as RGB."""
    canvas, box = runtime_letterbox(bgr, width, height, (PAD, PAD, PAD))
    return canvas[:, :, ::-1].copy(), box


def to_input(boxes: np.ndarray, box: Letterbox) -> np.ndarray:
    """``[N, 4]`` frame pixels -> input pixels (inverse of ``Letterbox.to_frame``)."""
    sx = box.resized_width / box.frame_width
    sy = box.resized_height / box.frame_height
    out = np.asarray(boxes, np.float32).copy()
    out[:, 0::2] = out[:, 0::2] * sx + box.pad_x
    out[:, 1::2] = out[:, 1::2] * sy + box.pad_y
    return out


def read_labels(path: Path, w: int, h: int) -> np.ndarray:
    """YOLO label file -> ``[N, 5]`` rows of (class, x1, y1, x2, y2) in frame pixels."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) != 5:
                continue
            c, cx, cy, bw, bh = int(parts[0]), *map(float, parts[1:])
            rows.append((c, (cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h))
    return np.array(rows, np.float32).reshape(-1, 5)


def list_images(root: Path) -> list[Path]:
    return sorted(p for p in (root / "images").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def grid_targets(boxes: np.ndarray, classes: int = len(CLASSES), width: int = INPUT_W,
                 height: int = INPUT_H, stride: int = STRIDE) -> tuple[np.ndarray, np.ndarray]:
    """Targets for one image from boxes ``[N, 5]`` in input pixels.

    Returns ``heat [GH, GW, classes]`` (gaussian around each box centre, exactly 1 at the centre
    cell) and ``reg [GH, GW, 5]``: the ``l, t, r, b`` distances as fractions of the input size and a
    weight (>0 where the cell should regress that box).
    """
    gh, gw = height // stride, width // stride
    heat = np.zeros((gh, gw, classes), np.float32)
    reg = np.zeros((gh, gw, 5), np.float32)
    best = np.zeros((gh, gw), np.float32)
    ys = (np.arange(gh) + 0.5) * stride
    xs = (np.arange(gw) + 0.5) * stride
    # Large boxes first so that small ones, drawn later, win the cells they share.
    order = np.argsort(-(boxes[:, 3] - boxes[:, 1]) * (boxes[:, 4] - boxes[:, 2])) if len(boxes) else []
    for c, x1, y1, x2, y2 in boxes[order]:
        bw, bh = x2 - x1, y2 - y1
        if bw < 2 or bh < 2:
            continue
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        sx, sy = max(0.5, bw / stride / 6), max(0.5, bh / stride / 6)
        g = np.exp(-(((xs[None, :] - cx) / stride) ** 2 / (2 * sx * sx) + ((ys[:, None] - cy) / stride) ** 2 / (2 * sy * sy)))
        ci, cj = min(gh - 1, int(cy // stride)), min(gw - 1, int(cx // stride))
        g[ci, cj] = 1.0
        heat[..., int(c)] = np.maximum(heat[..., int(c)], g)
        inside = (xs[None, :] > x1) & (xs[None, :] < x2) & (ys[:, None] > y1) & (ys[:, None] < y2)
        w = np.where(inside, g, 0.0)
        w[ci, cj] = 1.0
        take = (w > 0.3) & (w >= best)
        best = np.where(take, w, best)
        reg[..., 0] = np.where(take, (xs[None, :] - x1) / width, reg[..., 0])
        reg[..., 1] = np.where(take, (ys[:, None] - y1) / height, reg[..., 1])
        reg[..., 2] = np.where(take, (x2 - xs[None, :]) / width, reg[..., 2])
        reg[..., 3] = np.where(take, (y2 - ys[:, None]) / height, reg[..., 3])
        reg[..., 4] = np.where(take, w, reg[..., 4])
    return heat, reg


def load_for_training(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One image letterboxed (RGB uint8) and its boxes ``[N, 5]`` in input pixels."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cannot read image {path}")
    h, w = bgr.shape[:2]
    img, lb = letterbox(bgr)
    boxes = read_labels(path.parent.parent / "labels" / (path.stem + ".txt"), w, h)
    boxes[:, 1:] = to_input(boxes[:, 1:], lb)
    return img, boxes
