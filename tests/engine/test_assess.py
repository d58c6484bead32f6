import dataclasses
"""assess_frame: kept boxes, failure area of their union, masks, severity and band."""

import json
import math

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from pinozcam_klipper.engine.masks import parse_masks
from pinozcam_klipper.engine import (Box, DetectionSettings, assess_frame, band_for,
                                     failure_coverage)

W, H = 640, 480
HALF_LEFT = "0,0 0.5,0 0.5,1 0,1"


def box(x1, y1, x2, y2, score=0.95, label="spaghetti"):
    return Box(x1, y1, x2, y2, score, label)


def detection(**options):
    return DetectionSettings(**options)


def test_one_box_covers_its_share_of_the_frame():
    frame = assess_frame([box(0, 0, 64, 48)], W, H, detection(score_threshold=0.5,
                                                                  image_sensitivity=0.02))
    assert frame.failure_area == pytest.approx(0.01)
    assert frame.severity == pytest.approx(0.5)
    assert frame.band == "warning"


def test_overlapping_boxes_count_their_union_once():
    boxes = [box(0, 0, 100, 100), box(50, 50, 150, 150), box(0, 0, 100, 100)]
    covered, analysed = failure_coverage(boxes, W, H)
    assert covered == 10000 + 10000 - 2500
    assert analysed == W * H


def test_boxes_below_the_score_threshold_are_dropped():
    boxes = [box(0, 0, 320, 480, score=0.5), box(0, 0, 10, 10, score=0.9, label="blob")]
    frame = assess_frame(boxes, W, H, detection(score_threshold=0.9))
    assert frame.boxes == (boxes[1],)
    assert frame.failure_area == pytest.approx(100 / (W * H))


def test_severity_saturates_and_bands_follow_it():
    frame = assess_frame([box(0, 0, W, H)], W, H, detection())
    assert (frame.failure_area, frame.severity, frame.band) == (1.0, 1.0, "failure")
    assert [band_for(s) for s in (0.0, 0.33, 0.331, 0.66, 0.661, 1.0)] == \
        ["ok", "ok", "warning", "warning", "failure", "failure"]


def test_nothing_detected_is_ok():
    frame = assess_frame([], W, H, detection())
    assert (frame.failure_area, frame.severity, frame.band, frame.boxes) == (0.0, 0.0, "ok", ())


def test_boxes_are_clipped_to_the_frame_and_broken_ones_add_nothing():
    boxes = [box(-100, -100, 10, 10), box(math.nan, 0, 5, 5), box(5, 5, 5, 50),
             box(W - 10, H - 10, W + 500, H + 500)]
    covered, _ = failure_coverage(boxes, W, H)
    assert covered == 100 + 100


def test_a_box_inside_a_mask_counts_for_nothing():
    frame = assess_frame([box(10, 10, 200, 400)], W, H, detection(masks=HALF_LEFT))
    assert frame.failure_area == 0.0
    assert frame.band == "ok"
    assert len(frame.boxes) == 1  # still reported, for the record


def test_masks_shrink_the_analysed_area():
    unmasked = assess_frame([box(400, 0, 464, 48)], W, H, detection())
    masked = assess_frame([box(400, 0, 464, 48)], W, H, detection(masks=HALF_LEFT))
    assert masked.failure_area == pytest.approx(2 * unmasked.failure_area, rel=1e-3)


def test_a_box_across_a_mask_edge_counts_its_visible_part():
    covered, analysed = failure_coverage([box(300, 0, 340, 10)], W, H,
                                         detection(masks=HALF_LEFT).masks)
    assert covered == pytest.approx(20 * 10, abs=W / 200 * 10)
    assert analysed == pytest.approx(W * H / 2, rel=1e-3)


def test_a_fully_masked_frame_has_no_failure_area():
    # Settings refuse such masks; the assessment must still not divide by zero if handed one.
    everything = dataclasses.replace(detection().resolved(),
                                     masks=parse_masks("0,0 1,0 1,1 0,1"))
    frame = assess_frame([box(0, 0, W, H)], W, H, everything)
    assert frame.failure_area == 0.0


def test_a_frame_without_pixels_is_refused():
    with pytest.raises(ValueError, match="frame size"):
        assess_frame([], 0, 480, detection())


def test_to_dict_is_json():
    frame = assess_frame([box(0, 0, 64, 48)], W, H, detection(score_threshold=0.5))
    data = json.loads(json.dumps(frame.to_dict()))
    assert data["band"] == frame.band
    assert data["boxes"][0]["label"] == "spaghetti"


def test_hundreds_of_boxes_are_handled():
    boxes = [box(i % 600, (7 * i) % 440, i % 600 + 40, (7 * i) % 440 + 40) for i in range(400)]
    frame = assess_frame(boxes, W, H, detection(masks="0,0 0.3,0 0.3,0.3"))
    assert 0.0 < frame.failure_area <= 1.0


# -- properties -------------------------------------------------------------------------

SMALL_W, SMALL_H = 24, 16


@st.composite
def int_boxes(draw, max_boxes=8):
    count = draw(st.integers(0, max_boxes))
    boxes = []
    for _ in range(count):
        x1 = draw(st.integers(-4, SMALL_W + 2))
        y1 = draw(st.integers(-4, SMALL_H + 2))
        x2 = x1 + draw(st.integers(0, SMALL_W))
        y2 = y1 + draw(st.integers(0, SMALL_H))
        score = draw(st.sampled_from([0.1, 0.5, 0.8, 0.9, 1.0]))
        boxes.append(box(x1, y1, x2, y2, score=score))
    return boxes


def brute_force_union(boxes):
    cells = set()
    for b in boxes:
        for x in range(max(int(b.x1), 0), min(int(b.x2), SMALL_W)):
            for y in range(max(int(b.y1), 0), min(int(b.y2), SMALL_H)):
                cells.add((x, y))
    return len(cells)


@given(int_boxes())
def test_union_area_is_exact_and_at_most_the_sum(boxes):
    covered, _ = failure_coverage(boxes, SMALL_W, SMALL_H)
    assert covered == brute_force_union(boxes)
    assert covered <= sum(b.area for b in boxes)


@given(int_boxes(), st.floats(0.01, 1.0), st.floats(0.001, 1.0))
def test_severity_is_in_range_and_matches_the_band(boxes, score, sensitivity):
    frame = assess_frame(boxes, SMALL_W, SMALL_H,
                         detection(score_threshold=score, image_sensitivity=sensitivity))
    assert 0.0 <= frame.failure_area <= 1.0
    assert 0.0 <= frame.severity <= 1.0
    assert frame.band == band_for(frame.severity)
    assert all(b.score >= score for b in frame.boxes)


@given(int_boxes(), st.sampled_from([0.1, 0.5, 0.8, 0.9]), st.sampled_from([0.5, 0.8, 0.9, 1.0]),
       st.floats(0.001, 1.0), st.floats(0.001, 1.0))
def test_lower_thresholds_never_lower_severity(boxes, low_score, high_score, sens_a, sens_b):
    low_sens, high_sens = sorted((sens_a, sens_b))
    eager = assess_frame(boxes, SMALL_W, SMALL_H,
                         detection(score_threshold=min(low_score, high_score),
                                   image_sensitivity=low_sens))
    calm = assess_frame(boxes, SMALL_W, SMALL_H,
                        detection(score_threshold=high_score, image_sensitivity=high_sens))
    assert eager.failure_area >= calm.failure_area
    assert eager.severity >= calm.severity


polygons = st.lists(
    st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=3, max_size=6,
).filter(lambda pts: abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2)
                             in zip(pts, pts[1:] + pts[:1]))) > 1e-3)


@hsettings(max_examples=40, deadline=None)  # each new mask is rasterised once
@given(int_boxes(), st.lists(polygons, min_size=1, max_size=2))
def test_masks_never_add_covered_pixels(boxes, masks):
    mask_settings = detection(masks=masks)
    covered_masked, analysed_masked = failure_coverage(boxes, SMALL_W, SMALL_H, mask_settings.masks)
    covered, analysed = failure_coverage(boxes, SMALL_W, SMALL_H)
    assert covered_masked <= covered + 1e-9
    assert analysed_masked <= analysed
    assert 0.0 <= covered_masked
