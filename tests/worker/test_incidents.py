"""The incident folder: records survive a reload, the size cap drops the oldest, export writes YOLO."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from pinozcam_klipper.worker import export_feedback
from pinozcam_klipper.worker.incidents import IncidentStore, SavedFrame


_SMALL_JPEG = cv2.imencode(".jpg", np.full((100, 200, 3), 128, np.uint8))[1].tobytes()


def jpeg(size: int = 1000) -> bytes:
    """A real JPEG of about ``size`` bytes: a small picture padded with a comment segment."""
    padding = max(0, size - len(_SMALL_JPEG) - 4)
    return _SMALL_JPEG[:2] + b"\xff\xfe" + (padding + 2).to_bytes(2, "big") + bytes(padding) + _SMALL_JPEG[2:]


def _frame(frame_id: int, size: int = 1000, boxes=()) -> SavedFrame:
    return SavedFrame(frame_id, 1000.0 + frame_id, jpeg(size), 200, 100, tuple(boxes))


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


# --- a damaged card: records, pictures and the cap ---------------------------------------------

def _plant(root: Path, record: dict) -> None:
    (root / record["id"]).mkdir(parents=True)
    (root / record["id"] / "incident.json").write_text(json.dumps(record))


def test_a_damaged_record_is_repaired_on_load_and_breaks_nothing(tmp_path: Path, caplog) -> None:
    """Valid JSON with fields of the wrong type (a byte flipped on the card, a hand edit): the
    record left open is settled, the list sorts, and the next incident still opens."""
    _plant(tmp_path, {"id": "20260101-000000-dead", "kind": "incident", "state": "open",
                      "opened_at": 1.0, "print": {"file": "other.gcode"}})  # no trail, frames...
    _plant(tmp_path, {"id": "20260101-000001-beef", "kind": "incident", "state": "closed",
                      "opened_at": "1.0e9x", "trail": "?", "frames": {"a": 1}, "detections": [3],
                      "print": "cube.gcode", "label": "maybe", "classes": [1, "blob"]})
    store = IncidentStore(tmp_path, 10**9)
    assert store.load() == 2
    store.settle_left_open(None, 2000.0)
    settled = store.get("20260101-000000-dead")
    assert settled["state"] == "closed" and [e["event"] for e in settled["trail"]] == ["closed"]
    damaged = store.get("20260101-000001-beef")
    assert (damaged["opened_at"], damaged["trail"], damaged["frames"], damaged["detections"],
            damaged["print"], damaged["label"], damaged["classes"]) == (None, [], [], [], {}, None, ["blob"])
    # Its opening time unknown, it sorts first (the cap drops it before the others).
    assert [r["id"] for r in store.records()] == ["20260101-000001-beef", "20260101-000000-dead"]
    record = _open(store, 3000.0)  # sorts the records for the cap: must not raise
    assert store.records()[-1] is record and store.problem is None
    assert "damaged record repaired" in caplog.text


def test_a_record_not_written_is_written_when_the_folder_works_again(tmp_path: Path) -> None:
    """The folder is back (space freed): the next write also writes what failed before, and
    the storage error clears only once nothing is left unwritten."""
    root = tmp_path / "incidents"
    root.write_text("a file where the folder should be: every write fails, as on a full disk")
    store = IncidentStore(root, 10**9)
    lost = _open(store, 1000.0)
    assert store.problem is not None
    root.unlink()
    root.mkdir()
    (root / lost["id"]).write_text("still in the way of this one record")
    later = _open(store, 1001.0, frame_id=5)
    assert (root / later["id"] / "incident.json").is_file()
    assert store.status()["state"] == "error"  # not ok while one record is in memory only
    assert "1 record(s) kept in memory" in store.status()["message"]
    (root / lost["id"]).unlink()
    third = _open(store, 1002.0, frame_id=9)  # the next write writes it too
    assert (root / lost["id"] / "incident.json").is_file()
    assert (root / third["id"] / "incident.json").is_file()
    assert store.problem is None and store.unsaved() == []
    again = IncidentStore(root, 10**9)
    assert again.load() == 3
    assert (root / lost["id"] / "onset.jpg").read_bytes() == _frame(1).jpeg


@contextlib.contextmanager
def _small_disk(path: Path, size: str = "256k") -> Iterator[Path]:
    """A tmpfs of ``size`` at ``path``: a disk that really fills up. Skips where mounting
    is not permitted (not root, a container without the capability)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(path: Path, leave: int) -> Path:
    """Fill the filesystem of ``path``, then free about ``leave`` bytes."""
    filler = path / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(fd, bytes(4096))
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def test_a_full_disk_leaves_no_empty_or_cut_short_picture(tmp_path: Path) -> None:
    with _small_disk(tmp_path / "card") as card:
        root = card / "incidents"
        store = IncidentStore(root, 10**9)
        store.load()
        filler = _fill(card, leave=8192)
        record = store.open(now=1000.0, event={"action": "pause"}, onset=_frame(1, 40_000),
                            before=[_frame(0, 40_000)], annotated_jpeg=jpeg(40_000),
                            print_info={"file": "a.gcode"})
        assert store.problem is not None and "No space left" in store.problem
        folder = root / record["id"]
        on_disk = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
        assert not [n for n in on_disk if n.endswith(".tmp")]
        pictures = {"annotated.jpg": jpeg(40_000), "onset.jpg": _frame(1, 40_000).jpeg,
                    "before-1.jpg": _frame(0, 40_000).jpeg}
        for name in on_disk:  # whatever picture is there is whole
            if name != "incident.json":
                assert (folder / name).read_bytes() == pictures[name], name
        filler.unlink()  # the user deletes old timelapses
        store.retry_unwritten()
        assert store.problem is None
        for name, data in pictures.items():
            assert (folder / name).read_bytes() == data
        again = IncidentStore(root, 10**9)
        again.load()
        assert again.get(record["id"])["frames"] == ["onset.jpg", "before-1.jpg"]


def test_pictures_missing_on_reload_are_not_listed(tmp_path: Path) -> None:
    """A power cut or a full disk left a record naming pictures that are not there (or empty):
    the reloaded record lists only those that are, and export-feedback leaves it out."""
    store = IncidentStore(tmp_path / "incidents", 10**9)
    store.load()
    record = _open(store, 1000.0)
    store.set_label(record["id"], "real_failure", 1001.0)
    folder = tmp_path / "incidents" / record["id"]
    (folder / "before-1.jpg").unlink()
    (folder / "onset.jpg").write_bytes(b"")
    again = IncidentStore(tmp_path / "incidents", 10**9)
    again.load()
    loaded = again.get(record["id"])
    assert loaded["frames"] == [] and loaded["detections"] == []
    assert export_feedback(tmp_path, tmp_path / "out") == 0


def test_the_cap_counts_and_drops_folders_left_without_a_record(tmp_path: Path) -> None:
    """Incident folders whose record is missing or unreadable (a power cut between the pictures
    and the record) count against the cap and go first, oldest first; other folders stay."""
    orphans = []
    for n, record in enumerate([None, b"", b'{"id": "2026010'], start=1):
        folder = tmp_path / f"20260101-00000{n}-beef"
        folder.mkdir()
        (folder / "onset.jpg").write_bytes(jpeg(10_000))
        if record is not None:
            (folder / "incident.json").write_bytes(record)
        orphans.append(folder)
    (tmp_path / "my-notes").mkdir()
    (tmp_path / "my-notes" / "big.bin").write_bytes(bytes(50_000))
    store = IncidentStore(tmp_path, 25_000)
    assert store.load() == 0
    _open(store, 1000.0, size=2000)
    assert [f.exists() for f in orphans] == [False, False, True]  # 10 kB + the new one fit
    assert (tmp_path / "my-notes" / "big.bin").exists()


def test_export_leaves_out_damaged_records_and_exports_the_rest(tmp_path: Path, caplog) -> None:
    store = IncidentStore(tmp_path / "incidents", 10**9)
    store.load()
    records = [_open(store, 1000.0 + i, frame_id=10 * i + 1) for i in range(4)]
    for record in records:
        store.set_label(record["id"], "real_failure", 2000.0)
    root = tmp_path / "incidents"
    (root / records[0]["id"] / "onset.jpg").write_bytes(b"")
    whole = (root / records[1]["id"] / "onset.jpg").read_bytes()
    (root / records[1]["id"] / "onset.jpg").write_bytes(whole[: len(whole) // 2])
    path = root / records[2]["id"] / "incident.json"
    damaged = json.loads(path.read_text())
    damaged["detections"][0]["boxes"][0].pop("y2")
    path.write_text(json.dumps(damaged))
    out = tmp_path / "dataset"
    assert export_feedback(tmp_path, out) == 1
    assert sorted(p.name for p in (out / "images").iterdir()) == [f"{records[3]['id']}.jpg"]
    assert sorted(p.name for p in (out / "labels").iterdir()) == [f"{records[3]['id']}.txt"]
    assert (out / "data.yaml").exists()
    for record in records[:3]:
        assert f"incident {record['id']} skipped" in caplog.text


def test_pictures_kept_for_a_full_disk_are_bounded_and_never_listed_once_given_up(tmp_path: Path) -> None:
    """Pictures wait in memory while the disk is full, up to a bound (a Pi's memory is small):
    past it the oldest are given up, and the record stops listing them."""
    root = tmp_path / "incidents"
    root.write_text("a file where the folder should be: every write fails, as on a full disk")
    store = IncidentStore(root, 10**9, unwritten_max_bytes=7_000)
    first = _open(store, 1000.0, frame_id=1, size=2000)  # onset, before-1 (and a tiny annotated)
    second = _open(store, 1001.0, frame_id=5, size=2000)
    assert first["frames"] == ["onset.jpg"]  # the oldest gave way, the onset last
    assert second["frames"] == ["onset.jpg", "before-1.jpg"]
    root.unlink()
    store.retry_unwritten()
    assert store.problem is None
    for record in (first, second):
        saved = json.loads((root / record["id"] / "incident.json").read_text())
        assert saved["frames"] == record["frames"]
        for name in saved["frames"]:
            assert (root / record["id"] / name).read_bytes()[:2] == b"\xff\xd8"
