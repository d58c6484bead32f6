"""Turning the picture as the web interfaces do, checked against the CSS transforms they use.

Mainsail (src/components/mixins/webcam.ts, generateTransform) and Fluidd (src/mixins/camera.ts,
createTransform) put one transform on the picture, flips before the rotation:
``scaleX(-1) scaleY(-1) rotate(90deg)``. OctoPrint's classic webcam
(classicwebcam_webcam.jinja2, classicwebcam.less) flips the ``<img>`` (flipH/flipV classes)
inside a wrapper turned by ``rotate(-90deg)``. :func:`css_reference` applies such a transform
to every pixel's position, as a browser does, so ``orient`` is compared with the geometry,
not with a second copy of its own steps.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pinozcam_klipper.camera import CameraSettings, open_camera, orient
from pinozcam_klipper.options import load_section
from tests.servers import CameraServer

# A 2x3 picture with every pixel different: any wrong turn or mirror shows.
IMAGE = np.arange(6, dtype=np.uint8).reshape(2, 3, 1).repeat(3, axis=2) * 40


def _rotate(degrees: int) -> np.ndarray:
    """CSS ``rotate(degrees)`` on screen coordinates (y down): clockwise as seen."""
    c, s = round(np.cos(np.radians(degrees))), round(np.sin(np.radians(degrees)))
    return np.array([[c, -s], [s, c]])


def _scale(x: int, y: int) -> np.ndarray:
    return np.diag([x, y])


def css_reference(image: np.ndarray, *matrices: np.ndarray) -> np.ndarray:
    """``image`` as shown with the transforms ``matrices`` (outermost first, as CSS composes
    ``transform: A B`` and nested elements: the point is mapped by A @ B)."""
    height, width = image.shape[:2]
    total = np.eye(2, dtype=int)
    for matrix in matrices:
        total = total @ matrix
    corners = total @ np.array([[0, width - 1, 0, width - 1], [0, 0, height - 1, height - 1]])
    out_w, out_h = int(np.ptp(corners[0])) + 1, int(np.ptp(corners[1])) + 1
    out = np.zeros((out_h, out_w) + image.shape[2:], image.dtype)
    for y in range(height):
        for x in range(width):
            # Centre-relative coordinates, doubled to stay integral for even sizes.
            nx, ny = total @ np.array([2 * x - (width - 1), 2 * y - (height - 1)])
            out[(ny + out_h - 1) // 2, (nx + out_w - 1) // 2] = image[y, x]
    return out


def _mainsail(flip_h: bool, flip_v: bool, rotate: int) -> list[np.ndarray]:
    """generateTransform: scaleX(-1) if flipped, scaleY(-1) if flipped, then rotate(Ndeg)."""
    return ([_scale(-1, 1)] if flip_h else []) + ([_scale(1, -1)] if flip_v else []) + [_rotate(rotate)]


CASES = [(h, v, r) for h in (False, True) for v in (False, True) for r in (0, 90, 180, 270)]


@pytest.mark.parametrize("flip_h, flip_v, rotate", CASES)
def test_rotate_first_shows_what_mainsail_and_fluidd_show(flip_h: bool, flip_v: bool, rotate: int) -> None:
    expected = css_reference(IMAGE, *_mainsail(flip_h, flip_v, rotate))
    got = orient(IMAGE, flip_horizontal=flip_h, flip_vertical=flip_v, rotate=rotate, rotate_first=True)
    assert np.array_equal(got, expected)


@pytest.mark.parametrize("flip_h, flip_v, rotate90", [(h, v, r) for h in (False, True) for v in (False, True)
                                                      for r in (False, True)])
def test_flip_first_shows_what_octoprint_shows(flip_h: bool, flip_v: bool, rotate90: bool) -> None:
    # The wrapper's rotate(-90deg) outside, the <img>'s flips inside; the adapter passes 270.
    expected = css_reference(IMAGE, _rotate(-90 if rotate90 else 0), *_mainsail(flip_h, flip_v, 0)[:-1])
    got = orient(IMAGE, flip_horizontal=flip_h, flip_vertical=flip_v, rotate=270 if rotate90 else 0)
    assert np.array_equal(got, expected)


def test_the_orders_differ_by_half_a_turn_with_one_flip_and_a_quarter_turn() -> None:
    first = orient(IMAGE, flip_horizontal=True, flip_vertical=False, rotate=90, rotate_first=True)
    second = orient(IMAGE, flip_horizontal=True, flip_vertical=False, rotate=90, rotate_first=False)
    assert np.array_equal(first, np.rot90(second, 2))


async def test_the_camera_turns_in_the_order_set() -> None:
    import cv2

    big = cv2.resize(IMAGE, (48, 32), interpolation=cv2.INTER_NEAREST)  # 16x16 blocks survive JPEG
    jpeg = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
    settings = load_section(CameraSettings, {"camera_rotate": "90", "camera_flip_horizontal": "yes",
                                             "camera_rotate_first": "yes", "camera_dark_level": 0})
    expected = css_reference(IMAGE, *_mainsail(True, False, 90))
    with CameraServer([jpeg]) as srv:
        camera = open_camera(dataclasses.replace(settings, camera=srv.snapshot_url))
        try:
            frame = await camera.read()
            small = cv2.resize(frame.bgr, expected.shape[1::-1], interpolation=cv2.INTER_AREA)
            assert np.abs(small.astype(int) - expected.astype(int)).max() < 12
        finally:
            await camera.close()
