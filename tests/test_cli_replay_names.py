"""Which times ``pinozcam replay`` gives the frames of a folder, from their names or ``--fps``.

A folder may hold a few stills beside a timed recording (the demo folder does): the recording
must still play at the times in its names, not at one frame a second because three names
carry no time. ``--fps`` is the user's rate and wins over the names.
"""

from __future__ import annotations

from pathlib import Path

from pinozcam_klipper.cli import main
from tests.test_cli import MODEL, frame, json_lines, write_jpeg


def _replay(capsys, folder: Path, *extra: str) -> tuple[list[dict], str]:
    assert main(["replay", str(folder), "--model", MODEL, "--json", *extra]) == 0
    captured = capsys.readouterr()
    return json_lines(captured.out), captured.err


def test_frames_with_times_play_at_them_and_stills_without_are_left_out_with_a_note(tmp_path, capsys):
    folder = tmp_path / "print"
    for seconds in (0, 10, 20):
        write_jpeg(folder / f"frame_t{seconds:05.1f}.jpg", frame(red=False))
    write_jpeg(folder / "frame_t030.0.jpg", frame(red=True))  # the failure shows at 30 s
    write_jpeg(folder / "single_closeup.jpg", frame(red=True))
    config = tmp_path / "pinozcam.yaml"
    config.write_text("detection:\n  warmup_seconds: 0\n")

    records, err = _replay(capsys, folder, "--config", str(config))

    summary = records[-1]
    assert summary["frames"] == 4 and summary["checked"] == 4
    failing = [r for r in records if r.get("event") == "band:failure"]
    assert [(r["frame"], r["time"]) for r in failing] == [("frame_t030.0.jpg", 30.0)]
    assert "left out 1 frame(s) whose names carry no time (single_closeup.jpg)" in err
    assert "--fps plays every frame at a fixed rate instead" in err


def test_fps_plays_every_frame_at_its_rate_whatever_the_names_say(tmp_path, capsys):
    folder = tmp_path / "print"
    for seconds in (0, 10, 20):
        write_jpeg(folder / f"frame_t{seconds:05.1f}.jpg", frame(red=False))
    write_jpeg(folder / "frame_t030.0.jpg", frame(red=True))
    write_jpeg(folder / "single_closeup.jpg", frame(red=True))
    config = tmp_path / "pinozcam.yaml"
    config.write_text("detection:\n  warmup_seconds: 0\nworker:\n  check_interval: 0.5\n")

    records, err = _replay(capsys, folder, "--config", str(config), "--fps", "2")

    summary = records[-1]
    assert summary["frames"] == 5 and summary["checked"] == 5 and "left out" not in err
    failing = [(r["frame"], r["time"]) for r in records if r.get("event") == "band:failure"]
    assert failing == [("frame_t030.0.jpg", 1.5)]  # the fourth frame, half a second apart
