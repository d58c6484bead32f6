"""Snapshot and MJPEG sources against a real local camera server."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from pinozcam_klipper.camera import (CameraError, CameraSettings, CameraState, MjpegSource,
                                     SnapshotSource, open_camera, open_source)
from tests.servers import CameraServer, claiming_size, make_jpeg


def _grey(frame_bgr: np.ndarray) -> int:
    return int(np.median(frame_bgr))


@pytest.fixture
def server() -> Iterator[CameraServer]:
    with CameraServer([make_jpeg(100)]) as srv:
        yield srv


async def test_snapshot_reads_the_current_picture(server: CameraServer) -> None:
    source = SnapshotSource(server.snapshot_url, timeout=2)
    try:
        frame = await source.read()
        assert frame.jpeg == make_jpeg(100)
        assert frame.counter == 1
        server.set_frames([make_jpeg(200)])
        frame = await source.read()
        assert _grey(frame.bgr) == pytest.approx(200, abs=2)
        assert frame.counter == 2
    finally:
        await source.close()


async def test_stream_url_is_polled_as_snapshot(server: CameraServer) -> None:
    source = open_source(CameraSettings(camera=server.mjpg_streamer_url))
    try:
        assert isinstance(source, SnapshotSource)
        assert source.url.endswith("/webcam/?action=snapshot")
        await source.read()
        assert server.requests[-1].query == {"action": "snapshot"}
    finally:
        await source.close()


async def test_snapshot_url_that_streams_gives_its_first_picture(server: CameraServer) -> None:
    source = SnapshotSource(server.stream_url, timeout=2)
    try:
        frame = await source.read()
        assert frame.jpeg == make_jpeg(100)
    finally:
        await source.close()


async def test_snapshot_errors_are_clear_and_recover(server: CameraServer) -> None:
    source = SnapshotSource(server.snapshot_url, timeout=0.5, backoff_initial=0.01, reconnect_max=0.05)
    try:
        server.reply(500)
        with pytest.raises(CameraError, match="http 500"):
            await source.read()
        server.hang()
        with pytest.raises(CameraError, match="did not answer within 0.5 s"):
            await source.read()
        server.reply(200, body=b"<html>login</html>", headers={"Content-Type": "text/html"})
        with pytest.raises(CameraError, match=r"a web page \(text/html\), not a picture"):
            await source.read()
        assert (await source.read()).jpeg == make_jpeg(100)
    finally:
        await source.close()


NOT_PICTURES = [("text/html; charset=utf-8", b"<html>go2rtc</html>"),
                ("application/vnd.apple.mpegurl", b"#EXTM3U\n#EXT-X-VERSION:3\n"),
                ("application/x-mpegURL", b"#EXTM3U\n"),
                ("video/mp4", b"\x00\x00\x00\x18ftypmp42")]


@pytest.mark.parametrize("content_type, body", NOT_PICTURES)
@pytest.mark.parametrize("kind", [SnapshotSource, MjpegSource])
async def test_a_url_that_is_no_picture_says_what_it_got_and_what_is_needed(
        server: CameraServer, kind: type, content_type: str, body: bytes) -> None:
    """An HLS, WebRTC or web page URL set as the camera: the user learns what it is and what
    PiNozCam needs, instead of a jpeg decoding error."""
    source = kind(server.snapshot_url, timeout=5)
    server.reply(200, body=body, headers={"Content-Type": content_type})
    try:
        with pytest.raises(CameraError) as info:
            await source.read()
    finally:
        await source.close()
    message = str(info.value)
    assert f"({content_type.split(';')[0].lower()}), not a picture" in message
    assert "PiNozCam needs a JPEG snapshot or MJPEG stream URL" in message


async def test_a_dead_camera_is_an_error_not_a_crash() -> None:
    camera = open_camera(CameraSettings(camera="http://user:hunter2@127.0.0.1:9/snapshot", camera_timeout=1))
    try:
        with pytest.raises(CameraError, match="cannot reach the camera") as info:
            await camera.read()
        assert "hunter2" not in str(info.value)
        assert camera.health.state is CameraState.OFFLINE
        assert "hunter2" not in camera.health.message
    finally:
        await camera.close()


@pytest.mark.parametrize("declare_dashes, write_dashes, content_length", [
    (False, True, True), (True, True, False), (False, False, True), (False, False, False)])
async def test_mjpeg_flavours(declare_dashes: bool, write_dashes: bool, content_length: bool) -> None:
    with CameraServer([make_jpeg(60)], declare_dashes=declare_dashes, write_dashes=write_dashes,
                      content_length=content_length) as srv:
        source = MjpegSource(srv.stream_url, timeout=2)
        try:
            # Without Content-Length a part ends only when the next boundary arrives,
            # so the first read may need the pushed frames to complete.
            first = asyncio.create_task(source.read())
            await srv.streams_connected(1)
            pictures = [make_jpeg(v) for v in (60, 70, 80, 90)]
            srv.push(*pictures[1:])
            frame = await first
            assert frame.jpeg in pictures
            if frame.counter < 3:
                await source.wait_received(3)
                frame = await source.read()
            assert frame.jpeg in pictures[2:]
            assert source.bad_parts == 0
        finally:
            await source.close()


async def test_newest_frame_wins(server: CameraServer) -> None:
    source = MjpegSource(server.stream_url, timeout=2)
    try:
        assert (await source.read()).counter == 1
        await server.streams_connected(1)
        burst = [make_jpeg(10 * i, mark=i) for i in range(1, 11)]
        server.push(*burst)
        await source.wait_received(11)
        frame = await source.read()
        assert frame.jpeg == burst[-1]
        assert frame.counter == 11
        assert source.dropped == 9
    finally:
        await source.close()



async def test_a_stream_nobody_reads_is_closed_and_opened_again_at_the_next_read() -> None:
    """Between prints nothing reads the camera: pulling its stream all day costs CPU, and a
    one-viewer camera (an ESP32-CAM) would show nothing anywhere else."""
    with CameraServer([make_jpeg(40)], fps=20) as srv:
        source = MjpegSource(srv.stream_url, timeout=2)
        source.idle_after = 0.3
        try:
            await source.read()
            await srv.streams_gone()
            assert not source.connected
            frame = await source.read()
            await srv.streams_connected(1)
            assert frame.jpeg == make_jpeg(40)
        finally:
            await source.close()

async def test_broken_jpeg_in_stream_does_not_kill_the_reader(server: CameraServer) -> None:
    source = MjpegSource(server.stream_url, timeout=2)
    try:
        await source.read()
        await server.streams_connected(1)
        good = make_jpeg(30)
        server.push(good[: len(good) // 2], b"\x00garbage\xff", make_jpeg(220))
        frame = await source.read()
        assert frame.jpeg == make_jpeg(220)
        assert source.bad_parts == 2
    finally:
        await source.close()


async def test_mjpeg_reconnects_after_server_restart(server: CameraServer) -> None:
    source = MjpegSource(server.stream_url, timeout=2, backoff_initial=0.05, reconnect_max=0.2)
    try:
        await source.read()
        await server.streams_connected(1)
        server.stop()
        with pytest.raises(CameraError):
            await source.read()
        assert not source.connected
        server.set_frames([make_jpeg(180)])
        server.start()
        for _ in range(50):  # each failed attempt ends one read; the server is back, so one succeeds
            try:
                frame = await source.read()
                break
            except CameraError:
                continue
        assert frame.jpeg == make_jpeg(180)
        assert source.connected
    finally:
        await source.close()


async def test_camera_health_offline_then_ok_again(server: CameraServer) -> None:
    settings = CameraSettings(camera=server.snapshot_url, camera_timeout=1, camera_reconnect_max=0.1)
    camera = open_camera(settings)
    try:
        await camera.read()
        assert camera.health.state is CameraState.OK
        server.reply(503)
        with pytest.raises(CameraError):
            await camera.read()
        assert camera.health.state is CameraState.OFFLINE
        assert "http 503" in camera.health.message
        frame = None
        for _ in range(50):
            try:
                frame = await camera.read()
                break
            except CameraError:
                continue
        assert frame is not None
        assert camera.health.state is CameraState.OK
    finally:
        await camera.close()


async def test_strange_camera_replies_are_camera_errors_with_a_reason(server: CameraServer) -> None:
    camera = open_camera(CameraSettings(camera=server.snapshot_url, camera_timeout=2))
    camera.source._backoff.initial = camera.source._backoff.maximum = 0.01  # type: ignore[attr-defined]
    part = b"--x\r\nContent-Type: image/jpeg\r\n\r\n" + make_jpeg(100) + b"\r\n--x\r\n"
    try:
        server.reply(200, body=part, headers={"Content-Type": "multipart/x-mixed-replace"})
        with pytest.raises(CameraError, match="multipart answer without a boundary"):
            await camera.read()
        assert camera.health.state is CameraState.OFFLINE
        assert "without a boundary" in camera.health.message
        # A header past OpenCV's own limit (it raises rather than returning None).
        huge = claiming_size(make_jpeg(100), 65000, 65000)
        server.reply(200, body=huge, headers={"Content-Type": "image/jpeg"}, times=2)
        with pytest.raises(CameraError, match="claims 65000x65000 pixels"):
            await camera.read()  # two broken pictures in a row: the skip-one rule gives up
        assert (await camera.read()).jpeg == make_jpeg(100)
        assert camera.health.state is CameraState.OK
    finally:
        await camera.close()


async def test_a_url_httpx_refuses_is_a_camera_error() -> None:
    camera = open_camera(CameraSettings(camera="http://127.0.0.1:9/snap\x01shot", camera_timeout=1))
    try:
        with pytest.raises(CameraError, match="InvalidURL"):
            await camera.read()
        assert camera.health.state is CameraState.OFFLINE
    finally:
        await camera.close()


async def test_closing_ends_a_read_waiting_out_its_retry_delay() -> None:
    # A long backoff after a failure: the next read waits it out unless the camera is closed.
    source = SnapshotSource("http://127.0.0.1:9/snapshot", timeout=60, backoff_initial=30)
    with pytest.raises(CameraError, match="cannot reach"):
        await source.read()
    waiting = asyncio.ensure_future(source.read())
    await asyncio.sleep(0)  # one turn: the read is now inside its retry wait
    await source.close()
    with pytest.raises(CameraError, match="the camera is closed"):
        await asyncio.wait_for(waiting, 5)


async def test_esp32_frames_padded_after_the_end_marker_are_read() -> None:
    """ESP32-CAM pads each frame with zeros after FFD9: every part used to be refused."""
    padded = [make_jpeg(v, mark=v // 10) + b"\x00" * 2048 for v in (70, 140)]
    with CameraServer([padded[0]]) as srv:
        stream = MjpegSource(srv.stream_url, timeout=5)
        snapshot = SnapshotSource(srv.snapshot_url, timeout=5)
        try:
            assert (await stream.read()).jpeg == padded[0]
            await srv.streams_connected(1)
            srv.push(padded[1])
            await stream.wait_received(2)
            frame = await stream.read()
            assert frame.jpeg == padded[1] and _grey(frame.bgr) == pytest.approx(140, abs=2)
            assert stream.bad_parts == 0
            assert (await snapshot.read()).jpeg == padded[1]
        finally:
            await stream.close()
            await snapshot.close()


async def test_a_stream_of_broken_pictures_says_how_many_and_why() -> None:
    truncated = make_jpeg(90)[:300]
    with CameraServer([truncated]) as srv:  # a new client gets this first
        # The read gives up after 0.5 s; the connection itself would wait 30 s for data.
        client = httpx.AsyncClient(timeout=30)
        source = MjpegSource(srv.stream_url, timeout=0.5, client=client)
        try:
            await source.wait_parts(1, timeout=10)
            srv.push(b"<html>login</html>", truncated)
            await source.wait_parts(3, timeout=10)
            with pytest.raises(CameraError, match=r"3 parts in a row of the camera's stream were not whole jpeg "
                                                  r"pictures; the last: no end-of-image marker after the picture "
                                                  r"data \(300 bytes; truncated\?\)"):
                await source.read()
            assert (source.parts, source.bad_parts) == (3, 3)
        finally:
            await source.close()
            await client.aclose()
