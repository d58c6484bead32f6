"""The detector everyone calls: load a model once, then frames in, boxes out.

    detector = Detector.load(settings.model)        # or ModelError
    result = detector.detect(frame_bgr, masks)      # boxes in frame pixels

Thread-safety: a :class:`Detector` holds one interpreter with its tensors, so it
must be used from one thread at a time (the worker's inference thread). Load a
second detector for a second thread.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.types import Box
from .decoders import Decoder, make_decoder
from .errors import ModelError
from .jpeg import decode_jpeg
from .nms import nms
from .preprocess import Polygon, Preprocessor
from .runtime import Backend, open_backend, read_model_file, threads_for
from .settings import ModelSettings
from .spec import ModelSpec, guess_spec, read_spec

__all__ = ["Detector", "DetectionResult", "ModelInfo", "decode_jpeg", "DEFAULT_MODEL",
           "DEFAULT_DECODE_FLOOR", "NMS_IOU"]

log = logging.getLogger(__name__)

#: The model shipped with the package (trained separately; may not exist yet).
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "pinozcam-det.tflite"
DEFAULT_DECODE_FLOOR = 0.05
NMS_IOU = 0.5


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded, for logs, the status API and the UI."""

    name: str
    version: str
    format: str
    input_width: int
    input_height: int
    classes: tuple[str, ...]
    runtime: str
    threads: int
    dtype: str
    path: str
    license: str = ""
    #: True when the model had no JSON and its format was guessed.
    guessed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "version": self.version, "format": self.format,
            "input_width": self.input_width, "input_height": self.input_height,
            "classes": list(self.classes), "runtime": self.runtime, "threads": self.threads,
            "dtype": self.dtype, "path": self.path, "license": self.license,
            "guessed": self.guessed,
        }


@dataclass(frozen=True)
class DetectionResult:
    """Boxes in frame pixels (best first) for a ``width x height`` frame, and timings."""

    boxes: tuple[Box, ...]
    width: int
    height: int
    preprocess_ms: float
    inference_ms: float
    decode_ms: float

    @property
    def total_ms(self) -> float:
        return self.preprocess_ms + self.inference_ms + self.decode_ms


class Detector:
    """A loaded model. Build with :meth:`load`; use from one thread at a time."""

    def __init__(self, spec: ModelSpec, backend: Backend, path: Path,
                 decode_floor: float = DEFAULT_DECODE_FLOOR) -> None:
        self._spec = spec
        self._backend = backend
        self._floor = decode_floor
        expected = (1, spec.input.height, spec.input.width, 3)
        if tuple(backend.input.shape) != expected:
            source = "its JSON" if not spec.guessed else "a YOLO export"
            raise ModelError(f"model input tensor is {list(backend.input.shape)} but {source} "
                             f"says {spec.input.width}x{spec.input.height} "
                             f"(expected {list(expected)})")
        try:
            self._pre = Preprocessor(spec.input, backend.input)
        except ValueError as exc:
            raise ModelError(f"model input: {exc}") from None
        self._decoder: Decoder = make_decoder(spec, backend.outputs)
        self.info = ModelInfo(
            name=spec.name, version=spec.version, format=spec.format,
            input_width=spec.input.width, input_height=spec.input.height,
            classes=spec.classes, runtime=backend.name, threads=backend.threads,
            dtype=str(backend.input.dtype), path=str(path), license=spec.license,
            guessed=spec.guessed,
        )

    @classmethod
    def load(cls, settings: ModelSettings, *, cpu_count: int | None = None) -> "Detector":
        """Load the model ``settings`` names, or raise :class:`ModelError` (one-line message).

        ``cpu_count`` defaults to ``os.cpu_count()``; the interpreter gets
        ``max(1, round(settings.cpu_share * cpu_count))`` threads.
        """
        shipped = not settings.model_path
        path = DEFAULT_MODEL if shipped else Path(settings.model_path).expanduser()
        if shipped and not path.is_file():
            raise ModelError(f"the shipped model is not installed ({path} is missing); "
                             "set model_path to a .tflite model")
        if not shipped and path.is_dir():
            raise ModelError(f"model_path {path} is a folder; expected a .tflite file")
        model = read_model_file(path)
        json_path = path.with_suffix(".json")
        spec = read_spec(json_path) if json_path.exists() or shipped else None
        threads = threads_for(settings.cpu_share, cpu_count if cpu_count is not None
                              else os.cpu_count())
        backend = open_backend(model, settings.runtime, threads, str(path))
        if spec is None:
            spec = guess_spec(path.stem, backend.input.shape, [o.shape for o in backend.outputs])
            if spec is None:
                shapes = ", ".join(str(list(o.shape)) for o in backend.outputs)
                raise ModelError(f"model description {json_path} not found and the output "
                                 f"shape {shapes} is not a YOLO layout to guess from; "
                                 "write the JSON (see docs/model-format.md)")
            log.info("no %s: treating %s as %s with %d classes", json_path.name, path.name,
                     spec.format, len(spec.classes))
        floor = settings.decode_floor if settings.decode_floor is not None else DEFAULT_DECODE_FLOOR
        detector = cls(spec, backend, path, floor)
        info = detector.info
        log.info("model %s %s loaded (%s, %dx%d %s) on %s with %d thread(s)", info.name,
                 info.version, info.format, info.input_width, info.input_height, info.dtype,
                 info.runtime, info.threads)
        return detector

    def detect(self, frame_bgr: np.ndarray, masks: Sequence[Polygon] = ()) -> DetectionResult:
        """Boxes found in ``frame_bgr`` (``H x W x 3`` uint8 BGR), best first.

        ``masks`` are polygons in normalised frame coordinates (0..1); what they
        cover is blanked before the model sees the frame. Raises
        :class:`FrameError` for a bad frame, ``ValueError`` for a bad mask and
        :class:`ModelError` if the runtime fails.
        """
        t0 = time.perf_counter()
        tensor, letterbox = self._pre(frame_bgr, masks)
        t1 = time.perf_counter()
        outputs = self._backend.invoke(tensor)
        t2 = time.perf_counter()
        found = self._decoder(outputs, self._floor)
        boxes: tuple[Box, ...] = ()
        if len(found):
            keep = nms(found.boxes, found.scores, found.classes, NMS_IOU)
            coords = letterbox.to_frame(found.boxes[keep])
            names = self._spec.classes
            boxes = tuple(
                Box(float(x1), float(y1), float(x2), float(y2), float(score), names[int(cls)])
                for (x1, y1, x2, y2), score, cls in zip(coords, found.scores[keep],
                                                         found.classes[keep])
                if x2 > x1 and y2 > y1  # boxes lying wholly in the padding vanish
            )
        t3 = time.perf_counter()
        return DetectionResult(boxes, letterbox.frame_width, letterbox.frame_height,
                               (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3)
