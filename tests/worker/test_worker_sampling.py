"""How often the worker checks: slow while nothing is wrong, fast only while a failure frame
can still count towards an incident (docs/protocol.md, "Sampling")."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinozcam_klipper.engine import EngineState, Verdict
from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker.config import Listen, WorkerConfig
from pinozcam_klipper.worker.protocol import PrintState
from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import FAILING, TOKEN, BotServer, connect, expect, print_state, settings_for


async def test_the_check_after_the_first_failure_frame_does_not_wait_a_slow_interval(
        camera: CameraServer, bot: BotServer, tmp_path: Path) -> None:
    # One check a minute while all is well: an incident within seconds needs the second and
    # third failure frames at the fast interval right after the first.
    settings = Settings.from_mapping(settings_for(
        camera, bot, detection={"max_failure_count": 3},
        worker={"check_interval": 60.0, "fast_check_interval": 0.05}))
    worker = Worker(settings, WorkerConfig(listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path))
    await worker.start()
    try:
        camera.set_frames([FAILING])
        async with await connect(worker) as ws:
            await expect(ws, "status")
            await print_state(ws, "printing", layer=3, total_layers=50, progress=0.1)
            incident = await expect(ws, "incident", lambda m: m["event"] == "opened", timeout=15)
            assert incident["action"] == "pause"
    finally:
        await worker.stop()


def _verdict(state: EngineState, band: str = "failure", failures: int = 1, muted: bool = False) -> Verdict:
    return Verdict(severity=0.9 if band == "failure" else 0.5, band=band, is_failure_frame=band == "failure",  # type: ignore[arg-type]
                   failures_in_window=failures, events=(), state=state, muted=muted, incident_id=None)


@pytest.mark.parametrize("verdict, fast", [
    (_verdict(EngineState.WATCHING), True),
    (_verdict(EngineState.WATCHING, band="ok", failures=1), True),       # failures still in the window
    (_verdict(EngineState.WATCHING, band="warning", failures=0), False),  # a warning never counts
    (_verdict(EngineState.WARMING_UP), False),
    (_verdict(EngineState.GRACE), False),
], ids=["failure", "failures-in-window", "warning-only", "warming-up", "resume-grace"])
def test_fast_checks_only_while_a_failure_frame_can_count(
        verdict: Verdict, fast: bool, tmp_path: Path) -> None:
    worker = Worker(Settings.from_mapping({"worker": {"check_interval": 1.0, "fast_check_interval": 0.3}}),
                    WorkerConfig(listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path))
    worker._print = PrintState(state="printing")
    worker._verdict = verdict
    assert worker._interval() == (0.3 if fast else 1.0)
    worker._muted = True  # "mute this print": nothing can count
    assert worker._interval() == 1.0
