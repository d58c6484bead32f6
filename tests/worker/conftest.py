"""Fixtures of the worker tests: a real camera server, a recording bot server, a running worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from pinozcam_klipper.settings import Settings
from pinozcam_klipper.worker.config import Listen, WorkerConfig
from pinozcam_klipper.worker.service import Worker
from tests.servers import CameraServer
from tests.worker.helpers import GOOD, TOKEN, BotServer, settings_for


@pytest.fixture
def camera() -> Iterator[CameraServer]:
    with CameraServer([GOOD]) as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def bot() -> Iterator[BotServer]:
    with BotServer() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
async def worker(camera: CameraServer, bot: BotServer, tmp_path: Path) -> AsyncIterator[Worker]:
    settings = Settings.from_mapping(settings_for(camera, bot))
    config = WorkerConfig(listen=Listen("127.0.0.1", 0), token=TOKEN, data_dir=tmp_path / "data")
    running = Worker(settings, config)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
