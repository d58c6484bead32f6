"""The MJPEG multipart parser: every flavour real cameras send, fed in awkward chunks."""

from __future__ import annotations

import pytest

from pinozcam_klipper.camera.frame import jpeg_problem
from pinozcam_klipper.camera.mjpeg import MjpegParser, boundary_from_content_type
from tests.servers import make_jpeg

FRAMES = [make_jpeg(40 * i, mark=i) for i in range(1, 4)]


def _stream(*, write_dashes: bool, content_length: bool, newline: bytes = b"\r\n",
            frames: list[bytes] = FRAMES) -> bytes:
    out = b""
    for jpeg in frames:
        out += (b"--" if write_dashes else b"") + b"myboundary" + newline
        out += b"Content-Type: image/jpeg" + newline
        if content_length:
            out += b"Content-Length: " + str(len(jpeg)).encode() + newline
        out += newline + jpeg + newline
    # A last delimiter ends the last part when there is no Content-Length.
    return out + (b"--" if write_dashes else b"") + b"myboundary" + newline


@pytest.mark.parametrize("write_dashes", [True, False])
@pytest.mark.parametrize("content_length", [True, False])
@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
@pytest.mark.parametrize("chunk", [1, 7, 1000, 10**6])
def test_every_flavour_yields_every_frame(write_dashes: bool, content_length: bool, newline: bytes,
                                          chunk: int) -> None:
    data = _stream(write_dashes=write_dashes, content_length=content_length, newline=newline)
    parser = MjpegParser("--myboundary" if write_dashes else "myboundary")
    got: list[bytes] = []
    for i in range(0, len(data), chunk):
        got += parser.feed(data[i:i + chunk])
    assert got == FRAMES
    assert parser.bad_parts == 0


def test_broken_parts_are_counted_and_skipped() -> None:
    truncated = FRAMES[0][: len(FRAMES[0]) // 2]
    data = _stream(write_dashes=True, content_length=True,
                   frames=[FRAMES[0], truncated, b"not a picture at all", FRAMES[1]])
    parser = MjpegParser("myboundary")
    assert parser.feed(data) == [FRAMES[0], FRAMES[1]]
    assert parser.bad_parts == 2


def test_garbage_without_boundary_keeps_memory_bounded() -> None:
    parser = MjpegParser("myboundary", max_part_bytes=10_000)
    for _ in range(100):
        assert parser.feed(b"x" * 1000) == []
    assert len(parser._buf) <= 10_000
    # ...and a good stream afterwards still parses.
    assert parser.feed(_stream(write_dashes=True, content_length=True)) == FRAMES


@pytest.mark.parametrize("ctype, expected", [
    ("multipart/x-mixed-replace; boundary=boundarydonotcross", "boundarydonotcross"),
    ("multipart/x-mixed-replace;boundary=--myboundary", "myboundary"),
    ('multipart/x-mixed-replace; boundary="frame"', "frame"),
    ("image/jpeg", None),
])
def test_boundary_from_content_type(ctype: str, expected: str | None) -> None:
    assert boundary_from_content_type(ctype) == expected


# ESP32-CAM / OV2640 / OV5640 frames: the JPEG, then padding up to the frame buffer's size
# (espressif/esp32-camera#162, openmv#822): zeros, or whatever the buffer held before.
PADDINGS = [b"\x00" * 40, b"\x00" * 3000, bytes(range(256)) * 20, b"\xff\xd8" + b"\x00" * 500]


@pytest.mark.parametrize("padding", PADDINGS, ids=["40-zeros", "3000-zeros", "junk", "stale-start"])
@pytest.mark.parametrize("content_length", [True, False])
def test_padding_after_the_end_marker_is_accepted(padding: bytes, content_length: bool) -> None:
    padded = [jpeg + padding for jpeg in FRAMES]
    parser = MjpegParser("myboundary")
    assert parser.feed(_stream(write_dashes=True, content_length=content_length, frames=padded)) == padded
    assert parser.bad_parts == 0
    assert all(jpeg_problem(jpeg) is None for jpeg in padded)


def test_an_end_marker_in_an_exif_thumbnail_does_not_make_a_truncated_picture_whole() -> None:
    thumbnail = make_jpeg(10, size=(16, 16))
    app1 = b"\xff\xe1" + (len(thumbnail) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + thumbnail
    picture = FRAMES[0][:2] + app1 + FRAMES[0][2:]
    assert jpeg_problem(picture) is None
    truncated = picture[: len(picture) - 200]
    assert jpeg_problem(truncated) == \
        f"no end-of-image marker after the picture data ({len(truncated)} bytes; truncated?)"


def test_broken_parts_in_a_row_are_counted_with_the_reason() -> None:
    truncated = FRAMES[0][: len(FRAMES[0]) // 2]
    parser = MjpegParser("myboundary")
    parser.feed(_stream(write_dashes=True, content_length=True, frames=[FRAMES[0], b"<html>", truncated]))
    assert (parser.parts, parser.bad_parts, parser.bad_in_a_row) == (3, 2, 2)
    assert parser.last_problem.startswith("no end-of-image marker")
    parser.feed(_stream(write_dashes=True, content_length=True, frames=[FRAMES[1]]))
    assert (parser.bad_parts, parser.bad_in_a_row) == (2, 0)
