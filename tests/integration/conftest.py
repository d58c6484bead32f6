"""Shared fixtures of the integration tests; the pieces live in tests/integration/moonraker_stack.py.

``stack`` (session): a local camera showing a good print, a recording Discord server, a real
klippy on the stand-in MCU with pinozcam.cfg included, a real Moonraker with the PiNozCam
component (camera named through a Moonraker ``[webcam]``), and the real worker it started,
all ready. Tests that print must leave the printer idle (``stack.end_print()``).

``browser`` (module): Debian's headless Chromium driven by Playwright (no browser download),
for the Mainsail panel and the OctoPrint tab. Module scope on purpose: Playwright's sync API
runs an event loop in this thread while it is open, and asyncio tests elsewhere cannot start
their own beside it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.klippy_runner import klippy_missing_reason, running_klippy
from tests.integration.moonraker_stack import (COMPONENT_DIR, MoonrakerEvents, MoonrakerProcess, Stack,
                                               free_port, moonraker_missing_reason, moonraker_python,
                                               pinozcam_section, write_moonraker_conf)
from tests.servers import CameraServer, NotifyServer
from tests.worker.helpers import GOOD

CHROMIUM = os.environ.get("PINOZCAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright_sync = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    for reason in (klippy_missing_reason(), moonraker_missing_reason()):
        if reason is not None:
            pytest.skip(reason)
    python = moonraker_python()
    assert python is not None
    # Short: unix socket paths (klippy's, Moonraker's) must fit a sockaddr_un.
    workdir = Path(tempfile.mkdtemp(prefix="pz-"))
    try:
        with CameraServer([GOOD]) as camera, NotifyServer() as discord, \
                running_klippy(workdir, extra_config=f"[include {COMPONENT_DIR / 'pinozcam.cfg'}]") as printer:
            port = free_port()
            # The camera is named through a Moonraker [webcam], as users do.
            extra = (f"[webcam testcam]\nservice: mjpegstreamer-adaptive\n"
                     f"snapshot_url: {camera.snapshot_url}\nstream_url: {camera.stream_url}\n\n"
                     + pinozcam_section("testcam", discord.discord_webhook_url()))
            conf = write_moonraker_conf(workdir / "mr" / "config" / "moonraker.conf", port=port,
                                        klippy_socket=workdir / "klippy.sock", extra=extra)
            moonraker = MoonrakerProcess(workdir / "mr", conf, port, python).start()
            try:
                moonraker.wait_ready()
                moonraker.wait_worker_connected()
                # The component has subscribed once it reports Klipper's state.
                moonraker.wait_for("the component to see Klipper",
                                   lambda: moonraker.status()["klippy_ready"])
                yield Stack(camera, discord, printer, moonraker, workdir)
            finally:
                moonraker.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def events(stack: Stack) -> Iterator[MoonrakerEvents]:
    """Moonraker's websocket notifications, listened to for one test."""
    listener = MoonrakerEvents(stack.moonraker.url)
    try:
        yield listener
    finally:
        listener.close()
