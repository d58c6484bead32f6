"""Which URL of a Moonraker ``[webcam]`` the component reads, and what it says when none will do.

A webcam that streams WebRTC or HLS (camera-streamer, go2rtc, MediaMTX) has no picture PiNozCam
can read; without a ``snapshot_url`` the user must be told which webcam and what to set, not
"not a JPEG" from the worker later. (The same through a real Moonraker:
tests/integration/test_moonraker_config.py.)
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.component_options import load_component_options

options = load_component_options()


@dataclass
class Webcam:
    """The fields of Moonraker's ``WebCam`` that the component reads, as Moonraker names them."""

    name: str
    service: str
    stream_url: str = ""
    snapshot_url: str = ""


@pytest.mark.parametrize("service, stream_url, streams", [
    ("webrtc-camerastreamer", "/webcam/webrtc", "WebRTC"),
    ("webrtc-go2rtc", "http://pi.local:1984/api/ws?src=printer", "WebRTC"),
    ("webrtc-mediamtx", "http://pi.local:8889/printer/", "WebRTC"),
    ("hlsstream", "http://pi.local:8888/printer/index.m3u8", "HLS"),
    ("jmuxer-stream", "/webcam/video.h264", "H.264"),
    ("ipstream", "http://cam.local/live/index.m3u8?token=1", "HLS"),
])
def test_a_webcam_without_a_picture_says_which_and_what_to_set(service: str, stream_url: str,
                                                               streams: str) -> None:
    with pytest.raises(ValueError) as info:
        options.webcam_url(Webcam("printer cam", service, stream_url))
    message = str(info.value)
    assert message.startswith(f"webcam 'printer cam' streams {streams} only; set its snapshot_url")
    assert "/webcam/?action=snapshot" in message and "set camera: in [pinozcam]" in message


@pytest.mark.parametrize("cam, url", [
    # Its snapshot_url is read whatever the stream is.
    (Webcam("c", "webrtc-camerastreamer", "/webcam/webrtc", "/webcam/?action=snapshot"),
     "/webcam/?action=snapshot"),
    (Webcam("c", "hlsstream", "http://pi.local/index.m3u8", "http://pi.local:1984/api/frame.jpeg?src=c"),
     "http://pi.local:1984/api/frame.jpeg?src=c"),
    # An MJPEG stream with no snapshot_url is read as it is.
    (Webcam("c", "mjpegstreamer-adaptive", "/webcam/?action=stream"), "/webcam/?action=stream"),
    (Webcam("c", "ipstream", "http://cam.local/video.mjpg"), "http://cam.local/video.mjpg"),
])
def test_a_webcam_with_a_picture_is_read_at_it(cam: Webcam, url: str) -> None:
    assert options.webcam_url(cam) == url
