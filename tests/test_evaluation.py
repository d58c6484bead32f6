"""Metrics of pinozcam_klipper.evaluation on hand-computed cases."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from pinozcam_klipper import evaluation as ev
from pinozcam_klipper.engine.types import Box

CLASSES = ["spaghetti", "blob", "detached"]


def box(x1, y1, x2, y2, score=1.0, label="spaghetti") -> Box:
    return Box(float(x1), float(y1), float(x2), float(y2), score, label)


def test_iou_of_half_overlapping_squares():
    # Intersection 50, union 150.
    assert ev.iou(box(0, 0, 10, 10), box(5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert ev.iou(box(0, 0, 10, 10), box(10, 0, 20, 10)) == 0.0


def test_union_area_counts_overlap_once_and_clips_to_frame():
    boxes = [box(0, 0, 10, 10), box(5, 5, 15, 15), box(90, 90, 120, 120)]
    # 100 + 100 - 25 + (the third clipped to 10 x 10) = 275.
    assert ev.union_area(boxes, 100, 100) == pytest.approx(275)


def test_failure_band_needs_two_thirds_of_the_sensitivity_area():
    t = ev.Thresholds(score_threshold=0.5, image_sensitivity=0.03)
    # A 100x100 frame: severity = area / 10000 / 0.03; band above 0.66 -> area > 198.
    assert ev.reaches_failure_band([box(0, 0, 20, 10, 0.9)], 100, 100, t)        # 200
    assert not ev.reaches_failure_band([box(0, 0, 19, 10, 0.9)], 100, 100, t)    # 190
    # Below the score threshold the box does not count at all.
    assert not ev.reaches_failure_band([box(0, 0, 100, 100, 0.4)], 100, 100, t)
    assert ev.failure_severity([box(0, 0, 100, 100, 0.6)], 100, 100, t) == 1.0


def test_failure_band_agrees_with_the_engine():
    from pinozcam_klipper.engine import DetectionSettings, assess_frame

    settings = DetectionSettings()
    t = ev.Thresholds.shipped()
    assert t.score_threshold == settings.resolved().score_threshold
    rng = np.random.default_rng(3)
    for _ in range(50):
        boxes = []
        for _ in range(int(rng.integers(0, 5))):
            x1, y1 = rng.uniform(0, 600, 2)
            w, h = rng.uniform(1, 200, 2)
            boxes.append(box(x1, y1, x1 + w, y1 + h, float(rng.uniform(0.5, 1.0))))
        frame = assess_frame(boxes, 640, 480, settings)
        assert ev.reaches_failure_band(boxes, 640, 480, t) == frame.is_failure
        assert ev.failure_severity(boxes, 640, 480, t) == pytest.approx(frame.severity)


def test_image_level_recall_and_false_alarms():
    lvl = ev.image_level([True, False, True, True, False], [True, True, True, False, False])
    assert (lvl.recall, lvl.false_alarm_rate) == (pytest.approx(2 / 3), 0.5)
    assert (lvl.detected, lvl.false_alarms, lvl.n_failure, lvl.n_normal) == (2, 1, 3, 2)
    with pytest.raises(ValueError, match="decisions"):
        ev.image_level([True], [True, False])


def test_auroc_hand_computed_with_a_tie():
    # Positives 0.9, 0.5; negatives 0.5, 0.1: pairs (0.9>0.5, 0.9>0.1, 0.5=0.5, 0.5>0.1) -> 3.5/4.
    assert ev.auroc([0.9, 0.5, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.875)
    assert ev.auroc([0.1, 0.9], [True, False]) == 0.0
    assert math.isnan(ev.auroc([0.3, 0.4], [True, True]))


def test_average_precision_voc_all_point():
    truths = [[box(0, 0, 10, 10)], [box(0, 0, 10, 10)], []]
    preds = [
        [box(0, 0, 10, 10, 0.9), box(0, 0, 10, 10, 0.8)],   # TP, then a duplicate: FP
        [box(50, 50, 60, 60, 0.7)],                          # wrong place: FP
        [box(0, 0, 10, 10, 0.6)],                            # no truth: FP
    ]
    r = ev.average_precision(preds, truths, "spaghetti")
    # Ranked: TP(0.9) FP FP FP -> recall reaches 0.5 at precision 1 and never more: AP 0.5.
    assert r.ap == pytest.approx(0.5)
    assert r.n_truth == 2
    assert [(p.recall, p.precision) for p in r.points] == [(0.5, 1.0), (0.5, 0.5), (0.5, 1 / 3), (0.5, 0.25)]


def test_average_precision_interpolates_precision_envelope():
    truths = [[box(0, 0, 10, 10)], [box(0, 0, 10, 10)]]
    preds = [[box(0, 0, 10, 10, 0.9)], [box(20, 20, 30, 30, 0.8), box(1, 0, 10, 10, 0.7)]]
    # Ranked TP, FP, TP: precision 1, 0.5, 2/3 at recall 0.5, 0.5, 1 -> AP = 0.5*1 + 0.5*2/3.
    r = ev.average_precision(preds, truths, "spaghetti")
    assert r.ap == pytest.approx(0.5 + 1 / 3)
    # Other labels are ignored; a class without truth is NaN.
    assert math.isnan(ev.average_precision(preds, truths, "blob").ap)


def _write_dataset(root: Path) -> None:
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    cv2.imwrite(str(root / "images" / "a.jpg"), np.zeros((50, 100, 3), np.uint8))
    cv2.imwrite(str(root / "images" / "b.png"), np.zeros((20, 40, 3), np.uint8))
    (root / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.4\n2 0.1 0.1 0.2 0.2\n")


def test_load_yolo_dataset_reads_boxes_in_pixels(tmp_path):
    _write_dataset(tmp_path)
    data = ev.load_yolo_dataset(tmp_path, CLASSES)
    assert [d.name for d in data] == ["a", "b"]
    a, b = data
    assert (a.width, a.height) == (100, 50)
    assert a.boxes[0] == box(40, 15, 60, 35, 1.0, "spaghetti")
    assert a.boxes[1].label == "detached" and a.boxes[1].x1 == 0.0  # clipped at the edge
    assert b.boxes == () and not b.has_failure


def test_load_yolo_dataset_names_a_bad_line(tmp_path):
    _write_dataset(tmp_path)
    (tmp_path / "labels" / "b.txt").write_text("7 0.5 0.5 0.1 0.1\n")
    with pytest.raises(ValueError, match=r"b.txt:1: class id 7"):
        ev.load_yolo_dataset(tmp_path, CLASSES)
    (tmp_path / "labels" / "b.txt").write_text("0 0.5 half\n")
    with pytest.raises(ValueError, match=r"b.txt:1: bad YOLO line"):
        ev.load_yolo_dataset(tmp_path, CLASSES)


def test_evaluate_and_pr_plot(tmp_path):
    _write_dataset(tmp_path)
    data = ev.load_yolo_dataset(tmp_path, CLASSES)
    preds = [(box(40, 15, 60, 35, 0.95),), ()]
    report = ev.evaluate(data, preds, CLASSES, ev.Thresholds(0.9, 0.03))
    assert report.image.recall == 1.0 and report.image.false_alarm_rate == 0.0
    assert report.auroc == 1.0
    assert report.ap50["spaghetti"].ap == pytest.approx(1.0)
    assert report.ap50["detached"].ap == 0.0
    out = tmp_path / "pr.png"
    ev.draw_pr_curve(report.ap50["spaghetti"].points, out, "spaghetti")
    img = cv2.imread(str(out))
    assert img is not None and img.shape == (300, 360, 3)


def test_thresholds_are_checked():
    with pytest.raises(ValueError, match="image_sensitivity"):
        ev.Thresholds(0.5, 0.0)
    with pytest.raises(ValueError, match="score_threshold"):
        ev.Thresholds(1.5, 0.03)


def test_report_dict_is_strict_json(tmp_path):
    import json

    _write_dataset(tmp_path)
    data = ev.load_yolo_dataset(tmp_path, CLASSES)
    report = ev.evaluate(data, [(), ()], CLASSES, ev.Thresholds(0.9, 0.03))
    d = report.to_dict()
    assert d["ap50"]["blob"] is None and d["ap50"]["spaghetti"] == 0.0
    json.dumps(d, allow_nan=False)


def _exif_rotated_jpeg(path: Path, width: int, height: int) -> Path:
    """A ``width`` x ``height`` JPEG whose EXIF says: turn it 90 degrees (orientation 6)."""
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), 90, np.uint8))
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + b"\x00\x00\x00\x00"
    app1 = b"Exif\x00\x00" + tiff
    segment = b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1
    path.write_bytes(data.tobytes()[:2] + segment + data.tobytes()[2:])
    return path


def test_load_yolo_dataset_sizes_an_image_as_the_detector_decodes_it(tmp_path):
    from pinozcam_klipper.commands._common import read_image

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    path = _exif_rotated_jpeg(tmp_path / "images" / "a.jpg", 640, 360)
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 1.0 1.0\n")

    (item,) = ev.load_yolo_dataset(tmp_path, CLASSES)

    height, width = read_image(path).shape[:2]
    assert (width, height) == (360, 640)
    assert (item.width, item.height) == (width, height)
    assert (item.boxes[0].x2, item.boxes[0].y2) == (360, 640)


def test_load_yolo_dataset_refuses_a_dataset_without_labels(tmp_path):
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.zeros((8, 8, 3), np.uint8))

    with pytest.raises(ValueError, match="no labels/ folder"):
        ev.load_yolo_dataset(tmp_path, CLASSES)
