"""``yolov8`` (also YOLO11): ``[1, 4 + C, N]`` or ``[1, N, 4 + C]``; cx, cy, w, h, class scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ModelError
from ..runtime import TensorInfo
from ..spec import ModelSpec
from .common import EMPTY, Candidates, dequantize, in_pixels, single_output, to_input_pixels

__all__ = ["Yolov8Decoder"]


class Yolov8Decoder:
    """No objectness; the layout is read from which axis has ``4 + C`` entries."""

    def __init__(self, spec: ModelSpec, outputs: Sequence[TensorInfo]) -> None:
        self._out = single_output(spec.format, outputs)
        shape = self._out.shape
        self._count = len(spec.classes)
        channels = self._count + 4
        if len(shape) != 3 or shape[0] != 1 or channels not in shape[1:]:
            raise ModelError(f"yolov8 output has shape {list(shape)}; expected "
                             f"[1, {channels}, N] or [1, N, {channels}] for {self._count} classes")
        # Ultralytics exports channels first, which also wins when both axes match.
        self._channels_first = shape[1] == channels
        self._width, self._height = spec.input.width, spec.input.height

    def __call__(self, outputs: Sequence[np.ndarray], floor: float) -> Candidates:
        raw = outputs[0][0]
        rows = dequantize(raw.T if self._channels_first else raw, self._out)
        pixels = in_pixels(rows[:, :4])
        scores = rows[:, 4:]
        best = scores.max(axis=1)
        keep = np.flatnonzero(best >= floor)
        if keep.size == 0:
            return EMPTY
        boxes = to_input_pixels(rows[keep, :4], self._width, self._height, pixels)
        return Candidates(boxes.astype(np.float32), best[keep].astype(np.float32),
                          scores[keep].argmax(axis=1))
