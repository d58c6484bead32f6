"""``pinozcam detect IMAGE...``: annotated JPEGs and one JSON line per image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import (CommandError, add_settings_arguments, add_turning_argument, annotated_names,
                      list_images, load_detector, load_settings, make_out_dir, print_json,
                      read_image, refuse_overwriting_inputs, run_guarded, should_turn,
                      write_output)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image files or folders: the camera's own pictures, turned here as the "
                             "worker turns them (see --already-turned)")
    parser.add_argument("--out", metavar="DIR", help="write annotated JPEGs here")
    parser.add_argument("--json", action="store_true", help="one JSON line per image on stdout")
    add_settings_arguments(parser)
    add_turning_argument(parser)


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    from ..detect import ImageError
    from ..pipeline import FrameAnalyser, turn_like_camera

    settings = load_settings(args)
    images = list_images(args.images)
    if not images:
        raise CommandError("no images found")
    names = annotated_names(images)
    refuse_overwriting_inputs(Path(args.out) if args.out else None, names, images)
    out_dir = make_out_dir(args.out)
    analyser = FrameAnalyser(settings, load_detector(settings))
    turn = should_turn(args, settings)
    failed = 0
    for path, name in zip(images, names):
        try:
            frame = read_image(path)
        except (OSError, ImageError) as exc:
            failed += 1
            message = exc.strerror if isinstance(exc, OSError) else str(exc)
            if args.json:
                print_json({"image": str(path), "error": message})
            else:
                print(f"{path}: error: {message}", file=sys.stderr)
            continue
        if turn:
            frame = turn_like_camera(frame, settings.camera)
        analysis = analyser.analyse(frame)
        record = {"image": str(path), **analysis.to_dict()}
        if out_dir:
            target = out_dir / name
            write_output(target, analyser.annotate(frame, analysis, header=path.name))
            record["annotated"] = str(target)
        if args.json:
            print_json(record)
        else:
            assessment = analysis.assessment
            print(f"{path}: {assessment.band:<8} severity {assessment.severity:5.2f}  "
                  f"failure area {assessment.failure_area:6.2%}  {len(analysis.detection.boxes)} boxes")
    return 1 if failed else 0
