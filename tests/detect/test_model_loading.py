"""Loading models: clear one-line errors, threads from cpu_share, JSON-less YOLO models."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil

import numpy as np
import pytest

from detect_helpers import MODELS, RED, frame_with, iou, model_path
from pinozcam_klipper.detect import Detector, ModelError, ModelSettings
from pinozcam_klipper.detect.detector import DEFAULT_MODEL
from pinozcam_klipper.detect.runtime import threads_for
from pinozcam_klipper.detect.spec import guess_spec
from pinozcam_klipper.options import SettingsError, load_section


def load(path, **options) -> Detector:
    return Detector.load(ModelSettings(model_path=str(path), **options))


def assert_one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_missing_model_file_names_the_path(tmp_path):
    with pytest.raises(ModelError, match="not found") as exc:
        load(tmp_path / "nope.tflite")
    assert str(tmp_path / "nope.tflite") in assert_one_line(exc)


def test_shipped_model_missing_says_what_to_set():
    if DEFAULT_MODEL.exists():
        assert Detector.load(ModelSettings()).info.format == "pinozcam-grid-v1"
        return
    with pytest.raises(ModelError, match="shipped model.*model_path") as exc:
        Detector.load(ModelSettings())
    assert_one_line(exc)


def test_folder_as_model_path(tmp_path):
    with pytest.raises(ModelError, match="folder"):
        load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"garbage, not a model at all" * 10,
                                     b"\x00" * 64])
def test_not_a_tflite_file(tmp_path, content):
    path = tmp_path / "bad.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="not a TFLite model") as exc:
        load(path)
    assert_one_line(exc)


def test_truncated_tflite_file(model_copy):
    path = model_copy("grid_int8")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ModelError, match="cannot load") as exc:
        load(path)
    assert str(path) in assert_one_line(exc)


def test_missing_json_for_a_non_yolo_model(model_copy):
    path = model_copy("grid_int8", with_json=False)
    with pytest.raises(ModelError, match=r"grid_int8\.json not found.*model-format") as exc:
        load(path)
    assert_one_line(exc)


def test_malformed_json(model_copy):
    path = model_copy("grid_int8")
    path.with_suffix(".json").write_text('{"format": "pinozcam-grid-v1", ')
    with pytest.raises(ModelError, match="not valid JSON") as exc:
        load(path)
    assert_one_line(exc)


@pytest.mark.parametrize("changes,message", [
    ({"classes": None}, "missing key 'classes'"),
    ({"classes": []}, "'classes' must be a non-empty list"),
    ({"format": "ssd"}, "'format' is 'ssd'"),
    ({"input": {"width": 192}}, "missing key 'height'"),
    ({"input": {"width": 192, "height": 112, "std": [1, 0, 1]}}, "must not contain 0"),
    ({"input": {"width": 192, "height": 112, "color": "HSV"}}, "RGB or BGR"),
    ({"input": {"width": 192, "height": 112, "mean": [1, 2]}}, "'input.mean' must be three"),
])
def test_json_with_a_bad_value_names_it(model_copy, changes, message):
    path = model_copy("grid_int8")
    meta = json.loads(path.with_suffix(".json").read_text())
    meta.update(changes)
    meta = {k: v for k, v in meta.items() if v is not None}
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=message) as exc:
        load(path)
    assert_one_line(exc)


def test_json_input_size_must_match_the_model(model_copy):
    path = model_copy("grid_int8", input_changes={"width": 320, "height": 320})
    with pytest.raises(ModelError, match=r"input tensor is \[1, 112, 192, 3\].*320x320"):
        load(path)


def test_json_class_count_must_match_the_output(model_copy):
    path = model_copy("yolov8_int8", json_changes={"classes": ["a", "b"]})
    with pytest.raises(ModelError, match=r"yolov8 output has shape \[1, 7, 60\]"):
        load(path)


@pytest.mark.skipif(importlib.util.find_spec("tflite_runtime") is not None
                    and np.__version__.startswith("1."),
                    reason="tflite-runtime is usable here")
def test_unavailable_runtime_names_the_install_command():
    # From a checkout (as here) the package is not on PyPI: the command installs the checkout's extra.
    with pytest.raises(ModelError, match=r"-m pip install -e '[^']+\[tflite\]'") as exc:
        load(model_path("grid_int8"), runtime="tflite")
    assert_one_line(exc)


@pytest.mark.parametrize("share,cores,threads", [(0.5, 4, 2), (1.0, 4, 4), (0.5, 2, 1),
                                                 (0.1, 2, 1), (0.75, 16, 12), (1.0, None, 1)])
def test_threads_from_cpu_share(share, cores, threads):
    assert threads_for(share, cores) == threads


def test_detector_uses_the_thread_count():
    detector = Detector.load(ModelSettings(model_path=model_path("grid_int8"), cpu_share=1.0),
                             cpu_count=3)
    assert detector.info.threads == 3


@pytest.mark.parametrize("options,bad", [({"cpu_share": 0}, "cpu_share"),
                                         ({"cpu_share": 1.5}, "cpu_share"),
                                         ({"runtime": "onnx"}, "runtime"),
                                         ({"decode_floor": 2}, "decode_floor")])
def test_settings_reject_bad_values(options, bad):
    with pytest.raises(SettingsError, match=bad):
        load_section(ModelSettings, options)


def test_settings_defaults_and_parsing():
    assert load_section(ModelSettings, {}) == ModelSettings("", 0.5, "auto", None)
    parsed = load_section(ModelSettings, {"runtime": "LiteRT", "decode_floor": "", "cpu_share": "1"})
    assert (parsed.runtime, parsed.decode_floor, parsed.cpu_share) == ("litert", None, 1.0)


@pytest.mark.parametrize("name,fmt", [("yolov8_int8", "yolov8"), ("yolov5_float", "yolov5")])
def test_json_less_yolo_model_is_guessed(tmp_path, name, fmt):
    path = tmp_path / "mine.tflite"
    shutil.copy(MODELS / f"{name}.tflite", path)

    detector = load(path)
    (box,) = detector.detect(frame_with(1280, 720, ((300, 200, 700, 500), RED))).boxes

    info = detector.info
    assert (info.format, info.guessed, info.classes) == (fmt, True, ("class0", "class1", "class2"))
    assert box.label == "class0" and iou(box, (300, 200, 700, 500)) > 0.85


@pytest.mark.parametrize("outputs,fmt,count", [([(1, 84, 8400)], "yolov8", 80),
                                               ([(1, 25200, 85)], "yolov5", 80),
                                               ([(1, 6, 2100)], "yolov8", 2),
                                               ([(1, 7, 12, 7)], None, 0),
                                               ([(1, 84, 8400), (1, 32, 160, 160)], None, 0)])
def test_guess_from_output_shape(outputs, fmt, count):
    spec = guess_spec("m", (1, 640, 640, 3), outputs)
    if fmt is None:
        assert spec is None
    else:
        assert (spec.format, len(spec.classes), spec.input.std) == (fmt, count, (255.0,) * 3)


# -- errors about the user's model_path name the option (adapters drop the bad value) ----------

def _user_model_error(path) -> str:
    from pinozcam_klipper.detect.errors import blame_option

    with pytest.raises(ModelError) as exc:
        try:
            load(path)
        except ModelError as error:
            raise blame_option(error, "model_path") from None
    return assert_one_line(exc)


@pytest.mark.parametrize("content", [None, b"garbage, not a model at all" * 10])
def test_a_bad_user_model_is_blamed_on_model_path(tmp_path, content):
    path = tmp_path / "mine.tflite"
    if content is not None:
        path.write_bytes(content)
    text = _user_model_error(path)
    assert re.match(r"option '(\w+)': ", text).group(1) == "model_path"
    assert str(path) in text


def test_a_missing_runtime_is_not_blamed_on_model_path():
    from pinozcam_klipper.detect.errors import RuntimeMissingError, blame_option

    missing = RuntimeMissingError("no TFLite runtime is installed: run `pip install ai-edge-litert`")
    assert blame_option(missing, "model_path") is missing
    assert isinstance(missing, ModelError)
    assert str(blame_option(ModelError("x\ny"), "model_path")) == "option 'model_path': x y"
