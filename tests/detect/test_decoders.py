"""Decoders and NMS on hand-written output tensors, and on a real model's raw output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detect_helpers import RED, frame_with, model_path
from pinozcam_klipper.detect import ModelError
from pinozcam_klipper.detect.decoders import make_decoder
from pinozcam_klipper.detect.nms import nms
from pinozcam_klipper.detect.preprocess import Preprocessor
from pinozcam_klipper.detect.runtime import TensorInfo, open_backend
from pinozcam_klipper.detect.spec import InputSpec, ModelSpec, read_spec

CLASSES = ("spaghetti", "blob", "detached")


def spec(fmt: str, width: int = 320, height: int = 160) -> ModelSpec:
    return ModelSpec("t", "1", fmt, InputSpec(width, height), CLASSES)


def f32(shape) -> TensorInfo:
    return TensorInfo(tuple(shape), np.dtype(np.float32))


def test_nms_merges_duplicates_per_class_only():
    boxes = np.array([[10, 10, 50, 50], [12, 11, 51, 49], [11, 10, 50, 52],  # one object
                      [10, 10, 50, 50],                                      # other class
                      [100, 100, 140, 140]], np.float32)                     # elsewhere
    scores = np.array([0.6, 0.9, 0.7, 0.5, 0.3], np.float32)
    classes = np.array([0, 0, 0, 1, 0])

    assert nms(boxes, scores, classes, 0.5).tolist() == [1, 3, 4]


def test_nms_keeps_boxes_that_overlap_little():
    boxes = np.array([[0, 0, 10, 10], [6, 0, 16, 10]], np.float32)  # IoU 0.25
    assert sorted(nms(boxes, np.array([0.5, 0.4]), np.array([0, 0]), 0.5).tolist()) == [0, 1]
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0, int)).size == 0


def test_grid_model_gives_many_candidates_that_nms_merges():
    path = Path(model_path("grid_int8"))
    model_spec = read_spec(path.with_suffix(".json"))
    backend = open_backend(path.read_bytes(), "litert", 1)
    tensor, _ = Preprocessor(model_spec.input, backend.input)(
        frame_with(1280, 720, ((300, 200, 700, 500), RED)))
    found = make_decoder(model_spec, backend.outputs)(backend.invoke(tensor), 0.05)

    assert len(found) > 5  # every cell on the patch votes
    assert len(nms(found.boxes, found.scores, found.classes, 0.5)) == 1


def test_grid_decodes_distances_from_the_cell_centre():
    out = np.zeros((1, 10, 20, 7), np.float32)  # 320x160 input, stride 16
    out[0, 2, 3, :3] = (0.1, 0.8, 0.2)
    out[0, 2, 3, 3:] = (0.05, 0.1, 0.1, 0.25)  # l t r b, fractions of 320 / 160
    found = make_decoder(spec("pinozcam-grid-v1"), [f32(out.shape)])([out], 0.05)

    cx, cy = 3.5 * 16, 2.5 * 16
    assert found.classes.tolist() == [1]
    assert found.scores.tolist() == pytest.approx([0.8])
    assert found.boxes[0].tolist() == pytest.approx([cx - 16, cy - 16, cx + 32, cy + 40])


def test_grid_dequantises_int8_output():
    info = TensorInfo((1, 10, 20, 7), np.dtype(np.int8), scale=1 / 255, zero_point=-128)
    out = np.full(info.shape, -128, np.int8)
    out[0, 0, 0, 0] = 127  # score 1.0
    out[0, 0, 0, 3:] = -128 + 51  # 0.2 of the input size each way
    found = make_decoder(spec("pinozcam-grid-v1"), [info])([out], 0.05)

    assert found.scores.tolist() == pytest.approx([1.0])
    assert found.boxes[0].tolist() == pytest.approx([8 - 64, 8 - 32, 8 + 64, 8 + 32], abs=0.01)


def yolo_rows(normalised: bool, objectness: bool) -> np.ndarray:
    """Two candidates: a blob at (100, 50) 40x20 px and a weak one."""
    box = np.array([100, 50, 40, 20], np.float32)
    if normalised:
        box = box / np.array([320, 160, 320, 160], np.float32)
    rows = np.zeros((2, (5 if objectness else 4) + 3), np.float32)
    rows[:, :4] = box
    head = 4
    if objectness:
        rows[:, 4] = (0.5, 0.9)
        head = 5
    rows[0, head:] = (0.1, 0.9, 0.0)
    rows[1, head:] = (0.04, 0.0, 0.0)
    return rows


@pytest.mark.parametrize("normalised", [True, False])
def test_yolov5_scores_are_objectness_times_class(normalised):
    out = yolo_rows(normalised, objectness=True)[None]
    found = make_decoder(spec("yolov5"), [f32(out.shape)])([out], 0.05)

    assert found.classes.tolist() == [1]
    assert found.scores.tolist() == pytest.approx([0.45])
    assert found.boxes[0].tolist() == pytest.approx([80, 40, 120, 60], abs=1e-3)


@pytest.mark.parametrize("channels_first", [True, False])
@pytest.mark.parametrize("normalised", [True, False])
def test_yolov8_reads_either_layout(channels_first, normalised):
    rows = yolo_rows(normalised, objectness=False)
    rows = np.concatenate([rows, np.zeros((7, 7), np.float32)])  # N=9 != 4+C
    out = (rows.T if channels_first else rows)[None]
    found = make_decoder(spec("yolov8"), [f32(out.shape)])([out], 0.05)

    assert found.classes.tolist() == [1]
    assert found.scores.tolist() == pytest.approx([0.9])
    assert found.boxes[0].tolist() == pytest.approx([80, 40, 120, 60], abs=1e-3)


@pytest.mark.parametrize("fmt,shape", [("pinozcam-grid-v1", (1, 10, 20, 8)),
                                       ("pinozcam-grid-v1", (1, 7, 20, 7)),
                                       ("yolov5", (1, 100, 7)),
                                       ("yolov8", (1, 9, 100)),
                                       ("yolov8", (1, 100))])
def test_output_shape_that_does_not_fit_is_rejected(fmt, shape):
    with pytest.raises(ModelError, match=fmt):
        make_decoder(spec(fmt), [f32(shape)])


def test_two_outputs_are_rejected():
    with pytest.raises(ModelError, match="one output"):
        make_decoder(spec("yolov5"), [f32((1, 100, 8)), f32((1, 100, 8))])
