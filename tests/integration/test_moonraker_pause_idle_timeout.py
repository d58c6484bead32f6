"""PINOZCAM_PAUSE only ever raises Klipper's idle timeout, and the component puts back what was
in force before once the print is resumed.

A real klippy on the stand-in MCU with a printer.cfg in the shapes users have: a configured
``[idle_timeout] timeout`` longer than PINOZCAM_PAUSE's hour, Mainsail's/Fluidd's
``_CLIENT_VARIABLE`` whose ``idle_timeout`` their PAUSE applies before PAUSE_BASE, and a
Voron/Ellis-style PAUSE that sets ``SET_IDLE_TIMEOUT TIMEOUT=43200`` after it; a real Moonraker
with the component (no camera: the worker waits, and the idle timeout is the component's work).
What is checked is what the user reads in Klipper's console: "idle_timeout: Timeout set to ...".
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.klippy_runner import klippy_missing_reason, running_klippy
from tests.integration.moonraker_stack import (COMPONENT_DIR, SLOW_PRINT, MoonrakerProcess, free_port,
                                               moonraker_missing_reason, moonraker_python, pinozcam_section,
                                               write_moonraker_conf)

pytestmark = pytest.mark.timeout(120)

CONFIGURED = 7200

# Mainsail's PAUSE (mainsail.cfg; Fluidd's client.cfg is the same) sets _CLIENT_VARIABLE's
# idle_timeout before PAUSE_BASE; the Voron/Ellis PAUSE sets its own after it (``ellis`` stands
# for that literal here, 0: not this kind of PAUSE).
PRINTER_CFG = f"""
[include {COMPONENT_DIR / 'pinozcam.cfg'}]

[idle_timeout]
timeout: {CONFIGURED}

[gcode_macro _CLIENT_VARIABLE]
variable_idle_timeout: 0
gcode:

[gcode_macro PAUSE]
rename_existing: PAUSE_BASE
variable_ellis: 0
gcode:
  {{% set client = printer['gcode_macro _CLIENT_VARIABLE']|default({{}}) %}}
  {{% set idle_timeout = client.idle_timeout|default(0) %}}
  {{% if idle_timeout > 0 %}}
    SET_IDLE_TIMEOUT TIMEOUT={{idle_timeout}}
  {{% endif %}}
  PAUSE_BASE
  {{% if ellis > 0 %}}
    SET_IDLE_TIMEOUT TIMEOUT={{ellis}}
  {{% endif %}}
"""


@pytest.fixture(scope="module")
def printer() -> Iterator[MoonrakerProcess]:
    for reason in (klippy_missing_reason(), moonraker_missing_reason()):
        if reason is not None:
            pytest.skip(reason)
    python = moonraker_python()
    assert python is not None
    workdir = Path(tempfile.mkdtemp(prefix="pzi-"))
    try:
        with running_klippy(workdir, extra_config=PRINTER_CFG):
            port = free_port()
            conf = write_moonraker_conf(workdir / "mr" / "config" / "moonraker.conf", port=port,
                                        klippy_socket=workdir / "klippy.sock",
                                        extra=pinozcam_section(None, None, model_path=None))
            moonraker = MoonrakerProcess(workdir / "mr", conf, port, python).start()
            try:
                moonraker.wait_ready()
                moonraker.wait_for("the component to see Klipper", lambda: moonraker.status()["klippy_ready"])
                yield moonraker
            finally:
                moonraker.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _timeouts_set(moonraker: MoonrakerProcess, since: float) -> list[float]:
    """The idle timeouts Klipper's console reports set since ``since``, in order."""
    prefix = "// idle_timeout: Timeout set to "
    return [float(line[len(prefix):].split()[0]) for line in moonraker.gcode_responses(since=since)
            if line.startswith(prefix)]


def _print_state(moonraker: MoonrakerProcess) -> str:
    return moonraker.get("/printer/objects/query", print_stats="state")["status"]["print_stats"]["state"]


@pytest.mark.parametrize("client_timeout, ellis_timeout, kept", [
    (0, 0, CONFIGURED),           # [idle_timeout] timeout: 7200, longer than the macro's hour
    (10800, 0, 10800),            # Mainsail's _CLIENT_VARIABLE idle_timeout, longer still
    (1800, 0, CONFIGURED),        # a shorter _CLIENT_VARIABLE one does not win either
    (0, 43200, 43200),            # the Voron/Ellis PAUSE's own SET_IDLE_TIMEOUT TIMEOUT=43200
], ids=["configured", "mainsail-longer", "mainsail-shorter", "voron-ellis-pause"])
def test_pinozcam_pause_never_shortens_the_idle_timeout(printer: MoonrakerProcess, client_timeout: int,
                                                        ellis_timeout: int, kept: int) -> None:
    """The user's longer timeout stays while paused (the heaters and the position last through
    the pause), and the timeout in force before the pause comes back on resume."""
    moonraker = printer
    moonraker.gcode(f"SET_GCODE_VARIABLE MACRO=_CLIENT_VARIABLE VARIABLE=idle_timeout VALUE={client_timeout}\n"
                    f"SET_GCODE_VARIABLE MACRO=PAUSE VARIABLE=ellis VALUE={ellis_timeout}")
    started = time.time()
    moonraker.gcode(f"SDCARD_PRINT_FILE FILENAME={SLOW_PRINT}")
    try:
        moonraker.wait_for("the print", lambda: moonraker.status()["print_state"] == "printing")
        moonraker.gcode("PINOZCAM_PAUSE")  # answered once the macro, PAUSE included, has run
        assert _print_state(moonraker) == "paused"
        assert _timeouts_set(moonraker, started)[-1] == kept, moonraker.gcode_responses(since=started)

        resumed = time.time()
        moonraker.gcode("RESUME")
        moonraker.wait_for("the idle timeout in force before the pause back",
                           lambda: _timeouts_set(moonraker, resumed) == [CONFIGURED])
    finally:
        if _print_state(moonraker) in ("printing", "paused"):
            moonraker.gcode("CANCEL_PRINT")
        moonraker.wait_for("the print to end", lambda: moonraker.status()["print_state"] != "printing")
