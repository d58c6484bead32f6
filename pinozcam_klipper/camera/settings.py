"""Settings of the camera: where frames come from, how to turn them, when to call it unhealthy."""

from __future__ import annotations

from dataclasses import dataclass

from pathlib import Path

from ..options import SettingsError, option, url_problem
from ..redact import redact_url_credentials

#: The URL schemes a frame source opens: checked here, routed by :func:`~.camera.open_source`.
URL_SCHEMES = ("http://", "https://", "rtsp://", "rtsps://")


def _camera(value: object) -> str:
    """Reject at once what no frame source could open, rather than at the first read."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError("text: a URL, a device or a path")
    text = str(value).strip()
    if text.lower().startswith(URL_SCHEMES):
        problem = url_problem(text)
        if problem:
            # The URL may hold a password: show it only with the password hidden.
            raise SettingsError("camera", redact_url_credentials(text), problem)
    elif text.startswith("~"):
        try:
            Path(text).expanduser()
        except RuntimeError:
            raise SettingsError("camera", text, "a path whose ~user exists on this machine") from None
    return text


def _rotation(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("0, 90, 180 or 270")
    try:
        degrees = int(str(value).strip())
    except ValueError:
        raise ValueError("0, 90, 180 or 270") from None
    if degrees not in (0, 90, 180, 270):
        raise ValueError("0, 90, 180 or 270")
    return degrees


@dataclass(frozen=True)
class CameraSettings:
    camera: str = option("", parse=_camera, redact=redact_url_credentials, doc=(
        "Where frames come from: an http(s) snapshot URL, an MJPEG stream URL (a "
        "'?action=stream' URL is polled as '?action=snapshot'), an rtsp:// or rtsps:// URL, a camera device "
        "(/dev/videoN, a link to one such as /dev/v4l/by-id/...) or a device index, or a file "
        "or folder of pictures to replay."))
    camera_timeout: float = option(5.0, above=0.0, maxval=120.0,
                                   doc="Seconds to wait for a frame before calling the camera offline.")
    camera_verify_tls: bool = option(True, doc=(
        "Check the camera's HTTPS certificate; turn off for a camera with a self-signed "
        "certificate on your own network."))
    camera_flip_horizontal: bool = option(False, doc="Mirror the picture left-right.")
    camera_flip_vertical: bool = option(False, doc="Mirror the picture top-bottom.")
    camera_rotate: int = option(0, parse=_rotation, accepted="0, 90, 180 or 270",
                                doc="Rotate the picture clockwise by this many degrees (after flipping, "
                                    "unless camera_rotate_first).")
    camera_rotate_first: bool = option(False, doc=(
        "Rotate, then flip, as Mainsail and Fluidd show a webcam; off: flip, then rotate, as "
        "OctoPrint does. Matters only with a 90 or 270 degree rotation and one flip."))
    camera_frozen_seconds: float = option(30.0, above=0.0,
                                          doc="Report the camera frozen after the picture has not changed this long.")
    camera_dark_level: float = option(12.0, minval=0.0, maxval=255.0,
                                      doc="Report the picture too dark below this mean grey level (0 disables).")
    camera_reconnect_max: float = option(30.0, minval=0.1, maxval=600.0,
                                         doc="Longest wait, in seconds, between reconnect attempts.")
    camera_replay_fps: float = option(0.0, minval=0.0, maxval=120.0,
                                      doc="Replaying a folder: pictures per second (0: the next picture on each read).")
