"""The worker over a real websocket: authentication, hello/configure, status, reconnects."""

from __future__ import annotations

import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pinozcam_klipper.worker.service import Worker

from tests.worker.helpers import TOKEN, connect, expect


async def test_token_in_header_gives_status_at_once(worker: Worker) -> None:
    async with await connect(worker) as ws:
        status = await expect(ws, "status")
        assert status["protocol"] == "1"
        assert status["model"]["classes"] == ["spaghetti", "blob", "detached"]
        assert status["open_incident"] is None


async def test_wrong_header_token_is_refused(worker: Worker) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await connect(worker, token="wrong")
    assert refused.value.response.status_code == 401


async def test_first_message_auth(worker: Worker) -> None:
    async with await connect(worker, token=None) as ws:
        await ws.send(json.dumps({"type": "auth", "token": TOKEN}))
        assert json.loads(await ws.recv())["type"] == "authenticated"
        await expect(ws, "status")


@pytest.mark.parametrize("first", [
    {"type": "auth", "token": "nope"},
    {"type": "status"},
])
async def test_anything_but_the_right_token_first_closes_4001(worker: Worker, first: dict) -> None:
    async with await connect(worker, token=None) as ws:
        await ws.send(json.dumps(first))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["code"] == "auth_failed"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_token_in_query_string(worker: Worker) -> None:
    async with websockets.connect(f"ws://{worker.address}/?token={TOKEN}") as ws:
        await expect(ws, "status")


async def test_hello_and_configure_round_trip(worker: Worker) -> None:
    async with await connect(worker) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": "1.3", "client": "moonraker"}))
        hello = await expect(ws, "hello")
        assert hello["protocol"] == "1" and hello["model"]["name"] == "grid_int8"

        await ws.send(json.dumps({"type": "configure", "settings": {"score_threshold": 7}}))
        error = await expect(ws, "error")
        assert error["code"] == "invalid_option" and error["option"] == "score_threshold"

        await ws.send(json.dumps({"type": "configure", "settings": {
            "detection": {"preset": "strict"}, "check_interval": 2}}))
        configured = await expect(ws, "configured")
        assert configured["settings"]["detection"]["preset"] == "strict"
        assert configured["settings"]["worker"]["check_interval"] == 2
        assert configured["settings"]["notify"]["telegram_bot_token"] == "<redacted>"
        assert worker.settings.detection.preset == "strict"
        # The rejected value never replaced the settings.
        assert worker.settings.detection.score_threshold is None


async def test_other_major_version_is_refused(worker: Worker) -> None:
    async with await connect(worker) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": "2.0"}))
        error = await expect(ws, "error")
        assert error["code"] == "protocol_mismatch"
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4002


async def test_bad_messages_get_errors_and_the_worker_keeps_answering(worker: Worker) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        for raw in ["{", "[]", '{"type": "dance"}', '{"type": "print_state", "state": 5}',
                    b"\x00\x01binary", json.dumps({"type": "status", "pad": "x" * 100_000})]:
            await ws.send(raw)
            error = await expect(ws, "error")
            assert error["code"] in ("bad_json", "bad_message", "unknown_type", "bad_field", "too_big")
        await ws.send(json.dumps({"type": "status"}))
        await expect(ws, "status")


async def test_a_camera_string_no_source_can_open_is_refused_whole(worker: Worker) -> None:
    before = worker.settings.camera.camera
    async with await connect(worker) as ws:
        await expect(ws, "status")
        for value in ("http://[::1/snap", "http://[::1/snap", "~nosuchuser/pics", "http://cam:99999/x"):
            await ws.send(json.dumps({"type": "configure", "settings": {"camera": value}}))
            error = await expect(ws, "error")
            assert error["code"] == "invalid_option" and error["option"] == "camera", value
            assert "option 'camera'" in error["message"]
            assert worker.settings.camera.camera == before  # nothing half-applied
        await ws.send(json.dumps({"type": "configure", "settings": {"camera_timeout": 3}}))
        configured = await expect(ws, "configured")
        assert configured["settings"]["camera"]["camera"] == before


async def test_configured_reply_hides_a_camera_password(worker: Worker) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        url = "http://user:hunter2@127.0.0.1:9/snapshot"
        await ws.send(json.dumps({"type": "configure", "settings": {"camera": url}}))
        configured = await expect(ws, "configured")
        assert "hunter2" not in json.dumps(configured)
        assert configured["settings"]["camera"]["camera"] == "http://<redacted>@127.0.0.1:9/snapshot"
        assert worker.settings.camera.camera == url  # the worker itself keeps the real one


async def test_an_unknown_option_is_named_without_its_value(worker: Worker) -> None:
    async with await connect(worker) as ws:
        await expect(ws, "status")
        await ws.send(json.dumps({"type": "configure", "settings": {"telegram_token": "123:SECRETabcdef"}}))
        error = await expect(ws, "error")
        assert error["option"] == "telegram_token" and "telegram_bot_token" in error["message"]
        assert "SECRET" not in json.dumps(error)


def test_a_bad_camera_in_the_worker_yaml_is_one_clear_line(tmp_path, capsys) -> None:
    from pinozcam_klipper.worker.main import main

    (tmp_path / "token").write_text(TOKEN)
    (tmp_path / "worker.yaml").write_text('camera:\n  camera: "http://[::1/snap"\n')
    code = main(["--listen", "127.0.0.1:0", "--token-file", str(tmp_path / "token"),
                 "--config", str(tmp_path / "worker.yaml"), "--nice", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "option 'camera'" in err and "Traceback" not in err
