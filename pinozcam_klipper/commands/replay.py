"""``pinozcam replay DIR|VIDEO``: the decision engine over a recorded print.

Prints when the live detector would have warned, notified, paused or cancelled,
so thresholds can be tuned offline on a user's own recordings.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._common import (VIDEO_SUFFIXES, CommandError, add_settings_arguments, add_turning_argument,
                      annotated_names, list_images, load_detector, load_settings, make_out_dir,
                      positive_float, print_json, read_image, refuse_overwriting_inputs,
                      run_guarded, should_turn, time_from_name, write_output)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="DIR|VIDEO",
                        help="a folder of frames or a video file, as the camera recorded them: turned "
                             "here as the worker turns them (see --already-turned)")
    parser.add_argument("--fps", type=positive_float, default=None,
                        help="frame rate when the file names carry no time (default 1; videos: their own)")
    parser.add_argument("--json", action="store_true", help="one JSON line per event, then a summary")
    parser.add_argument("--out", metavar="DIR", help="also write every annotated frame here")
    add_settings_arguments(parser)
    add_turning_argument(parser)


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


@dataclass
class _Frame:
    name: str
    time: float
    image: np.ndarray | None
    error: str | None = None
    out_name: str = ""  # the annotated copy's file name under --out


def _frames_from_folder(folder: Path, fps: float | None,
                        out_dir: Path | None) -> tuple[int, Iterator[_Frame]]:
    paths = list_images([folder])
    if not paths:
        raise CommandError(f"no frames in {folder}")
    return frames_from_paths(paths, fps, out_dir)


def frames_from_paths(paths: list[Path], fps: float | None,
                      out_dir: Path | None = None) -> tuple[int, Iterator[_Frame]]:
    """Frames from image files, in the order of the times in their names when every name
    carries one (``shot_t5.jpg`` before ``shot_t15.jpg``), else in the order given; times
    from the names, else ``fps`` (default 1). A :class:`CommandError` when annotated copies
    written to ``out_dir`` would replace one of ``paths``."""
    from ..detect import ImageError

    times = [time_from_name(p) for p in paths]
    if all(t is not None for t in times):
        paths, times = map(list, zip(*sorted(zip(paths, times), key=lambda pair: pair[1])))
    if fps is not None or any(t is None for t in times):
        step = 1.0 / (fps or 1.0)
        times = [i * step for i in range(len(paths))]
    names = annotated_names(paths)
    refuse_overwriting_inputs(out_dir, names, paths)

    def frames() -> Iterator[_Frame]:
        for path, when, name in zip(paths, times, names):
            try:
                yield _Frame(path.name, float(when), read_image(path), out_name=name)
            except (OSError, ImageError) as exc:
                yield _Frame(path.name, float(when), None, str(exc), out_name=name)

    return len(paths), frames()


def _frames_from_video(path: Path, fps: float | None) -> tuple[int, Iterator[_Frame]]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise CommandError(f"cannot open video {path}")
    native_fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    step_source = native_fps if native_fps > 0 else 1.0
    # Sample at --fps (default: one frame a second, as the live worker checks).
    sample_fps = fps or 1.0
    keep_every = max(1, round(step_source / sample_fps))

    def frames() -> Iterator[_Frame]:
        index = 0
        try:
            while True:
                ok, image = capture.read()
                if not ok:
                    return
                if index % keep_every == 0:
                    yield _Frame(f"{path.name}#{index}", index / step_source, image,
                                 out_name=f"{path.stem}_{index:06d}.jpg")
                index += 1
        finally:
            capture.release()

    return (total // keep_every if total else 0), frames()


def open_frames(source: str, fps: float | None,
                out_dir: Path | None = None) -> tuple[int, Iterator[_Frame]]:
    path = Path(source)
    if path.is_dir():
        return _frames_from_folder(path, fps, out_dir)
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return _frames_from_video(path, fps)
    if not path.exists():
        raise CommandError(f"no such file or folder: {path}")
    raise CommandError(f"{path} is neither a folder of frames nor a video ({', '.join(VIDEO_SUFFIXES)})")


def _run(args: argparse.Namespace) -> int:
    count, frames = open_frames(args.source, args.fps, Path(args.out) if args.out else None)
    settings = load_settings(args)
    out_dir = make_out_dir(args.out)
    return replay(settings, frames, count, json_output=args.json, out_dir=out_dir,
                  turn=should_turn(args, settings))


def replay(settings, frames: Iterator[_Frame], count: int, *, json_output: bool,
           out_dir: Path | None, turn: bool = False) -> int:
    """Run the engine over ``frames``; print events; return 0, or 1 when no frame was readable.

    ``out_dir`` must exist (see :func:`make_out_dir`). ``turn``: the frames are the camera's
    own pictures, to be turned as ``settings.camera`` says before each check, as the worker
    turns them (off for pictures already upright, such as the demo's)."""
    from tqdm import tqdm

    from ..engine import DecisionEngine
    from ..pipeline import FrameAnalyser, turn_like_camera

    analyser = FrameAnalyser(settings, load_detector(settings))
    engine = DecisionEngine(settings.detection)
    emit = print_json if json_output else _print_event
    summary = {"frames": 0, "unreadable": 0, "warnings": 0, "incidents": 0, "actions": {},
               "first_action_at": None, "max_severity": 0.0}
    last_band = "ok"
    started = False
    bar = tqdm(frames, total=count or None, unit="frame", file=sys.stderr,
               disable=not sys.stderr.isatty(), leave=False)
    for frame in bar:
        if not started:
            engine.print_started(frame.time)
            started = True
        if frame.image is None:
            summary["unreadable"] += 1
            emit({"time": frame.time, "frame": frame.name, "event": "unreadable", "error": frame.error})
            continue
        summary["frames"] += 1
        image = turn_like_camera(frame.image, settings.camera) if turn else frame.image
        analysis = analyser.analyse(image)
        verdict = engine.observe(analysis.assessment, frame.time)
        summary["max_severity"] = max(summary["max_severity"], verdict.severity)
        if out_dir:
            header = f"{frame.name}  t={frame.time:.1f}s"
            write_output(out_dir / frame.out_name,
                         analyser.annotate(image, analysis, header=header))
        if verdict.band != last_band and not verdict.warming_up:
            if verdict.band != "ok":
                summary["warnings"] += verdict.band == "warning"
            emit({"time": frame.time, "frame": frame.name, "event": f"band:{verdict.band}",
                  "severity": round(verdict.severity, 3)})
            last_band = verdict.band
        for event in verdict.events:
            record = {"time": frame.time, "frame": frame.name, "event": f"incident:{event.kind}",
                      **event.to_dict()}
            emit(record)
            if event.kind == "opened":
                summary["incidents"] += 1
            if event.action:
                summary["actions"][event.action] = summary["actions"].get(event.action, 0) + 1
                if summary["first_action_at"] is None:
                    summary["first_action_at"] = frame.time
    bar.close()
    summary["max_severity"] = round(summary["max_severity"], 3)
    if json_output:
        print_json({"event": "summary", **summary})
    else:
        actions = ", ".join(f"{n} {a}" for a, n in summary["actions"].items()) or "no action"
        first = (f", first at {summary['first_action_at']:.1f}s"
                 if summary["first_action_at"] is not None else "")
        print(f"{summary['frames']} frames, {summary['incidents']} incident(s): {actions}{first}; "
              f"max severity {summary['max_severity']:.2f}"
              + (f"; {summary['unreadable']} unreadable" if summary["unreadable"] else ""))
    if summary["unreadable"] and not summary["frames"]:
        print(f"pinozcam: error: none of the {summary['unreadable']} frame(s) could be read",
              file=sys.stderr)
        return 1
    return 0


def _print_event(record: dict) -> None:
    when = f"{record['time']:8.1f}s"
    event = record["event"]
    if event == "unreadable":
        print(f"{when}  {record['frame']}: unreadable frame skipped ({record['error']})")
    elif event.startswith("band:"):
        print(f"{when}  {event[5:]:<8} severity {record['severity']:.2f}  ({record['frame']})")
    else:
        kind = event.split(":", 1)[1]
        action = record.get("action")
        what = f"would {action.upper()}" if action else "no action"
        print(f"{when}  incident {record.get('incident_id', '?')} {kind}: {what}  ({record['frame']})")
