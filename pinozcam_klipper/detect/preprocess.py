"""Frame -> input tensor: letterbox, masks, colour order, normalisation, quantisation.

The frame is resized with its aspect kept and centred on a canvas of the model's
input size filled with the letterbox colour; masked regions are filled with the
same colour, so the model sees them as padding. :class:`Letterbox` maps boxes
back from input pixels to frame pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import FrameError
from .runtime import TensorInfo
from .spec import InputSpec

__all__ = ["Letterbox", "Preprocessor", "Polygon", "as_bgr", "letterbox"]

#: A mask: at least three ``(x, y)`` points in normalised frame coordinates (0..1).
Polygon = Sequence[Sequence[float]]

_SHIFT = 4  # fillPoly fixed-point bits: sub-pixel mask edges


@dataclass(frozen=True)
class Letterbox:
    """Where the frame landed on the input canvas."""

    frame_width: int
    frame_height: int
    resized_width: int
    resized_height: int
    pad_x: int
    pad_y: int

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """``[N, 4]`` x1 y1 x2 y2 in input pixels -> frame pixels, clipped to the frame."""
        sx = self.resized_width / self.frame_width
        sy = self.resized_height / self.frame_height
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / sx
        out[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / sy
        np.clip(out[:, 0::2], 0.0, self.frame_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, self.frame_height, out=out[:, 1::2])
        return out


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """``frame`` as an ``H x W x 3`` uint8 BGR image (grey and BGRA are converted)."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise FrameError("frame must be a uint8 numpy array (BGR)")
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.ndim == 3 and frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    elif frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f"frame has shape {frame.shape}; expected height x width x 3 (BGR)")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise FrameError("frame is empty")
    return frame


def letterbox(frame: np.ndarray, width: int, height: int,
              pad_bgr: tuple[int, int, int]) -> tuple[np.ndarray, Letterbox]:
    """``frame`` (BGR) resized with its aspect kept, centred on a ``width x height``
    canvas of ``pad_bgr``; a new array, the frame is not modified.

    Shrinking halves the frame with a 2x2 box filter (``INTER_AREA`` at an exact
    factor of 2, which OpenCV does fast) while it is at least twice the target,
    then finishes with ``INTER_LINEAR``: close to ``INTER_AREA`` throughout, at a
    fifth of its cost for the non-integer factors of 1280x720 -> 384x216.
    Training should letterbox with this function so the model sees the same pixels.
    """
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    rw, rh = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    px, py = (width - rw) // 2, (height - rh) // 2
    small = frame
    while small.shape[1] >= 2 * rw and small.shape[0] >= 2 * rh:
        small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2),
                           interpolation=cv2.INTER_AREA)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = pad_bgr
    canvas[py:py + rh, px:px + rw] = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_LINEAR)
    return canvas, Letterbox(w, h, rw, rh, px, py)


class Preprocessor:
    """Builds input tensors for one model; cheap to call, holds no per-frame state."""

    def __init__(self, spec: InputSpec, tensor: TensorInfo) -> None:
        self.spec = spec
        self.tensor = tensor
        rgb = spec.color == "RGB"
        pad = spec.letterbox_color
        self._pad_bgr = tuple(int(v) for v in (pad[::-1] if rgb else pad))
        self._rgb = rgb
        self._lut = _lookup_table(spec, tensor)

    def __call__(self, frame: np.ndarray, masks: Sequence[Polygon] = ()) -> tuple[np.ndarray, Letterbox]:
        """The input tensor (``[1, H, W, 3]``, the model's dtype) and the letterbox used."""
        frame = as_bgr(frame)
        canvas, box = letterbox(frame, self.spec.width, self.spec.height, self._pad_bgr)
        if len(masks):
            self._blank(canvas, box, masks)
        if self._rgb:
            cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB, dst=canvas)
        # Per-channel table lookup applies normalisation and quantisation exactly.
        values = cv2.LUT(canvas, self._lut)
        if self.tensor.dtype == np.dtype(np.int8):
            values = values.view(np.int8)
        return values[None], box

    def _blank(self, canvas: np.ndarray, box: Letterbox, masks: Sequence[Polygon]) -> None:
        # Blanking the resized image rather than the full frame is cheaper and
        # leaves no blend of masked colour at the mask's edge after resizing.
        polys = []
        origin = np.array([box.pad_x, box.pad_y], np.float64)
        size = np.array([box.resized_width, box.resized_height], np.float64)
        for n, mask in enumerate(masks):
            try:
                pts = np.asarray(mask, np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"mask {n} is not a list of (x, y) points") from None
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3 or not np.isfinite(pts).all():
                raise ValueError(f"mask {n} needs at least three (x, y) points in 0..1")
            pts = np.clip(pts, 0.0, 1.0) * size + origin
            polys.append(np.round(pts * (1 << _SHIFT)).astype(np.int32))
        cv2.fillPoly(canvas, polys, self._pad_bgr, lineType=cv2.LINE_8, shift=_SHIFT)


def _lookup_table(spec: InputSpec, tensor: TensorInfo) -> np.ndarray:
    """``256 x 1 x 3`` table: pixel value -> tensor value, per channel (model order)."""
    pixels = np.arange(256, dtype=np.float64)[:, None]
    mean = np.asarray(spec.mean, np.float64)[None, :]
    std = np.asarray(spec.std, np.float64)[None, :]
    x = (pixels - mean) / std
    if tensor.dtype == np.dtype(np.float32):
        return x.astype(np.float32).reshape(256, 1, 3)
    if tensor.quantized:
        info = np.iinfo(tensor.dtype)
        q = np.clip(np.round(x / tensor.scale) + tensor.zero_point, info.min, info.max)
        # cv2.LUT has no int8 table: store the bit pattern as uint8, viewed back after.
        return q.astype(tensor.dtype).view(np.uint8).reshape(256, 1, 3)
    raise ValueError(f"unsupported input tensor type {tensor.dtype} "
                     f"(expected float32, or int8/uint8 with quantisation)")
