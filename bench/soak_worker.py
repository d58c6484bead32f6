"""Soak the detector worker: N minutes at 5 checks/s; print its RSS at the start and at the end.

Usage: ``.venv/bin/python bench/soak_worker.py [--minutes 10] [--model PATH]``.

Runs the real worker as a subprocess (so the RSS is its own) against a local
camera server, keeps a print "printing", and every 30 s shows the camera a
failure for a few seconds so incidents open, get confirmed and close. A client
also pulls ``/snapshot.jpg`` now and then. At the end it prints one JSON line:
RSS at start (after 10 s of warm-up) and at the end, checks per minute,
dropped frames, incidents seen, and the messages received. Not part of the
test suite: timings and memory belong here.

The default model is the shipped one (the real inference cost); the failure
picture is a red patch, which only the fixture model calls a failure, so pass
``--model tests/fixtures/models/grid_int8.tflite`` to exercise incidents too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import websockets
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import CameraServer  # noqa: E402 - the repo root must be importable first

TOKEN = "soak-token-0123456789"


def _frames(red: bool, count: int = 8) -> list[bytes]:
    frames = []
    for index in range(count):
        image = np.full((480, 640, 3), 120, np.uint8)
        image[:, 40 * index:40 * index + 20] = 160  # a moving bar: the camera never looks frozen
        if red:
            image[120:360, 160:480] = (0, 0, 255)
        frames.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    return frames


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _default_model() -> Path:
    shipped = ROOT / "pinozcam_klipper" / "models" / "pinozcam-det.tflite"
    return shipped if shipped.is_file() else ROOT / "tests" / "fixtures" / "models" / "grid_int8.tflite"


async def soak(minutes: float, model: Path) -> dict:
    good, bad = _frames(False), _frames(True)
    with CameraServer(good, fps=10) as camera, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "token").write_text(TOKEN)
        config = {"camera": {"camera": camera.snapshot_url},
                  "model": {"model_path": str(model), "cpu_share": 0.5},
                  "detection": {"warmup_frames": 0, "warmup_seconds": 0, "start_layer": 0,
                                "max_failure_count": 3, "consider_time": 5},
                  "worker": {"check_interval": 0.2, "fast_check_interval": 0.2}}
        (folder / "config.yaml").write_text(yaml.safe_dump(config))
        proc = subprocess.Popen(
            [sys.executable, "-m", "pinozcam_klipper.worker.main", "--listen", "127.0.0.1:0",
             "--token-file", str(folder / "token"), "--config", str(folder / "config.yaml"),
             "--data-dir", str(folder / "data")], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        address = proc.stdout.readline().rsplit(" ", 1)[1].strip()
        counts: dict[str, int] = {}
        status: dict = {}
        try:
            async with websockets.connect(f"ws://{address}/",
                                          additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws, \
                    httpx.AsyncClient(base_url=f"http://{address}", timeout=10,
                                      headers={"Authorization": f"Bearer {TOKEN}"}) as http:
                await ws.send(json.dumps({"type": "print_state", "state": "printing", "file": "soak.gcode"}))
                started = time.monotonic()
                rss_start: float | None = None
                end = started + minutes * 60.0
                next_failure = started + 30.0
                while time.monotonic() < end:
                    now = time.monotonic()
                    if rss_start is None and now - started >= 10.0:
                        rss_start = _rss_mb(proc.pid)
                    if now >= next_failure:
                        camera.set_frames(bad)
                    if now >= next_failure + 4.0:
                        camera.set_frames(good)
                        next_failure += 30.0
                        await http.get("/snapshot.jpg")
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                    except asyncio.TimeoutError:
                        continue
                    counts[message["type"]] = counts.get(message["type"], 0) + 1
                    if message["type"] == "action_request":
                        await ws.send(json.dumps({"type": "action_result", "result": "done",
                                                  "incident_id": message["incident_id"]}))
                    elif message["type"] == "status":
                        status = message
                await ws.send(json.dumps({"type": "status"}))
                while True:
                    message = json.loads(await ws.recv())
                    if message["type"] == "status":
                        status = message
                        break
            rss_end = _rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    return {"minutes": minutes, "model": model.name, "rss_start_mb": round(rss_start or float("nan"), 1),
            "rss_end_mb": round(rss_end, 1), "checks_per_minute": status.get("checks_per_minute"),
            "inference_ms": status.get("inference_ms"), "dropped_frames": status.get("dropped_frames"),
            "messages": counts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    result = asyncio.run(soak(args.minutes, args.model or _default_model()))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
