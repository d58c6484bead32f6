"""Camera effects applied after a scene is drawn: perspective, lens, light, blur, noise, JPEG."""

from __future__ import annotations

import cv2
import numpy as np

Label = tuple[int, float, float, float, float]


def perspective(rng: np.random.Generator, img: np.ndarray, labels: list[Label],
                amount: float) -> tuple[np.ndarray, list[Label]]:
    """Random homography (corners moved by up to ``amount`` of the size); boxes follow."""
    h, w = img.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    dst = (src + rng.uniform(-amount, amount, (4, 2)) * [w, h]).astype(np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    moved: list[Label] = []
    for cls, x1, y1, x2, y2 in labels:
        corners = np.array([[[x1, y1], [x2, y1], [x2, y2], [x1, y2]]], np.float32)
        c = cv2.perspectiveTransform(corners, m)[0]
        moved.append((cls, *c.min(axis=0), *c.max(axis=0)))
    return out, moved


def barrel(rng: np.random.Generator, img: np.ndarray, labels: list[Label]) -> tuple[np.ndarray, list[Label]]:
    """Wide-angle webcam distortion; boxes are mapped through the same function."""
    h, w = img.shape[:2]
    k = rng.uniform(0.05, 0.25)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    nx, ny = (xx - w / 2) / (w / 2), (yy - h / 2) / (w / 2)
    r2 = nx * nx + ny * ny
    f = 1 + k * r2
    mapx, mapy = nx * f * (w / 2) + w / 2, ny * f * (w / 2) + h / 2
    out = cv2.remap(img, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    moved: list[Label] = []
    for cls, x1, y1, x2, y2 in labels:
        # Invert the map numerically on the box outline: destination pixels whose source lies
        # inside the source box.
        inside = (mapx >= x1) & (mapx <= x2) & (mapy >= y1) & (mapy <= y2)
        ys, xs = np.nonzero(inside[::2, ::2])
        if len(xs):
            moved.append((cls, xs.min() * 2.0, ys.min() * 2.0, xs.max() * 2.0 + 2, ys.max() * 2.0 + 2))
    return out, moved


def light(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """White balance, exposure, contrast, gamma and vignetting."""
    f = img.astype(np.float32) / 255
    f *= rng.uniform(0.8, 1.2, 3).astype(np.float32)[None, None, :]
    f = (f - 0.5) * rng.uniform(0.7, 1.3) + 0.5 + rng.uniform(-0.15, 0.15)
    f = np.clip(f, 0, 1) ** rng.uniform(0.7, 1.4)
    if rng.random() < 0.5:
        h, w = img.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
        f *= (1 - rng.uniform(0.2, 0.9) * r)[..., None]
    return (np.clip(f, 0, 1) * 255).astype(np.uint8)


def degrade(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Blur, low resolution, motion, sensor noise."""
    h, w = img.shape[:2]
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.5))
    if rng.random() < 0.25:
        s = rng.uniform(0.35, 0.7)
        small = cv2.resize(img, (max(8, int(w * s)), max(8, int(h * s))), interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.1:
        k = int(rng.integers(3, 8))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2, :] = 1.0 / k
        m = cv2.getRotationMatrix2D((k / 2, k / 2), rng.uniform(0, 180), 1)
        kern = cv2.warpAffine(kern, m, (k, k))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    if rng.random() < 0.7:
        sigma = rng.uniform(1, 9)
        img = np.clip(img + rng.normal(0, sigma, img.shape).astype(np.float32), 0, 255).astype(np.uint8)
    return img


def saturate(rng: np.random.Generator, img: np.ndarray, most: float = 1.2) -> np.ndarray:
    """Colour saturation of the sensor: cheap webcams wash colours out, phones boost them
    (up to ``most`` times)."""
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] *= rng.uniform(0.35, most)
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)


# Light colours (BGR) that tint a whole printer: RGB LED strips (magenta, violet, blue, green,
# cyan), a red or amber heater and status light, and the pink-violet of a camera without an
# infrared-cut filter.
LIGHT_TINTS = np.array([[255, 40, 255], [255, 60, 150], [255, 110, 40], [70, 255, 70],
                        [255, 230, 60], [40, 40, 255], [30, 150, 255], [230, 120, 210]], np.float32) / 255


def coloured_light(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """A strong colour cast that the camera's auto-exposure then brightens back (generator
    version 5): printers under coloured LEDs, and night-vision cameras in grey."""
    f = img.astype(np.float32) / 255
    if rng.random() < 0.2:
        f = np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2)
    strength = rng.uniform(0.35, 0.9)
    gains = (1 - strength) + strength * LIGHT_TINTS[rng.integers(len(LIGHT_TINTS))]
    before = float(f.mean())
    f *= gains[None, None, :]
    f *= min(2.5, before / max(float(f.mean()), 1e-3)) ** rng.uniform(0.5, 1.0)
    return (np.clip(f, 0, 1) * 255).astype(np.uint8)


def camera(rng: np.random.Generator, img: np.ndarray, labels: list[Label],
           wide_angle: bool, saturation: bool = False, tint: bool = False) -> tuple[np.ndarray, list[Label]]:
    """All camera effects in the order a real camera applies them (``saturation``:
    generator version 2; ``tint``: version 5, coloured light and phone-like saturation)."""
    if wide_angle and rng.random() < 0.4:
        img, labels = barrel(rng, img, labels)
    if rng.random() < 0.6:
        img, labels = perspective(rng, img, labels, rng.uniform(0.02, 0.1))
    img = light(rng, img)
    if tint and rng.random() < 0.5:
        img = coloured_light(rng, img)
    if saturation and rng.random() < 0.6:
        img = saturate(rng, img, 1.7 if tint else 1.2)
    img = degrade(rng, img)
    return img, labels


def clip_labels(labels: list[Label], w: int, h: int, min_side: float) -> list[Label]:
    out: list[Label] = []
    for cls, x1, y1, x2, y2 in labels:
        x1, x2 = float(np.clip(x1, 0, w)), float(np.clip(x2, 0, w))
        y1, y2 = float(np.clip(y1, 0, h)), float(np.clip(y2, 0, h))
        if x2 - x1 >= min_side and y2 - y1 >= min_side:
            out.append((cls, x1, y1, x2, y2))
    return out
