"""The ``pinozcam`` command line, run as a user would, on the fixture "red patch" model.

The fixture model (tests/fixtures/make_models.py) boxes strongly red regions as
``spaghetti``; the frames here are grey with or without such a patch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from pinozcam_klipper.cli import main
from tests.servers import NotifyServer

MODEL = str(Path(__file__).resolve().parent / "fixtures" / "models" / "grid_int8.tflite")
RED = (0, 0, 255)
PATCH = (400, 200, 800, 500)  # x1, y1, x2, y2 on a 1280x720 frame: 13% of it


def frame(red: bool) -> np.ndarray:
    image = np.full((720, 1280, 3), 90, np.uint8)
    if red:
        x1, y1, x2, y2 = PATCH
        image[y1:y2, x1:x2] = RED
    return image


def write_jpeg(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_detect_writes_annotated_jpegs_and_one_json_line_per_image(tmp_path, capsys):
    failure = write_jpeg(tmp_path / "in" / "failure.jpg", frame(red=True))
    normal = write_jpeg(tmp_path / "in" / "normal.jpg", frame(red=False))
    out = tmp_path / "out"

    status = main(["detect", str(failure), str(normal), "--model", MODEL, "--out", str(out), "--json"])

    assert status == 0
    records = {Path(r["image"]).name: r for r in json_lines(capsys.readouterr().out)}
    assert records["failure.jpg"]["band"] == "failure"
    box = records["failure.jpg"]["boxes"][0]
    assert box["label"] == "spaghetti"
    assert box["x1"] == pytest.approx(PATCH[0], abs=40) and box["x2"] == pytest.approx(PATCH[2], abs=40)
    assert records["normal.jpg"]["band"] == "ok" and records["normal.jpg"]["boxes"] == []
    annotated = cv2.imread(str(out / "failure.jpg"))
    assert annotated is not None and annotated.shape == (720, 1280, 3)
    # The annotation drew over the picture: it differs from the input around the box edge.
    assert not np.array_equal(annotated, cv2.imread(str(failure)))


def test_detect_reports_a_broken_jpeg_and_goes_on(tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = write_jpeg(tmp_path / "good.jpg", frame(red=True))

    status = main(["detect", str(broken), str(good), "--model", MODEL, "--json"])

    assert status == 1
    records = json_lines(capsys.readouterr().out)
    assert "error" in records[0] and records[0]["image"].endswith("broken.jpg")
    assert records[1]["band"] == "failure"


def test_a_missing_model_is_one_clear_line_not_a_traceback(tmp_path, capsys):
    image = write_jpeg(tmp_path / "a.jpg", frame(red=False))

    status = main(["detect", str(image), "--model", str(tmp_path / "nope.tflite")])

    err = capsys.readouterr().err
    assert status == 2
    assert "nope.tflite" in err and "Traceback" not in err


def test_a_bad_config_value_names_the_option(tmp_path, capsys):
    config = tmp_path / "pinozcam.yaml"
    config.write_text("detection:\n  consider_time: -5\n")
    image = write_jpeg(tmp_path / "a.jpg", frame(red=False))

    status = main(["detect", str(image), "--config", str(config), "--model", MODEL])

    assert status == 2
    assert "consider_time" in capsys.readouterr().err


def _print_recording(folder: Path, normal: int, failing: int, step: float = 1.0) -> None:
    for index in range(normal + failing):
        name = f"frame_{index:04d}_t{index * step:06.1f}.jpg"
        write_jpeg(folder / name, frame(red=index >= normal))


def test_replay_says_when_it_would_have_paused(tmp_path, capsys):
    recording = tmp_path / "print"
    _print_recording(recording, normal=30, failing=10)
    config = tmp_path / "fast.yaml"
    config.write_text("detection:\n  warmup_seconds: 5\n  max_failure_count: 3\n  action: pause\n")

    status = main(["replay", str(recording), "--model", MODEL, "--config", str(config), "--json"])

    assert status == 0
    records = json_lines(capsys.readouterr().out)
    opened = [r for r in records if r["event"] == "incident:opened"]
    assert len(opened) == 1, records
    assert opened[0]["action"] == "pause"
    # Failure frames start at t=30 s; the third one (t=32 s) reaches max_failure_count.
    assert opened[0]["time"] == pytest.approx(32.0)
    summary = records[-1]
    assert summary["event"] == "summary" and summary["actions"] == {"pause": 1}


def test_replay_of_a_normal_print_takes_no_action(tmp_path, capsys):
    recording = tmp_path / "print"
    _print_recording(recording, normal=25, failing=0)

    assert main(["replay", str(recording), "--model", MODEL]) == 0

    assert "0 incident(s): no action" in capsys.readouterr().out


def _labelled_dataset(root: Path) -> None:
    """Four failure images with their box, four normal ones (empty label files)."""
    x1, y1, x2, y2 = PATCH
    line = f"0 {(x1 + x2) / 2 / 1280:.6f} {(y1 + y2) / 2 / 720:.6f} {(x2 - x1) / 1280:.6f} {(y2 - y1) / 720:.6f}\n"
    for index in range(4):
        write_jpeg(root / "images" / f"pos{index}.jpg", frame(red=True))
        (root / "labels").mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"pos{index}.txt").write_text(line)
        write_jpeg(root / "images" / f"neg{index}.jpg", frame(red=False))
        (root / "labels" / f"neg{index}.txt").write_text("")


def test_eval_reports_recall_false_alarms_auroc_and_ap(tmp_path, capsys):
    _labelled_dataset(tmp_path / "set")
    plot = tmp_path / "pr.png"

    status = main(["eval", str(tmp_path / "set"), "--model", MODEL, "--json", "--plot", str(plot)])

    assert status == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["image"]["recall"] == 1.0
    assert report["image"]["false_alarm_rate"] == 0.0
    assert report["auroc"] == 1.0
    assert report["ap50"]["spaghetti"] == pytest.approx(1.0)
    assert cv2.imread(str(plot)) is not None


def test_bench_prints_the_figures(capsys):
    assert main(["bench", "--model", MODEL, "--frames", "3", "--json"]) == 0

    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("check_ms_median", "check_ms_p95", "inference_ms_median", "model_load_s",
                "cold_start_s", "peak_rss_mb"):
        assert figures[key] > 0, key
    assert figures["threads"] == 1


def test_notify_test_reaches_discord_and_telegram(tmp_path, capsys):
    with NotifyServer() as server:
        config = tmp_path / "notify.yaml"
        config.write_text(
            "notify:\n"
            f"  discord_webhook_url: {server.discord_webhook_url('123', 'secret-webhook-token')}\n"
            "  telegram_bot_token: '123456:SECRET-bot-token'\n"
            "  telegram_chat_id: '42'\n"
            f"  telegram_api_base: {server.telegram_api_base}\n")

        status = main(["notify-test", "--config", str(config)])

        out = capsys.readouterr()
        assert status == 0, out
        assert "discord: sent" in out.out and "telegram: sent" in out.out
        assert len(server.discord_requests()) == 1
        telegram = server.telegram_requests()[0]
        sent_to = telegram.json()["chat_id"] if telegram.route.endswith("sendMessage") \
            else telegram.form()["chat_id"].text
        assert sent_to == "42"
        assert "secret-webhook-token" not in out.out + out.err
        assert "SECRET-bot-token" not in out.out + out.err


def test_notify_test_says_when_the_telegram_topic_is_wrong(tmp_path, capsys):
    """The test message reaches the chat itself, and the output says which option to fix."""
    with NotifyServer() as server:
        server.reply(400, json_body={"ok": False, "error_code": 400,
                                     "description": "Bad Request: message thread not found"})
        config = tmp_path / "notify.yaml"
        config.write_text(
            "notify:\n"
            "  telegram_bot_token: '123456:SECRET-bot-token'\n"
            "  telegram_chat_id: '-1001234'\n"
            "  telegram_topic_id: 77\n"
            f"  telegram_api_base: {server.telegram_api_base}\n")

        status = main(["notify-test", "--config", str(config)])

        out = capsys.readouterr()
        assert status == 0, out
        assert "telegram: sent (telegram_topic_id 77 is wrong" in out.out
        assert "SECRET-bot-token" not in out.out + out.err


def test_notify_test_without_channels_says_what_to_set(tmp_path, capsys):
    config = tmp_path / "empty.yaml"
    config.write_text("detection:\n  preset: webcam\n")

    assert main(["notify-test", "--config", str(config)]) == 2
    assert "discord_webhook_url" in capsys.readouterr().err


def test_the_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "pinozcam_klipper.cli", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("pinozcam-klipper ")


def test_png_frames_are_read_like_jpegs(tmp_path, capsys):
    png = tmp_path / "failure.png"
    assert cv2.imwrite(str(png), frame(red=True))

    assert main(["detect", str(png), "--model", MODEL, "--json"]) == 0

    assert json_lines(capsys.readouterr().out)[0]["band"] == "failure"


def test_replay_refuses_a_frame_rate_that_is_not_positive(tmp_path, capsys):
    _print_recording(tmp_path / "print", normal=2, failing=0)

    with pytest.raises(SystemExit) as exit_info:
        main(["replay", str(tmp_path / "print"), "--fps", "-1", "--model", MODEL])

    assert exit_info.value.code == 2
    assert "not a number > 0" in capsys.readouterr().err


def test_eval_sweep_scores_every_preset_and_suggests_thresholds(tmp_path, capsys):
    _labelled_dataset(tmp_path / "set")

    assert main(["eval", str(tmp_path / "set"), "--model", MODEL, "--json", "--sweep"]) == 0

    sweep = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sweep"]
    assert set(sweep["presets"]) >= {"nozzlecam", "webcam", "medium"}
    # The red patch covers 13% of the frame at score ~1: every preset catches it, none fires
    # on the grey frames, and so does the suggested grid point.
    assert all(row["recall"] == 1.0 and row["false_alarm_rate"] == 0.0
               for row in sweep["presets"].values())
    assert sweep["suggestion"]["recall"] == 1.0


def test_the_readme_demo_pauses_the_bundled_failing_print(tmp_path, capsys):
    # The shipped model, the bundled synthetic print and the default settings, end to end:
    # what `pinozcam demo` on a fresh machine shows.
    out = tmp_path / "demo"

    assert main(["demo", "--out", str(out), "--json"]) == 0

    records = json_lines(capsys.readouterr().out)
    opened = [r for r in records if r["event"] == "incident:opened"]
    assert len(opened) == 1 and opened[0]["action"] == "pause"
    # The demo's spaghetti starts at t=100 s (frame 20): nothing may fire on the normal part.
    assert opened[0]["time"] > 100.0
    assert len(list(out.glob("frame_*.jpg"))) == 40


class _FakeMoonraker:
    """Moonraker's answers to doctor's calls: Klipper ready with ``macros``, the component's
    effective ``settings``, and Klipper's own commands in its gcode help."""

    def __init__(self, macros: list[str], settings: dict, klipper_commands: tuple[str, ...] = ()) -> None:
        objects = ["print_stats", "pause_resume"] + [f"gcode_macro {m}" for m in macros]
        help_ = {name: "G-Code macro" for name in macros}
        help_.update({name: "Klipper's own" for name in ("PAUSE", "RESUME", "CANCEL_PRINT") + klipper_commands})
        self.answers = {
            "server.info": {"moonraker_version": "v0.11", "components": ["pinozcam"], "warnings": [],
                            "klippy_state": "ready"},
            "server.pinozcam.status": {"enabled": True, "worker": {"connected": False, "state": "stopped"}},
            "printer.objects.list": {"objects": objects},
            "printer.gcode.help": help_,
            "server.pinozcam.get_settings": {"settings": settings},
        }

    async def __call__(self, method: str, **params) -> dict:
        return self.answers[method]


SHIPPED = ["PINOZCAM_ENABLE", "PINOZCAM_DISABLE", "PINOZCAM_MUTE", "PINOZCAM_STATUS", "PINOZCAM_PAUSE",
           "_PINOZCAM_AFTER_PAUSE", "_PINOZCAM_RESTORE_IDLE_TIMEOUT", "_PINOZCAM_PROMPT_RESUME",
           "_PINOZCAM_PROMPT_CANCEL", "PINOZCAM_FALSE_ALARM", "PINOZCAM_CANCEL"]
DEFAULTS = {"pause_macro": "PINOZCAM_PAUSE", "cancel_macro": "PINOZCAM_CANCEL", "prompt": True}


async def _doctor_says(moonraker: _FakeMoonraker) -> list[str]:
    from pinozcam_klipper.commands.doctor import Report, _checks, _Detections

    report = Report()
    await _checks(moonraker, report, False, _Detections())
    about_macros = Report([f for f in report.findings if f.what.startswith("Klipper ")])
    return about_macros.render().splitlines()  # each finding, then the line saying what to do


async def test_doctor_finds_every_macro_of_pinozcam_cfg_in_a_complete_install():
    said = await _doctor_says(_FakeMoonraker(SHIPPED, DEFAULTS))
    assert said == ["OK    Klipper has the PiNozCam macros"]


@pytest.mark.parametrize("absent", ["PINOZCAM_CANCEL", "_PINOZCAM_PROMPT_RESUME", "PINOZCAM_FALSE_ALARM",
                                    "_PINOZCAM_AFTER_PAUSE"])
async def test_doctor_reports_a_macro_missing_from_an_old_pinozcam_cfg(absent):
    # An older pinozcam.cfg, from before the cancel macro and the dialog's buttons.
    said = await _doctor_says(_FakeMoonraker([m for m in SHIPPED if m != absent], DEFAULTS))
    assert said[0] == f"FAIL  Klipper lacks the PiNozCam macros: {absent}"
    assert "FIRMWARE_RESTART" in said[1]


async def test_doctor_checks_the_pause_and_cancel_macros_set_in_pinozcam():
    # pause_macro is the user's own macro (with parameters), cancel_macro a command that does
    # not exist: the cancel could never run. PINOZCAM_PAUSE / _CANCEL are then not needed.
    macros = [m for m in SHIPPED if m not in ("PINOZCAM_PAUSE", "_PINOZCAM_AFTER_PAUSE", "PINOZCAM_CANCEL")]
    settings = {**DEFAULTS, "pause_macro": "my_pause LIFT=10", "cancel_macro": "CANCEL_AND_PARK"}
    said = await _doctor_says(_FakeMoonraker(macros + ["MY_PAUSE"], settings))
    assert said[0] == ("FAIL  Klipper has no CANCEL_AND_PARK, the cancel_macro set for PiNozCam: a failure "
                       "cannot cancel the print")
    assert "[gcode_macro CANCEL_AND_PARK]" in said[1]
    assert not any("lacks" in line for line in said)

    # Klipper's own CANCEL_PRINT (in its gcode help, not a macro) is fine.
    settings["cancel_macro"] = "CANCEL_PRINT"
    said = await _doctor_says(_FakeMoonraker(macros + ["MY_PAUSE"], settings))
    assert said == ["OK    Klipper has the PiNozCam macros and your pause_macro MY_PAUSE, cancel_macro CANCEL_PRINT"]


async def test_doctor_does_not_ask_for_the_dialog_macros_when_prompt_is_off():
    macros = [m for m in SHIPPED if m not in ("_PINOZCAM_PROMPT_RESUME", "_PINOZCAM_PROMPT_CANCEL",
                                              "PINOZCAM_FALSE_ALARM")]
    assert await _doctor_says(_FakeMoonraker(macros, {**DEFAULTS, "prompt": False})) == \
        ["OK    Klipper has the PiNozCam macros"]
    said = await _doctor_says(_FakeMoonraker(macros, DEFAULTS))
    assert said[0].startswith("FAIL  Klipper lacks the PiNozCam macros: _PINOZCAM_PROMPT_RESUME")


# --- what --out writes, and where -------------------------------------------------------------

def test_detect_refuses_to_write_over_its_own_inputs(tmp_path, capsys):
    folder = tmp_path / "same"
    original = write_jpeg(folder / "good.jpg", frame(red=True)).read_bytes()

    status = main(["detect", str(folder), "--model", MODEL, "--out", str(folder)])

    assert status == 2
    err = capsys.readouterr().err
    assert "would overwrite the input" in err and "Traceback" not in err
    assert (folder / "good.jpg").read_bytes() == original


def test_replay_refuses_to_write_over_its_own_frames(tmp_path, capsys):
    _print_recording(tmp_path / "print", normal=2, failing=0)
    before = {p.name: p.read_bytes() for p in (tmp_path / "print").iterdir()}

    status = main(["replay", str(tmp_path / "print"), "--model", MODEL, "--out", str(tmp_path / "print")])

    assert status == 2 and "would overwrite the input" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "print").iterdir()} == before


def test_detect_gives_inputs_that_share_a_stem_their_own_annotated_copy(tmp_path, capsys):
    write_jpeg(tmp_path / "in" / "good.jpg", frame(red=True))
    assert cv2.imwrite(str(tmp_path / "in" / "good.png"), frame(red=False))
    out = tmp_path / "out"

    assert main(["detect", str(tmp_path / "in"), "--model", MODEL, "--out", str(out), "--json"]) == 0

    annotated = [r["annotated"] for r in json_lines(capsys.readouterr().out)]
    assert len(set(annotated)) == 2
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg", "good_2.jpg"]


def test_detect_says_when_out_is_a_file(tmp_path, capsys):
    image = write_jpeg(tmp_path / "good.jpg", frame(red=False))

    status = main(["detect", str(image), "--model", MODEL, "--out", str(image)])

    assert status == 2
    assert capsys.readouterr().err.strip().endswith("is a file, not a folder")


def _write_video(path: Path, frames: int, fps: float = 1.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (1280, 720))
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(frame(red=False))
    writer.release()
    return path


def test_replay_of_a_video_keeps_every_annotated_frame(tmp_path, capsys):
    video = _write_video(tmp_path / "print.avi", frames=4)
    out = tmp_path / "out"

    assert main(["replay", str(video), "--model", MODEL, "--out", str(out)]) == 0

    assert sorted(p.name for p in out.iterdir()) == [f"print_{i:06d}.jpg" for i in range(4)]


def test_replay_orders_frames_by_the_time_in_their_names_not_by_name(tmp_path, capsys):
    # Not zero-padded: by name, shot_t130 would come before shot_t15.
    for seconds in range(5, 200, 5):
        (tmp_path / "print").mkdir(exist_ok=True)
        (tmp_path / "print" / f"shot_t{seconds}.jpg").write_bytes(b"not a jpeg")

    main(["replay", str(tmp_path / "print"), "--model", MODEL, "--json"])

    records = [r for r in json_lines(capsys.readouterr().out) if r.get("event") == "unreadable"]
    assert [r["frame"] for r in records] == [f"shot_t{s}.jpg" for s in range(5, 200, 5)]
    assert [r["time"] for r in records] == [float(s) for s in range(5, 200, 5)]


# --- one-line errors instead of tracebacks ----------------------------------------------------

def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A small PNG whose header says it is ``width`` x ``height`` (checksum fixed up)."""
    import struct
    import zlib

    ok, data = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    data = bytearray(data.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_a_png_claiming_a_huge_size_is_one_error_line(tmp_path, capsys):
    huge = _png_claiming(tmp_path / "huge.png", 60000, 60000)
    good = write_jpeg(tmp_path / "good.jpg", frame(red=True))

    status = main(["detect", str(huge), str(good), "--model", MODEL])

    assert status == 1
    captured = capsys.readouterr()
    assert "huge.png: error: PNG claims 60000x60000 pixels" in captured.err
    assert "good.jpg: failure" in captured.out


def test_replay_fails_when_no_frame_could_be_read(tmp_path, capsys):
    (tmp_path / "print").mkdir()
    for index in range(3):
        (tmp_path / "print" / f"frame_{index:04d}.jpg").write_bytes(b"")

    status = main(["replay", str(tmp_path / "print"), "--model", MODEL])

    assert status == 1
    assert "none of the 3 frame(s) could be read" in capsys.readouterr().err


@pytest.mark.parametrize("plot, message", [("missing/pr.png", "no folder"), ("pr", "name a .png file")])
def test_eval_checks_the_plot_path_before_evaluating(tmp_path, capsys, plot, message):
    _labelled_dataset(tmp_path / "set")

    status = main(["eval", str(tmp_path / "set"), "--model", MODEL, "--plot", str(tmp_path / plot)])

    assert status == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


# --- eval's report ------------------------------------------------------------------------------

def _normal_only_dataset(root: Path) -> None:
    for index in range(3):
        write_jpeg(root / "images" / f"neg{index}.jpg", frame(red=False))
        (root / "labels").mkdir(parents=True, exist_ok=True)
        (root / "labels" / f"neg{index}.txt").write_text("")


def _strict_json(text: str) -> dict:
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_eval_json_is_valid_json_when_a_rate_is_undefined(tmp_path, capsys):
    _normal_only_dataset(tmp_path / "set")

    assert main(["eval", str(tmp_path / "set"), "--model", MODEL, "--json", "--sweep"]) == 0

    report = _strict_json(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["image"]["recall"] is None and report["auroc"] is None
    assert report["sweep"]["suggestion"] is None
    assert report["sweep"]["no_suggestion"] == "the dataset has no failure images"


def test_eval_sweep_says_why_it_suggests_nothing(tmp_path, capsys):
    _normal_only_dataset(tmp_path / "set")

    assert main(["eval", str(tmp_path / "set"), "--model", MODEL, "--sweep"]) == 0

    out = capsys.readouterr().out
    assert "no threshold suggestion: the dataset has no failure images" in out
    assert "best within" not in out


def test_eval_refuses_a_dataset_without_labels(tmp_path, capsys):
    write_jpeg(tmp_path / "set" / "images" / "a.jpg", frame(red=True))

    assert main(["eval", str(tmp_path / "set"), "--model", MODEL]) == 2

    assert "has no labels/ folder" in capsys.readouterr().err


def test_eval_refuses_a_false_alarm_budget_outside_0_to_1(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(tmp_path), "--model", MODEL, "--sweep", "--max-false-alarms", "5"])

    assert exit_info.value.code == 2
    assert "not a rate from 0 to 1" in capsys.readouterr().err


def test_the_tflite_install_advice_does_not_name_a_pypi_package():
    from pinozcam_klipper.detect.runtime import TFLITE_INSTALL

    # pinozcam-klipper is not on PyPI: the advice installs the checkout or the git repository.
    assert "-e " in TFLITE_INSTALL or "@ git+https://" in TFLITE_INSTALL
    assert '"pinozcam-klipper[tflite]"' not in TFLITE_INSTALL


# --- export-feedback ----------------------------------------------------------------------------

def _labelled_incidents(data_dir: Path) -> None:
    from pinozcam_klipper.worker.incidents import IncidentStore
    from tests.worker.test_incidents import _open

    store = IncidentStore(data_dir / "incidents", 10**9)
    store.load()
    record = _open(store, 1000.0)
    store.set_label(record["id"], "real_failure", 1001.0)


def test_export_feedback_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path, capsys):
    _labelled_incidents(tmp_path / "data")
    out = tmp_path / "dataset"
    (out / "images").mkdir(parents=True)
    (out / "images" / "stale.jpg").write_bytes(b"old")

    assert main(["export-feedback", str(out), "--data-dir", str(tmp_path / "data")]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (out / "images" / "stale.jpg").exists() and not (out / "data.yaml").exists()

    assert main(["export-feedback", str(out), "--data-dir", str(tmp_path / "data"), "--force"]) == 0
    assert not (out / "images" / "stale.jpg").exists()
    assert len(list((out / "images").iterdir())) == 1 and (out / "data.yaml").exists()


def test_export_feedback_without_any_incident_is_an_error(tmp_path, capsys):
    (tmp_path / "data" / "incidents").mkdir(parents=True)

    assert main(["export-feedback", str(tmp_path / "out"), "--data-dir", str(tmp_path / "data")]) == 2

    assert "no incidents in" in capsys.readouterr().err


def test_export_feedback_leaves_out_damaged_records_and_says_so(tmp_path, capsys, caplog):
    """A box that lost a key and a cut-short picture (a full SD card): those records are left
    out with a warning, the others are exported, and the command succeeds."""
    import json

    from pinozcam_klipper.worker.incidents import IncidentStore
    from tests.worker.test_incidents import _open

    store = IncidentStore(tmp_path / "data" / "incidents", 10**9)
    store.load()
    records = [_open(store, 1000.0 + i, frame_id=10 * i + 1) for i in range(3)]
    for record in records:
        store.set_label(record["id"], "real_failure", 2000.0)
    folder = tmp_path / "data" / "incidents"
    path = folder / records[0]["id"] / "incident.json"
    damaged = json.loads(path.read_text())
    damaged["detections"][0]["boxes"][0]["y2 "] = damaged["detections"][0]["boxes"][0].pop("y2")
    path.write_text(json.dumps(damaged))
    onset = folder / records[1]["id"] / "onset.jpg"
    onset.write_bytes(onset.read_bytes()[:100])
    out = tmp_path / "dataset"

    assert main(["export-feedback", str(out), "--data-dir", str(tmp_path / "data")]) == 0

    printed = capsys.readouterr().out
    assert "wrote 1 labelled image(s)" in printed and "left out 2 damaged record(s)" in printed
    assert f"incident {records[0]['id']} skipped" in caplog.text
    assert f"incident {records[1]['id']} skipped" in caplog.text and "not a whole JPEG" in caplog.text
    assert [p.name for p in (out / "images").iterdir()] == [f"{records[2]['id']}.jpg"]
    assert [p.name for p in (out / "labels").iterdir()] == [f"{records[2]['id']}.txt"]
