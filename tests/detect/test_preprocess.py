"""Letterbox geometry, colour order, normalisation and quantisation of the input tensor."""

from __future__ import annotations

import numpy as np
import pytest

from detect_helpers import RED, frame_with
from pinozcam_klipper.detect.preprocess import Preprocessor
from pinozcam_klipper.detect.runtime import TensorInfo
from pinozcam_klipper.detect.spec import InputSpec

INT8 = TensorInfo((1, 112, 192, 3), np.dtype(np.int8), scale=1.0, zero_point=-128)


@pytest.mark.parametrize("width,height,resized,pad", [
    (1280, 720, (192, 108), (0, 2)),     # 16:9 is a little wider than 192x112
    (640, 480, (149, 112), (21, 0)),     # 4:3: bars left and right
    (480, 800, (67, 112), (62, 0)),      # portrait
    (192, 112, (192, 112), (0, 0)),
])
def test_letterbox_keeps_the_aspect_and_centres(width, height, resized, pad):
    pre = Preprocessor(InputSpec(192, 112), INT8)
    tensor, box = pre(frame_with(width, height))

    assert (box.resized_width, box.resized_height) == resized
    assert (box.pad_x, box.pad_y) == pad
    assert tensor.shape == (1, 112, 192, 3) and tensor.dtype == np.int8
    # Padding is the letterbox colour 114, i.e. 114 - 128 as int8 input.
    if pad[0]:
        assert (tensor[0, :, : pad[0]] == 114 - 128).all()
    # Frame corners map back to frame corners.
    corners = np.array([[pad[0], pad[1], pad[0] + resized[0], pad[1] + resized[1]]], np.float32)
    assert box.to_frame(corners)[0].tolist() == pytest.approx([0, 0, width, height])


def test_boxes_reaching_into_the_padding_are_clipped_to_the_frame():
    _, box = Preprocessor(InputSpec(192, 112), INT8)(frame_with(640, 480))
    mapped = box.to_frame(np.array([[0, -5, 192, 120]], np.float32))[0]
    assert mapped.tolist() == [0, 0, 640, 480]


def test_int8_input_is_pixel_minus_128_in_rgb_order():
    tensor, _ = Preprocessor(InputSpec(192, 112), INT8)(frame_with(192, 112, ((0, 0, 192, 112), RED)))
    assert tensor[0, 50, 50].tolist() == [255 - 128, 0 - 128, 0 - 128]


def test_float_input_is_normalised_in_the_json_order():
    spec = InputSpec(64, 64, color="BGR", mean=(10, 20, 30), std=(2, 4, 5))
    tensor, _ = Preprocessor(spec, TensorInfo((1, 64, 64, 3), np.dtype(np.float32)))(
        frame_with(64, 64, ((0, 0, 64, 64), (110, 120, 130))))
    assert tensor.dtype == np.float32
    assert tensor[0, 3, 3].tolist() == pytest.approx([50, 25, 20])


def test_uint8_input_uses_the_tensors_quantisation():
    spec = InputSpec(64, 64, std=(255, 255, 255))
    info = TensorInfo((1, 64, 64, 3), np.dtype(np.uint8), scale=1 / 255, zero_point=0)
    tensor, _ = Preprocessor(spec, info)(frame_with(64, 64, ((0, 0, 64, 64), (0, 100, 200))))
    assert tensor.dtype == np.uint8 and tensor[0, 0, 0].tolist() == [200, 100, 0]


def test_letterbox_colour_is_in_model_order():
    spec = InputSpec(64, 32, letterbox_color=(255, 0, 0))  # RGB red bars
    tensor, _ = Preprocessor(spec, TensorInfo((1, 32, 64, 3), np.dtype(np.float32)))(
        frame_with(32, 32))
    assert tensor[0, 0, 0].tolist() == [255, 0, 0]


def test_mask_is_filled_with_the_letterbox_colour():
    pre = Preprocessor(InputSpec(192, 112), INT8)
    frame = frame_with(192, 112, ((0, 0, 192, 112), RED))
    tensor, _ = pre(frame, masks=[[(0, 0), (0.5, 0), (0.5, 1), (0, 1)]])

    assert (tensor[0, :, :94] == 114 - 128).all()
    assert tensor[0, 50, 150].tolist() == [127, -128, -128]
