"""A real klippy, driven through its API socket, on the stand-in MCU (test fixture).

Proves the fixture others build on: klippy reaches ``ready`` on
tests/fixtures/klipper_mcu.py and a virtual_sdcard print goes through
printing -> paused -> printing -> cancelled via the PAUSE / RESUME /
CANCEL_PRINT macros of tests/fixtures/klipper/printer.cfg.
"""

from __future__ import annotations

import os
import select
import tempfile
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.klipper_mcu import (MESSAGE_DEST, KlipperMcuStandin, crc16_ccitt,
                                        encode_block, encode_vlq)
from tests.fixtures.klippy_runner import (SLOW_PRINT, KlippyApiError, RunningKlippy,
                                          klippy_missing_reason, running_klippy)


def _read_blocks(fd: int, count: int, timeout: float = 5.0) -> list[bytes]:
    """Read ``count`` whole message blocks from the port (host side)."""
    data = b""
    blocks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(blocks) < count:
        if data and len(data) >= data[0]:
            blocks.append(data[:data[0]])
            data = data[data[0]:]
            continue
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"got {len(blocks)} of {count} blocks"
        data += os.read(fd, 4096)
    return blocks


def test_standin_naks_garbage_and_out_of_order_blocks_then_answers() -> None:
    identify = bytearray()
    for value in (1, 0, 40):  # identify offset=0 count=40
        encode_vlq(value, identify)
    with KlipperMcuStandin() as mcu:
        fd = os.open(mcu.serial_path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            # Noise (klippy's stk500v2 probe sends some), a sync byte ending the
            # discard, then a block with the sequence the firmware expects first.
            os.write(fd, b"\x1b\x01\x00\x01\x0e\x11\x04\x7e" + encode_block(0, identify))
            nak, response, ack = _read_blocks(fd, 3)
            assert nak == encode_block(0, b"")
            assert response[1] == MESSAGE_DEST | 1  # responses carry the next expected seq
            assert list(response[-3:-1]) == [*divmod(crc16_ccitt(response[:-3]), 256)]
            assert ack == encode_block(1, b"")
            os.write(fd, encode_block(5, identify))  # out of order: nak, no answer
            assert _read_blocks(fd, 1) == [encode_block(1, b"")]
        finally:
            os.close(fd)
        assert mcu.commands_seen() == {"identify": 1}


@pytest.fixture(scope="module")
def printer() -> Iterator[RunningKlippy]:
    missing = klippy_missing_reason()
    if missing is not None:
        pytest.skip(missing)
    # A short private directory: klippy's API socket path must fit a sockaddr_un.
    with tempfile.TemporaryDirectory(prefix="klippy-") as workdir:
        with running_klippy(Path(workdir)) as running:
            yield running


def _state(printer: RunningKlippy) -> str:
    return printer.api.status["print_stats"]["state"]


def test_klippy_is_ready_on_the_standin(printer: RunningKlippy) -> None:
    info = printer.api.call("info")
    assert info["state"] == "ready"
    assert printer.mcu.is_configured
    mcu = printer.api.call("objects/query", {"objects": {"mcu": ["mcu_version"]}})
    assert mcu["status"]["mcu"]["mcu_version"] == "pinozcam-test-standin"


def test_idle_printer_reports_standby(printer: RunningKlippy) -> None:
    status = printer.api.call("objects/query", {"objects": {"print_stats": ["state"]}})
    assert status["status"]["print_stats"]["state"] == "standby"


def test_print_pause_resume_cancel(printer: RunningKlippy) -> None:
    api = printer.api
    api.subscribe({"print_stats": ["state", "filename", "info"],
                   "pause_resume": ["is_paused"], "virtual_sdcard": ["is_active"]})
    assert _state(printer) == "standby"

    api.call("gcode/script", {"script": f"SDCARD_PRINT_FILE FILENAME={SLOW_PRINT.name}"})
    stats = api.wait_for_status("print_stats", lambda s: s.get("state") == "printing")
    assert stats["filename"] == SLOW_PRINT.name
    api.wait_for_status("print_stats", lambda s: (s.get("info") or {}).get("current_layer"))

    api.call("gcode/script", {"script": "PAUSE"})
    api.wait_for_status("print_stats", lambda s: s.get("state") == "paused")
    assert api.status["pause_resume"]["is_paused"] is True

    api.call("gcode/script", {"script": "RESUME"})
    api.wait_for_status("print_stats", lambda s: s.get("state") == "printing")
    api.wait_for_status("pause_resume", lambda s: s.get("is_paused") is False)

    api.call("gcode/script", {"script": "CANCEL_PRINT"})
    api.wait_for_status("print_stats", lambda s: s.get("state") in ("cancelled", "standby"))
    api.wait_for_status("virtual_sdcard", lambda s: s.get("is_active") is False)
    assert not printer.mcu.is_shutdown


def test_failing_gcode_is_an_api_error_not_a_shutdown(printer: RunningKlippy) -> None:
    with pytest.raises(KlippyApiError, match="Unable to open file"):
        printer.api.call("gcode/script", {"script": "SDCARD_PRINT_FILE FILENAME=missing.gcode"})
    assert printer.api.call("info")["state"] == "ready"


def test_emergency_stop_reaches_the_mcu(printer: RunningKlippy) -> None:
    # Last test of the module: it leaves klippy shut down.
    printer.api.call("emergency_stop")
    printer.api.subscribe({"webhooks": ["state"]})
    printer.api.wait_for_status("webhooks", lambda s: s.get("state") == "shutdown")
    assert printer.mcu.commands_seen().get("emergency_stop", 0) >= 1
    assert printer.mcu.is_shutdown
