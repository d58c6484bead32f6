"""One check of one frame: turn, detect, assess, annotate.

The CLI and the worker both analyse frames the same way; this module is that
way, so the offline tuner and the live worker can never disagree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .annotate import annotate, encode_jpeg, fit_within
from .camera.camera import orient
from .camera.settings import CameraSettings
from .detect import DetectionResult, Detector
from .engine import FrameAssessment, assess_frame
from .settings import Settings


def turns_pictures(camera: CameraSettings) -> bool:
    """Whether :func:`turn_like_camera` changes a picture with these settings."""
    return camera.camera_flip_horizontal or camera.camera_flip_vertical or camera.camera_rotate != 0


def turn_like_camera(raw_bgr: np.ndarray, camera: CameraSettings) -> np.ndarray:
    """The camera's raw picture turned (flipped, rotated) as the worker's camera turns every
    frame before it is checked.

    Call this on pictures read from files before :meth:`FrameAnalyser.analyse`: masks are
    drawn on the turned picture, so analysing an unturned one hides the wrong part of it.
    Never on frames from :class:`~.camera.Camera`, which are turned already.
    """
    if not turns_pictures(camera):
        return raw_bgr
    return orient(raw_bgr, flip_horizontal=camera.camera_flip_horizontal,
                  flip_vertical=camera.camera_flip_vertical, rotate=camera.camera_rotate,
                  rotate_first=camera.camera_rotate_first)


@dataclass(frozen=True)
class FrameAnalysis:
    """What one check found: the raw detections and the per-frame assessment."""

    detection: DetectionResult
    assessment: FrameAssessment
    total_ms: float

    def to_dict(self) -> dict:
        out = dict(self.assessment.to_dict())
        out["boxes"] = [box.to_dict() for box in self.detection.boxes]
        out["width"] = self.detection.width
        out["height"] = self.detection.height
        out["inference_ms"] = round(self.detection.inference_ms, 2)
        out["total_ms"] = round(self.total_ms, 2)
        return out


class FrameAnalyser:
    """Runs the detector and the per-frame assessment with one set of settings.

    Use one instance from one thread at a time (the detector is not thread-safe).
    """

    def __init__(self, settings: Settings, detector: Detector) -> None:
        self.settings = settings
        self.detector = detector

    def analyse(self, frame_bgr: np.ndarray) -> FrameAnalysis:
        started = time.perf_counter()
        detection = self.detector.detect(frame_bgr, self.settings.detection.masks)
        assessment = assess_frame(detection.boxes, detection.width, detection.height,
                                  self.settings.detection)
        return FrameAnalysis(detection, assessment, (time.perf_counter() - started) * 1000.0)

    def annotate(self, frame_bgr: np.ndarray, analysis: FrameAnalysis, header: str = "",
                 max_side: int | None = None) -> bytes:
        """The annotated JPEG of ``analysis`` drawn over ``frame_bgr``, shrunk to at most
        ``max_side`` pixels on its longest side when given."""
        resolved = self.settings.detection.resolved()
        image = annotate(frame_bgr, analysis.detection.boxes, analysis.assessment,
                         display_threshold=resolved.display_threshold,
                         failure_score=max(resolved.score_threshold, resolved.display_threshold),
                         header=header)
        return encode_jpeg(fit_within(image, max_side) if max_side else image)
