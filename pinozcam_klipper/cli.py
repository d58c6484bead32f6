"""The ``pinozcam`` command line.

Each subcommand lives in its own module under :mod:`pinozcam_klipper.commands`
and is imported only when it runs, so ``pinozcam --help`` stays instant on a
Raspberry Pi.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__

# subcommand -> (module under pinozcam_klipper.commands, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the detector and the decision engine over the bundled demo print"),
    "detect": ("detect", "detect failures in images: annotated JPEGs and one JSON line per image"),
    "replay": ("replay", "replay a frame sequence through the decision engine (the offline tuner)"),
    "eval": ("evaluate", "evaluate a model on a folder of images with YOLO labels"),
    "bench": ("bench", "measure per-check time, model load time and peak memory"),
    "notify-test": ("notify_test", "send a test message to the configured Discord / Telegram"),
    "doctor": ("doctor", "check a running Moonraker installation: component, worker, camera, "
                         "model, macros, notifications"),
    "worker": ("worker", "run the detector worker process (started by Moonraker or OctoPrint)"),
    "export-feedback": ("export_feedback", "write incidents labelled by feedback as a YOLO dataset"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pinozcam",
        description="On-device AI print-failure detection for Klipper and OctoPrint.",
    )
    parser.add_argument("--version", action="version", version=f"pinozcam-klipper {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for per-frame detail)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _COMMANDS.items():
        command = importlib.import_module(f"{__package__}.commands.{module}")
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command.add_arguments(command_parser)
        command_parser.set_defaults(_run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `pinozcam detect ... | head` closed our stdout: not an error worth a trace.
        return 0


if __name__ == "__main__":
    sys.exit(main())
