"""JPEG bytes -> frames, and clear errors for what is not a whole JPEG."""

from __future__ import annotations

import cv2
import pytest

from detect_helpers import RED, frame_with
from pinozcam_klipper.detect import FrameError, decode_jpeg
from tests.servers import claiming_size


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", frame_with(320, 240, ((40, 40, 200, 160), RED)))
    assert ok
    return data.tobytes()


def test_decodes_to_bgr(jpeg):
    frame = decode_jpeg(jpeg)
    assert frame.shape == (240, 320, 3)
    assert frame[100, 100].tolist() == pytest.approx(list(RED), abs=8)


def test_padding_after_the_end_marker_is_accepted(jpeg):
    assert decode_jpeg(jpeg + b"\r\n" + b"\x00" * 32).shape == (240, 320, 3)


def test_truncated_jpeg(jpeg):
    with pytest.raises(FrameError, match="truncated JPEG"):
        decode_jpeg(jpeg[: len(jpeg) // 2])


@pytest.mark.parametrize("data,message", [(b"", "empty JPEG"),
                                          (b"<html>502 Bad Gateway</html>", "not a JPEG"),
                                          (b"\xff\xd8\xff" + b"\x13" * 300 + b"\xff\xd9",
                                           "broken JPEG"),
                                          ("a string", "must be bytes")])
def test_garbage_is_a_clear_error(data, message):
    with pytest.raises(FrameError, match=message):
        decode_jpeg(data)


def test_a_header_claiming_a_gigantic_size_is_refused_before_decoding(jpeg):
    with pytest.raises(FrameError, match="claims 30000x30000 pixels"):
        decode_jpeg(claiming_size(jpeg, 30000, 30000))
