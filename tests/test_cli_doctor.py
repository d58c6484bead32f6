"""``pinozcam doctor``'s advice when the worker is not running.

With no camera found, the component never starts the worker and waits for a webcam or the
panel's Camera setting: doctor must say so, not send the user to a worker log that was never
written or tell them to restart Moonraker for what needs no restart.
"""

from __future__ import annotations

from pathlib import Path

from pinozcam_klipper.commands.doctor import Report, _checks, _Detections
from tests.test_cli import DEFAULTS, SHIPPED, _FakeMoonraker

NO_CAMERA = ("no camera: Moonraker has no enabled [webcam]; set 'camera' to a [webcam] name, a URL, "
             "a camera device (/dev/video0) or a folder of pictures")


def _moonraker(worker: dict, *, warnings: list[str] = (), locked: list[str] = ()) -> _FakeMoonraker:
    moonraker = _FakeMoonraker(SHIPPED, DEFAULTS)
    moonraker.answers["server.info"]["warnings"] = list(warnings)
    moonraker.answers["server.pinozcam.status"] = {"enabled": True, "worker": worker}
    moonraker.answers["server.pinozcam.get_settings"]["locked"] = list(locked)
    return moonraker


async def _about_the_worker(moonraker: _FakeMoonraker) -> list[str]:
    """The findings about the worker and Moonraker's warnings, each with what to do."""
    report = Report()
    await _checks(moonraker, report, False, _Detections())
    kept = [f for f in report.findings if "worker" in f.what or "[pinozcam]" in f.what]
    return Report(kept).render().splitlines()


async def test_no_camera_sends_to_the_webcam_settings_and_the_panel_not_to_a_log(tmp_path: Path) -> None:
    never_written = tmp_path / "pinozcam-worker.log"
    said = await _about_the_worker(_moonraker(
        {"connected": False, "state": "stopped", "problem": f"camera: {NO_CAMERA}",
         "log": str(never_written)},
        warnings=[f"[pinozcam]: option 'camera': {NO_CAMERA}"]))

    assert said[0] == f"WARN  [pinozcam]: option 'camera': {NO_CAMERA}"
    assert said[2] == f"FAIL  the detector worker waits for a camera: {NO_CAMERA}"
    for advice in (said[1], said[3]):
        assert "Mainsail's or Fluidd's webcam settings" in advice and "PiNozCam panel's Settings" in advice
        assert "the worker starts by itself once either is saved, no restart needed" in advice
    assert not any("log" in line for line in said)


async def test_no_camera_set_in_moonraker_conf_sends_to_moonraker_conf() -> None:
    said = await _about_the_worker(_moonraker(
        {"connected": False, "state": "stopped", "problem": "camera: no [webcam] named 'cam2' (known: "
                                                            "none configured); not a URL, a camera "
                                                            "device (/dev/video0) or a folder either"},
        locked=["camera"]))

    assert said[0].startswith("FAIL  the detector worker waits for a camera: no [webcam] named 'cam2'")
    assert said[1].startswith("      -> camera: in moonraker.conf's [pinozcam] names the camera")
    assert "restart Moonraker" in said[1]


async def test_a_worker_that_did_not_start_points_at_its_log_only_when_there_is_one(tmp_path: Path) -> None:
    log = tmp_path / "pinozcam-worker.log"
    worker = {"connected": False, "state": "error", "problem": "the worker exited (status 1)",
              "log": str(log)}

    said = await _about_the_worker(_moonraker(worker))
    assert said == ["FAIL  the detector worker is not running: the worker exited (status 1)",
                    "      -> moonraker.log says why it did not start (the worker has no log file here)"]

    log.write_text("Traceback ...\n")
    said = await _about_the_worker(_moonraker(worker))
    assert said[1] == f"      -> read its log: {log}"
