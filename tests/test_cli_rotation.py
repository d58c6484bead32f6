"""``pinozcam detect`` and ``pinozcam replay`` turn a camera's pictures as the live worker does.

A user who replays their camera's recorded pictures with their worker settings must see what
the worker saw: the picture rotated and flipped by ``camera_rotate`` and ``camera_flip_*``,
masks (drawn on the turned picture) hiding the same part of it, and the same verdict. The
"worker" side here is the worker's own path: its :class:`Camera` reading the same file, then
its :class:`FrameAnalyser`.

The fixture model (tests/fixtures/make_models.py) boxes strongly red regions as ``spaghetti``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest

from pinozcam_klipper.camera import Frame, open_camera
from pinozcam_klipper.cli import main
from pinozcam_klipper.detect import Detector
from pinozcam_klipper.pipeline import FrameAnalyser
from pinozcam_klipper.settings import Settings
from tests.test_cli import MODEL, json_lines, write_jpeg

#: x1, y1, x2, y2 on a 1280x720 picture: in the top-left corner, so every turning moves it
#: somewhere else, and large, so the fixture model (192x112 input) still finds it in the
#: portrait picture a 90 degree turn makes.
RAW_PATCH = (40, 40, 520, 560)
#: Where RAW_PATCH lands once rotated 90 degrees clockwise (a 720x1280 picture), normalised,
#: with a margin: a mask the user drew over it in the web interface's (turned) picture.
MASK_OVER_TURNED_PATCH = "[[[0.15, 0.01], [0.98, 0.01], [0.98, 0.46], [0.15, 0.46]]]"


def raw_picture(red: bool = True) -> np.ndarray:
    """What the camera sends, before any turning: grey, with a red patch near the top left."""
    image = np.full((720, 1280, 3), 90, np.uint8)
    if red:
        x1, y1, x2, y2 = RAW_PATCH
        image[y1:y2, x1:x2] = (0, 0, 255)
    return image


def write_config(path: Path, camera: str, detection: str = "") -> Path:
    path.write_text(f"camera:\n{camera}" + (f"detection:\n{detection}" if detection else ""))
    return path


def worker_frame(picture: Path, config: Path) -> Frame:
    """The frame the worker checks when its camera sends ``picture``, turned by its Camera."""
    settings = Settings.from_yaml(config).replace({"camera": str(picture)})

    async def read() -> Frame:
        camera = open_camera(settings.camera)
        try:
            return await camera.read()
        finally:
            await camera.close()

    return asyncio.run(read())


def worker_check(picture: Path, config: Path) -> dict:
    """The worker's analysis of ``picture`` (its ``detection`` message fields)."""
    settings = Settings.from_yaml(config).replace({"model_path": MODEL})
    analyser = FrameAnalyser(settings, Detector.load(settings.model))
    return analyser.analyse(worker_frame(picture, config).bgr).to_dict()


def box_corners(record: dict) -> list[tuple[float, float, float, float]]:
    return [(b["x1"], b["y1"], b["x2"], b["y2"]) for b in record["boxes"]]


TURNINGS = {
    "rotate 90": "  camera_rotate: 90\n",
    "rotate 270": "  camera_rotate: 270\n",
    "rotate 180": "  camera_rotate: 180\n",
    "flip vertical": "  camera_flip_vertical: true\n",
    "flip, then rotate 90": "  camera_flip_horizontal: true\n  camera_rotate: 90\n",
    "rotate 90, then flip": ("  camera_flip_horizontal: true\n  camera_rotate: 90\n"
                             "  camera_rotate_first: true\n"),
}


@pytest.mark.parametrize("camera", TURNINGS.values(), ids=TURNINGS.keys())
def test_detect_finds_the_boxes_where_the_worker_finds_them(tmp_path, capsys, camera):
    picture = write_jpeg(tmp_path / "raw.jpg", raw_picture())
    config = write_config(tmp_path / "pinozcam.yaml", camera)
    worker = worker_check(picture, config)

    status = main(["detect", str(picture), "--config", str(config), "--model", MODEL, "--json"])

    out = capsys.readouterr()
    assert status == 0, out.err
    record = json_lines(out.out)[0]
    assert (record["width"], record["height"]) == (worker["width"], worker["height"])
    assert record["band"] == worker["band"] == "failure"
    assert len(record["boxes"]) == len(worker["boxes"]) == 1
    assert box_corners(record)[0] == pytest.approx(box_corners(worker)[0], abs=1.0)
    assert "turning each picture" in out.err


def test_detect_hides_what_a_mask_drawn_on_the_turned_picture_covers(tmp_path, capsys):
    picture = write_jpeg(tmp_path / "raw.jpg", raw_picture())
    config = write_config(tmp_path / "pinozcam.yaml", "  camera_rotate: 90\n",
                          f"  masks: {MASK_OVER_TURNED_PATCH}\n")
    assert worker_check(picture, config)["band"] == "ok"
    out_dir = tmp_path / "out"

    status = main(["detect", str(picture), "--config", str(config), "--model", MODEL, "--json",
                   "--out", str(out_dir)])

    record = json_lines(capsys.readouterr().out)[0]
    assert status == 0
    assert record["band"] == "ok" and record["boxes"] == []
    # The annotated copy is the turned (portrait) picture, as the worker's alerts show it.
    annotated = cv2.imread(str(out_dir / "raw.jpg"))
    assert annotated is not None and annotated.shape[:2] == (1280, 720)


def test_detect_already_turned_leaves_the_workers_saved_frames_as_they_are(tmp_path, capsys):
    """An incident's onset.jpg is the frame after turning: turning it again would be wrong."""
    raw = write_jpeg(tmp_path / "raw.jpg", raw_picture())
    config = write_config(tmp_path / "pinozcam.yaml", "  camera_flip_horizontal: true\n  camera_rotate: 90\n")
    saved = tmp_path / "incident" / "onset.jpg"
    saved.parent.mkdir()
    saved.write_bytes(worker_frame(raw, config).jpeg)
    worker = worker_check(raw, config)

    status = main(["detect", str(saved), "--config", str(config), "--model", MODEL, "--json",
                   "--already-turned"])

    out = capsys.readouterr()
    record = json_lines(out.out)[0]
    assert status == 0
    assert (record["width"], record["height"]) == (worker["width"], worker["height"])
    assert box_corners(record)[0] == pytest.approx(box_corners(worker)[0], abs=8.0)  # re-encoded JPEG
    assert "turning" not in out.err


def test_detect_without_turning_settings_says_nothing_about_turning(tmp_path, capsys):
    picture = write_jpeg(tmp_path / "raw.jpg", raw_picture())

    assert main(["detect", str(picture), "--model", MODEL, "--json"]) == 0

    out = capsys.readouterr()
    assert (json_lines(out.out)[0]["width"], json_lines(out.out)[0]["height"]) == (1280, 720)
    assert "turning" not in out.err


def test_replay_with_a_rotated_camera_honours_its_masks_like_the_worker(tmp_path, capsys):
    """A recording of a print where a printer part (red, masked out by the user) is always in view."""
    recording = tmp_path / "print"
    for index in range(20):
        write_jpeg(recording / f"frame_t{index}.jpg", raw_picture())
    config = write_config(tmp_path / "pinozcam.yaml", "  camera_rotate: 90\n",
                          "  warmup_seconds: 2\n  max_failure_count: 3\n"
                          f"  action: pause\n  masks: {MASK_OVER_TURNED_PATCH}\n")
    assert worker_check(recording / "frame_t0.jpg", config)["band"] == "ok"
    out_dir = tmp_path / "out"

    status = main(["replay", str(recording), "--config", str(config), "--model", MODEL, "--json",
                   "--out", str(out_dir)])

    records = json_lines(capsys.readouterr().out)
    assert status == 0
    assert not [r for r in records if r["event"].startswith("incident:")], records
    summary = records[-1]
    assert summary["actions"] == {} and summary["max_severity"] == 0.0
    assert cv2.imread(str(out_dir / "frame_t0.jpg")).shape[:2] == (1280, 720)


def test_replay_already_turned_does_not_turn_again(tmp_path, capsys):
    recording = tmp_path / "print"
    config = write_config(tmp_path / "pinozcam.yaml", "  camera_rotate: 90\n")
    out_dir = tmp_path / "out"
    for index in range(3):
        write_jpeg(recording / f"frame_t{index}.jpg", raw_picture(red=False))

    status = main(["replay", str(recording), "--config", str(config), "--model", MODEL,
                   "--already-turned", "--out", str(out_dir)])

    assert status == 0
    assert cv2.imread(str(out_dir / "frame_t0.jpg")).shape[:2] == (720, 1280)
    assert "turning" not in capsys.readouterr().err
