"""Annotated alert pictures: which boxes appear, in which colour, and the header."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from pinozcam_klipper.annotate import AMBER, GREEN, RED, annotate, box_colour, encode_jpeg
from pinozcam_klipper.engine.types import Box


@dataclass
class Verdict:
    severity: float
    band: str


def _grey_frame() -> np.ndarray:
    return np.full((480, 640, 3), 128, np.uint8)


def _has_colour(region: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool(np.any(np.all(np.abs(region.astype(int) - colour) <= 10, axis=-1)))


def test_boxes_are_coloured_by_score() -> None:
    frame = _grey_frame()
    boxes = [Box(20, 100, 120, 200, 0.35, "blob"),        # green: shown but weak
             Box(220, 100, 320, 200, 0.6, "detached"),    # amber
             Box(420, 100, 520, 200, 0.9, "spaghetti"),   # red
             Box(420, 300, 520, 400, 0.1, "spaghetti")]   # below display: not drawn
    out = annotate(frame, boxes, Verdict(0.63, "warning"), display_threshold=0.3, failure_score=0.8,
                   header="Voron 2.4")
    # Left edges of each box carry its colour.
    assert _has_colour(out[150:160, 18:23], GREEN)
    assert _has_colour(out[150:160, 218:223], AMBER)
    assert _has_colour(out[150:160, 418:423], RED)
    assert np.array_equal(out[300:400, 400:540], frame[300:400, 400:540])  # nothing drawn there
    assert np.array_equal(frame, _grey_frame())  # input untouched


def test_box_colour_rule() -> None:
    assert box_colour(0.79, warning_score=0.55, failure_score=0.8) == AMBER
    assert box_colour(0.8, warning_score=0.55, failure_score=0.8) == RED
    assert box_colour(0.5, warning_score=0.55, failure_score=0.8) == GREEN


@pytest.mark.parametrize("verdict", [Verdict(0.9, "failure"), {"severity": 0.9, "band": "failure"},
                                     (0.9, "failure")])
def test_header_takes_any_assessment_shape(verdict: object) -> None:
    out = annotate(_grey_frame(), [], verdict, display_threshold=0.3, header="x",
                   when=dt.datetime(2026, 1, 1, 12, 0, 0))
    assert _has_colour(out[:30], RED)  # the header shows the failure band in red
    assert out[:5].mean() < 128  # the header strip is darkened
    assert np.array_equal(out[100:], _grey_frame()[100:])


def test_small_frames_and_boxes_at_the_edge_do_not_crash() -> None:
    frame = np.zeros((40, 60, 3), np.uint8)
    out = annotate(frame, [Box(-5, -5, 70, 50, 0.99, "spaghetti")], None, display_threshold=0.2)
    assert out.shape == frame.shape


def test_bad_image_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="BGR image"):
        annotate(np.zeros((10, 10), np.uint8), [], None, display_threshold=0.3)


def test_encode_jpeg_round_trip() -> None:
    data = encode_jpeg(_grey_frame(), quality=85)
    assert data[:2] == b"\xff\xd8"
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (480, 640, 3)
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(_grey_frame(), quality=0)
