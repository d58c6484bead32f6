"""``python -m pinozcam_klipper.worker.main``: run the detector worker (also ``pinozcam worker``).

Exit status: 0 after SIGTERM/SIGINT, 2 for a usage or settings problem (one
line on stderr), 1 when the worker could not start (model, port in use).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

__all__ = ["main", "add_arguments", "run_from_args"]

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--listen", required=True, metavar="HOST:PORT|unix:PATH",
                        help="where to listen, e.g. 127.0.0.1:7130 (not 7125: Moonraker's; port 0: "
                             "any free port) or unix:/run/pinozcam.sock")
    parser.add_argument("--token-file", required=True, metavar="FILE",
                        help="file holding the token clients must present")
    parser.add_argument("--config", metavar="FILE", help="YAML settings file")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where incidents are kept (default: ~/.local/share/pinozcam)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow listening on an address other than loopback")
    parser.add_argument("--nice", type=int, default=10, metavar="N",
                        help="lower the worker's CPU priority by N (default 10, 0 to keep it) so "
                             "Klipper's own processes always come first")
    parser.add_argument("--no-auth-loopback-http", action="store_true",
                        help="serve /snapshot.jpg, /stream.mjpg and /healthz without the token "
                             "to clients on this machine")


def _config(args: argparse.Namespace):
    from .config import Listen, WorkerConfig, default_data_dir, read_token

    listen = Listen.parse(args.listen)
    token = read_token(args.token_file)
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    return WorkerConfig(listen=listen, token=token, data_dir=data_dir,
                        allow_remote=args.allow_remote, no_auth_loopback_http=args.no_auth_loopback_http)


def run_from_args(args: argparse.Namespace) -> int:
    """Run the worker as ``args`` says until SIGTERM or SIGINT."""
    from ..settings import Settings, SettingsError

    try:
        config = _config(args)
        settings = Settings.from_yaml(args.config) if args.config else Settings()
    except (ValueError, SettingsError) as exc:
        print(f"pinozcam worker: error: {exc}", file=sys.stderr)
        return 2
    from .logs import guard_library_loggers

    guard_library_loggers()  # -vv must not log the token or configure payloads
    _yield_cpu_to_the_printer(args.nice, settings.model.cpu_share)
    try:
        return asyncio.run(_serve(settings, config))
    except KeyboardInterrupt:
        return 0


def _yield_cpu_to_the_printer(nice: int, cpu_share: float) -> None:
    """Keep the worker from competing with klippy and Moonraker for the CPU.

    A lower priority means a busy Pi runs Klipper's host first and our checks a
    little later, never the other way round. OpenCV's own thread pool (JPEG
    decoding, resizing) is held to the same share as inference: by default it
    would take every core for a few milliseconds each check.
    """
    import os

    if nice > 0:
        try:
            os.nice(nice)
        except OSError as exc:  # not permitted in some containers: run at normal priority
            logger.warning("could not lower the worker's priority: %s", exc.strerror or exc)
    import cv2

    from ..detect.runtime import threads_for

    cv2.setNumThreads(threads_for(cpu_share, os.cpu_count()))


async def _serve(settings, config) -> int:
    from ..detect import ModelError
    from .service import Worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker(settings, config)
    try:
        await worker.start()
    except ModelError as exc:
        print(f"pinozcam worker: error: {exc}", file=sys.stderr)
        await worker.stop()
        return 1
    except OSError as exc:
        print(f"pinozcam worker: error: could not start (listening on {config.listen}): "
              f"{exc.strerror or exc}", file=sys.stderr)
        await worker.stop()
        return 1
    # The one line an adapter (or a test) reads to learn the real port.
    print(f"pinozcam worker listening on {worker.address}", flush=True)
    try:
        await stop.wait()
    finally:
        await worker.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pinozcam-worker", description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_from_args(args)


if __name__ == "__main__":
    sys.exit(main())
