"""Render the bundled demo frames (synthetic, from the generator; never real data).

    python -m training.demo --out pinozcam_klipper/demo

Writes ``frame_NNNN_tSSS.S.jpg`` (a 640x360 bed webcam, one frame every 5 s: a normal print for
the first 20 frames, then spaghetti that grows) and three single frames: ``single_normal.jpg``,
``single_spaghetti.jpg`` (bed webcam) and ``single_closeup.jpg`` (a phone-style close-up).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from training.generate import render
from training.synth import draw, photo, scenes

W, H = 640, 360
FRAMES = 40
PERIOD_S = 5.0
FAIL_AT = 20


def _static_scene(seed: int) -> tuple[np.ndarray, float]:
    rng = np.random.default_rng(seed)
    img = scenes.room(rng, H, W)
    quad = scenes.place_bed(rng, img, 0.45, 0.8)
    scenes.frame_parts(rng, img)
    return img, float(quad[:, 1].min())


def frame(k: int, seed: int = 11) -> np.ndarray:
    """Frame ``k`` of the sequence: the same scene each time, the print a little further on."""
    img, bed_top = _static_scene(seed)
    rng = np.random.default_rng(seed + 1)
    base = np.array([40.0, 40.0, 200.0])
    progress = min(k, FAIL_AT) / FAIL_AT
    part_x, part_y = W * 0.5, bed_top + (H - bed_top) * 0.55
    height = 8 + progress * 70
    draw.printed_part(img, np.random.default_rng(seed + 2), part_x, part_y, 90, height, base)
    nozzle_x = part_x + 40 * np.sin(k * 1.3)
    nozzle = np.array([nozzle_x, part_y - height - 2 - (0 if k < FAIL_AT else 6 * (k - FAIL_AT) ** 0.5)])
    if k >= FAIL_AT:
        grow = (k - FAIL_AT + 1) / (FRAMES - FAIL_AT)
        draw.spaghetti_nest(img, np.random.default_rng(seed + 3), np.array([part_x + 10, part_y - height - 10]),
                            np.array([40 + 70 * grow, 25 + 40 * grow]), 0.2 + 0.8 * grow, (1, 2), base, "matte",
                            hanging_from=nozzle)
    draw.hotend(img, np.random.default_rng(seed + 4), nozzle, 60)
    img = photo.light(np.random.default_rng(seed + 5), img)
    noise = np.random.default_rng(1000 + k).normal(0, 3, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("pinozcam_klipper/demo"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    q = [cv2.IMWRITE_JPEG_QUALITY, 80]
    for k in range(FRAMES):
        cv2.imwrite(str(args.out / f"frame_{k:04d}_t{k * PERIOD_S:05.1f}.jpg"), frame(k), q)
    cv2.imwrite(str(args.out / "single_normal.jpg"), frame(FAIL_AT - 1, seed=23), q)
    cv2.imwrite(str(args.out / "single_spaghetti.jpg"), frame(FRAMES - 1, seed=23), q)
    closeup = render(np.random.default_rng(5), size=(W, H), kind="closeup", failure=scenes.SPAGHETTI, version=1)
    cv2.imwrite(str(args.out / "single_closeup.jpg"), closeup.image, q)


if __name__ == "__main__":
    main()
