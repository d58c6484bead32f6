"""``pinozcam bench``: how long a check takes on this machine, and how much memory it needs.

A check is what the worker does once a second while printing: decode a 1280x720
JPEG, letterbox and quantise it, run the model, decode boxes, assess the frame
and update the decision engine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from ._common import (CommandError, add_settings_arguments, load_detector, load_settings,
                      run_guarded)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    parser.add_argument("--frames", type=int, default=100, help="checks to time (default 100)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    add_settings_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_guarded(_run, args)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _bench_frames() -> list[bytes]:
    """Distinct 1280x720 JPEGs to time with: the bundled demo frames, scaled up, or noise.

    Only the encoded bytes are kept (about 100 KB each): holding the decoded
    frames would add tens of MB to the peak RSS this command reports.
    """
    import cv2
    import numpy as np

    from .demo import demo_frames

    def encode(image: np.ndarray) -> bytes:
        image = cv2.resize(image, (1280, 720), interpolation=cv2.INTER_LINEAR)
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()

    encoded: list[bytes] = []
    try:
        paths = demo_frames()
    except CommandError:  # a bare install without the demo: time on noise instead
        paths = []
    for path in paths[::2]:
        image = cv2.imread(str(path))
        if image is not None:
            encoded.append(encode(image))
    if not encoded:
        encoded.append(encode(np.random.default_rng(0).integers(0, 255, (720, 1280, 3), np.uint8)))
    return encoded


def _cold_start_seconds(model_path: str) -> float:
    """Import and model load in a fresh interpreter, as the worker starts."""
    code = (
        "import time; t=time.perf_counter();"
        "from pinozcam_klipper.detect import Detector, ModelSettings;"
        f"Detector.load(ModelSettings(model_path={model_path!r}, cpu_share=1.0));"
        "print(time.perf_counter()-t)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, timeout=120)
    if result.returncode != 0:
        return float("nan")
    return float(result.stdout.strip().splitlines()[-1])


def _run(args: argparse.Namespace) -> int:
    from ..detect import decode_jpeg
    from ..engine import DecisionEngine
    from ..pipeline import FrameAnalyser

    cores = os.cpu_count() or 1
    threads = max(1, args.threads)
    settings = load_settings(args, {"cpu_share": min(1.0, threads / cores)})
    load_started = time.perf_counter()
    detector = load_detector(settings)
    load_seconds = time.perf_counter() - load_started
    analyser = FrameAnalyser(settings, detector)
    engine = DecisionEngine(settings.detection)
    frames = _bench_frames()

    engine.print_started(0.0)
    check_ms: list[float] = []
    inference_ms: list[float] = []
    for index in range(max(1, args.frames) + 5):
        data = frames[index % len(frames)]
        started = time.perf_counter()
        frame = decode_jpeg(data)
        analysis = analyser.analyse(frame)
        engine.observe(analysis.assessment, float(index))
        elapsed = (time.perf_counter() - started) * 1000.0
        if index >= 5:  # the first runs warm caches and the XNNPACK delegate up
            check_ms.append(elapsed)
            inference_ms.append(analysis.detection.inference_ms)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    info = detector.info
    figures = {
        "model": f"{info.name} {info.version}",
        "runtime": info.runtime,
        "threads": info.threads,
        "frames": len(check_ms),
        "check_ms_median": round(statistics.median(check_ms), 2),
        "check_ms_p95": round(_percentile(check_ms, 0.95), 2),
        "inference_ms_median": round(statistics.median(inference_ms), 2),
        "inference_ms_p95": round(_percentile(inference_ms, 0.95), 2),
        "model_load_s": round(load_seconds, 3),
        "cold_start_s": round(_cold_start_seconds(settings.model.model_path), 3),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"model {figures['model']} on {figures['runtime']}, {figures['threads']} thread(s), "
              f"{figures['frames']} checks of a 1280x720 JPEG")
        print(f"  check (decode+preprocess+inference+decode+verdict): median "
              f"{figures['check_ms_median']} ms, p95 {figures['check_ms_p95']} ms")
        print(f"  inference alone: median {figures['inference_ms_median']} ms, "
              f"p95 {figures['inference_ms_p95']} ms")
        print(f"  model load {figures['model_load_s']} s; cold start (import + load) "
              f"{figures['cold_start_s']} s; peak RSS {figures['peak_rss_mb']} MB")
    return 0
