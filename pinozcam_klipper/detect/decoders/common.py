"""Pieces every decoder shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..runtime import TensorInfo

__all__ = ["Candidates", "dequantize", "single_output", "in_pixels", "to_input_pixels", "EMPTY"]


@dataclass(frozen=True)
class Candidates:
    """Decoded boxes before NMS: ``boxes`` ``[N, 4]`` x1 y1 x2 y2 in input pixels."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


EMPTY = Candidates(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def dequantize(array: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Real values of an output tensor (float outputs pass through)."""
    if info.quantized:
        return (array.astype(np.float32) - info.zero_point) * np.float32(info.scale)
    if array.dtype != np.float32:
        return array.astype(np.float32)
    return array


def single_output(fmt: str, outputs: Sequence[TensorInfo]) -> TensorInfo:
    if len(outputs) != 1:
        raise ModelError(f"a {fmt} model must have one output tensor; this one has {len(outputs)}")
    out = outputs[0]
    if out.dtype != np.dtype(np.float32) and not out.quantized:
        raise ModelError(f"unsupported output tensor type {out.dtype} "
                         f"(expected float32, or int8/uint8 with quantisation)")
    return out


def in_pixels(coords: np.ndarray) -> bool:
    """Whether YOLO box coordinates are pixels: any value exceeds 2 (else normalised)."""
    return bool(coords.size) and float(np.max(coords)) > 2.0


def to_input_pixels(coords: np.ndarray, width: int, height: int, pixels: bool) -> np.ndarray:
    """``[N, 4]`` cx cy w h (pixels, or normalised 0..1) -> x1 y1 x2 y2 in input pixels."""
    if not pixels:
        coords = coords * np.array([width, height, width, height], np.float32)
    half = coords[:, 2:4] / 2
    return np.concatenate([coords[:, 0:2] - half, coords[:, 0:2] + half], axis=1)
