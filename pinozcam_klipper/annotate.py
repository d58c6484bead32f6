"""Drawing detections and the verdict onto a frame, for alerts and the UI. OpenCV only.

Colours (BGR) follow one rule for boxes and for the header:

- **red** (failure): a box scoring at or above ``failure_score`` — pass the
  engine's score threshold, the score at which a box counts as failure evidence;
- **amber** (warning): at or above ``warning_score`` (default: halfway between
  ``display_threshold`` and ``failure_score``);
- **green** (ok): shown, but weak (``display_threshold`` up to ``warning_score``).

Boxes scoring below ``display_threshold`` are not drawn at all. When
``failure_score`` is not given it defaults to two thirds of the way from
``display_threshold`` to 1. The header's colour follows the verdict's band
(a band name containing "fail"/"critical"/"alert" is red, "warn"/"suspect"/"watch"
amber, anything else green).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

import cv2
import numpy as np

from .engine.types import Box

__all__ = ["annotate", "mark_not_live", "encode_jpeg", "fit_within", "box_colour", "GREEN", "AMBER", "RED"]

GREEN = (60, 190, 60)
AMBER = (0, 165, 255)
RED = (40, 40, 230)

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def box_colour(score: float, *, warning_score: float, failure_score: float) -> tuple[int, int, int]:
    """The BGR colour of a box with this score (see the module docstring)."""
    if score >= failure_score:
        return RED
    if score >= warning_score:
        return AMBER
    return GREEN


def _band_colour(band: str) -> tuple[int, int, int]:
    lowered = band.lower()
    if any(word in lowered for word in ("fail", "critical", "alert", "danger")):
        return RED
    if any(word in lowered for word in ("warn", "suspect", "watch", "elevated")):
        return AMBER
    return GREEN


def _verdict(assessment: Any) -> tuple[float | None, str]:
    """(severity, band) from an assessment-like object, a mapping, a (severity, band) pair, or None."""
    if assessment is None:
        return None, ""
    if isinstance(assessment, Mapping):
        severity, band = assessment.get("severity"), assessment.get("band", "")
    elif isinstance(assessment, tuple):
        severity, band = assessment
    else:
        severity, band = getattr(assessment, "severity", None), getattr(assessment, "band", "")
    band = getattr(band, "value", band)  # an Enum band
    return (None if severity is None else float(severity)), str(band or "")


def annotate(frame_bgr: np.ndarray, boxes: Iterable[Box], assessment: Any = None, *,
             display_threshold: float, failure_score: float | None = None,
             warning_score: float | None = None, header: str = "",
             when: _dt.datetime | None = None) -> np.ndarray:
    """A copy of ``frame_bgr`` with boxes, score labels and a header line drawn on it.

    ``assessment`` gives the verdict: any object with ``severity`` (0..1) and
    ``band`` attributes (the engine's assessment), a mapping with those keys,
    a ``(severity, band)`` pair, or None for no verdict. The header reads
    ``"<header>  severity 63%  WARNING  14:02:11"`` (local time, or ``when``).
    The input frame is not modified.
    """
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3:
        raise ValueError(f"expected a BGR image (H x W x 3), got shape {frame_bgr.shape}")
    if failure_score is None:
        failure_score = display_threshold + (1.0 - display_threshold) * 2 / 3
    if warning_score is None:
        warning_score = (display_threshold + failure_score) / 2
    image = np.ascontiguousarray(frame_bgr).copy()
    scale, thick = _text_style(image)

    # The header first, so labels of boxes near the top stay readable below it.
    severity, band = _verdict(assessment)
    parts = [header.strip()] if header.strip() else []
    if severity is not None:
        parts.append(f"severity {severity * 100:.0f}%")
    if band:
        parts.append(band.upper())
    parts.append((when or _dt.datetime.now()).strftime("%H:%M:%S"))
    bar = _header(image, "  ".join(parts), _band_colour(band), scale, thick)
    for box in sorted(boxes, key=lambda b: b.score):  # strongest drawn last, on top
        if box.score < display_threshold:
            continue
        colour = box_colour(box.score, warning_score=warning_score, failure_score=failure_score)
        p1 = (int(round(box.x1)), int(round(box.y1)))
        p2 = (int(round(box.x2)), int(round(box.y2)))
        cv2.rectangle(image, p1, p2, colour, thick, cv2.LINE_AA)
        _label(image, f"{box.label} {box.score * 100:.0f}%", p1, colour, scale, thick, bar)

    return image


def mark_not_live(frame_bgr: np.ndarray, text: str) -> np.ndarray:
    """A greyed, darkened copy of ``frame_bgr`` under a red header reading ``text``.

    For an old picture that is still being shown (the camera stopped giving new ones): a
    webcam tile must not pass it off as live. The picture stays recognisable.
    """
    if frame_bgr.ndim == 2:
        grey = frame_bgr
    else:
        grey = cv2.cvtColor(np.ascontiguousarray(frame_bgr), cv2.COLOR_BGR2GRAY)
    image = cv2.cvtColor((grey.astype(np.uint16) * 3 // 5).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    _header(image, text, RED, *_text_style(image))
    return image


def _text_style(image: np.ndarray) -> tuple[float, int]:
    """Font scale and line thickness for ``image``: text readable at any picture size."""
    short_side = min(image.shape[:2])
    return max(0.35, short_side / 720), max(1, round(short_side / 240))


def _label(image: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int],
           scale: float, thick: int, min_top: int) -> None:
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    x, y = max(0, corner[0]), corner[1]
    top = y - th - base - 2 * thick
    if top < min_top:  # no room above the box (header or edge): put the label inside it
        top = max(min_top, y)
    cv2.rectangle(image, (x, top), (x + tw + 2 * thick, top + th + base + 2 * thick), colour, cv2.FILLED)
    cv2.putText(image, text, (x + thick, top + th + thick), _FONT, scale, (255, 255, 255), thick, cv2.LINE_AA)


def _header(image: np.ndarray, text: str, colour: tuple[int, int, int], scale: float, thick: int) -> int:
    """Draw the header strip; return its height."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    bar = th + base + 4 * thick
    strip = image[:bar]
    # Darken the strip rather than painting it, so the picture stays visible under the text.
    strip[:] = (strip.astype(np.uint16) * 2 // 5).astype(np.uint8)
    cv2.rectangle(image, (0, 0), (max(4, 3 * thick), bar), colour, cv2.FILLED)
    cv2.putText(image, text, (max(4, 3 * thick) + 4 * thick, th + 2 * thick), _FONT, scale, colour, thick, cv2.LINE_AA)
    return bar


def fit_within(img: np.ndarray, max_side: int) -> np.ndarray:
    """``img`` shrunk (aspect kept) so that neither side exceeds ``max_side``; as is if it fits."""
    height, width = img.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return img
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA)


def encode_jpeg(img: np.ndarray, quality: int = 85) -> bytes:
    """JPEG bytes of a BGR (or grey) image; ``ValueError`` if OpenCV cannot encode it."""
    if not 1 <= quality <= 100:
        raise ValueError(f"jpeg quality must be 1..100, got {quality}")
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"could not encode an image of shape {getattr(img, 'shape', '?')} as jpeg")
    return buf.tobytes()
