"""A webcam at bed level, a hand's width from the hotend: the view of many Ender-style setups.

The carriage fills a large part of the frame, its heater light glows red next to the nozzle,
the glossy bed reflects both, and behind the printer there is a desk, a window and bundled
cables. Everything a detector most easily mistakes for spaghetti at that distance (fan grills,
cable looms, glowing or blurred parts close to the lens) is drawn on purpose; failures are
nests on the bed around the nozzle or strands hanging from it.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.synth import draw, scenes

Label = scenes.Label


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Wall, window, desk and computer clutter, all out of focus."""
    wall = draw.mute(rng, rng.uniform(120, 245, 3))
    img = draw.vertical_gradient(h, w, wall, wall * rng.uniform(0.6, 1.0))
    img += draw.noise_texture(rng, h, w, rng.uniform(20, 60), rng.uniform(2, 8))[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        # A window or a bright lamp: blown-out white with a frame.
        x, ww = int(rng.uniform(-0.1, 0.8) * w), int(rng.uniform(0.1, 0.35) * w)
        cv2.rectangle(img, (x, 0), (x + ww, int(rng.uniform(0.2, 0.5) * h)), (250, 250, 252), -1)
        cv2.line(img, (x + ww // 2, 0), (x + ww // 2, int(0.5 * h)), (200, 200, 200), max(1, w // 200))
    desk = int(rng.uniform(0.35, 0.6) * h)
    cv2.rectangle(img, (0, desk), (w, h), tuple(float(v) for v in draw.mute(rng, rng.uniform(40, 200, 3))), -1)
    for _ in range(int(rng.integers(2, 7))):
        # Computer towers, monitors, boxes: dark or pale blocks with a few bright LEDs.
        x, bw = rng.uniform(-0.1, 1.0) * w, rng.uniform(0.05, 0.2) * w
        top = desk - rng.uniform(0.05, 0.3) * h
        color = draw.mute(rng, rng.uniform(10, 220, 3), 0.5)
        cv2.rectangle(img, (int(x), int(top)), (int(x + bw), desk + int(0.02 * h)), tuple(float(v) for v in color), -1)
        if rng.random() < 0.4:
            led = tuple(float(v) for v in rng.choice([[255, 120, 40], [60, 255, 60], [60, 60, 255], [255, 255, 255]]))
            cv2.circle(img, (int(x + bw * rng.uniform(0.2, 0.8)), int(top + 0.02 * h)), max(1, w // 250), led, -1)
    for _ in range(int(rng.integers(0, 4))):
        draw.textured_shape(img, rng, max(w, h) * 0.6)
    sigma = rng.uniform(0.004, 0.015) * w
    return cv2.GaussianBlur(img, (0, 0), sigma)


def _poster(rng: np.random.Generator, img: np.ndarray, y_max: float) -> None:
    """A framed picture or poster on the wall: a busy, photo-like texture (generator version 3)."""
    h, w = img.shape[:2]
    pw, ph = int(rng.uniform(0.15, 0.4) * w), int(rng.uniform(0.15, 0.35) * h)
    x, y = int(rng.uniform(-0.1, 0.9) * w), int(rng.uniform(0.0, max(0.05, y_max / h - 0.2)) * h)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + pw), min(h, y + ph)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    tex = np.zeros((y1 - y0, x1 - x0, 3), np.float32) + rng.uniform(60, 200, 3)
    for scale, amp in ((40, 50), (12, 30), (4, 20), (1.5, 12)):  # octaves: a fractal, photo-like field
        tex += draw.noise_texture(rng, y1 - y0, x1 - x0, scale, amp)[..., None] * rng.uniform(0.6, 1.4, 3)
    if rng.random() < 0.6:
        # A skyline or mountain ridge: a dark lower half under a jagged edge.
        ridge = (0.3 + 0.4 * rng.random()) * (y1 - y0) + draw.noise_texture(rng, 1, x1 - x0, 8, 0.12 * (y1 - y0))[0]
        rows = np.arange(y1 - y0)[:, None]
        tex[rows > ridge[None, :]] *= rng.uniform(0.3, 0.7)
    img[y0:y1, x0:x1] = np.clip(tex, 0, 255).astype(np.uint8)
    cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), tuple(float(v) for v in rng.uniform(10, 240, 3)),
                  max(1, w // 150))


def _lit_blur(rng: np.random.Generator, img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """The print right under a close camera: out of focus and tinted by the heater light
    (generator version 3)."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    roi = cv2.GaussianBlur(img[y0:y1, x0:x1], (0, 0), rng.uniform(1.5, 5.0)).astype(np.float32)
    tint = np.array([rng.uniform(0.5, 0.9), rng.uniform(0.6, 1.0), rng.uniform(1.1, 1.5)], np.float32)
    img[y0:y1, x0:x1] = np.clip(roi * tint + rng.uniform(0, 40), 0, 255).astype(np.uint8)


def _wide_print(rng: np.random.Generator, img: np.ndarray, cx: float, floor: int, width: float,
                height: float, base: np.ndarray) -> None:
    """A wide, half-finished print right in front of the lens (generator version 4): its
    walls striped by layers and its open top a lumpy field of infill seen almost edge-on."""
    h, w = img.shape[:2]
    poly = np.array([[cx - width / 2, floor], [cx + width / 2, floor], [cx + width / 2, floor - height],
                     [cx - width / 2, floor - height]])
    draw.layer_lines(img, rng, poly, base, rng.uniform(1.5, 4.0) * max(1.0, width / 120))
    # The top face: a band above the walls, foreshortened, with infill lines and lumps.
    top = rng.uniform(0.12, 0.35) * height + 2
    x0, x1 = int(max(0, cx - width / 2)), int(min(w, cx + width / 2))
    y0, y1 = int(max(0, floor - height - top)), int(max(0, floor - height))
    if x1 - x0 < 6 or y1 - y0 < 3:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    period = rng.uniform(5, 14) * max(1.0, width / 200)
    squash = rng.uniform(2.0, 5.0)  # seen at a grazing angle: lines packed vertically
    grid = draw.crossing_lines(xx, yy, period, (squash, -squash), 0.13)
    light = 0.8 + 0.35 * draw.noise_texture(rng, y1 - y0, x1 - x0, rng.uniform(3, 8), 1.0)
    face = draw.lift(base, 0.1)
    patch = np.array(face, np.float32)[None, None, :] * light[..., None]
    patch[grid] *= rng.uniform(0.5, 0.75)
    img[y0:y1, x0:x1] = np.clip(patch, 0, 255).astype(np.uint8)


def _printed_shroud(rng: np.random.Generator, img: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """A printed fan shroud over the carriage, often orange or copper, with a maker's
    lettering embossed on it and a screw (generator version 4)."""
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    if bw < 8 or bh < 8:
        return
    color = np.array(rng.choice([[40, 110, 200], [30, 90, 160], [20, 140, 240], [60, 60, 200],
                                 [200, 200, 200], [30, 30, 30]]), float) + rng.normal(0, 10, 3)
    # An arm curving down from the top corner towards the nozzle, like many shroud mods.
    side = rng.choice([-1, 1])
    cx = (x1 + x2) / 2 + side * bw * rng.uniform(0.1, 0.3)
    pts = np.array([[cx - bw * 0.35, y1 - bh * 0.1], [cx + bw * 0.35, y1 - bh * 0.1],
                    [cx + bw * 0.3, y2 - bh * 0.2], [cx + side * bw * 0.1, y2 + bh * 0.15],
                    [cx - bw * 0.25, y2]])
    pts += rng.normal(0, bw * 0.03, pts.shape)
    draw.layer_lines(img, rng, pts, color, rng.uniform(1.5, 3.0))
    text = "".join(rng.choice(list("ABCDEGHKMRSVWXZ"), int(rng.integers(2, 4))))
    scale = bw * rng.uniform(0.006, 0.01)
    thick = max(1, int(scale * 2.5))
    org = (int(cx - bw * 0.2), int(y1 + bh * rng.uniform(0.35, 0.6)))
    cv2.putText(img, text, (org[0] + thick, org[1] + thick), cv2.FONT_HERSHEY_SIMPLEX, scale,
                draw.shade(color, 0.55), thick, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, draw.lift(color, 0.25), thick, cv2.LINE_AA)
    screw = (int(cx + bw * 0.2), int(y2 - bh * 0.1))
    cv2.circle(img, screw, max(2, int(bw * 0.04)), (190, 190, 195), -1, cv2.LINE_AA)
    cv2.circle(img, screw, max(1, int(bw * 0.015)), (60, 60, 60), -1, cv2.LINE_AA)


def _cable_loom(rng: np.random.Generator, img: np.ndarray, y_max: float) -> None:
    """Power cables, USB leads and bundled wires hanging behind the printer (hard negatives)."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(1, 5))):
        a = np.array([rng.uniform(-0.1, 1.1) * w, rng.uniform(0, y_max)])
        b = np.array([rng.uniform(-0.1, 1.1) * w, rng.uniform(0, y_max)])
        if rng.random() < 0.5:
            draw.wire_bundle(img, rng, a, b, max(w, h) * rng.uniform(1, 2.5))
        else:
            mid = (a + b) / 2 + [rng.normal(0, 0.1 * w), rng.uniform(0, 0.3) * h]
            pts = draw.bezier(a, mid, b, 50)
            color = np.array(rng.choice([[20, 20, 20], [35, 35, 35], [230, 230, 230], [90, 90, 90]]), float)
            t = max(1, int(rng.uniform(0.004, 0.015) * w))
            draw.draw_polyline(img, pts, draw.shade(color, 1.0), t)
            draw.draw_polyline(img, pts - [t * 0.3, t * 0.3], draw.lift(color, 0.3), max(1, t // 3))


def _warning_sticker(img: np.ndarray, c: np.ndarray, size: float) -> None:
    """The yellow hot-surface triangle most shrouds carry."""
    tri = np.array([[c[0], c[1] - size * 0.55], [c[0] + size * 0.6, c[1] + size * 0.45],
                    [c[0] - size * 0.6, c[1] + size * 0.45]])
    cv2.fillPoly(img, [tri.astype(np.int32)], (30, 200, 235), cv2.LINE_AA)
    cv2.polylines(img, [tri.astype(np.int32)], True, (20, 20, 20), max(1, int(size / 10)), cv2.LINE_AA)
    cv2.line(img, (int(c[0]), int(c[1] - size * 0.2)), (int(c[0]), int(c[1] + size * 0.15)), (20, 20, 20),
             max(1, int(size / 8)), cv2.LINE_AA)


def _reflect(rng: np.random.Generator, img: np.ndarray, horizon: int) -> None:
    """A glossy bed: the scene above the horizon mirrored below it, dimmed and blurred."""
    h = img.shape[0]
    depth = h - horizon
    src = img[max(0, horizon - depth):horizon][::-1]
    if len(src) == 0:
        return
    region = img[horizon:horizon + len(src)].astype(np.float32)
    mirror = cv2.GaussianBlur(src, (0, 0), rng.uniform(1, 4)).astype(np.float32)
    alpha = rng.uniform(0.15, 0.45)
    img[horizon:horizon + len(src)] = np.clip(region * (1 - alpha) + mirror * alpha, 0, 255).astype(np.uint8)


def lowcam(rng: np.random.Generator, w: int, h: int, failure: int | None,
           version: int = 2) -> tuple[np.ndarray, list[Label]]:
    """A bed-level webcam close to the hotend (see the module docstring). ``version`` 3 adds
    posters, a plastic bag behind the printer and a blurred, heater-lit print; 4 adds wide
    half-finished prints right in front of the lens and printed shrouds with lettering."""
    img = _background(rng, h, w)
    if version >= 3:
        for _ in range(int(rng.integers(0, 3))):
            _poster(rng, img, 0.6 * h)
        if rng.random() < 0.4:
            draw.foil(img, rng, np.array([rng.uniform(0, w), rng.uniform(0.3, 0.6) * h]), rng.uniform(0.06, 0.15) * w)
    _cable_loom(rng, img, 0.6 * h)
    horizon = int(rng.uniform(0.6, 0.85) * h)
    # Gantry extrusion and a vertical frame post behind the carriage.
    frame = np.array([rng.uniform(15, 50)] * 3)
    gy, gt = int(rng.uniform(0.1, 0.35) * h), int(rng.uniform(0.05, 0.1) * h)
    cv2.rectangle(img, (0, gy), (w, gy + gt), draw.shade(frame, 1.0), -1)
    cv2.line(img, (0, gy + gt // 2), (w, gy + gt // 2), draw.shade(frame, 0.5), max(1, gt // 6))
    if rng.random() < 0.6:
        x = int(rng.uniform(0.0, 1.0) * w)
        cv2.rectangle(img, (x, 0), (x + int(0.06 * w), horizon), draw.shade(frame, 1.1), -1)
    # The bed: dark, glossy, seen almost edge-on.
    bed = draw.mute(rng, np.array(rng.choice([[25, 25, 28], [45, 45, 50], [60, 120, 180], [90, 90, 90]]), float), 0.8)
    cv2.rectangle(img, (0, horizon), (w, h), draw.shade(bed, 1.0), -1)
    img[horizon:] = np.clip(img[horizon:].astype(np.float32)
                            + draw.noise_texture(rng, h - horizon, w, 30, 6)[..., None], 0, 255).astype(np.uint8)
    labels: list[Label] = []
    base, finish = draw.filament(rng)
    s = w * rng.uniform(0.1, 0.26)
    nozzle = np.array([rng.uniform(0.25, 0.75) * w, horizon - rng.uniform(0.0, 0.12) * h])
    part_top = nozzle[1]
    if failure != scenes.DETACHED and rng.random() < 0.75:
        # The print under the nozzle (often bright red or orange in this light).
        pw = s * rng.uniform(0.6, 2.2)
        poly = draw.printed_part(img, rng, nozzle[0] + rng.normal(0, 0.2 * pw), horizon + rng.uniform(0, 0.03) * h,
                                 pw, max(4.0, horizon - part_top + rng.uniform(0, 0.05) * h), base)
        if version >= 3 and rng.random() < 0.5:
            (bx0, by0), (bx1, by1) = poly.min(axis=0), poly.max(axis=0)
            _lit_blur(rng, img, (int(bx0), int(by0), int(bx1) + 1, int(by1) + 1))
    if version >= 4 and failure != scenes.DETACHED and rng.random() < 0.35:
        pw = w * rng.uniform(0.3, 0.8)
        _wide_print(rng, img, rng.uniform(0.2, 0.8) * w, horizon + int(rng.uniform(0.02, 0.12) * h), pw,
                    rng.uniform(0.08, 0.3) * h, base if rng.random() < 0.7 else draw.filament(rng)[0])
        if rng.random() < 0.4:
            _lit_blur(rng, img, (int(nozzle[0] - pw / 2), int(horizon - 0.35 * h), int(nozzle[0] + pw / 2), h))
    if failure == scenes.DETACHED:
        poly = draw.printed_part(img, rng, rng.uniform(0.2, 0.8) * w, horizon + rng.uniform(0.02, 0.1) * h,
                                 s * rng.uniform(0.6, 1.4), s * rng.uniform(0.5, 1.2), base,
                                 tilt=rng.choice([-1, 1]) * rng.uniform(1.0, 1.6))
        labels += scenes.knocked_over_labels(poly, w, h)
    if failure == scenes.SPAGHETTI:
        for k in range(int(rng.choice([1, 1, 2, 3]))):
            r = np.array([rng.uniform(0.06, 0.3) * w, rng.uniform(0.05, 0.25) * h])
            hanging = k == 0 and rng.random() < 0.4
            center = nozzle + ([rng.normal(0, r[0] * 0.2), r[1] * 0.7] if hanging else
                               [rng.normal(0, 0.25 * w), rng.uniform(-0.1, 0.15) * h])
            pts = draw.spaghetti_nest(img, rng, center, r, rng.uniform(0.1, 1.0),
                                      (1, int(rng.choice([1, 1, 2, 3]))), base, finish,
                                      hanging_from=nozzle if hanging else None)
            labels += scenes.nest_labels(pts, w, h)
    x1, y1, x2, y2 = draw.hotend(img, rng, nozzle, s)
    if rng.random() < 0.7:
        _warning_sticker(img, np.array([x1 + (x2 - x1) * rng.uniform(0.6, 0.9), y1 + (y2 - y1) * rng.uniform(0.6, 0.85)]),
                         (x2 - x1) * rng.uniform(0.08, 0.14))
    if rng.random() < 0.4:
        draw.sticker(img, rng, (int(x1 + (x2 - x1) * 0.3), int(y1 + (y2 - y1) * 0.2)), int((x2 - x1) * 0.1))
    if version >= 4 and rng.random() < 0.4:
        _printed_shroud(rng, img, (x1, y1, x2, y2))
    scenes.hotend_clutter(rng, img, np.array([x1, y1, x2, y2], float))
    if failure == scenes.BLOB:
        labels.append(scenes.blob(rng, img, nozzle, s * rng.uniform(0.25, 0.5), base))
    _reflect(rng, img, horizon)
    if rng.random() < 0.6:
        # The heater's red status light beside the nozzle, blooming, and its reflection.
        c = np.array([nozzle[0] + rng.choice([-1, 1]) * s * rng.uniform(0.5, 1.1), nozzle[1] - s * rng.uniform(0.2, 0.7)])
        size = np.array([s * rng.uniform(0.08, 0.2), s * rng.uniform(0.2, 0.45)])
        draw.glow(img, rng, c, size)
        draw.glow(img, rng, np.array([c[0], 2 * horizon - c[1]]), size * [1.0, 0.6])
    if rng.random() < 0.5:
        # Bed edge, clips and levelling knobs right in front of the lens.
        quad = np.array([[0, horizon], [w, horizon], [w, h], [0, h]], np.float32)
        scenes.bed_edge(rng, img, quad)
    # Shallow depth of field: close to the lens, nothing is sharp.
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.6))
    return img, labels

