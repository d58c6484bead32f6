"""Measure a detector on a labelled YOLO folder and pick thresholds.

    # the exported int8 model through the real runtime (run with the project's venv):
    .venv/bin/python -m training.evaluate --data /work/shared/data/real-dev \\
        --model pinozcam_klipper/models/pinozcam-det.tflite --out artifacts/eval
    # float Keras weights straight from training (training venv):
    training/.venv/bin/python -m training.evaluate --data ... --weights training/runs/det/last.weights.h5

Writes ``OUT/report.json`` (metrics at the given thresholds, the threshold sweep, the best
pair under the false-alarm budget) and ``OUT/pr.png``. Real photos are only read here: never
train on them.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from pinozcam_klipper import evaluation
from pinozcam_klipper.engine.types import Box

log = logging.getLogger(__name__)
CLASSES = ["spaghetti", "blob", "detached"]
SCORES = [round(0.30 + 0.01 * k, 2) for k in range(68)]  # 0.30 .. 0.97
SENSITIVITIES = [0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12]

Predictor = Callable[[np.ndarray], tuple[Box, ...]]


def runtime_predictor(model: Path, threads: int = 1) -> Predictor:
    """The shipped runtime (LiteRT) on an exported model: exactly what printers run."""
    from pinozcam_klipper.detect.detector import Detector
    from pinozcam_klipper.detect.settings import ModelSettings

    det = Detector.load(ModelSettings(model_path=str(model), cpu_share=1.0), cpu_count=threads)
    return lambda frame: det.detect(frame).boxes


def keras_predictor(weights: Path, floor: float = 0.05, offsets: Sequence[float] | None = None) -> Predictor:
    """The float Keras model (backbone + trained head), decoded like the runtime does.
    ``offsets``: raw logit offsets per class, as ``training.export --class-offset`` folds them."""
    from pinozcam_klipper.detect.nms import nms
    from training import dataset, model

    front = model.backbone()
    model.port_weights([front])
    back = model.head()
    back.load_weights(weights)
    if offsets is not None:
        model.calibrate_classes(back, offsets=np.asarray(offsets, np.float32))
    net = model.detector(front, back)
    gh, gw = model.INPUT_H // model.STRIDE, model.INPUT_W // model.STRIDE
    cy, cx = np.meshgrid((np.arange(gh) + 0.5) * model.STRIDE, (np.arange(gw) + 0.5) * model.STRIDE, indexing="ij")
    centres = np.stack([cx, cy, cx, cy], -1).reshape(-1, 4).astype(np.float32)
    size = np.array([model.INPUT_W, model.INPUT_H] * 2, np.float32)
    sign = np.array([-1, -1, 1, 1], np.float32)
    c = len(model.CLASSES)

    def predict(frame: np.ndarray) -> tuple[Box, ...]:
        img, lb = dataset.letterbox(frame)
        out = net.predict_on_batch(img[None].astype(np.float32))[0].reshape(-1, c + 4)
        best = out[:, :c].max(1)
        keep = np.flatnonzero(best >= floor)
        if not keep.size:
            return ()
        boxes = centres[keep] + sign * out[keep, c:] * size
        cls = out[keep, :c].argmax(1)
        k = nms(boxes, best[keep], cls, 0.5)
        coords = lb.to_frame(boxes[k])
        return tuple(Box(float(a), float(b), float(x), float(y), float(s), model.CLASSES[int(q)])
                     for (a, b, x, y), s, q in zip(coords, best[keep][k], cls[k]) if x > a and y > b)

    return predict


def predict_all(data: Sequence[evaluation.LabeledImage], predictor: Predictor) -> list[tuple[Box, ...]]:
    out = []
    for item in data:
        frame = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"cannot read {item.path}")
        out.append(predictor(frame))
    return out


def sweep(data: Sequence[evaluation.LabeledImage], preds: Sequence[Sequence[Box]],
          max_false_alarm: float) -> tuple[list[dict], dict | None]:
    """Image-level recall / false alarms over a grid of (score, sensitivity); best pair is
    the highest recall within the false-alarm budget (ties: higher score threshold)."""
    rows = []
    for s in SCORES:
        for v in SENSITIVITIES:
            t = evaluation.Thresholds(s, v)
            alarms = [evaluation.reaches_failure_band(p, d.width, d.height, t) for d, p in zip(data, preds)]
            lvl = evaluation.image_level(alarms, [d.has_failure for d in data])
            rows.append({"score_threshold": s, "image_sensitivity": v, "recall": lvl.recall,
                         "false_alarm_rate": lvl.false_alarm_rate})
    ok = [r for r in rows if r["false_alarm_rate"] <= max_false_alarm]
    best = max(ok, key=lambda r: (r["recall"], r["score_threshold"])) if ok else None
    return rows, best


def alarm_score(boxes: Sequence[Box], width: int, height: int, sensitivity: float) -> float:
    """The highest score threshold at which this image still reaches the failure band (0 if it
    never does): boxes are added best first until their union passes the band's area."""
    ranked = sorted(boxes, key=lambda b: -b.score)
    for k in range(len(ranked)):
        if evaluation.reaches_failure_band(ranked[:k + 1], width, height, evaluation.Thresholds(0.0, sensitivity)):
            return ranked[k].score
    return 0.0


def logit(p: float) -> float:
    """Inverse of the sigmoid, with scores of 0 and 1 held just inside (0, 1)."""
    return math.log(max(p, 1e-6) / max(1 - p, 1e-6))


def operating_point(data: Sequence[evaluation.LabeledImage], preds: Sequence[Sequence[Box]],
                    sensitivity: float, max_false_alarm: float) -> dict:
    """The score threshold for ``sensitivity`` that keeps false alarms within budget, placed
    half-way (in logits) between the last normal image it must reject and the next failure
    image above it, so that it does not hug either; with the recall it gives."""
    scores = np.array([alarm_score(p, d.width, d.height, sensitivity) for d, p in zip(data, preds)])
    failure = np.array([d.has_failure for d in data])
    normal = np.sort(scores[~failure])[::-1]
    allowed = int(math.floor(max_false_alarm * len(normal) + 1e-9))
    reject = float(normal[allowed]) if allowed < len(normal) else 0.0
    above = np.sort(scores[failure & (scores > reject)])
    if len(above):
        threshold = 1 / (1 + math.exp(-(logit(reject) + logit(float(above[0]))) / 2))
    else:
        threshold = min(1.0, reject + 1e-3)
    recall = float((scores[failure] >= threshold).mean()) if failure.any() else math.nan
    return {"sensitivity": sensitivity, "threshold": threshold, "last_rejected_normal": reject,
            "recall": recall, "false_alarm_rate": float((scores[~failure] >= threshold).mean())}


def run(data_dir: Path, predictor: Predictor, out: Path, thresholds: evaluation.Thresholds,
        max_false_alarm: float = 0.02) -> dict:
    data = evaluation.load_yolo_dataset(data_dir, CLASSES)
    preds = predict_all(data, predictor)
    report = evaluation.evaluate(data, preds, CLASSES, thresholds)
    rows, best = sweep(data, preds, max_false_alarm)
    out.mkdir(parents=True, exist_ok=True)
    summary = report.to_dict() | {"dataset": str(data_dir), "images": len(data), "sweep": rows,
                                  "best_within_budget": best, "false_alarm_budget": max_false_alarm}
    summary["operating_point"] = operating_point(data, preds, thresholds.image_sensitivity, max_false_alarm)
    if best is not None:
        t = evaluation.Thresholds(best["score_threshold"], best["image_sensitivity"])
        summary["at_best"] = evaluation.evaluate(data, preds, CLASSES, t).to_dict()
    (out / "report.json").write_text(json.dumps(summary, indent=1, default=float))
    spag = report.ap50["spaghetti"]
    evaluation.draw_pr_curve(spag.points, out / "pr.png", f"spaghetti AP50 {spag.ap:.2f}")
    # Per-image scores help to look at the worst misses and false alarms.
    (out / "images.tsv").write_text("".join(
        f"{d.name}\t{int(d.has_failure)}\t{evaluation.image_score(p):.3f}\t"
        f"{evaluation.failure_severity(p, d.width, d.height, thresholds):.3f}\n" for d, p in zip(data, preds)))
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", type=Path, help="exported .tflite (runtime)")
    src.add_argument("--weights", type=Path, help="trained head weights (float Keras)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/eval"))
    shipped = evaluation.Thresholds.shipped()
    parser.add_argument("--score-threshold", type=float, default=shipped.score_threshold)
    parser.add_argument("--image-sensitivity", type=float, default=shipped.image_sensitivity)
    parser.add_argument("--max-false-alarm", type=float, default=0.02)
    parser.add_argument("--class-offset", action="append", default=[], metavar="CLASS=LOGITS",
                        help="with --weights: raw logit offset for one class, as training.export takes it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.model:
        predictor = runtime_predictor(args.model)
    else:
        from training import model
        predictor = keras_predictor(args.weights, offsets=model.class_offsets(args.class_offset))
    s = run(args.data, predictor, args.out, evaluation.Thresholds(args.score_threshold, args.image_sensitivity),
            args.max_false_alarm)
    print(json.dumps({k: s[k] for k in ("thresholds", "image", "auroc", "ap50", "best_within_budget", "operating_point")}
                     | {"at_best": s.get("at_best")}, indent=1, default=float))


if __name__ == "__main__":
    main()
