"""The incident folder: records survive a reload, the size cap drops the oldest, export writes YOLO."""

from __future__ import annotations

import json
from pathlib import Path

from pinozcam_klipper.worker import export_feedback
from pinozcam_klipper.worker.incidents import IncidentStore, SavedFrame


def _frame(frame_id: int, size: int = 1000, boxes=()) -> SavedFrame:
    return SavedFrame(frame_id, 1000.0 + frame_id, b"\xff\xd8" + bytes(size) + b"\xff\xd9", 200, 100,
                      tuple(boxes))


BOX = {"x1": 50.0, "y1": 25.0, "x2": 150.0, "y2": 75.0, "score": 0.99, "label": "blob"}


def _open(store: IncidentStore, now: float, frame_id: int = 1, size: int = 1000) -> dict:
    return store.open(now=now, event={"incident_id": 1, "severity": 1.0, "band": "failure",
                                      "action": "pause"},
                      onset=_frame(frame_id, size, [BOX]), before=[_frame(frame_id - 1, size)],
                      annotated_jpeg=b"annotated", print_info={"file": "a.gcode"},
                      classes=["spaghetti", "blob", "detached"])


def test_records_reload_and_open_ones_are_closed_when_settled(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path, 10**9)
    store.load()
    record = _open(store, 1000.0)
    store.set_label(record["id"], "real_failure", 1001.0)
    again = IncidentStore(tmp_path, 10**9)
    assert again.load() == 1
    loaded = again.get(record["id"])
    assert loaded is not None
    assert loaded["label"] == "real_failure"
    assert (tmp_path / record["id"] / "before-1.jpg").is_file()
    # Open until the worker knows whether the printer is still paused by it.
    assert again.left_open == [record["id"]] and loaded["state"] == "open"
    again.settle_left_open(None, 1002.0)
    assert again.left_open == []
    assert (loaded["state"], loaded["closed_at"]) == ("closed", 1002.0)
    assert [e["event"] for e in loaded["trail"]] == ["opened", "feedback", "closed"]
    assert IncidentStore(tmp_path, 10**9).load() == 1 and not IncidentStore(tmp_path, 10**9).left_open


def test_settling_keeps_the_incident_taken_over_open(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path, 10**9)
    store.load()
    older, newer = _open(store, 1000.0), _open(store, 2000.0)
    again = IncidentStore(tmp_path, 10**9)
    again.load()
    assert again.left_open == [older["id"], newer["id"]]  # oldest first
    again.settle_left_open(newer["id"], 2100.0)
    assert again.get(older["id"])["state"] == "closed"
    kept = again.get(newer["id"])
    assert kept["state"] == "open" and kept["trail"][-1]["event"] == "taken_over"



def test_the_age_of_a_reloaded_incident_comes_from_this_boots_clock_only(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path, 10**9)
    store.load()
    record = _open(store, 1000.0)  # a wall-clock time decades ago: it must not make the age
    again = IncidentStore(tmp_path, 10**9)
    again.load()
    age = again.open_for(again.get(record["id"]))
    if not record["boot"]:
        assert age is None  # a system that does not say which boot this is: unknown
        return
    assert age is not None and 0.0 <= age < 60.0
    rebooted = dict(again.get(record["id"]), boot="another-boot")
    assert again.open_for(rebooted) is None
    older_version = {k: v for k, v in record.items() if k != "opened_monotonic"}
    assert again.open_for(older_version) is None

def test_broken_record_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "incident.json").write_text("{not json")
    store = IncidentStore(tmp_path, 10**9)
    assert store.load() == 0


def test_size_cap_drops_the_oldest(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path, 25_000)
    store.load()
    ids = []
    for i in range(5):
        record = _open(store, 1000.0 + i, frame_id=10 * i + 1, size=4000)
        store.add_event(record["id"], {"event": "closed"}, state="closed")
        ids.append(record["id"])
    kept = [r["id"] for r in store.records()]
    assert kept == ids[-len(kept):] and len(kept) < 5
    assert not (tmp_path / ids[0]).exists()



def test_an_incident_recorded_before_the_clock_was_set_is_not_taken_for_the_oldest(tmp_path: Path) -> None:
    """A Pi's clock can read 1970 (or last week) until the network time arrives: the order,
    the size cap and the list the panel shows follow the order incidents were made in."""
    store = IncidentStore(tmp_path, 25_000)
    store.load()
    made = []
    for now in (1_790_000_000.0, 1_790_000_100.0, 300_000.0, 1_790_000_300.0):  # the third: clock not set
        record = _open(store, now, frame_id=len(made) * 10 + 1, size=4000)
        store.add_event(record["id"], {"event": "closed"}, state="closed")
        made.append(record["id"])
    reloaded = IncidentStore(tmp_path, 25_000)
    reloaded.load()
    kept = [r["id"] for r in reloaded.records()]
    assert kept == made[-len(kept):] and made[2] in kept  # the newest ones stay, in order

def test_export_feedback_writes_yolo(tmp_path: Path) -> None:
    store = IncidentStore(tmp_path / "incidents", 10**9)
    store.load()
    real = _open(store, 1000.0)
    false = _open(store, 1001.0, frame_id=5)
    unlabelled = _open(store, 1002.0, frame_id=9)
    store.set_label(real["id"], "real_failure", 1003.0)
    store.set_label(false["id"], "false_alarm", 1004.0)
    out = tmp_path / "dataset"
    assert export_feedback(tmp_path, out) == 2
    assert (out / "images" / f"{real['id']}.jpg").read_bytes()[:2] == b"\xff\xd8"
    line = (out / "labels" / f"{real['id']}.txt").read_text().split()
    assert line == ["1", "0.500000", "0.500000", "0.500000", "0.500000"]
    assert (out / "labels" / f"{false['id']}.txt").read_text() == ""
    assert not (out / "labels" / f"{unlabelled['id']}.txt").exists()
    assert (out / "classes.txt").read_text().split() == ["spaghetti", "blob", "detached"]
    assert json.loads(json.dumps(store.get(real["id"])))["label"] == "real_failure"


def test_an_incident_opened_on_a_full_disk_is_saved_once_there_is_room(tmp_path: Path) -> None:
    root = tmp_path / "incidents"
    root.write_text("a file where the folder should be: every write fails, as on a full disk")
    store = IncidentStore(root, 10**9)
    record = _open(store, 1000.0)
    assert store.problem is not None and "cannot save incident" in store.problem
    root.unlink()  # room again
    store.set_label(record["id"], "real_failure", 1001.0)
    assert store.problem is None  # the panel's "Incident folder" row clears
    saved = json.loads((root / record["id"] / "incident.json").read_text())
    assert saved["label"] == "real_failure"


def test_a_relative_or_home_incident_dir_is_where_the_component_looks(tmp_path: Path, monkeypatch) -> None:
    """The Moonraker component serves the pictures from the same place: a relative
    ``incident_dir`` is inside the data folder, and ``~`` is the home folder."""
    from pinozcam_klipper.settings import Settings
    from pinozcam_klipper.worker.config import Listen, WorkerConfig
    from pinozcam_klipper.worker.service import Worker

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = WorkerConfig(listen=Listen("127.0.0.1", 0), token="t" * 32, data_dir=tmp_path / "data")
    relative = Worker(Settings.from_mapping({"worker": {"incident_dir": "kept"}}), config)
    assert relative.store.root == tmp_path / "data" / "kept"
    home = Worker(Settings.from_mapping({"worker": {"incident_dir": "~/incidents"}}), config)
    assert home.store.root == tmp_path / "home" / "incidents"
