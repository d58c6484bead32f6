"""The decision engine: pure code that turns detector boxes into verdicts and incidents.

No I/O, no clock, no numpy: time comes in as ``now`` (monotonic seconds).
"""

from .assess import (FAILURE_ABOVE, WARNING_ABOVE, Band, FrameAssessment, assess_frame,
                     band_for, failure_coverage)
from .cadence import TICK_EVERY, failure_building
from .decision import DecisionEngine, EngineState, EventKind, IncidentEvent, Verdict
from .masks import GRID_SIZE, Point, Polygon, masked_fraction, parse_masks, point_in_polygon
from .settings import ACTIONS, PRESETS, Action, DetectionSettings, Preset, ResolvedDetection
from .types import Box

__all__ = [
    "ACTIONS", "Action", "Band", "Box", "DecisionEngine", "DetectionSettings", "EngineState",
    "EventKind", "FAILURE_ABOVE", "FrameAssessment", "GRID_SIZE", "IncidentEvent", "PRESETS",
    "Point", "Polygon", "Preset", "ResolvedDetection", "TICK_EVERY", "Verdict", "WARNING_ABOVE",
    "assess_frame", "band_for", "failure_building", "failure_coverage", "masked_fraction", "parse_masks",
    "point_in_polygon",
]
