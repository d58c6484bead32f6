"""``pinozcam replay`` reaches the verdict the live worker would, at the worker's pace.

The worker checks a frame every ``check_interval`` (1 s), every ``fast_check_interval``
(0.3 s) while a failure builds, lets the engine's clock run every second between frames, and
the printer pauses or cancels when the engine says so. A user tuning thresholds on a fast
recording (a 10 fps timelapse, a video) must see the pause at the time the worker would
have paused, not at the recording's third failure frame.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from pinozcam_klipper.cli import main
from tests.test_cli import MODEL, frame, json_lines


def _recording(folder: Path, parts: list[tuple[bool, float]], step: float) -> list[str]:
    """Frames every ``step`` s named ``frame_NNNN_tSSS.S.jpg``; ``parts``: (red, seconds) in turn.
    Returns the names."""
    folder.mkdir(parents=True)
    pictures = {red: cv2.imencode(".jpg", frame(red))[1].tobytes() for red in (False, True)}
    names: list[str] = []
    for red, seconds in parts:
        for _ in range(round(seconds / step)):
            name = f"frame_{len(names):04d}_t{len(names) * step:06.1f}.jpg"
            (folder / name).write_bytes(pictures[red])
            names.append(name)
    return names


def _config(tmp_path: Path, **detection: object) -> Path:
    options = {"warmup_seconds": 2, "max_failure_count": 3, "action": "pause", **detection}
    path = tmp_path / "pinozcam.yaml"
    path.write_text("detection:\n" + "".join(f"  {k}: {v}\n" for k, v in options.items()))
    return path


def _replay(capsys, source: Path, config: Path, *extra: str) -> list[dict]:
    status = main(["replay", str(source), "--model", MODEL, "--config", str(config), "--json", *extra])
    assert status == 0
    return json_lines(capsys.readouterr().out)


def _events(records: list[dict], event: str) -> list[dict]:
    return [r for r in records if r.get("event") == event]


# 10 fps: five normal seconds, then three seconds of spaghetti.
FAST = [(False, 5.0), (True, 3.0)]


def test_a_10_fps_recording_pauses_when_the_worker_would_not_at_its_third_failure_frame(tmp_path, capsys):
    _recording(tmp_path / "print", FAST, step=0.1)

    records = _replay(capsys, tmp_path / "print", _config(tmp_path))

    opened = _events(records, "incident:opened")
    # The worker checks at 5.0 s (the first failure frame), then every 0.3 s while the failure
    # builds: the third failure frame it sees is the one at 5.6 s, not the recording's 5.2 s.
    assert [(r["time"], r["action"]) for r in opened] == [(pytest.approx(5.6), "pause")]
    summary = records[-1]
    # 0..5 s once a second, 5.3 and 5.6, then once a second while paused (6.6, 7.6).
    assert (summary["frames"], summary["checked"], summary["skipped"]) == (80, 10, 70)


def test_replay_out_holds_the_checked_frames_only(tmp_path, capsys):
    names = _recording(tmp_path / "print", FAST, step=0.1)

    _replay(capsys, tmp_path / "print", _config(tmp_path), "--out", str(tmp_path / "out"))

    checked = [f"t{t:06.1f}" for t in (0, 1, 2, 3, 4, 5, 5.3, 5.6, 6.6, 7.6)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        [n for n in names if any(t in n for t in checked)]


def test_a_recording_slower_than_the_check_interval_is_checked_whole(tmp_path, capsys):
    _recording(tmp_path / "print", [(False, 20.0), (True, 10.0)], step=2.0)

    records = _replay(capsys, tmp_path / "print", _config(tmp_path))

    assert _events(records, "incident:opened")[0]["time"] == pytest.approx(24.0)
    assert (records[-1]["checked"], records[-1]["skipped"]) == (15, 0)


def test_a_video_is_checked_at_the_worker_pace_not_once_a_second(tmp_path, capsys):
    video = tmp_path / "print.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (1280, 720))
    for red, seconds in FAST:
        for _ in range(round(seconds * 10)):
            writer.write(frame(red))
    writer.release()

    records = _replay(capsys, video, _config(tmp_path))

    # Sampled at one frame a second, the third failure frame would come only at 7.0 s.
    assert _events(records, "incident:opened")[0]["time"] == pytest.approx(5.6)


def test_escalate_after_cancels_a_pause_after_the_recording_ends(tmp_path, capsys):
    _recording(tmp_path / "print", FAST, step=0.1)

    records = _replay(capsys, tmp_path / "print", _config(tmp_path, escalate_after=5))

    # Paused at 5.6 s; the recording ends at 7.9 s, the printer stays paused, and the
    # worker's once-a-second clock cancels within a second of 5.6 + 5 s.
    escalated = _events(records, "incident:escalated")
    assert len(escalated) == 1 and escalated[0]["action"] == "cancel"
    assert 10.6 <= escalated[0]["time"] < 11.6
    assert escalated[0]["frame"] is None
    assert records[-1]["actions"] == {"pause": 1, "cancel": 1}


def test_an_incident_closes_between_frames_when_its_window_empties(tmp_path, capsys):
    # One frame every 10 s; three failure frames (100, 110, 120 s) open an incident.
    _recording(tmp_path / "print", [(False, 100.0), (True, 30.0), (False, 80.0)], step=10.0)
    config = _config(tmp_path, warmup_seconds=5, action="notify", consider_time=25)

    records = _replay(capsys, tmp_path / "print", config)

    assert _events(records, "incident:opened")[0]["time"] == pytest.approx(120.0)
    # The failure at 120 s leaves the window after 145 s: the worker's clock closes the
    # incident then, not at the next frame (150 s).
    closed = _events(records, "incident:closed")
    assert len(closed) == 1 and 145.0 < closed[0]["time"] <= 146.0


# 1 fps: a failure, a clear spell longer than consider_time, a failure again.
COMES_BACK = [(False, 30.0), (True, 5.0), (False, 15.0), (True, 5.0)]


def test_after_a_pause_the_printer_stays_paused_and_nothing_more_counts(tmp_path, capsys):
    _recording(tmp_path / "print", COMES_BACK, step=1.0)

    records = _replay(capsys, tmp_path / "print", _config(tmp_path, consider_time=10))

    # A paused printer prints nothing more: the second spell of spaghetti in the recording
    # is the same failure seen again, not a second incident to pause for.
    assert records[-1]["actions"] == {"pause": 1}
    assert len(_events(records, "incident:opened")) == 1
    assert _events(records, "incident:closed") == []
    assert [r["time"] for r in _events(records, "printer:paused")] == [pytest.approx(32.0)]


def test_after_a_cancel_the_rest_of_the_recording_is_not_checked(tmp_path, capsys):
    _recording(tmp_path / "print", COMES_BACK, step=1.0)

    records = _replay(capsys, tmp_path / "print", _config(tmp_path, consider_time=10, action="cancel"))

    summary = records[-1]
    assert summary["actions"] == {"cancel": 1}
    # The print ended with the cancel: its incident closes there, and nothing more is checked.
    assert [r["time"] for r in _events(records, "incident:closed")] == [pytest.approx(32.0)]
    assert [r["time"] for r in _events(records, "printer:cancelled")] == [pytest.approx(32.0)]
    assert (summary["checked"], summary["after_cancel"]) == (33, 22)


def test_the_text_summary_says_how_many_frames_the_worker_would_have_checked(tmp_path, capsys):
    _recording(tmp_path / "print", FAST, step=0.1)

    assert main(["replay", str(tmp_path / "print"), "--model", MODEL,
                 "--config", str(_config(tmp_path))]) == 0

    out = capsys.readouterr().out
    assert "80 frames (10 checked at the worker's pace; 70 skipped between checks)" in out
    assert "printer paused" in out
