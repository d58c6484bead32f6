"""What several subcommands share: settings loading, user-facing errors, image listing."""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..settings import Settings

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".mjpg", ".mjpeg")


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="YAML settings file")
    parser.add_argument("--model", metavar="PATH", help="a .tflite model (default: the shipped one)")
    parser.add_argument("--preset", help="detection preset (nozzlecam, webcam, strictest ... loosest)")
    parser.add_argument("--threads-share", dest="cpu_share", type=float, metavar="X",
                        help="share of the CPU cores for inference, 0 < X <= 1")


def add_turning_argument(parser: argparse.ArgumentParser) -> None:
    """``--already-turned``, for the commands that read a user's recorded pictures."""
    parser.add_argument("--already-turned", action="store_true", help=(
        "the pictures are already turned as the camera settings say (an incident's saved "
        "frames, the worker's snapshots): do not turn them again. Without it they are taken "
        "for the camera's own pictures and turned by --config's camera_rotate, "
        "camera_flip_horizontal, camera_flip_vertical and camera_rotate_first, as the worker "
        "turns every frame, so masks fall where they were drawn"))


def should_turn(args: argparse.Namespace, settings: "Settings") -> bool:
    """Whether to turn each picture as the camera does; says so on stderr, once, when it
    does, because turning a picture that was turned already puts every mask in the wrong place."""
    from ..pipeline import turns_pictures

    if getattr(args, "already_turned", False) or not turns_pictures(settings.camera):
        return False
    camera = settings.camera
    how = [name for name, on in (("flip horizontal", camera.camera_flip_horizontal),
                                 ("flip vertical", camera.camera_flip_vertical)) if on]
    if camera.camera_rotate:
        rotate = f"rotate {camera.camera_rotate} clockwise"
        how = [rotate, *how] if camera.camera_rotate_first else [*how, rotate]
    print(f"pinozcam: turning each picture as the camera settings say ({', then '.join(how)}); "
          "use --already-turned for frames the worker saved", file=sys.stderr)
    return True


def load_settings(args: argparse.Namespace, overrides: Mapping[str, Any] | None = None):
    """The settings tree from ``--config`` plus command-line overrides."""
    from ..settings import Settings, SettingsError

    changes: dict[str, Any] = dict(overrides or {})
    if getattr(args, "model", None):
        changes["model_path"] = args.model
    if getattr(args, "preset", None):
        changes["preset"] = args.preset
    if getattr(args, "cpu_share", None) is not None:
        changes["cpu_share"] = args.cpu_share
    try:
        base = Settings.from_yaml(args.config) if getattr(args, "config", None) else Settings()
        return base.replace(changes) if changes else base
    except SettingsError as exc:
        raise CommandError(str(exc)) from None


def load_detector(settings):
    """The detector, or a :class:`CommandError` saying what is wrong with the model."""
    from ..detect import Detector, ModelError

    try:
        return Detector.load(settings.model)
    except ModelError as exc:
        raise CommandError(str(exc)) from None


def run_guarded(func, args: argparse.Namespace) -> int:
    """Run ``func(args)``, turning a :class:`CommandError` into a one-line message."""
    try:
        return int(func(args) or 0)
    except CommandError as exc:
        print(f"pinozcam: error: {exc}", file=sys.stderr)
        return 2


def list_images(paths: Iterable[str | Path]) -> list[Path]:
    """Image files named directly, or found (sorted, non-recursive) in the folders named."""
    from ..camera.files import IMAGE_SUFFIXES  # the suffixes a replayed camera folder reads

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise CommandError(f"no such file or folder: {path}")
    return found


def make_out_dir(out: str | Path | None) -> Path | None:
    """The ``--out`` folder, created if need be; a :class:`CommandError` when it cannot be
    (a file of that name, no permission)."""
    if not out:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise CommandError(f"--out {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"cannot create the --out folder {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CommandError(f"cannot write to the --out folder {path}: permission denied")
    return path


def annotated_names(paths: Sequence[Path]) -> list[str]:
    """A distinct ``.jpg`` name for each input's annotated copy: its stem, then ``_2``,
    ``_3`` ... for a stem already taken (``good.jpg`` and ``good.png``)."""
    taken: set[str] = set()
    names: list[str] = []
    for path in paths:
        name, n = f"{path.stem}.jpg", 1
        while name in taken:
            n += 1
            name = f"{path.stem}_{n}.jpg"
        taken.add(name)
        names.append(name)
    return names


def refuse_overwriting_inputs(out_dir: Path | None, names: Iterable[str],
                              inputs: Iterable[Path]) -> None:
    """A :class:`CommandError` when writing ``names`` into ``out_dir`` would replace an input."""
    if out_dir is None:
        return
    originals = {p.resolve() for p in inputs}
    for name in names:
        if (out_dir / name).resolve() in originals:
            raise CommandError(f"--out {out_dir} would overwrite the input {out_dir / name}: "
                               "choose another folder")


def write_output(target: Path, data: bytes) -> None:
    """Write an annotated frame; a :class:`CommandError` when it cannot be written."""
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    return None


def read_image(path: Path):
    """A BGR frame from an image file: JPEG through the detector's strict decoder, other
    formats (PNG, BMP, WebP) through OpenCV. Raises ``ImageError`` (or ``OSError``)."""
    import cv2
    import numpy as np

    from ..detect import ImageError, decode_jpeg
    from ..jpeg_size import MAX_PIXELS

    data = path.read_bytes()
    if data[:2] == b"\xff\xd8":
        return decode_jpeg(data)
    size = _png_size(data)
    if size and size[0] * size[1] > MAX_PIXELS:
        raise ImageError(f"PNG claims {size[0]}x{size[1]} pixels, more than "
                         f"{MAX_PIXELS // 1_000_000} MP: not decoded")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    except cv2.error:  # a header OpenCV itself refuses (too large, corrupt)
        image = None
    if image is None:
        raise ImageError(f"not a readable image ({len(data)} bytes)")
    return image


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} is not a number > 0")
    return value


_TIME_IN_NAME = re.compile(r"(?:^|[_\-])t(\d+(?:\.\d+)?)(?=[_\-.]|$)")


def time_from_name(path: Path) -> float | None:
    """Seconds encoded in a frame's file name: ``frame_0012_t034.5.jpg`` -> 34.5.

    A name that is only a number (``1700000000.25.jpg``, ``000123.jpg``) also counts.
    """
    stem = path.stem
    match = _TIME_IN_NAME.search(stem)
    if match:
        return float(match.group(1))
    try:
        return float(stem)
    except ValueError:
        return None


def print_json(obj: Any) -> None:
    print(json.dumps(obj, separators=(",", ":")), flush=True)
