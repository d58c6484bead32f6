"""``pinozcam-grid-v1``: one ``[1, GH, GW, C + 4]`` tensor of sigmoids (docs/model-format.md)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ModelError
from ..runtime import TensorInfo
from ..spec import ModelSpec
from .common import EMPTY, Candidates, dequantize, single_output

__all__ = ["GridDecoder"]


class GridDecoder:
    """Cell scores plus ``l, t, r, b`` distances from the cell centre (fractions of the input)."""

    def __init__(self, spec: ModelSpec, outputs: Sequence[TensorInfo]) -> None:
        self._out = single_output(spec.format, outputs)
        shape = self._out.shape
        count = len(spec.classes)
        width, height = spec.input.width, spec.input.height
        if len(shape) != 4 or shape[0] != 1 or shape[3] != count + 4:
            raise ModelError(f"pinozcam-grid-v1 output has shape {list(shape)}; expected "
                             f"[1, GH, GW, {count + 4}] for {count} classes")
        gh, gw = shape[1], shape[2]
        if gh <= 0 or gw <= 0 or width % gw or height % gh or width // gw != height // gh:
            raise ModelError(f"pinozcam-grid-v1 grid {gw}x{gh} does not divide the input "
                             f"{width}x{height} with one stride")
        self._count = count
        self._size = np.array([width, height, width, height], np.float32)
        stride = width // gw
        cx = (np.arange(gw, dtype=np.float32) + 0.5) * stride
        cy = (np.arange(gh, dtype=np.float32) + 0.5) * stride
        # Cell centres as x, y, x, y, flattened in the tensor's row-major order.
        grid_x, grid_y = np.meshgrid(cx, cy)
        self._centres = np.stack([grid_x, grid_y, grid_x, grid_y], axis=-1).reshape(-1, 4)
        self._sign = np.array([-1, -1, 1, 1], np.float32)

    def __call__(self, outputs: Sequence[np.ndarray], floor: float) -> Candidates:
        raw = outputs[0].reshape(-1, self._count + 4)
        values = dequantize(raw, self._out)
        scores = values[:, :self._count]
        best = scores.max(axis=1)
        keep = np.flatnonzero(best >= floor)
        if keep.size == 0:
            return EMPTY
        classes = scores[keep].argmax(axis=1)
        ltrb = values[keep, self._count:]
        boxes = self._centres[keep] + self._sign * ltrb * self._size
        return Candidates(boxes.astype(np.float32), best[keep].astype(np.float32), classes)
