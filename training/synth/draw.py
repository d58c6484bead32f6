"""Drawing primitives for synthetic printer scenes (numpy + OpenCV, BGR images, uint8).

Every function takes the image to draw on and a ``numpy.random.Generator``; nothing here keeps
state, so a scene is reproducible from its seed alone.
"""

from __future__ import annotations

import cv2
import numpy as np

Color = tuple[float, float, float]

# Filament colours in BGR with a weight: black, white and grey dominate real printers.
FILAMENTS: list[tuple[Color, float]] = [
    ((28, 28, 30), 3.0), ((232, 232, 228), 3.0), ((128, 128, 128), 1.5), ((40, 40, 200), 1.5),
    ((30, 120, 240), 1.0), ((40, 210, 235), 1.0), ((60, 170, 60), 1.0), ((80, 255, 170), 0.6),
    ((200, 110, 30), 1.0), ((150, 60, 120), 0.7), ((170, 120, 240), 0.6), ((60, 80, 130), 0.6),
    ((110, 190, 210), 0.8), ((200, 200, 60), 0.5), ((90, 150, 200), 0.5), ((40, 230, 120), 0.5),
]


def filament(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A filament colour and finish (``matte``, ``silk`` or ``clear``)."""
    weights = np.array([w for _, w in FILAMENTS])
    base = np.array(FILAMENTS[rng.choice(len(FILAMENTS), p=weights / weights.sum())][0], float)
    base = np.clip(base + rng.normal(0, 14, 3), 0, 255)
    finish = rng.choice(["matte", "silk", "clear"], p=[0.72, 0.16, 0.12])
    return base, str(finish)


def shade(color: np.ndarray, factor: float) -> tuple[float, float, float]:
    c = np.clip(np.asarray(color, float) * factor, 0, 255)
    return float(c[0]), float(c[1]), float(c[2])


def lift(color: np.ndarray, amount: float) -> tuple[float, float, float]:
    """Mix towards white (specular highlight)."""
    c = np.asarray(color, float)
    c = c + (255 - c) * amount
    return float(c[0]), float(c[1]), float(c[2])


def mute(rng: np.random.Generator, color: np.ndarray, most: float = 0.35) -> np.ndarray:
    """Pulls a colour towards its grey by a random amount up to ``1 - most`` of the way:
    rooms and printers are mostly black, white and grey."""
    grey = float(np.mean(color))
    return grey + (np.asarray(color, float) - grey) * rng.uniform(0.0, most)


def noise_texture(rng: np.random.Generator, h: int, w: int, scale: float, amp: float) -> np.ndarray:
    """Smooth random field (float32, about -amp..amp) made by upsampling coarse noise."""
    gh, gw = max(2, int(h / scale)), max(2, int(w / scale))
    coarse = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * amp


def vertical_gradient(h: int, w: int, top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    g = top[None, None, :] * (1 - t) + bottom[None, None, :] * t
    return np.repeat(g, w, axis=1)


# ---------------------------------------------------------------------------------------------
# Filament strands
# ---------------------------------------------------------------------------------------------

def strand_path(rng: np.random.Generator, start: np.ndarray, n: int, step: float,
                curl: float, heading: float, gravity: float = 0.0) -> np.ndarray:
    """Points of one smooth random strand: curvature follows a random walk, so loops appear
    where it drifts high. ``gravity`` pulls the heading towards straight down."""
    # Curvature is smoothed noise (mean-reverting), so strands wander in S-curves and loop
    # wherever it stays high for a while.
    win = max(3, int(rng.uniform(5, 30)))
    raw = rng.normal(0, 1, n + win)
    kappa = np.convolve(raw, np.ones(win) / np.sqrt(win), "valid")[:n] * curl + rng.normal(0, curl * 0.5)
    theta = heading + np.cumsum(kappa * step)
    if gravity:
        # Blend each heading towards pi/2 (down in image coordinates).
        theta = theta + gravity * np.sin(np.pi / 2 - theta)
    dx, dy = np.cos(theta) * step, np.sin(theta) * step
    return start[None, :] + np.stack([np.cumsum(dx), np.cumsum(dy)], axis=1)


def draw_polyline(img: np.ndarray, pts: np.ndarray, color: Color, thickness: int) -> None:
    if len(pts) < 2:
        return
    p = np.round(pts * 4).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [p], False, color, max(1, thickness), cv2.LINE_AA, shift=2)


def draw_strand(img: np.ndarray, pts: np.ndarray, base: np.ndarray, finish: str,
                thickness: int, light: float, rng: np.random.Generator) -> None:
    """A filament strand with a dark rim, its body and a specular streak."""
    body = shade(base, light)
    if thickness >= 2:
        draw_polyline(img, pts, shade(base, light * 0.45), thickness + 1)
    draw_polyline(img, pts, body, thickness)
    shine = {"matte": 0.25, "silk": 0.7, "clear": 0.6}[finish]
    if rng.random() < 0.8:
        off = np.array([-0.4, -0.4]) * thickness
        # Highlights only on some stretches of the strand, as a curved cylinder shows them.
        seg = max(4, len(pts) // int(rng.integers(2, 6)))
        for k in range(0, len(pts), seg * 2):
            draw_polyline(img, pts[k:k + seg] + off, lift(body, shine * rng.uniform(0.5, 1)),
                          max(1, thickness // 2))


def region_mask(pts: np.ndarray, center: np.ndarray, radii: np.ndarray) -> np.ndarray:
    d = (pts - center) / radii
    return (d ** 2).sum(axis=1) <= 1.0


def spaghetti_nest(img: np.ndarray, rng: np.random.Generator, center: np.ndarray,
                   radii: np.ndarray, density: float, thickness: tuple[int, int],
                   base: np.ndarray | None = None, finish: str | None = None,
                   hanging_from: np.ndarray | None = None) -> np.ndarray | None:
    """Draws a tangle of strands inside an ellipse (``center``, ``radii`` in pixels).

    ``density`` 0..1 goes from a few loose loops to a dense nest. With ``hanging_from`` the
    strands start at that point (the nozzle) and droop. Returns the drawn points that fall in
    the image (for the label box), or None if nothing visible was drawn.
    """
    h, w = img.shape[:2]
    if base is None:
        base, finish = filament(rng)
    assert finish is not None
    size = float(np.mean(radii))
    n_strands = int(3 + density ** 1.5 * rng.uniform(30, 150) * np.clip(size / 60, 0.5, 2.0))
    # Loop radii of about 10-80 % of the nest size.
    curl = 1.0 / (size * rng.uniform(0.1, 0.8))
    step = max(1.0, size / 40)
    layer = img if finish != "clear" else img.copy()
    kept: list[np.ndarray] = []
    for _ in range(n_strands):
        if hanging_from is not None and rng.random() < 0.6:
            start = hanging_from + rng.normal(0, 2, 2)
            heading = np.pi / 2 + rng.normal(0, 0.6)
            gravity = rng.uniform(0.2, 0.7)
        else:
            start = center + rng.uniform(-1, 1, 2) * radii * 0.8
            heading = rng.uniform(0, 2 * np.pi)
            gravity = 0.0
        n = int(rng.uniform(0.5, 2.5) * size / step * 2)
        pts = strand_path(rng, start, max(n, 8), step, curl * rng.uniform(0.5, 1.8), heading, gravity)
        inside = region_mask(pts, center, radii * rng.uniform(1.0, 1.25))
        if hanging_from is not None:
            inside |= pts[:, 1] <= center[1]
        # Cut the strand where it leaves the nest region; draw each inside run.
        runs = np.split(np.arange(len(pts)), np.flatnonzero(np.diff(inside.astype(np.int8))) + 1)
        t = int(rng.integers(thickness[0], thickness[1] + 1))
        light = rng.uniform(0.55, 1.15)
        for run in runs:
            if len(run) > 3 and inside[run[0]]:
                draw_strand(layer, pts[run], base, finish, t, light, rng)
                kept.append(pts[run])
    if density > 0.5 and rng.random() < 0.5:
        # A fibrous mass: many fine hair-like strands over the nest, as dense real nests look.
        for _ in range(int(rng.uniform(40, 160) * np.clip(size / 60, 0.5, 2.0))):
            start = center + rng.uniform(-1, 1, 2) * radii * 0.8
            pts = strand_path(rng, start, int(rng.uniform(0.5, 2) * size / step * 2) + 8, step,
                              curl * rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi))
            inside = region_mask(pts, center, radii * 1.1)
            if inside.sum() > 3:
                p = pts[inside]
                kept.append(p)
                draw_polyline(layer, p, lift(shade(base, rng.uniform(0.6, 1.2)), rng.uniform(0, 0.3)), 1)
    if finish == "clear":
        alpha = rng.uniform(0.35, 0.65)
        cv2.addWeighted(layer, alpha, img, 1 - alpha, 0, dst=img)
    if not kept:
        return None
    allp = np.concatenate(kept)
    vis = (allp[:, 0] >= 0) & (allp[:, 0] < w) & (allp[:, 1] >= 0) & (allp[:, 1] < h)
    return allp[vis] if vis.sum() > 10 else None


def points_box(pts: np.ndarray, w: int, h: int, trim: float = 1.0) -> tuple[float, ...] | None:
    """Tight box around points, trimming ``trim`` percent outliers on every side."""
    x1, x2 = np.percentile(pts[:, 0], [trim, 100 - trim])
    y1, y2 = np.percentile(pts[:, 1], [trim, 100 - trim])
    x1, y1 = max(0.0, x1 - 1), max(0.0, y1 - 1)
    x2, y2 = min(float(w), x2 + 1), min(float(h), y2 + 1)
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    return float(x1), float(y1), float(x2), float(y2)


# A nest covering more than TILE_ABOVE of the frame is also labelled clump by clump, in tiles of
# about TILE_AREA each (see nest_tiles).
TILE_ABOVE = 0.08
TILE_AREA = 0.04


def nest_tiles(pts: np.ndarray, w: int, h: int) -> list[tuple[float, ...]]:
    """Boxes around the clumps of a large nest (k-means on its strand points).

    People who label real failure photos either box a whole nest or tile it with boxes around
    its clumps, each about a fifth of the frame wide; the generator writes both (tiles as
    their own label class, so ``training.generate`` can keep or drop them). Uses no random
    numbers, so an image never depends on how it is labelled.
    """
    whole = points_box(pts, w, h)
    if whole is None:
        return []
    frac = (whole[2] - whole[0]) * (whole[3] - whole[1]) / float(w * h)
    if frac < TILE_ABOVE:
        return []
    k = int(np.clip(round(frac / TILE_AREA), 2, 9))
    p = pts[:: max(1, len(pts) // 3000)].astype(np.float64)
    # Farthest-point start, then a few Lloyd steps: deterministic and good enough for boxes.
    centres = [p[0]]
    d = ((p - p[0]) ** 2).sum(1)
    for _ in range(k - 1):
        centres.append(p[int(d.argmax())])
        d = np.minimum(d, ((p - centres[-1]) ** 2).sum(1))
    c = np.array(centres)
    for _ in range(10):
        assign = ((p[:, None, :] - c[None]) ** 2).sum(2).argmin(1)
        c = np.array([p[assign == j].mean(0) if (assign == j).any() else c[j] for j in range(k)])
    tiles = []
    for j in range(k):
        q = p[assign == j]
        if len(q) >= 20 and (box := points_box(q, w, h, trim=2.0)) is not None:
            tiles.append(box)
    return tiles


def normal_strings(img: np.ndarray, rng: np.random.Generator, a: np.ndarray, b: np.ndarray,
                   base: np.ndarray) -> None:
    """A few thin, nearly straight wisps between two points (stringing: not a failure)."""
    for _ in range(int(rng.integers(1, 4))):
        mid = (a + b) / 2 + rng.normal(0, 1, 2) * np.array([2, 3]) + np.array([0, rng.uniform(0, 8)])
        t = np.linspace(0, 1, 30)[:, None]
        pts = (1 - t) ** 2 * a + 2 * (1 - t) * t * mid + t ** 2 * b
        draw_polyline(img, pts, lift(base, rng.uniform(0, 0.4)), 1)


# ---------------------------------------------------------------------------------------------
# Printed parts and printer hardware
# ---------------------------------------------------------------------------------------------

def layer_lines(img: np.ndarray, rng: np.random.Generator, poly: np.ndarray,
                base: np.ndarray, pitch: float, angle: float = 0.0) -> None:
    """Fills ``poly`` with ``base`` shaded left to right and striped by layer lines."""
    h, w = img.shape[:2]
    x, y, bw, bh = cv2.boundingRect(poly.astype(np.int32))
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(w, x + bw), min(h, y + bh)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [(poly - [x0, y0]).astype(np.int32)], 255)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u = (xx - x0) / max(1, x1 - x0)
    light = 0.65 + 0.5 * np.sin(np.pi * (u * rng.uniform(0.6, 1.0) + rng.uniform(-0.2, 0.3)))
    coord = yy * np.cos(angle) - xx * np.sin(angle)
    stripes = 1 - rng.uniform(0.05, 0.2) * (0.5 + 0.5 * np.cos(2 * np.pi * coord / pitch))
    patch = base[None, None, :] * (light * stripes)[..., None]
    roi = img[y0:y1, x0:x1]
    m = mask > 0
    roi[m] = np.clip(patch[m], 0, 255).astype(np.uint8)


def printed_part(img: np.ndarray, rng: np.random.Generator, base_x: float, base_y: float,
                 width: float, height: float, base: np.ndarray,
                 tilt: float = 0.0) -> np.ndarray:
    """An upright print (box, cylinder or tapered tower) standing at (base_x, base_y).

    Returns the polygon of its silhouette. ``tilt`` (radians) rotates it about its base,
    which is how a knocked-over part is drawn.
    """
    kind = rng.choice(["box", "cyl", "taper", "stepped"])
    hw = width / 2
    top_w = hw * (rng.uniform(0.3, 0.8) if kind == "taper" else 1.0)
    if kind == "stepped":
        s = rng.uniform(0.4, 0.8)
        poly = np.array([[-hw, 0], [hw, 0], [hw, -height * s], [hw * 0.4, -height * s],
                         [hw * 0.4, -height], [-hw, -height]], float)
    else:
        poly = np.array([[-hw, 0], [hw, 0], [top_w, -height], [-top_w, -height]], float)
    rot = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    poly = poly @ rot.T + [base_x, base_y]
    pitch = rng.uniform(1.5, 4.0) * max(1.0, width / 80)
    layer_lines(img, rng, poly, base, pitch, angle=tilt)
    top = poly[-2:] if kind != "stepped" else poly[-2:]
    if kind in ("box", "cyl", "taper") and rng.random() < 0.8:
        # The top face seen from above: lighter, sometimes with infill showing.
        c = top.mean(axis=0)
        rx = abs(top[0, 0] - top[1, 0]) / 2
        ry = max(2.0, rx * rng.uniform(0.15, 0.4))
        color = lift(base, 0.15)
        cv2.ellipse(img, (int(c[0]), int(c[1])), (int(rx), int(ry)),
                    float(np.degrees(tilt)), 0, 360, color, -1, cv2.LINE_AA)
        if rng.random() < 0.5:
            infill(img, rng, c, rx, ry, base)
    return poly


def crossing_lines(xx: np.ndarray, yy: np.ndarray, period: float, slopes: tuple[float, float],
                   width: float) -> np.ndarray:
    """Mask of two families of parallel lines, ``x + slope * y`` constant every ``period``
    pixels, ``width`` of a period wide: a grid infill seen from above or at an angle."""
    return ((np.abs(((xx + yy * slopes[0]) / period) % 1 - 0.5) < width)
            | (np.abs(((xx + yy * slopes[1]) / period) % 1 - 0.5) < width))


def infill(img: np.ndarray, rng: np.random.Generator, c: np.ndarray, rx: float, ry: float,
           base: np.ndarray) -> None:
    """Grid or gyroid-like infill inside an ellipse (a hard negative: it looks stringy)."""
    if rx < 6:
        return
    x0, y0 = int(c[0] - rx), int(c[1] - ry)
    pw, ph = int(2 * rx) + 1, int(2 * ry) + 1
    patch = img[max(0, y0):y0 + ph, max(0, x0):x0 + pw]
    if patch.size == 0:
        return
    yy, xx = np.mgrid[0:patch.shape[0], 0:patch.shape[1]].astype(np.float32)
    period = rng.uniform(4, 9)
    if rng.random() < 0.5:
        f = np.abs(np.sin(xx / period * np.pi + np.sin(yy / period))) < 0.25
    else:
        f = crossing_lines(xx, yy, period, (1, -2), 0.12)
    inside = ((xx + max(0, x0) - c[0]) / rx) ** 2 + ((yy + max(0, y0) - c[1]) / ry) ** 2 < 0.8
    patch[f & inside] = np.array(shade(base, 0.6), np.uint8)


def fan(img: np.ndarray, rng: np.random.Generator, c: tuple[int, int], r: int) -> None:
    """A fan with a grill: concentric rings, spokes or slats (hard negatives)."""
    dark = rng.uniform(15, 60)
    housing = shade(np.array([dark] * 3), 1.0)
    cv2.circle(img, c, int(r * 1.15), housing, -1, cv2.LINE_AA)
    cv2.circle(img, c, r, shade(np.array([dark] * 3), 0.6), -1, cv2.LINE_AA)
    grill = lift(np.array([dark] * 3), rng.uniform(0.15, 0.5))
    style = rng.integers(0, 3)
    if style == 0:
        for rr in np.linspace(r * 0.25, r, int(rng.integers(3, 7))):
            cv2.circle(img, c, int(rr), grill, 1, cv2.LINE_AA)
    elif style == 1:
        for a in np.linspace(0, 2 * np.pi, int(rng.integers(5, 12)), endpoint=False):
            b = a + rng.uniform(0.3, 0.7)
            p = [(int(c[0] + np.cos(t) * rr), int(c[1] + np.sin(t) * rr))
                 for t, rr in ((a, r * 0.2), ((a + b) / 2, r * 0.6), (b, r))]
            cv2.polylines(img, [np.array(p, np.int32)], False, grill, 1, cv2.LINE_AA)
    else:
        for yy in np.arange(c[1] - r, c[1] + r, max(2, r / 5)):
            half = np.sqrt(max(0.0, r * r - (yy - c[1]) ** 2))
            cv2.line(img, (int(c[0] - half), int(yy)), (int(c[0] + half), int(yy)), grill, 1, cv2.LINE_AA)
    cv2.circle(img, c, max(2, r // 4), housing, -1, cv2.LINE_AA)


def hotend(img: np.ndarray, rng: np.random.Generator, nozzle: np.ndarray, scale: float) -> tuple[int, int, int, int]:
    """Carriage, heater block, nozzle and part-cooling fan, nozzle tip at ``nozzle``.

    Returns the carriage's box (x1, y1, x2, y2).
    """
    nx, ny = nozzle
    s = scale
    body = np.array(rng.choice([[25, 25, 25], [35, 35, 190], [30, 110, 230], [200, 200, 200],
                                [40, 40, 40], [50, 160, 60]]), float) + rng.normal(0, 8, 3)
    bw, bh = s * rng.uniform(1.6, 2.6), s * rng.uniform(1.2, 2.0)
    x1, y1 = int(nx - bw / 2 + rng.normal(0, s * 0.2)), int(ny - s * 0.45 - bh)
    x2, y2 = int(x1 + bw), int(ny - s * 0.45)
    cv2.rectangle(img, (x1, y1), (x2, y2), shade(body, 1.0), -1)
    cv2.rectangle(img, (x1, y1), (x2, y2), shade(body, 0.6), max(1, int(s / 20)))
    fan(img, rng, (int((x1 + x2) / 2 + rng.normal(0, bw * 0.1)), int((y1 + y2) / 2)),
        int(min(bw, bh) * rng.uniform(0.25, 0.4)))
    # Heater block and nozzle.
    hb = int(s * 0.28)
    cv2.rectangle(img, (int(nx - hb), int(ny - s * 0.45)), (int(nx + hb), int(ny - s * 0.15)),
                  shade(np.array([170, 170, 175]), rng.uniform(0.6, 1.1)), -1)
    tri = np.array([[nx - s * 0.12, ny - s * 0.15], [nx + s * 0.12, ny - s * 0.15], [nx + 1.5, ny], [nx - 1.5, ny]])
    cv2.fillPoly(img, [tri.astype(np.int32)], (40, 150, 200), cv2.LINE_AA)
    if rng.random() < 0.5:
        # A side blower duct.
        cv2.rectangle(img, (x2, int(ny - s * 0.6)), (int(x2 + s * 0.35), int(ny - s * 0.1)), shade(body, 0.8), -1)
    return x1, y1, x2, y2


def cable_chain(img: np.ndarray, rng: np.random.Generator, a: np.ndarray, b: np.ndarray,
                link: float) -> None:
    """Drag chain of links along a sagging curve (a hard negative)."""
    color = np.array([rng.uniform(15, 50)] * 3)
    mid = (a + b) / 2 + [0, rng.uniform(0.1, 0.4) * np.linalg.norm(b - a)]
    n = max(3, int(np.linalg.norm(b - a) / link * 1.2))
    t = np.linspace(0, 1, n)[:, None]
    pts = (1 - t) ** 2 * a + 2 * (1 - t) * t * mid + t ** 2 * b
    for p, q in zip(pts[:-1], pts[1:]):
        d = q - p
        nrm = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-6) * link * 0.5
        quad = np.array([p + nrm, q + nrm, q - nrm, p - nrm]).astype(np.int32)
        cv2.fillPoly(img, [quad], shade(color, rng.uniform(0.8, 1.3)), cv2.LINE_AA)
        cv2.polylines(img, [quad], True, lift(color, 0.25), 1, cv2.LINE_AA)


def wire(img: np.ndarray, rng: np.random.Generator, a: np.ndarray, b: np.ndarray, thickness: int) -> None:
    color = rng.choice([[20, 20, 20], [30, 30, 160], [200, 200, 200], [40, 40, 40]])
    mid = (a + b) / 2 + rng.normal(0, 1, 2) * np.linalg.norm(b - a) * 0.3
    t = np.linspace(0, 1, 40)[:, None]
    pts = (1 - t) ** 2 * a + 2 * (1 - t) * t * mid + t ** 2 * b
    draw_polyline(img, pts, shade(np.array(color, float), 1.0), thickness)


def sticker(img: np.ndarray, rng: np.random.Generator, c: tuple[int, int], size: int) -> None:
    """Logo, text or sticker on a bed or frame (a hard negative)."""
    color = tuple(float(v) for v in rng.uniform(0, 255, 3))
    kind = rng.integers(0, 3)
    if kind == 0:
        text = "".join(rng.choice(list("PRUSAENDERVORONBAMBUCREALITY3D"), int(rng.integers(3, 8))))
        cv2.putText(img, text, (c[0] - size, c[1]), cv2.FONT_HERSHEY_SIMPLEX, size / 30,
                    color, max(1, size // 15), cv2.LINE_AA)
    elif kind == 1:
        cv2.circle(img, c, size // 2, color, -1, cv2.LINE_AA)
        cv2.circle(img, c, size // 4, lift(np.array(color), 0.5), max(1, size // 10), cv2.LINE_AA)
    else:
        cv2.rectangle(img, (c[0] - size // 2, c[1] - size // 3), (c[0] + size // 2, c[1] + size // 3), color, -1)


def spool(img: np.ndarray, rng: np.random.Generator, c: tuple[int, int], r: int, base: np.ndarray) -> None:
    """A filament spool seen from the side: wound filament rings (a stringy hard negative)."""
    flange = np.array(rng.choice([[20, 20, 20], [230, 230, 230], [60, 60, 60], [40, 40, 160]]), float)
    cv2.circle(img, c, r, shade(flange, 1.0), -1, cv2.LINE_AA)
    inner = int(r * rng.uniform(0.85, 0.95))
    cv2.circle(img, c, inner, shade(base, 0.8), -1, cv2.LINE_AA)
    hub = int(r * rng.uniform(0.3, 0.5))
    for rr in np.arange(hub, inner, max(1.5, r / 60)):
        cv2.circle(img, c, int(rr), shade(base, rng.uniform(0.6, 1.2)), 1, cv2.LINE_AA)
    cv2.circle(img, c, hub, shade(flange, 0.9), -1, cv2.LINE_AA)
    cv2.circle(img, c, max(2, hub // 2), (25, 25, 25), -1, cv2.LINE_AA)


def textured_shape(img: np.ndarray, rng: np.random.Generator, scale: float) -> None:
    """A random object (polygon or ellipse) filled with a noise texture: room clutter."""
    h, w = img.shape[:2]
    c = rng.uniform(0, 1, 2) * [w, h]
    size = rng.uniform(0.05, 0.35) * scale
    mask = np.zeros((h, w), np.uint8)
    if rng.random() < 0.5:
        n = int(rng.integers(3, 8))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        pts = c + np.stack([np.cos(ang), np.sin(ang)], 1) * size * rng.uniform(0.5, 1.2, (n, 1))
        cv2.fillPoly(mask, [pts.astype(np.int32)], 255)
    else:
        cv2.ellipse(mask, (int(c[0]), int(c[1])), (int(size), int(size * rng.uniform(0.3, 1))),
                    rng.uniform(0, 180), 0, 360, 255, -1)
    color = rng.uniform(0, 255, 3).astype(np.float32)
    tex = color[None, None, :] + noise_texture(rng, h, w, rng.uniform(3, 40), rng.uniform(5, 40))[..., None]
    m = mask > 0
    img[m] = np.clip(tex[m], 0, 255).astype(np.uint8)


def bed_clip(img: np.ndarray, rng: np.random.Generator, x: float, y: float, size: float) -> None:
    """A binder clip on the bed edge with its shiny wire handles (a hard negative)."""
    body = np.array([rng.uniform(10, 40)] * 3)
    quad = np.array([[x - size * 0.5, y - size * 0.2], [x + size * 0.5, y - size * 0.2],
                     [x + size * 0.4, y + size * 0.5], [x - size * 0.4, y + size * 0.5]])
    cv2.fillPoly(img, [quad.astype(np.int32)], shade(body, 1.0), cv2.LINE_AA)
    wire_c = lift(np.array([150, 150, 150.0]), rng.uniform(0.2, 0.7))
    t = max(1, int(size / 12))
    for side in (-1, 1):
        a = np.array([x + side * size * 0.3, y - size * 0.15])
        tip = a + [side * size * rng.uniform(0.0, 0.4), -size * rng.uniform(0.3, 0.9)]
        k = np.linspace(0, 1, 20)[:, None]
        pts = (1 - k) ** 2 * a + 2 * (1 - k) * k * (tip + [side * size * 0.3, 0]) + k ** 2 * (tip - [side * size * 0.2, 0])
        draw_polyline(img, pts, wire_c, t)


def knob(img: np.ndarray, rng: np.random.Generator, c: tuple[int, int], r: int) -> None:
    """A knurled bed-levelling wheel seen edge-on (yellow, black or orange)."""
    color = np.array(rng.choice([[30, 200, 240], [25, 25, 25], [30, 120, 240], [200, 200, 200]]), float)
    h = max(2, int(r * rng.uniform(0.4, 0.8)))
    cv2.ellipse(img, (c[0], c[1] + h), (r, max(1, r // 3)), 0, 0, 360, shade(color, 0.6), -1, cv2.LINE_AA)
    cv2.rectangle(img, (c[0] - r, c[1]), (c[0] + r, c[1] + h), shade(color, 0.85), -1)
    cv2.ellipse(img, c, (r, max(1, r // 3)), 0, 0, 360, shade(color, 1.1), -1, cv2.LINE_AA)
    for xx in np.linspace(-r * 0.95, r * 0.95, int(rng.integers(8, 20))):
        cv2.line(img, (int(c[0] + xx), c[1] + 1), (int(c[0] + xx), c[1] + h), shade(color, 0.5), 1, cv2.LINE_AA)


def spring(img: np.ndarray, rng: np.random.Generator, top: np.ndarray, length: float, width: float) -> None:
    """A coil spring (levelling spring): a tight helix, silver or yellow."""
    color = np.array(rng.choice([[180, 180, 185], [40, 200, 230], [60, 60, 60]]), float)
    turns = rng.uniform(4, 10)
    t = np.linspace(0, 1, int(turns * 16))
    pts = np.stack([top[0] + np.sin(t * turns * 2 * np.pi) * width / 2, top[1] + t * length], 1)
    draw_polyline(img, pts, shade(color, 1.0), max(1, int(width / 8)))
    draw_polyline(img, pts + [-0.5, -0.5], lift(color, 0.5), 1)


WIRE_COLORS = [[20, 20, 200], [20, 20, 20], [30, 210, 230], [190, 90, 30], [235, 235, 235], [40, 160, 40]]


def bezier(a: np.ndarray, mid: np.ndarray, b: np.ndarray, n: int = 40) -> np.ndarray:
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * mid + t ** 2 * b


def wire_bundle(img: np.ndarray, rng: np.random.Generator, a: np.ndarray, b: np.ndarray, scale: float) -> None:
    """Several thin coloured wires running side by side (fan and thermistor leads): smooth,
    parallel and few, unlike a tangle, but thin like filament (a hard negative)."""
    n = int(rng.integers(2, 7))
    mid = (a + b) / 2 + rng.normal(0, 1, 2) * np.linalg.norm(b - a) * 0.3
    path = bezier(a, mid, b, 60)
    d = np.gradient(path, axis=0)
    normal = np.stack([-d[:, 1], d[:, 0]], 1) / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-6)
    gap = max(1.5, scale * rng.uniform(0.004, 0.012))
    t = max(1, int(round(gap * rng.uniform(0.5, 0.9))))
    for k in range(n):
        color = np.array(WIRE_COLORS[int(rng.integers(len(WIRE_COLORS)))], float)
        wobble = np.sin(np.linspace(0, rng.uniform(1, 4), len(path)) + rng.uniform(0, 6))[:, None] * gap * 0.4
        pts = path + normal * ((k - n / 2) * gap + wobble)
        draw_polyline(img, pts, shade(color, rng.uniform(0.8, 1.1)), t)
        draw_polyline(img, pts + [-0.4, -0.4], lift(color, 0.4), 1)


def tube(img: np.ndarray, rng: np.random.Generator, a: np.ndarray, b: np.ndarray, width: float) -> None:
    """A smooth PTFE/Bowden tube: thick, pale, one specular line."""
    color = np.array(rng.choice([[235, 235, 230], [200, 220, 230], [40, 40, 40], [60, 140, 220]]), float)
    mid = (a + b) / 2 + rng.normal(0, 1, 2) * np.linalg.norm(b - a) * 0.25
    pts = bezier(a, mid, b, 60)
    w = max(2, int(width))
    draw_polyline(img, pts, shade(color, 0.7), w + 1)
    draw_polyline(img, pts, shade(color, 1.0), w)
    draw_polyline(img, pts - [w * 0.25, w * 0.25], lift(color, 0.6), max(1, w // 4))


def foil(img: np.ndarray, rng: np.random.Generator, c: np.ndarray, r: float) -> None:
    """Crumpled foil or a bag: grey, high-frequency texture with bright glints (hard negative)."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    n = 9
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = c + np.stack([np.cos(ang), np.sin(ang) * rng.uniform(0.5, 1)], 1) * r * rng.uniform(0.6, 1.2, (n, 1))
    cv2.fillPoly(mask, [pts.astype(np.int32)], 255)
    tex = 170 + noise_texture(rng, h, w, rng.uniform(1.5, 4), 45)
    tex += (rng.random((h, w)) > 0.985) * 80
    m = mask > 0
    img[m] = np.clip(tex[m, None] * rng.uniform(0.85, 1.0, 3)[None, :], 0, 255).astype(np.uint8)


def glow(img: np.ndarray, rng: np.random.Generator, c: np.ndarray, size: np.ndarray) -> None:
    """A bright red/pink heater light or LED bar."""
    h, w = img.shape[:2]
    layer = np.zeros((h, w), np.float32)
    cv2.ellipse(layer, (int(c[0]), int(c[1])), (int(size[0]), int(size[1])), 0, 0, 360, 1.0, -1)
    layer = cv2.GaussianBlur(layer, (0, 0), max(1.0, float(size.min()) * 0.5))
    color = np.array([rng.uniform(120, 230), rng.uniform(80, 160), 255], np.float32)
    out = img.astype(np.float32) + layer[..., None] * color * rng.uniform(0.6, 1.0)
    img[:] = np.clip(out, 0, 255).astype(np.uint8)
