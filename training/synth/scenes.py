"""Whole synthetic scenes: a bed webcam, a nozzle cam and a close-up phone photo.

``render_scene(rng, width, height, kind, failure)`` returns the BGR image and its labels as
``(class_id, x1, y1, x2, y2)`` in pixels. Class ids follow the model's class order:
0 spaghetti, 1 blob, 2 detached.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.synth import draw

SPAGHETTI, BLOB, DETACHED = 0, 1, 2
# Not a model class: a clump of a large spaghetti nest (see draw.nest_tiles). The generator
# turns it into SPAGHETTI or drops it.
SPAGHETTI_TILE = 3
Label = tuple[int, float, float, float, float]


def knocked_over_labels(poly: np.ndarray, w: int, h: int) -> list[Label]:
    """The DETACHED label of a knocked-over part's silhouette, clipped to the frame (none if
    too little of it is in view)."""
    x1, y1 = np.clip(poly.min(axis=0), 0, [w, h])
    x2, y2 = np.clip(poly.max(axis=0), 0, [w, h])
    return [(DETACHED, x1, y1, x2, y2)] if x2 - x1 > 4 and y2 - y1 > 4 else []


def nest_labels(pts: np.ndarray | None, w: int, h: int) -> list[Label]:
    """A nest's whole box as SPAGHETTI and, when it is large, its clumps as SPAGHETTI_TILE."""
    if pts is None or (box := draw.points_box(pts, w, h)) is None:
        return []
    return [(SPAGHETTI, *box)] + [(SPAGHETTI_TILE, *tile) for tile in draw.nest_tiles(pts, w, h)]


def room(rng: np.random.Generator, h: int, w: int, muted: bool = False) -> np.ndarray:
    """A blurred room: wall gradient, shelves, boxes, a window. ``muted`` pulls the wall
    towards grey, as most real rooms are (generator version 2)."""
    top = rng.uniform(40, 230, 3)
    if muted:
        top = draw.mute(rng, top, 0.4)
    bottom = np.clip(top * rng.uniform(0.4, 1.1) + rng.normal(0, 15, 3), 0, 255)
    img = draw.vertical_gradient(h, w, top, bottom)
    img += draw.noise_texture(rng, h, w, rng.uniform(20, 80), rng.uniform(3, 15))[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 12))):
        x, y = int(rng.uniform(-0.1, 1) * w), int(rng.uniform(-0.1, 1) * h)
        cw, ch = int(rng.uniform(0.03, 0.3) * w), int(rng.uniform(0.03, 0.3) * h)
        color = rng.uniform(0, 255, 3)
        if muted:
            color = draw.mute(rng, color, 0.5)
        cv2.rectangle(img, (x, y), (x + cw, y + ch), tuple(float(v) for v in color), -1)
    if rng.random() < 0.3:
        x = int(rng.uniform(0, 0.8) * w)
        cv2.rectangle(img, (x, 0), (x + int(0.2 * w), int(0.4 * h)), (245, 245, 250), -1)
    for _ in range(int(rng.integers(0, 6))):
        draw.textured_shape(img, rng, max(w, h))
    if rng.random() < 0.25:
        base, _ = draw.filament(rng)
        draw.spool(img, rng, (int(rng.uniform(0, w)), int(rng.uniform(0, 0.6 * h))), int(rng.uniform(0.1, 0.3) * h), base)
    k = int(rng.choice([1, 3, 5, 9])) * 2 + 1
    return cv2.GaussianBlur(img, (k, k), 0)


def bed_texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Texture of a build plate, before perspective."""
    kind = rng.choice(["pei_gold", "black_texture", "glass", "blue", "white", "green_pei", "grid"])
    base = {
        "pei_gold": [60, 140, 195], "black_texture": [35, 35, 38], "glass": [40, 40, 45],
        "blue": [170, 110, 40], "white": [210, 210, 205], "green_pei": [70, 110, 60],
        "grid": [50, 50, 55],
    }[str(kind)]
    img = np.ones((h, w, 3), np.float32) * (np.array(base, np.float32) + rng.normal(0, 12, 3))
    speck = rng.normal(0, 1, (h, w)).astype(np.float32) * (12 if "texture" in kind or "pei" in kind else 3)
    img += speck[..., None]
    img += draw.noise_texture(rng, h, w, 60, 10)[..., None]
    if kind == "glass" or rng.random() < 0.3:
        # Reflection of a light or window.
        cx = rng.uniform(0, w)
        xx = np.arange(w, dtype=np.float32)
        img += (np.exp(-((xx - cx) / (w * rng.uniform(0.05, 0.3))) ** 2) * rng.uniform(30, 120))[None, :, None]
    img = np.clip(img, 0, 255).astype(np.uint8)
    if kind == "grid" or rng.random() < 0.2:
        step = int(rng.uniform(0.05, 0.12) * w)
        color = draw.lift(np.array(base, float), 0.3)
        for x in range(0, w, step):
            cv2.line(img, (x, 0), (x, h), color, 1)
        for y in range(0, h, step):
            cv2.line(img, (0, y), (w, y), color, 1)
    if rng.random() < 0.5:
        draw.sticker(img, rng, (int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.6, 0.95) * h)),
                     int(rng.uniform(0.04, 0.1) * w))
    return img


def place_bed(rng: np.random.Generator, img: np.ndarray, horizon: float, spread: float) -> np.ndarray:
    """Warps a bed texture onto the lower part of ``img``; returns the bed quad (4x2)."""
    h, w = img.shape[:2]
    tex = bed_texture(rng, 256, 384)
    top_y = horizon * h
    inset = (1 - spread) * w / 2 + rng.normal(0, 0.05 * w)
    quad = np.array([[inset, top_y], [w - inset + rng.normal(0, 0.05 * w), top_y + rng.normal(0, 0.02 * h)],
                     [w * (1 + rng.uniform(0, 0.4)), h * 1.05], [-w * rng.uniform(0, 0.4), h * 1.05]], np.float32)
    src = np.array([[0, 0], [384, 0], [384, 256], [0, 256]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad)
    warped = cv2.warpPerspective(tex, m, (w, h), borderMode=cv2.BORDER_TRANSPARENT, dst=img)
    del warped
    edge = draw.shade(np.array([30, 30, 30]), rng.uniform(0.5, 3))
    cv2.line(img, tuple(quad[0].astype(int)), tuple(quad[1].astype(int)), edge, max(1, h // 120), cv2.LINE_AA)
    return quad


def frame_parts(rng: np.random.Generator, img: np.ndarray) -> None:
    """Aluminium extrusions at the sides and top, wires, a cable chain."""
    h, w = img.shape[:2]
    col = np.array([rng.uniform(20, 70)] * 3) if rng.random() < 0.7 else np.array([180, 180, 185.0])
    t = int(rng.uniform(0.03, 0.07) * w)
    for x in ([int(rng.uniform(0, 0.12) * w)] if rng.random() < 0.7 else []) + \
             ([int(rng.uniform(0.88, 1) * w)] if rng.random() < 0.7 else []):
        cv2.rectangle(img, (x - t // 2, 0), (x + t // 2, h), draw.shade(col, 1.0), -1)
        cv2.line(img, (x, 0), (x, h), draw.shade(col, 0.5), max(1, t // 6))
    if rng.random() < 0.5:
        y = int(rng.uniform(0, 0.15) * h)
        cv2.rectangle(img, (0, y), (w, y + t), draw.shade(col, 0.9), -1)
    for _ in range(int(rng.integers(0, 2))):
        draw.wire_bundle(img, rng, rng.uniform(0, 1, 2) * [w, h * 0.6], rng.uniform(0, 1, 2) * [w, h * 0.6], max(w, h))
    for _ in range(int(rng.integers(0, 3))):
        draw.wire(img, rng, np.array([rng.uniform(0, w), rng.uniform(0, h * 0.5)]),
                  np.array([rng.uniform(0, w), rng.uniform(0, h * 0.6)]), int(rng.integers(1, 4)))
    if rng.random() < 0.4:
        draw.cable_chain(img, rng, np.array([rng.uniform(0, w), rng.uniform(0, 0.3 * h)]),
                         np.array([rng.uniform(0, w), rng.uniform(0, 0.5 * h)]), rng.uniform(0.02, 0.05) * w)


def bed_edge(rng: np.random.Generator, img: np.ndarray, quad: np.ndarray) -> None:
    """The front of the bed seen from low down: plate edge, clips, springs, levelling knobs."""
    h, w = img.shape[:2]
    y = float(quad[:, 1].min()) + rng.uniform(0.02, 0.15) * (h - quad[:, 1].min())
    thick = rng.uniform(0.03, 0.1) * h
    plate = np.array([rng.uniform(15, 60)] * 3)
    cv2.rectangle(img, (0, int(y)), (w, int(y + thick)), draw.shade(plate, 1.0), -1)
    cv2.line(img, (0, int(y)), (w, int(y)), draw.lift(plate, 0.3), max(1, h // 150), cv2.LINE_AA)
    under = y + thick
    if rng.random() < 0.7:
        cv2.rectangle(img, (0, int(under)), (w, h), draw.shade(plate, rng.uniform(0.3, 0.8)), -1)
        if rng.random() < 0.5:
            cx = rng.uniform(0.3, 0.7) * w
            tri = np.array([[cx - 0.05 * w, under], [cx + 0.05 * w, under], [cx + 0.1 * w, h], [cx - 0.1 * w, h]])
            cv2.fillPoly(img, [tri.astype(np.int32)], draw.shade(plate, 1.4))
    for x in rng.choice([0.08, 0.15, 0.85, 0.92, 0.5], size=int(rng.integers(1, 4)), replace=False):
        px = x * w + rng.normal(0, 0.02 * w)
        r = int(rng.uniform(0.04, 0.09) * w)
        if rng.random() < 0.7:
            draw.spring(img, rng, np.array([px, under]), rng.uniform(0.05, 0.2) * h, r * rng.uniform(0.4, 0.8))
        draw.knob(img, rng, (int(px), int(under + rng.uniform(0.08, 0.25) * h)), r)
        if rng.random() < 0.6:
            draw.bed_clip(img, rng, px + rng.normal(0, 0.05 * w), y, rng.uniform(0.05, 0.1) * w)


def bed_webcam(rng: np.random.Generator, w: int, h: int, failure: int | None,
               muted: bool = False) -> tuple[np.ndarray, list[Label]]:
    """A webcam looking at the whole printer or, at a low angle, the bed edge and hotend."""
    img = room(rng, h, w, muted)
    low = rng.random() < 0.4
    horizon = rng.uniform(0.55, 0.8) if low else rng.uniform(0.25, 0.55)
    quad = place_bed(rng, img, horizon, rng.uniform(0.6, 1.0) if not low else 1.2)
    frame_parts(rng, img)
    labels: list[Label] = []
    bed_top = float(quad[:, 1].min())
    if low or rng.random() < 0.3:
        bed_edge(rng, img, quad)
    scale = h * (rng.uniform(0.12, 0.25) if not low else rng.uniform(0.25, 0.5))
    base, finish = draw.filament(rng)
    parts: list[tuple[float, float, float, float]] = []
    for _ in range(int(rng.integers(0, 4))):
        px = rng.uniform(0.15, 0.85) * w
        py = rng.uniform(bed_top + 0.1 * (h - bed_top), h * 0.95)
        depth = 0.5 + (py - bed_top) / max(1.0, h - bed_top)
        pw, ph = scale * rng.uniform(0.4, 1.5) * depth, scale * rng.uniform(0.1, 1.2) * depth
        if rng.random() < 0.3:
            # Brim, skirt or purge line around/near the part.
            cv2.ellipse(img, (int(px), int(py)), (int(pw * 0.8), int(pw * 0.15)), 0, 0, 360,
                        draw.shade(base, 0.9), max(1, int(h / 250)), cv2.LINE_AA)
        if failure == DETACHED and not labels:
            tilt = rng.choice([-1, 1]) * rng.uniform(0.9, 1.6)
            poly = draw.printed_part(img, rng, px, py, pw, ph, base, tilt=tilt)
            x1, y1 = poly.min(axis=0)
            x2, y2 = poly.max(axis=0)
            labels.append((DETACHED, x1, y1, x2, y2))
        else:
            draw.printed_part(img, rng, px, py, pw, ph, base)
            parts.append((px, py, pw, ph))
            if rng.random() < 0.2:
                # Supports under an overhang: thin vertical lines.
                for xx in np.linspace(px - pw / 2, px + pw / 2, int(rng.integers(4, 12))):
                    cv2.line(img, (int(xx), int(py)), (int(xx), int(py - ph * 0.5)), draw.shade(base, 0.8), 1)
    if rng.random() < 0.3:
        y = int(bed_top + rng.uniform(0.05, 0.3) * (h - bed_top))
        cv2.line(img, (int(0.1 * w), y), (int(rng.uniform(0.2, 0.5) * w), y), draw.shade(base, 1.0), max(1, h // 200))
    if len(parts) >= 2 and rng.random() < 0.4:
        a, b = parts[0], parts[1]
        draw.normal_strings(img, rng, np.array([a[0], a[1] - a[3]]), np.array([b[0], b[1] - b[3]]), base)
    nozzle = np.array([rng.uniform(0.2, 0.8) * w,
                       parts[0][1] - parts[0][3] - 2 if parts and rng.random() < 0.7 else rng.uniform(0.2, horizon) * h])
    nozzle[1] = np.clip(nozzle[1], 0.15 * h, 0.9 * h)
    if failure == SPAGHETTI:
        labels += spaghetti(rng, img, nozzle, base, finish, bed_top)
    x1, y1, x2, y2 = draw.hotend(img, rng, nozzle, scale * rng.uniform(0.5, 1.0))
    hotend_clutter(rng, img, np.array([x1, y1, x2, y2], float))
    if failure == BLOB:
        labels.append(blob(rng, img, nozzle, scale * rng.uniform(0.15, 0.35), base))
    return img, labels


def hotend_clutter(rng: np.random.Generator, img: np.ndarray, box: np.ndarray) -> None:
    """Wires, tubes, foil and heater glow around the carriage (hard negatives)."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = box
    bw = max(4.0, x2 - x1)
    for _ in range(int(rng.integers(0, 3))):
        a = np.array([rng.uniform(x1, x2), rng.uniform(y1, y2)])
        b = a + rng.normal(0, 1, 2) * bw * rng.uniform(0.5, 1.5)
        draw.wire_bundle(img, rng, a, b, max(w, h))
    if rng.random() < 0.4:
        a = np.array([rng.uniform(x1, x2), y1])
        draw.tube(img, rng, a, np.array([rng.uniform(0, w), -0.1 * h]), bw * rng.uniform(0.04, 0.1))
    if rng.random() < 0.2:
        draw.foil(img, rng, np.array([rng.choice([x1, x2]), rng.uniform(y1, y2)]), bw * rng.uniform(0.2, 0.5))
    if rng.random() < 0.2:
        draw.glow(img, rng, np.array([rng.choice([x1, x2]), (y1 + y2) / 2]), np.array([bw * 0.06, bw * 0.25]))


def spaghetti(rng: np.random.Generator, img: np.ndarray, nozzle: np.ndarray, base: np.ndarray,
              finish: str, bed_top: float) -> list[Label]:
    """One to four nests: on the bed, hanging from the nozzle, or over a part."""
    h, w = img.shape[:2]
    labels: list[Label] = []
    for k in range(int(rng.choice([1, 1, 1, 2, 2, 3, 4]))):
        r = np.array([rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h])
        hanging = k == 0 and rng.random() < 0.35
        if hanging:
            center = nozzle + [rng.normal(0, r[0] * 0.2), r[1] * rng.uniform(0.6, 1.0)]
        elif rng.random() < 0.3:
            # Over the part being printed: around and above the nozzle.
            center = nozzle + [rng.normal(0, r[0] * 0.3), rng.uniform(-0.3, 0.5) * r[1]]
        else:
            center = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(max(bed_top, 0.2 * h), 0.95 * h)])
        pts = draw.spaghetti_nest(img, rng, center, r, rng.uniform(0.1, 1.0),
                                  (1, int(rng.choice([1, 2, 2, 3]))), base, finish,
                                  hanging_from=nozzle if hanging else None)
        labels += nest_labels(pts, w, h)
    return labels


def blob(rng: np.random.Generator, img: np.ndarray, nozzle: np.ndarray, r: float, base: np.ndarray) -> Label:
    """Plastic wrapped around the nozzle and heater block: a lumpy, shiny mass."""
    n = 24
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rad = r * (1 + np.convolve(np.tile(rng.normal(0, 0.25, n), 3), np.ones(3) / 3, "same")[n:2 * n])
    c = nozzle + [rng.normal(0, r * 0.2), -r * rng.uniform(0.2, 0.8)]
    poly = np.stack([c[0] + np.cos(ang) * rad * 1.3, c[1] + np.sin(ang) * rad], axis=1)
    draw.layer_lines(img, rng, poly, draw.np.asarray(draw.shade(base, 0.9)), rng.uniform(3, 9), rng.uniform(0, 3))
    for _ in range(int(rng.integers(2, 6))):
        p = c + rng.normal(0, r * 0.4, 2)
        cv2.ellipse(img, (int(p[0]), int(p[1])), (int(r * 0.3), int(r * 0.12)), rng.uniform(0, 180), 0, 360,
                    draw.lift(base, 0.4), -1, cv2.LINE_AA)
    if rng.random() < 0.5:
        draw.spaghetti_nest(img, rng, c, np.array([r * 1.3, r]), 0.3, (1, 2), base, "matte")
    h, w = img.shape[:2]
    x1, y1 = poly.min(axis=0)
    x2, y2 = poly.max(axis=0)
    return BLOB, max(0, x1), max(0, y1), min(w, x2), min(h, y2)


def nozzle_cam(rng: np.random.Generator, w: int, h: int, failure: int | None,
               muted: bool = False) -> tuple[np.ndarray, list[Label]]:
    """A fixed-focus close-up of nozzle and part, often with an LED backlight."""
    img = room(rng, h, w, muted)
    img = (img * rng.uniform(0.2, 0.6)).astype(np.uint8)
    if rng.random() < 0.6:
        c = (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.1, 0.5) * h))
        glow = np.zeros((h, w), np.float32)
        cv2.circle(glow, c, int(0.3 * w), 1.0, -1)
        glow = cv2.GaussianBlur(glow, (0, 0), 0.15 * w)
        img = np.clip(img + glow[..., None] * rng.uniform(80, 200) * rng.uniform(0.7, 1, 3), 0, 255).astype(np.uint8)
    base, finish = draw.filament(rng)
    nozzle = np.array([rng.uniform(0.35, 0.65) * w, rng.uniform(0.3, 0.55) * h])
    labels: list[Label] = []
    if failure != DETACHED:
        draw.printed_part(img, rng, nozzle[0] + rng.normal(0, 0.1 * w), h * 1.05, w * rng.uniform(0.4, 1.2),
                          h * 1.05 - nozzle[1], base)
    if failure == DETACHED:
        poly = draw.printed_part(img, rng, rng.uniform(0.3, 0.7) * w, h * 0.95, w * 0.35, h * 0.4, base,
                                 tilt=rng.choice([-1, 1]) * rng.uniform(1.0, 1.5))
        labels += knocked_over_labels(poly, w, h)
    if failure == SPAGHETTI:
        pts = draw.spaghetti_nest(img, rng, nozzle + [0, 0.25 * h], np.array([0.35 * w, 0.3 * h]),
                                  rng.uniform(0.2, 1), (1, 4), base, finish, hanging_from=nozzle)
        labels += nest_labels(pts, w, h)
    x1, y1, x2, y2 = draw.hotend(img, rng, nozzle, h * rng.uniform(0.35, 0.6))
    hotend_clutter(rng, img, np.array([x1, y1, x2, y2], float))
    if failure == BLOB:
        labels.append(blob(rng, img, nozzle, h * rng.uniform(0.1, 0.22), base))
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.5))
    return img, labels


def closeup(rng: np.random.Generator, w: int, h: int, failure: int | None,
            muted: bool = False) -> tuple[np.ndarray, list[Label]]:
    """A hand-held photo of a failed (or healthy) print from close by."""
    img = room(rng, h, w, muted)
    quad = place_bed(rng, img, rng.uniform(0.0, 0.5), rng.uniform(1.0, 1.8))
    bed_top = float(quad[:, 1].min())
    base, finish = draw.filament(rng)
    labels: list[Label] = []
    for _ in range(int(rng.integers(0, 3))):
        draw.printed_part(img, rng, rng.uniform(0.1, 0.9) * w, rng.uniform(max(bed_top, 0.4 * h), 1.1 * h),
                          rng.uniform(0.15, 0.6) * w, rng.uniform(0.1, 0.6) * h, base)
    if failure is None and rng.random() < 0.5:
        # Healthy close-ups: strings, infill, fans and chains up close.
        pick = rng.integers(0, 5)
        if pick == 3:
            for _ in range(int(rng.integers(1, 4))):
                draw.wire_bundle(img, rng, rng.uniform(0, 1, 2) * [w, h], rng.uniform(0, 1, 2) * [w, h], max(w, h) * 2)
        elif pick == 4:
            draw.foil(img, rng, rng.uniform(0.2, 0.8, 2) * [w, h], 0.3 * h)
        elif pick == 0:
            draw.normal_strings(img, rng, np.array([0.2 * w, 0.5 * h]), np.array([0.8 * w, 0.5 * h]), base)
        elif pick == 1:
            draw.fan(img, rng, (int(rng.uniform(0.3, 0.7) * w), int(rng.uniform(0.3, 0.7) * h)), int(0.25 * h))
        else:
            draw.cable_chain(img, rng, np.array([0, rng.uniform(0, h)]), np.array([w, rng.uniform(0, h)]), 0.08 * h)
    if failure == SPAGHETTI and rng.random() < 0.4:
        # A part whose top turned into a mess: strands of the part's colour rising from it.
        px, pw = rng.uniform(0.3, 0.7) * w, rng.uniform(0.25, 0.6) * w
        base_y, ph = rng.uniform(0.75, 1.05) * h, rng.uniform(0.3, 0.6) * h
        draw.printed_part(img, rng, px, base_y, pw, ph, base)
        top = base_y - ph
        r = np.array([pw * rng.uniform(0.4, 0.7), ph * rng.uniform(0.25, 0.6)])
        pts = draw.spaghetti_nest(img, rng, np.array([px + rng.normal(0, 0.1 * pw), top - r[1] * rng.uniform(0.0, 0.6)]),
                                  r, rng.uniform(0.1, 0.8), (1, int(rng.choice([1, 2, 2, 3]))), base, finish)
        labels += nest_labels(pts, w, h)
    elif failure == SPAGHETTI:
        for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
            r = np.array([rng.uniform(0.15, 0.55) * w, rng.uniform(0.15, 0.55) * h])
            c = np.array([rng.uniform(0.2, 0.8) * w, rng.uniform(0.25, 0.8) * h])
            pts = draw.spaghetti_nest(img, rng, c, r, rng.uniform(0.2, 1.0),
                                      (1, int(rng.choice([1, 1, 2, 2, 3]))), base, finish)
            labels += nest_labels(pts, w, h)
            if rng.random() < 0.5:
                base, finish = draw.filament(rng)
    elif failure == DETACHED:
        poly = draw.printed_part(img, rng, rng.uniform(0.3, 0.7) * w, rng.uniform(0.6, 0.9) * h,
                                 rng.uniform(0.2, 0.4) * w, rng.uniform(0.3, 0.6) * h, base,
                                 tilt=rng.choice([-1, 1]) * rng.uniform(1.0, 1.6))
        labels += knocked_over_labels(poly, w, h)
    elif failure == BLOB:
        nozzle = np.array([rng.uniform(0.3, 0.7) * w, rng.uniform(0.4, 0.6) * h])
        draw.hotend(img, rng, nozzle, h * 0.5)
        labels.append(blob(rng, img, nozzle, h * rng.uniform(0.12, 0.25), base))
    return img, labels


KINDS = {"bed": bed_webcam, "nozzle": nozzle_cam, "closeup": closeup}
