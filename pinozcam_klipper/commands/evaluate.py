"""``pinozcam eval DIR``: a model's quality on a labelled folder (``images/`` + YOLO ``labels/``).

Image level: recall on images that hold a failure and the false-alarm rate on
images that do not, where an image alarms when it reaches the failure band
under the configured detection settings (exactly the live worker's per-frame
decision); AUROC of the per-image score; box AP at IoU 0.5 per class.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ._common import (CommandError, add_settings_arguments, load_detector, load_settings,
                      read_image, run_guarded)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", metavar="DIR", help="a folder with images/ and labels/ (YOLO)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--plot", metavar="FILE.png", help="draw the precision-recall curve(s)")
    parser.add_argument("--sweep", action="store_true",
                        help="also score every preset and a grid of score_threshold x "
                             "image_sensitivity (the model runs once), to tune the thresholds")
    parser.add_argument("--max-false-alarms", type=_rate, default=0.02, metavar="RATE",
                        help="with --sweep: the false-alarm rate the suggestion must stay within "
                             "(default 0.02)")
    add_settings_arguments(parser)


def _rate(text: str) -> float:
    """argparse type: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a rate from 0 to 1")
    return value


def _check_plot_path(plot: str) -> None:
    """A :class:`CommandError` now, before the model runs, if the plot cannot be written."""
    path = Path(plot)
    if path.suffix.lower() != ".png":
        raise CommandError(f"--plot {plot}: name a .png file")
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(f"--plot {plot}: no folder {folder}")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError(f"--plot {plot}: permission denied")


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..detect import ImageError
    from ..evaluation import (auroc, average_precision, draw_pr_curve, image_level,
                              image_score, load_yolo_dataset, nan_to_none)
    from ..pipeline import FrameAnalyser

    if args.plot:
        _check_plot_path(args.plot)
    settings = load_settings(args)
    detector = load_detector(settings)
    classes = list(detector.info.classes)
    root = Path(args.dataset)
    if not (root / "images").is_dir():
        raise CommandError(f"{root} has no images/ folder")
    if not (root / "labels").is_dir():
        raise CommandError(f"{root} has no labels/ folder (one YOLO .txt per image; "
                           "an empty one marks a normal image)")
    try:
        dataset = load_yolo_dataset(root, classes)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read the dataset: {exc}") from None
    if not dataset:
        raise CommandError(f"no labelled images in {root}")
    analyser = FrameAnalyser(settings, detector)
    predictions = []
    alarms = []
    unreadable = 0
    for item in tqdm(dataset, unit="image", file=sys.stderr, disable=not sys.stderr.isatty()):
        try:
            frame = read_image(item.path)
        except (OSError, ImageError):
            unreadable += 1
            predictions.append(())
            alarms.append(False)
            continue
        analysis = analyser.analyse(frame)
        predictions.append(analysis.detection.boxes)
        alarms.append(analysis.assessment.band == "failure")
    resolved = settings.detection.resolved()
    image = image_level(alarms, [item.has_failure for item in dataset])
    ap50 = {name: average_precision(predictions, [item.boxes for item in dataset], name)
            for name in classes}
    figures = {
        "model": f"{detector.info.name} {detector.info.version}",
        "images": len(dataset),
        "thresholds": {"preset": resolved.preset, "score_threshold": resolved.score_threshold,
                       "image_sensitivity": resolved.image_sensitivity},
        "image": {"recall": image.recall, "false_alarm_rate": image.false_alarm_rate,
                  "failure_images": image.n_failure, "normal_images": image.n_normal,
                  "detected": image.detected, "false_alarms": image.false_alarms},
        "auroc": auroc([image_score(p, classes) for p in predictions],
                       [item.has_failure for item in dataset]),
        "ap50": {name: ap.ap for name, ap in ap50.items() if ap.n_truth},
        "unreadable": unreadable,
    }
    if args.sweep:
        figures["sweep"] = _sweep(settings, dataset, predictions, args.max_false_alarms)
    if args.plot:
        spaghetti = ap50[classes[0]]
        try:
            draw_pr_curve(spaghetti.points, args.plot,
                          title=f"{classes[0]} AP50 {spaghetti.ap:.2f}")
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        figures["plot"] = args.plot
    if args.json:
        print(json.dumps(nan_to_none(figures), allow_nan=False))
        return 0
    print(f"{figures['model']} on {len(dataset)} images "
          f"(preset {resolved.preset}: score >= {resolved.score_threshold}, "
          f"sensitivity {resolved.image_sensitivity})")
    print(f"  failure images: {image.n_failure}, recall {image.recall:.3f} ({image.detected} reach the failure band)")
    print(f"  normal images:  {image.n_normal}, false-alarm rate {image.false_alarm_rate:.3f} "
          f"({image.false_alarms} reach the failure band)")
    print(f"  AUROC of the per-image score: {figures['auroc']:.3f}")
    for name, ap in ap50.items():
        if ap.n_truth:
            print(f"  AP50 {name}: {ap.ap:.3f} ({ap.n_truth} boxes)")
    if unreadable:
        print(f"  {unreadable} unreadable image(s) counted as no detection")
    if args.sweep:
        _print_sweep(figures["sweep"], args.max_false_alarms)
    if args.plot:
        print(f"  precision-recall plot: {args.plot}")
    return 0


_SCORE_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.94)
_SENSITIVITY_GRID = (0.005, 0.01, 0.02, 0.03, 0.05, 0.08)


def _sweep(settings, dataset, predictions, max_false_alarms: float) -> dict:
    """Image-level recall and false alarms for every preset and a threshold grid.

    Reuses the predictions: only the engine's per-frame assessment is repeated,
    so the whole sweep costs less than one more pass of the model.
    """
    import dataclasses

    from ..engine import PRESETS, assess_frame
    from ..evaluation import image_level

    base = settings.detection.resolved()
    truth = [item.has_failure for item in dataset]
    missing = ("failure" if not any(truth) else "normal" if all(truth) else None)

    def score(resolved) -> dict:
        alarms = [assess_frame(boxes, item.width, item.height, resolved).band == "failure"
                  for item, boxes in zip(dataset, predictions)]
        result = image_level(alarms, truth)
        return {"score_threshold": resolved.score_threshold,
                "image_sensitivity": resolved.image_sensitivity,
                "recall": result.recall, "false_alarm_rate": result.false_alarm_rate}

    presets = {}
    for name, preset in PRESETS.items():
        presets[name] = score(dataclasses.replace(
            base, preset=name, score_threshold=preset.score_threshold,
            image_sensitivity=preset.image_sensitivity))
    grid = [score(dataclasses.replace(base, score_threshold=threshold, image_sensitivity=sensitivity))
            for threshold in _SCORE_GRID for sensitivity in _SENSITIVITY_GRID]
    if missing:
        # Recall or the false-alarm rate is undefined: no grid point can be ranked.
        return {"presets": presets, "grid": grid, "suggestion": None,
                "no_suggestion": f"the dataset has no {missing} images"}
    within = [row for row in grid if row["false_alarm_rate"] <= max_false_alarms]
    # Best recall within the false-alarm budget; ties go to the stricter thresholds, which
    # leave more margin on printers the dataset has not seen.
    best = max(within, key=lambda row: (row["recall"], row["score_threshold"],
                                        row["image_sensitivity"]), default=None)
    return {"presets": presets, "grid": grid, "suggestion": best}


def _print_sweep(sweep: dict, max_false_alarms: float) -> None:
    print("  presets (recall / false-alarm rate):")
    for name, row in sweep["presets"].items():
        print(f"    {name:<10} score >= {row['score_threshold']:<5} sensitivity "
              f"{row['image_sensitivity']:<6} recall {row['recall']:.3f}  "
              f"false alarms {row['false_alarm_rate']:.3f}")
    best = sweep["suggestion"]
    if sweep.get("no_suggestion"):
        print(f"  no threshold suggestion: {sweep['no_suggestion']}")
    elif best is None:
        print(f"  no grid point keeps false alarms within {max_false_alarms:.1%}")
    else:
        print(f"  best within {max_false_alarms:.1%} false alarms: score_threshold "
              f"{best['score_threshold']}, image_sensitivity {best['image_sensitivity']} "
              f"(recall {best['recall']:.3f}, false alarms {best['false_alarm_rate']:.3f})")
