"""How long a mute lasts, on the real stack: PINOZCAM_MUTE from a slicer's start gcode mutes
that print, an unmute brings the pause back while the failure goes on, and a mute asked for
while nothing prints is refused (the next print would silently drop it).

Everything real (the ``stack`` fixture of conftest.py): klippy on the stand-in MCU, Moonraker
with the component, the worker, a local camera and a recording Discord server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.moonraker_stack import SLOW_PRINT, MoonrakerError, MoonrakerEvents, Stack
from tests.worker.helpers import FAILING

pytestmark = pytest.mark.timeout(120)

NOTHING_TO_MUTE = "no print is running: nothing to mute"


@pytest.fixture(autouse=True)
def idle_afterwards(stack: Stack) -> Iterator[None]:
    yield
    stack.end_print()


def _detector(stack: Stack) -> dict[str, Any]:
    """The worker's last status (empty between a connect and its first one)."""
    return stack.moonraker.status()["detector"] or {}


def _wait_klipper(stack: Stack, state: str) -> None:
    stack.printer.api.subscribe({"print_stats": ["state"]})
    stack.printer.api.wait_for_status("print_stats", lambda s: s.get("state") == state, timeout=30)


def test_a_mute_in_the_start_gcode_mutes_the_print(stack: Stack, events: MoonrakerEvents) -> None:
    """PINOZCAM_MUTE as a print file's first line (a slicer's start gcode) runs before Moonraker
    has heard that the print started: the print must still be muted, so a failure asks for no
    pause."""
    moonraker = stack.moonraker
    name = "muted_from_the_start.gcode"
    (stack.printer.sdcard_dir / name).write_text(
        "PINOZCAM_MUTE\n" + (stack.printer.sdcard_dir / SLOW_PRINT).read_text())
    asked = time.time()
    moonraker.gcode(f"SDCARD_PRINT_FILE FILENAME={name}")
    moonraker.wait_for("the console answer", lambda: any(
        "alerts and actions muted until this print ends" in r for r in moonraker.gcode_responses(since=asked)))
    moonraker.wait_for("the worker to watch this print, muted", lambda: (d := _detector(stack)).get("muted") is True
                       and (d.get("print") or {}).get("state") == "printing" and d["print"].get("file") == name)

    seen = len(events.of("notify_pinozcam_incident"))
    stack.set_camera(FAILING)
    incident = events.wait("notify_pinozcam_incident", lambda p: p["event"] == "opened", after=seen)
    assert incident["action"] is None  # muted: it asks for no pause
    assert stack.print_state() == "printing"
    assert _detector(stack)["muted"] is True


def test_unmuting_while_the_failure_goes_on_pauses_the_print(stack: Stack, events: MoonrakerEvents) -> None:
    """Muted, a failure opens an incident that asks for nothing; the user unmutes while the
    failure goes on: the print pauses and an alert goes out, without waiting for the failure
    to stop and start again."""
    moonraker = stack.moonraker
    stack.start_print()
    moonraker.wait_for("the worker to watch", lambda: (_detector(stack).get("print") or {}).get("state") == "printing")
    assert moonraker.post("/server/pinozcam/mute", {"muted": True}) == {"muted": True}
    moonraker.wait_for("the mute", lambda: _detector(stack).get("muted") is True)
    seen = len(events.of("notify_pinozcam_incident"))
    stack.set_camera(FAILING)
    muted = events.wait("notify_pinozcam_incident", lambda p: p["event"] == "opened", after=seen)
    assert muted["action"] is None

    alerts_before = len(stack.discord.discord_requests())
    assert moonraker.post("/server/pinozcam/mute", {"muted": False}) == {"muted": False}
    pausing = events.wait("notify_pinozcam_incident", lambda p: p["event"] == "opened"
                          and p["incident_id"] != muted["incident_id"], after=seen)
    assert pausing["action"] == "pause"
    _wait_klipper(stack, "paused")
    # The muted incident ended as the new one took over: one action for one open incident.
    events.wait("notify_pinozcam_incident", lambda p: p["event"] == "closed"
                and p["incident_id"] == muted["incident_id"], after=seen)
    moonraker.wait_for("the alert", lambda: stack.discord.discord_requests()[alerts_before:], timeout=15)


def test_a_mute_while_no_print_runs_is_refused(stack: Stack) -> None:
    """A mute is of one print: asked for between prints, it is refused with a reason (macro
    and endpoint) instead of answering "muted" and being dropped when the next print starts."""
    moonraker = stack.moonraker
    assert stack.print_state() not in ("printing", "paused")
    with pytest.raises(MoonrakerError) as refused:
        moonraker.post("/server/pinozcam/mute", {"muted": True})
    assert refused.value.status == 409 and NOTHING_TO_MUTE in str(refused.value)

    asked = time.time()
    moonraker.gcode("PINOZCAM_MUTE")
    moonraker.wait_for("the console answer", lambda: any(
        NOTHING_TO_MUTE in r for r in moonraker.gcode_responses(since=asked)))
    assert not [r for r in moonraker.gcode_responses(since=asked) if "muted until" in r]
    assert _detector(stack).get("muted") is False

    stack.start_print()  # the next print is watched as any other
    moonraker.wait_for("the worker to watch", lambda: (_detector(stack).get("print") or {}).get("state") == "printing")
    assert _detector(stack)["muted"] is False
