"""``pinozcam worker``: the detector worker process (see docs/protocol.md)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # The worker owns its options; reuse its parser so the two never drift apart.
    from ..worker.main import add_arguments as add_worker_arguments

    add_worker_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..worker.main import run_from_args

    return run_from_args(args)
