"""Render a synthetic YOLO dataset of printer scenes.

    python -m training.generate --count 20000 --out training/data/synth --seed 1

Writes ``DIR/images/NNNNNN.jpg`` and ``DIR/labels/NNNNNN.txt`` (YOLO: ``class cx cy w h``,
normalised). Image ``i`` is rendered from ``SeedSequence([seed, i])``, so any image can be
rebuilt alone and the set does not depend on the number of worker processes.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from training.synth import lowcam, photo, scenes

log = logging.getLogger(__name__)

# Generator versions. 1 rendered synth4/synth5 (the first shipped model) and stays
# reproducible; 2 adds the bed-level close view (``low``), muted room colours, camera
# saturation and frames up to 2.4x the model input, so strands thin out as they do when a
# phone photo is shrunk; 3 adds posters, plastic bags and blurred, heater-lit prints to the
# bed-level view; 4 adds wide half-finished prints close to the lens and printed shrouds with
# lettering (the false alarms left on real bed-level frames after 3); 5 adds strong coloured
# light (LED strips, heater glow, no infrared-cut filter), grey night-vision frames and
# phone-like over-saturation, to every scene kind (failures missed under such light after 4).
VERSIONS = (1, 2, 3, 4, 5)
# Settings that changed between versions, keyed by the version that introduced them (see
# _since): (scene kind, probability), then the failure mix inside each kind.
KIND_MIX = {
    1: [("bed", 0.5), ("closeup", 0.38), ("nozzle", 0.12)],
    2: [("bed", 0.32), ("closeup", 0.36), ("nozzle", 0.1), ("low", 0.22)],
}
FAILURE_MIX = {
    "bed": [(None, 0.5), (scenes.SPAGHETTI, 0.36), (scenes.BLOB, 0.07), (scenes.DETACHED, 0.07)],
    "closeup": [(None, 0.32), (scenes.SPAGHETTI, 0.58), (scenes.BLOB, 0.05), (scenes.DETACHED, 0.05)],
    "nozzle": [(None, 0.4), (scenes.SPAGHETTI, 0.3), (scenes.BLOB, 0.22), (scenes.DETACHED, 0.08)],
    "low": [(None, 0.55), (scenes.SPAGHETTI, 0.33), (scenes.BLOB, 0.06), (scenes.DETACHED, 0.06)],
}
MAX_SCALE = {1: 1.6, 2: 2.4}
# Frame aspect ratios (w/h) with weights: webcams are 16:9 or 4:3, phone photos any.
ASPECTS = [(16 / 9, 0.45), (4 / 3, 0.25), (1.0, 0.15), (3 / 4, 0.1), (9 / 16, 0.05)]


@dataclass(frozen=True)
class Sample:
    image: np.ndarray
    labels: list[photo.Label]
    kind: str


def _since(table: dict, version: int):
    """The entry of ``table`` that applies to ``version``: the one of the latest version at or
    before it."""
    return table[max(v for v in table if v <= version)]


def _pick(rng: np.random.Generator, mix: list) -> object:
    p = np.array([w for _, w in mix], float)
    return mix[rng.choice(len(mix), p=p / p.sum())][0]


def frame_size(rng: np.random.Generator, fit_w: int = 384, fit_h: int = 224,
               max_scale: float = 1.6) -> tuple[int, int]:
    """A frame size whose letterbox into ``fit_w x fit_h`` downsamples by 1.0-``max_scale``."""
    aspect = float(_pick(rng, ASPECTS))  # type: ignore[arg-type]
    s = rng.uniform(1.0, max_scale)
    if aspect >= fit_w / fit_h:
        w = fit_w * s
        h = w / aspect
    else:
        h = fit_h * s
        w = h * aspect
    return int(round(w)), int(round(h))


def render(rng: np.random.Generator, size: tuple[int, int] | None = None, kind: str | None = None,
           failure: int | None | str = "random", version: int = VERSIONS[-1], tiles: bool = True) -> Sample:
    """One scene with camera effects. ``failure="random"`` draws from the scene's mix.
    ``tiles``: also label the clumps of large nests as spaghetti (see ``draw.nest_tiles``);
    the image is the same either way."""
    if kind is None:
        kind = str(_pick(rng, _since(KIND_MIX, version)))
    if failure == "random":
        failure = _pick(rng, FAILURE_MIX[kind])  # type: ignore[assignment]
    w, h = size if size is not None else frame_size(rng, max_scale=_since(MAX_SCALE, version))
    if kind == "low":
        img, labels = lowcam.lowcam(rng, w, h, failure, version)  # type: ignore[arg-type]
    else:
        muted = version >= 2 and rng.random() < 0.75
        img, labels = scenes.KINDS[kind](rng, w, h, failure, muted=muted)  # type: ignore[arg-type]
    img, labels = photo.camera(rng, img, labels, wide_angle=kind in ("bed", "low"), saturation=version >= 2,
                               tint=version >= 5)
    labels = [(scenes.SPAGHETTI, *box) if cls == scenes.SPAGHETTI_TILE else (cls, *box)
              for cls, *box in labels if tiles or cls != scenes.SPAGHETTI_TILE]
    return Sample(img, photo.clip_labels(labels, w, h, min_side=max(4.0, 0.015 * min(w, h))), kind)


def yolo_lines(labels: list[photo.Label], w: int, h: int) -> str:
    return "".join(f"{c} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n"
                   for c, x1, y1, x2, y2 in labels)


@dataclass(frozen=True)
class Job:
    seed: int
    index: int
    out: str
    version: int
    tiles: bool
    labels_only: bool


def _write_one(job: Job) -> int:
    rng = np.random.default_rng(np.random.SeedSequence([job.seed, job.index]))
    sample = render(rng, version=job.version, tiles=job.tiles)
    h, w = sample.image.shape[:2]
    name, out = f"{job.index:06d}", job.out
    quality = int(rng.uniform(35, 95))
    if not job.labels_only:
        cv2.imwrite(f"{out}/images/{name}.jpg", sample.image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    Path(f"{out}/labels/{name}.txt").write_text(yolo_lines(sample.labels, w, h))
    return len(sample.labels)


def generate(count: int, out: Path, seed: int, workers: int, start: int = 0,
             version: int = VERSIONS[-1], tiles: bool = True, labels_only: bool = False) -> None:
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(parents=True, exist_ok=True)
    jobs = [Job(seed, i, str(out), version, tiles, labels_only) for i in range(start, start + count)]
    from tqdm import tqdm
    with multiprocessing.Pool(workers) as pool:
        for _ in tqdm(pool.imap_unordered(_write_one, jobs, chunksize=16), total=count, mininterval=5):
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first image index (to extend a set)")
    parser.add_argument("--workers", type=int, default=max(1, (multiprocessing.cpu_count() or 2)))
    parser.add_argument("--version", type=int, choices=VERSIONS, default=VERSIONS[-1],
                        help="generator version (1 reproduces the first shipped model's data)")
    parser.add_argument("--no-tiles", dest="tiles", action="store_false",
                        help="label each nest with one box only (how synth4/synth5 were labelled)")
    parser.add_argument("--labels-only", action="store_true",
                        help="rewrite the labels of an existing set (same seed) without its images")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    generate(args.count, args.out, args.seed, args.workers, args.start, args.version, args.tiles, args.labels_only)


if __name__ == "__main__":
    main()
