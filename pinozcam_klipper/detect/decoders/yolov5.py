"""``yolov5``: ``[1, N, 5 + C]`` rows of cx, cy, w, h, objectness, class scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ModelError
from ..runtime import TensorInfo
from ..spec import ModelSpec
from .common import EMPTY, Candidates, dequantize, in_pixels, single_output, to_input_pixels

__all__ = ["Yolov5Decoder"]


class Yolov5Decoder:
    """Score = objectness x class score; boxes normalised or in input pixels."""

    def __init__(self, spec: ModelSpec, outputs: Sequence[TensorInfo]) -> None:
        self._out = single_output(spec.format, outputs)
        shape = self._out.shape
        self._count = len(spec.classes)
        if len(shape) != 3 or shape[0] != 1 or shape[2] != self._count + 5:
            raise ModelError(f"yolov5 output has shape {list(shape)}; expected "
                             f"[1, N, {self._count + 5}] for {self._count} classes")
        self._width, self._height = spec.input.width, spec.input.height

    def __call__(self, outputs: Sequence[np.ndarray], floor: float) -> Candidates:
        rows = dequantize(outputs[0][0], self._out)
        pixels = in_pixels(rows[:, :4])
        scores = rows[:, 5:] * rows[:, 4:5]
        best = scores.max(axis=1)
        keep = np.flatnonzero(best >= floor)
        if keep.size == 0:
            return EMPTY
        boxes = to_input_pixels(rows[keep, :4], self._width, self._height, pixels)
        return Candidates(boxes.astype(np.float32), best[keep].astype(np.float32),
                          scores[keep].argmax(axis=1))
