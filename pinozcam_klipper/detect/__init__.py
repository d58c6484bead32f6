"""Model runtime: load a ``.tflite`` detector with its JSON, run frames, decode boxes.

Public API: :class:`Detector` (``Detector.load(settings)``, ``detector.detect(frame, masks)``,
``detector.info``), :class:`DetectionResult`, :class:`ModelInfo`, :func:`decode_jpeg`,
:class:`ModelError`, :class:`FrameError` (alias ``ImageError``), :class:`ModelSettings`.

Names are imported on first use, so ``pinozcam_klipper.detect.settings`` (read by the
settings tree) does not pull in numpy, OpenCV or a TFLite runtime.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Detector", "DetectionResult", "ModelInfo", "ModelError", "FrameError",
           "ImageError", "decode_jpeg", "ModelSettings"]

_HOME = {
    "Detector": ".detector", "DetectionResult": ".detector", "ModelInfo": ".detector",
    "ModelError": ".errors", "FrameError": ".errors", "ImageError": ".errors", "decode_jpeg": ".jpeg",
    "ModelSettings": ".settings",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
