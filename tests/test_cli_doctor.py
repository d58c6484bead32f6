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


# --- notifications that are set but do not get through -------------------------------------

from pinozcam_klipper.commands.doctor import _check_notifications  # noqa: E402

REDACTED_SETTINGS = {"settings": {"discord_webhook_url": "<redacted>", "telegram_bot_token": "<redacted>",
                                  "telegram_chat_id": "123"}}


def _last(channel: str, ok: bool | None, error: str = "", status: str = "failed") -> dict:
    """One channel's entry in the worker's status ``notifications``."""
    return {"channel": channel, "ok": ok, "status": status if ok is not None else "none",
            "kind": "incident", "time": 1767225600.0 if ok is not None else None, "error": error,
            "attempts": 1}


async def _about_notifications(detector: dict, *, tested: list[dict] | None = None) -> tuple[list[str], bool]:
    """What doctor says about the notifications of a running worker whose status has ``detector``;
    with ``tested``, the results of the test message doctor --send-test asks for."""
    async def rpc(method: str, **params) -> dict:
        assert method == "server.pinozcam.test_notification" and tested is not None, method
        return {"results": tested, "ok": all(item["ok"] for item in tested)}

    report = Report()
    status = {"worker": {"connected": True, "state": "connected"}, "detector": detector}
    await _check_notifications(rpc, report, tested is not None, status, REDACTED_SETTINGS)
    return report.render().splitlines(), report.failed


async def test_doctor_fails_when_the_last_alerts_were_refused() -> None:
    said, failed = await _about_notifications({"notifications": {
        "discord": _last("discord", False, "discord answered http 404: Unknown Webhook"),
        "telegram": _last("telegram", False, "telegram answered http 403: Forbidden: bot was blocked by the user"),
    }})

    assert failed
    assert not any(line.startswith("OK") for line in said), said
    assert said[0].startswith("FAIL  the last alert to Discord (incident, ")
    assert said[0].endswith("was not delivered: discord answered http 404: Unknown Webhook")
    assert "discord_webhook_url" in said[1] and "doctor --send-test" in said[1]
    assert said[2].startswith("FAIL  the last alert to Telegram (incident, ")
    assert said[2].endswith("was not delivered: telegram answered http 403: Forbidden: bot was blocked by the user")
    assert "unblock it" in said[3]


async def test_a_timeout_is_a_warning_and_the_working_channel_stays_ok() -> None:
    said, failed = await _about_notifications({"notifications": {
        "discord": _last("discord", False, "discord did not answer within the timeout (after 4 attempts in 67 s)"),
        "telegram": _last("telegram", True, status="sent"),
    }})

    assert not failed
    assert said[0] == "OK    notifications configured: Telegram"
    assert said[1].startswith("WARN  the last alert to Discord (incident, ")
    assert said[1].endswith("was not delivered: discord did not answer within the timeout (after 4 attempts "
                            "in 67 s)")
    assert "internet connection" in said[2]


async def test_nothing_sent_yet_is_no_problem() -> None:
    said, failed = await _about_notifications({"notifications": {
        "discord": _last("discord", None), "telegram": _last("telegram", None)},
        "telegram_buttons": {"state": "ok", "message": ""}})

    assert not failed
    assert said == ["OK    notifications configured: Discord, Telegram"]


async def test_doctor_fails_when_the_telegram_buttons_cannot_read_presses() -> None:
    refused = ("Telegram refused getUpdates (409: Conflict: terminated by other getUpdates request); the alert "
               "buttons cannot work while this bot has a webhook or another program reads its updates "
               "(remove the webhook with deleteWebhook, or give pinozcam its own bot)")
    said, failed = await _about_notifications({"notifications": {}, "telegram_buttons": {"state": "error",
                                                                                        "message": refused}})

    assert failed
    assert said[1] == f"FAIL  the Telegram alert buttons do not work: {refused}"
    assert "alert_buttons: False" in said[2]

    said, failed = await _about_notifications({"telegram_buttons": {"state": "error",
                                                                   "message": "getUpdates failed (ConnectError)"}})
    assert not failed
    assert said[1] == "WARN  the Telegram alert buttons do not work: getUpdates failed (ConnectError)"


async def test_a_test_that_gets_through_outdoes_an_older_failure() -> None:
    """The user fixed the webhook since the last alert: doctor --send-test shows it works now."""
    said, failed = await _about_notifications(
        {"notifications": {"discord": _last("discord", False, "discord answered http 404: Unknown Webhook")}},
        tested=[{"channel": "discord", "ok": True, "detail": "sent", "warning": ""},
                {"channel": "telegram", "ok": False, "detail": "timed out (no answer within 60 s)", "warning": ""}])

    assert said[0] == "OK    notifications configured: Discord, Telegram"
    assert "OK    test message sent to discord" in said
    assert "FAIL  the test message to telegram failed: timed out (no answer within 60 s)" in said
    assert failed


async def test_doctor_never_prints_a_secret_an_older_worker_let_through() -> None:
    token, webhook = "123456789:AAHsecretsecretsecretsecret", "https://discord.com/api/webhooks/42/hookSECRETtoken"
    said, _ = await _about_notifications({"notifications": {
        "discord": _last("discord", False, f"cannot reach discord: ConnectError: {webhook}"),
        "telegram": _last("telegram", False, f"telegram answered http 401: Unauthorized for bot{token}")}})

    text = "\n".join(said)
    assert "hookSECRETtoken" not in text and "AAHsecret" not in text, text
    assert "/api/webhooks/42/<redacted>" in text


def test_an_unreachable_moonraker_is_one_finding_without_a_raw_log_line() -> None:
    """moonraker-api logs its connection error at ERROR: printed above the report, it read
    like a crash of doctor itself."""
    import subprocess
    import sys

    from tests.integration.moonraker_stack import free_port

    done = subprocess.run([sys.executable, "-m", "pinozcam_klipper.cli", "doctor", "--moonraker",
                           f"http://127.0.0.1:{free_port()}", "--timeout", "5"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL  cannot reach Moonraker at http://127.0.0.1:")
    assert "moonraker_api" not in done.stdout + done.stderr and "ERROR" not in done.stderr
