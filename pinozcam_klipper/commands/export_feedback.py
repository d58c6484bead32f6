"""``pinozcam export-feedback DIR``: incidents labelled through feedback, as a YOLO dataset."""

from __future__ import annotations

import argparse

from ._common import CommandError, run_guarded


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", metavar="DIR", help="where images/ and labels/ are written")
    parser.add_argument("--data-dir", metavar="DIR", required=True,
                        help="the worker's data folder (holds incidents/)")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder that is not empty, replacing an earlier export")


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


def _run(args: argparse.Namespace) -> int:
    from ..worker.incidents import export_feedback

    try:
        summary = export_feedback(args.data_dir, args.out, force=args.force)
    except FileExistsError:
        raise CommandError(f"{args.out} is not empty: give a new or empty folder, or --force "
                           "to replace an earlier export there") from None
    except FileNotFoundError:
        raise CommandError(f"no incidents in {args.data_dir}: give the worker's data folder "
                           "(the one that holds incidents/)") from None
    except OSError as exc:
        raise CommandError(f"cannot export feedback: {exc}") from None
    print(f"wrote {summary.images} labelled image(s) to {args.out}")
    if summary.skipped:
        # Each one is named in a warning above: an empty or cut-short picture, a damaged box.
        print(f"left out {summary.skipped} damaged record(s): see the warnings above")
    return 0
