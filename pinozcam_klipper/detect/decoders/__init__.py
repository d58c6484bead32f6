"""Output decoders, one module per model family.

A decoder is built once per model from its spec and output tensors (which it
checks, raising :class:`ModelError` on a mismatch) and then turns the raw
outputs of each inference into :class:`Candidates`: boxes in *input* pixels
with a score and a class index, before non-maximum suppression.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from ..runtime import TensorInfo
from ..spec import ModelSpec
from .common import Candidates
from .grid import GridDecoder
from .yolov5 import Yolov5Decoder
from .yolov8 import Yolov8Decoder

__all__ = ["Candidates", "Decoder", "DECODERS", "make_decoder"]


class Decoder(Protocol):
    def __call__(self, outputs: Sequence[np.ndarray], floor: float) -> Candidates:
        """Candidates scoring at least ``floor``."""
        ...


#: Model format (the JSON's ``format``) -> decoder class.
DECODERS: dict[str, Callable[[ModelSpec, Sequence[TensorInfo]], Decoder]] = {
    "pinozcam-grid-v1": GridDecoder,
    "yolov5": Yolov5Decoder,
    "yolov8": Yolov8Decoder,
}


def make_decoder(spec: ModelSpec, outputs: Sequence[TensorInfo]) -> Decoder:
    """The decoder for ``spec.format``, checked against the model's outputs."""
    return DECODERS[spec.format](spec, outputs)
