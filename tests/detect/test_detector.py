"""Frames in, boxes out: the three fixture models on real frames."""

from __future__ import annotations

import numpy as np
import pytest

from detect_helpers import ALL_MODELS, BLUE, GREEN, RED, frame_with, iou, model_path
from pinozcam_klipper.detect import Detector, FrameError, ModelSettings

# (frame width, height, red patch x1 y1 x2 y2): wide, 4:3 and portrait frames.
FRAMES = [
    (1280, 720, (300, 200, 700, 500)),
    (640, 480, (100, 150, 420, 400)),
    (480, 800, (60, 200, 420, 560)),
    (1920, 1080, (1100, 500, 1700, 1000)),
]


@pytest.fixture(scope="module", params=ALL_MODELS)
def detector(request) -> Detector:
    return Detector.load(ModelSettings(model_path=model_path(request.param)))


@pytest.mark.parametrize("width,height,rect", FRAMES)
def test_red_patch_gives_one_box_around_it(detector, width, height, rect):
    result = detector.detect(frame_with(width, height, (rect, RED)))

    assert (result.width, result.height) == (width, height)
    assert len(result.boxes) == 1, result.boxes
    box = result.boxes[0]
    assert box.label == "spaghetti"
    assert box.score > 0.9
    assert iou(box, rect) > 0.85, (box, rect)


# The fixture models measure a box by counting coloured cells along its rows and
# columns, so patches in one frame sit diagonally apart (no shared rows/columns).
UPPER_LEFT, LOWER_RIGHT = (100, 80, 450, 330), (750, 400, 1200, 680)


def test_colour_picks_the_class(detector):
    frame = frame_with(1280, 720, (UPPER_LEFT, GREEN), (LOWER_RIGHT, BLUE))

    boxes = sorted(detector.detect(frame).boxes, key=lambda b: b.x1)

    assert [b.label for b in boxes] == ["blob", "detached"]
    assert iou(boxes[0], UPPER_LEFT) > 0.85
    assert iou(boxes[1], LOWER_RIGHT) > 0.85


def test_plain_frame_gives_no_boxes(detector):
    result = detector.detect(frame_with(1280, 720))

    assert result.boxes == ()
    assert min(result.preprocess_ms, result.inference_ms, result.decode_ms) >= 0


def test_two_red_patches_stay_two_boxes(detector):
    # Every cell of a patch predicts (nearly) the same box: NMS merges those
    # duplicates into one box per patch, but never merges the two patches.
    frame = frame_with(1280, 720, (UPPER_LEFT, RED), (LOWER_RIGHT, RED))

    boxes = sorted(detector.detect(frame).boxes, key=lambda b: b.x1)

    assert [b.label for b in boxes] == ["spaghetti", "spaghetti"]
    assert iou(boxes[0], UPPER_LEFT) > 0.85
    assert iou(boxes[1], LOWER_RIGHT) > 0.85


def test_mask_over_the_patch_removes_the_box(detector):
    frame = frame_with(1280, 720, ((300, 200, 700, 500), RED))
    cover = [(0.2, 0.2), (0.6, 0.2), (0.6, 0.75), (0.2, 0.75)]  # covers 256..768 x 144..540

    assert detector.detect(frame, masks=[cover]).boxes == ()
    assert frame[300, 500].tolist() == list(RED), "the caller's frame must not be modified"


def test_mask_elsewhere_keeps_the_box(detector):
    frame = frame_with(1280, 720, ((300, 200, 700, 500), RED))
    corner = [(0.8, 0.8), (1.0, 0.8), (1.0, 1.0)]

    assert len(detector.detect(frame, masks=[corner]).boxes) == 1


def test_mask_over_half_the_patch_leaves_the_other_half(detector):
    frame = frame_with(1280, 720, ((300, 200, 700, 500), RED))
    left_half = [(0.0, 0.0), (500 / 1280, 0.0), (500 / 1280, 1.0), (0.0, 1.0)]

    (box,) = detector.detect(frame, masks=[left_half]).boxes

    assert iou(box, (500, 200, 700, 500)) > 0.75, box


def test_grey_and_bgra_frames_are_accepted(detector):
    frame = frame_with(640, 480, ((100, 150, 420, 400), RED))
    bgra = np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])

    assert len(detector.detect(bgra).boxes) == 1
    assert detector.detect(frame[:, :, 0].copy()).boxes == ()


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 2), np.uint8), np.zeros((0, 5, 3), np.uint8),
                                 np.zeros((10, 10, 3), np.float32), "not an image"])
def test_bad_frame_is_a_clear_error(detector, bad):
    with pytest.raises(FrameError, match="frame"):
        detector.detect(bad)


@pytest.mark.parametrize("mask", [[(0.1, 0.1), (0.2, 0.2)], [("a", "b"), (1, 2), (3, 4)],
                                  [(0.1, 0.1, 0.1)] * 3])
def test_bad_mask_is_a_clear_error(detector, mask):
    with pytest.raises(ValueError, match="mask 0"):
        detector.detect(frame_with(64, 64), masks=[mask])


def test_decode_floor_drops_weaker_boxes():
    frame = frame_with(1280, 720, ((300, 200, 700, 500), RED))
    strict = Detector.load(ModelSettings(model_path=model_path("grid_int8"), decode_floor=1.0))

    assert strict.detect(frame).boxes == ()


def test_colour_order_comes_from_the_json(model_copy):
    # The same network told its input is BGR sees red in its "blue" channel.
    path = model_copy("grid_int8", input_changes={"color": "BGR"})
    detector = Detector.load(ModelSettings(model_path=str(path)))

    (box,) = detector.detect(frame_with(1280, 720, ((300, 200, 700, 500), RED))).boxes

    assert box.label == "detached"


def test_info_describes_the_model():
    info = Detector.load(ModelSettings(model_path=model_path("yolov8_int8"))).info

    assert (info.name, info.format, info.input_width, info.input_height) == \
        ("yolov8_int8", "yolov8", 160, 96)
    assert info.classes == ("spaghetti", "blob", "detached")
    assert info.runtime == "litert" and info.dtype == "int8" and not info.guessed
    assert info.to_dict()["classes"] == ["spaghetti", "blob", "detached"]
