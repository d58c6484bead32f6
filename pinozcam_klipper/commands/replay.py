"""``pinozcam replay DIR|VIDEO``: the decision engine over a recorded print.

Prints when the live detector would have warned, notified, paused or cancelled,
so thresholds can be tuned offline on a user's own recordings.

The verdict must be the live worker's, so replay runs the engine as the worker
does (``worker/service.py``), on the recording's own times:

- It checks only the frames the worker would have checked: one, then the first
  frame at least ``check_interval`` later (``fast_check_interval`` while a
  failure is building), as the worker's sampler waits that long after each
  check. A recording slower than that has every frame checked; a faster one
  (a 10 fps timelapse, a video) has the frames in between skipped and counted.
- It lets the engine's clock run between frames, as the worker's ticker does
  every second, so an incident closes and a pause escalates when the worker
  would, between frames and after the last one.
- It acts as the printer would: after a ``pause`` the print is paused until the
  end of the recording (frames are still checked, but no failure counts, and
  ``escalate_after`` may cancel it); after a ``cancel`` the print is over and
  the rest of the recording is not checked.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..engine import TICK_EVERY, DecisionEngine, IncidentEvent, Verdict, failure_building
from ._common import (VIDEO_SUFFIXES, CommandError, add_settings_arguments, add_turning_argument,
                      annotated_names, list_images, load_detector, load_settings, make_out_dir,
                      positive_float, print_json, read_image, refuse_overwriting_inputs,
                      run_guarded, should_turn, time_from_name, write_output)

#: A frame this much before a check is due still counts as due: times in file names are
#: rounded (``t030.3``), and 30.0 + 0.3 need not equal 30.3 in floating point.
_DUE_SLACK = 1e-3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="DIR|VIDEO",
                        help="a folder of frames or a video file, as the camera recorded them: turned "
                             "here as the worker turns them (see --already-turned)")
    parser.add_argument("--fps", type=positive_float, default=None,
                        help="for a folder: play every frame at this rate, ignoring the times in "
                             "the file names (used only to order the frames when every name has "
                             "one). Without it, frames are played at the times in their names "
                             "(frame_0012_t034.5.jpg: 34.5 s), frames whose names carry no time are "
                             "left out with a note, and with no time in any name the rate is 1 fps. "
                             "For a video: the rate to sample it at (default: every frame). Either "
                             "way only the frames the worker would have checked are checked "
                             "(check_interval, fast_check_interval)")
    parser.add_argument("--json", action="store_true", help="one JSON line per event, then a summary")
    parser.add_argument("--out", metavar="DIR",
                        help="also write here the annotated copy of every frame checked (not of "
                             "the frames the worker would have skipped)")
    add_settings_arguments(parser)
    add_turning_argument(parser)


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


class UnreadableFrame(Exception):
    """A frame of the recording that cannot be decoded; the message says why."""


@dataclass
class _Frame:
    """One frame of a recording, decoded only when it is checked (most of a fast
    recording is skipped, and decoding is a good part of a check's cost)."""

    name: str
    time: float
    load: Callable[[], np.ndarray]  # the BGR picture, or raises UnreadableFrame
    out_name: str = ""  # the annotated copy's file name under --out


def _frames_from_folder(folder: Path, fps: float | None,
                        out_dir: Path | None) -> tuple[int, Iterator[_Frame]]:
    paths = list_images([folder])
    if not paths:
        raise CommandError(f"no frames in {folder}")
    return frames_from_paths(paths, fps, out_dir)


def frames_from_paths(paths: list[Path], fps: float | None,
                      out_dir: Path | None = None) -> tuple[int, Iterator[_Frame]]:
    """Frames from image files and the time of each.

    - ``fps`` given: every file, ``1 / fps`` s apart (the user's rate wins: numbered names
      may count frames, not seconds), in the order of the times in their names when every
      name carries one, else in the order given.
    - Else, when some names carry a time: those files at their times, in time order
      (``shot_t5.jpg`` before ``shot_t15.jpg``); the others are left out, with a note on
      stderr (a folder may hold stills beside a recording, as the demo's does: played
      anywhere, they would shift every time after them).
    - Else: every file, 1 s apart, in the order given.

    A :class:`CommandError` when annotated copies written to ``out_dir`` would replace one
    of ``paths``."""
    times = [time_from_name(p) for p in paths]
    timed = [(path, when) for path, when in zip(paths, times) if when is not None]
    if timed and (fps is None or len(timed) == len(paths)):
        if fps is None and len(timed) < len(paths):
            _note_untimed([path for path, when in zip(paths, times) if when is None])
        paths, times = map(list, zip(*sorted(timed, key=lambda pair: pair[1])))
    if fps is not None or not timed:
        step = 1.0 / (fps or 1.0)
        times = [i * step for i in range(len(paths))]
    names = annotated_names(paths)
    refuse_overwriting_inputs(out_dir, names, paths)
    frames = (_Frame(path.name, float(when), functools.partial(_read_file, path), out_name=name)
              for path, when, name in zip(paths, times, names))
    return len(paths), frames


def _note_untimed(left_out: list[Path]) -> None:
    shown = ", ".join(path.name for path in left_out[:3]) + (", ..." if len(left_out) > 3 else "")
    print(f"pinozcam: left out {len(left_out)} frame(s) whose names carry no time ({shown}); "
          "--fps plays every frame at a fixed rate instead", file=sys.stderr)


def _read_file(path: Path) -> np.ndarray:
    from ..detect import ImageError

    try:
        return read_image(path)
    except (OSError, ImageError) as exc:
        raise UnreadableFrame(str(exc)) from None


def _frames_from_video(path: Path, fps: float | None) -> tuple[int, Iterator[_Frame]]:
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise CommandError(f"cannot open video {path}")
    native_fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    step_source = native_fps if native_fps > 0 else 1.0
    # Every frame by default: replay picks the ones the worker would have checked, which
    # a fixed sampling rate could not (0.3 s apart while a failure builds, 1 s otherwise).
    keep_every = max(1, round(step_source / fps)) if fps else 1

    def frames() -> Iterator[_Frame]:
        index = 0
        try:
            # grab() without retrieve(): a frame that is skipped is never converted.
            while capture.grab():
                if index % keep_every == 0:
                    name = f"{path.name}#{index}"
                    # Valid until the next frame is taken from this iterator.
                    yield _Frame(name, index / step_source,
                                 functools.partial(_retrieve, capture, name),
                                 out_name=f"{path.stem}_{index:06d}.jpg")
                index += 1
        finally:
            capture.release()

    return -(-total // keep_every), frames()


def _retrieve(capture: Any, name: str) -> np.ndarray:
    ok, image = capture.retrieve()
    if not ok or image is None:
        raise UnreadableFrame(f"cannot decode {name}")
    return image


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
    """Run the engine over ``frames`` as the live worker would (see the module docstring);
    print events; return 0, or 1 when no frame checked was readable.

    ``out_dir`` must exist (see :func:`make_out_dir`). ``turn``: the frames are the camera's
    own pictures, to be turned as ``settings.camera`` says before each check, as the worker
    turns them (off for pictures already upright, such as the demo's)."""
    from tqdm import tqdm

    from ..pipeline import FrameAnalyser

    analyser = FrameAnalyser(settings, load_detector(settings))
    run = _LiveReplay(settings, analyser, print_json if json_output else _print_event,
                      out_dir=out_dir, turn=turn)
    bar = tqdm(frames, total=count or None, unit="frame", file=sys.stderr,
               disable=not sys.stderr.isatty(), leave=False)
    for frame in bar:
        run.offer(frame)
    bar.close()
    run.finish()
    summary = run.summary
    if json_output:
        print_json({"event": "summary", **summary.to_dict()})
    else:
        print(summary.line())
    if summary.unreadable and not summary.checked:
        print(f"pinozcam: error: none of the {summary.unreadable} frame(s) could be read",
              file=sys.stderr)
        return 1
    return 0


#: What the simulated printer is doing: replay carries out the engine's actions on it.
PrinterState = Literal["printing", "paused", "cancelled"]


@dataclass
class _Summary:
    frames: int = 0        # every frame of the recording
    checked: int = 0       # analysed, as the worker would have
    skipped: int = 0       # between two checks: the worker never sees them
    after_cancel: int = 0  # after the print was cancelled: nothing left to watch
    unreadable: int = 0    # due for a check but not decodable
    warnings: int = 0
    incidents: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    first_action_at: float | None = None
    max_severity: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "checked": self.checked, "skipped": self.skipped,
                "after_cancel": self.after_cancel, "unreadable": self.unreadable,
                "warnings": self.warnings, "incidents": self.incidents, "actions": self.actions,
                "first_action_at": self.first_action_at, "max_severity": round(self.max_severity, 3)}

    def line(self) -> str:
        """The closing line of the text output."""
        pace = ""
        if self.skipped or self.after_cancel:
            left = [f"{self.skipped} skipped between checks"] if self.skipped else []
            left += [f"{self.after_cancel} after the cancel"] if self.after_cancel else []
            pace = f" ({self.checked} checked at the worker's pace; {', '.join(left)})"
        actions = ", ".join(f"{n} {a}" for a, n in self.actions.items()) or "no action"
        first = f", first at {self.first_action_at:.1f}s" if self.first_action_at is not None else ""
        unreadable = f"; {self.unreadable} unreadable" if self.unreadable else ""
        return (f"{self.frames} frames{pace}, {self.incidents} incident(s): {actions}{first}; "
                f"max severity {self.max_severity:.2f}{unreadable}")


class _LiveReplay:
    """The worker's loop on a recording's clock: which frames are checked, when the engine
    ticks, and what the printer does with each action. Call :meth:`offer` with every frame
    in time order, then :meth:`finish`."""

    def __init__(self, settings, analyser, emit: Callable[[dict], None], *,
                 out_dir: Path | None, turn: bool) -> None:
        self.settings = settings
        self.analyser = analyser
        self.engine = DecisionEngine(settings.detection)
        self.emit = emit
        self.out_dir = out_dir
        self.turn = turn
        self.summary = _Summary()
        self.printer: PrinterState = "printing"
        self._started_at: float | None = None
        self._ticks = 0  # ticks done since the print started
        self._verdict: Verdict | None = None  # the latest check's
        self._next_check = -float("inf")
        self._escalation_due: float | None = None  # when a pause may turn into a cancel
        self._last_band = "ok"

    # -- the worker's schedule ----------------------------------------------------------
    def offer(self, frame: _Frame) -> None:
        """The recording's next frame: checked when the worker's next check is due."""
        self.summary.frames += 1
        if self._started_at is None:
            self._started_at = frame.time
            self.engine.print_started(frame.time)
        self._run_clock(until=frame.time)
        if self.printer == "cancelled":
            self.summary.after_cancel += 1
            return
        if frame.time < self._next_check - _DUE_SLACK:
            self.summary.skipped += 1
            return
        self._check(frame)
        # As the worker's sampler: the next check comes one interval after this one, the
        # interval chosen with this check's verdict (a first failure frame speeds it up).
        self._next_check = frame.time + self._interval()

    def finish(self) -> None:
        """After the last frame. A paused print stays paused (nobody resumes it), so the
        clock runs on until ``escalate_after`` could cancel it; anything else would depend
        on frames the recording does not have."""
        if self.printer == "paused" and self._escalation_due is not None:
            self._run_clock(until=self._escalation_due + TICK_EVERY)

    def _interval(self) -> float:
        """Seconds to the next check, as ``Worker._interval()`` chooses them (never muted here)."""
        worker = self.settings.worker
        if self.printer != "printing":
            return worker.check_interval
        return worker.fast_check_interval if failure_building(self._verdict) else worker.check_interval

    def _run_clock(self, until: float) -> None:
        """Tick the engine at every tick before ``until`` (a frame at a tick's time is
        observed instead: the same rules run on it)."""
        assert self._started_at is not None
        while self.printer != "cancelled":
            when = self._started_at + (self._ticks + 1) * TICK_EVERY
            if when >= until:
                return
            self._ticks += 1
            verdict = self.engine.tick(when)
            if verdict is not None:
                self._handle_events(verdict.events, when, None)

    # -- one check ----------------------------------------------------------------------
    def _check(self, frame: _Frame) -> None:
        try:
            raw = frame.load()
        except UnreadableFrame as exc:
            # The worker's check was due and got no picture: it waits a whole interval again.
            self.summary.unreadable += 1
            self.emit({"time": frame.time, "frame": frame.name, "event": "unreadable",
                       "error": str(exc)})
            return
        from ..pipeline import turn_like_camera

        self.summary.checked += 1
        image = turn_like_camera(raw, self.settings.camera) if self.turn else raw
        analysis = self.analyser.analyse(image)
        verdict = self.engine.observe(analysis.assessment, frame.time)
        self._verdict = verdict
        self.summary.max_severity = max(self.summary.max_severity, verdict.severity)
        if self.out_dir:
            header = f"{frame.name}  t={frame.time:.1f}s"
            write_output(self.out_dir / frame.out_name,
                         self.analyser.annotate(image, analysis, header=header))
        if verdict.band != self._last_band and not verdict.warming_up:
            self.summary.warnings += verdict.band == "warning"
            self.emit({"time": frame.time, "frame": frame.name, "event": f"band:{verdict.band}",
                       "severity": round(verdict.severity, 3)})
            self._last_band = verdict.band
        self._handle_events(verdict.events, frame.time, frame.name)

    # -- events and the printer ---------------------------------------------------------
    def _handle_events(self, events: tuple[IncidentEvent, ...], when: float,
                       frame_name: str | None) -> None:
        """Report ``events`` (``frame_name`` None: from a tick) and carry out their actions."""
        for event in events:
            self.emit({"time": when, "frame": frame_name, "event": f"incident:{event.kind}",
                       **event.to_dict()})
            if event.kind == "opened":
                self.summary.incidents += 1
            if event.action:
                self.summary.actions[event.action] = self.summary.actions.get(event.action, 0) + 1
                if self.summary.first_action_at is None:
                    self.summary.first_action_at = when
            if event.action == "pause" and self.printer == "printing":
                self._pause(when, frame_name)
            elif event.action == "cancel" and self.printer != "cancelled":
                self._cancel(when, frame_name)

    def _pause(self, when: float, frame_name: str | None) -> None:
        # The worker hears "paused" from the printer and tells the engine: no failure frame
        # counts from now on, the incident stays open, and escalate_after may cancel it.
        self.printer = "paused"
        self.engine.paused(when)
        delay = self.engine.settings.escalate_after
        self._escalation_due = when + delay if delay > 0 else None
        self.emit({"time": when, "frame": frame_name, "event": "printer:paused"})

    def _cancel(self, when: float, frame_name: str | None) -> None:
        # A cancelled print has ended: the worker closes the incident and checks no more.
        self.printer = "cancelled"
        self.emit({"time": when, "frame": frame_name, "event": "printer:cancelled"})
        self._handle_events(self.engine.print_ended(when), when, frame_name)


def _print_event(record: dict) -> None:
    when = f"{record['time']:8.1f}s"
    event = record["event"]
    where = record["frame"] or "no new frame"
    if event == "unreadable":
        print(f"{when}  {record['frame']}: unreadable frame skipped ({record['error']})")
    elif event.startswith("band:"):
        print(f"{when}  {event[5:]:<8} severity {record['severity']:.2f}  ({where})")
    elif event == "printer:paused":
        print(f"{when}  printer paused: frames are still checked, but no failure counts now")
    elif event == "printer:cancelled":
        print(f"{when}  print cancelled: the rest of the recording is not checked")
    else:
        kind = event.split(":", 1)[1]
        action = record.get("action")
        what = f"would {action.upper()}" if action else "no action"
        print(f"{when}  incident {record.get('incident_id', '?')} {kind}: {what}  ({where})")
