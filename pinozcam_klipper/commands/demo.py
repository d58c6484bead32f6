"""``pinozcam demo``: the detector and the decision engine over the bundled demo print."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

from ._common import CommandError, add_settings_arguments, load_settings, make_out_dir, run_guarded
from .replay import frames_from_paths, replay


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default="pinozcam-demo",
                        help="where the annotated frames go (default: ./pinozcam-demo)")
    parser.add_argument("--json", action="store_true", help="one JSON line per event")
    add_settings_arguments(parser)


def demo_frames() -> list[Path]:
    """The bundled demo print: ``frame_NNNN_tSSS.S.jpg``, one every 5 s, synthetic
    (``python -m training.demo``), normal at first, then spaghetti."""
    folder = Path(str(resources.files("pinozcam_klipper") / "demo"))
    frames = sorted(folder.glob("frame_*.jpg"))
    if not frames:
        raise CommandError(f"the demo frames are missing from this install ({folder})")
    return frames


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    paths = demo_frames()
    count, frames = frames_from_paths(paths, None, Path(args.out))
    settings = load_settings(args)
    out_dir = make_out_dir(args.out)
    if not args.json:
        print(f"Replaying {count} frames of a synthetic print from {paths[0].parent}")
    status = replay(settings, frames, count, json_output=args.json, out_dir=out_dir)
    if not args.json:
        print(f"Annotated frames: {out_dir.resolve()}")
    return status
